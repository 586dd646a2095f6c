//! The validator's log mode (VAL-11), alone in its test binary.
//!
//! tracing caches each callsite's interest for the whole process. In a
//! binary whose other tests run in parallel, a thread without a subscriber
//! that reaches the warning's callsite at the same moment as this test can
//! cache `Interest::never` after this test's subscriber was registered, and
//! the warning is then dropped (seen once in CI on 2026-11-21, although the
//! test recomputed the cache). Alone in its binary, nothing races it.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use albany::http::{header, HeaderValue, Method};
use albany::{from_fn, Application, Body, Request, Response};
use albany_conformance::validate::{Action, Validate};
use futures_lite::future::block_on;

/// A tracing subscriber that records each event's target, level and fields.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<(String, tracing::Level, String)>>>,
}

struct FieldText(String);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = FieldText(String::new());
        event.record(&mut fields);
        let metadata = event.metadata();
        self.events.lock().unwrap().push((
            metadata.target().to_owned(),
            *metadata.level(),
            fields.0,
        ));
    }
    fn enter(&self, _span: &tracing::span::Id) {}
    fn exit(&self, _span: &tracing::span::Id) {}
}

#[test]
fn val11_log_mode_warns_with_target_albany_validate() {
    let capture = Capture::default();
    let validate = Validate::new(from_fn(|_request: Request| {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        std::future::ready(response)
    }))
    .with_action(Action::Log);
    let request = Request::builder()
        .method(Method::DELETE)
        .uri("/item/7")
        .body(Body::empty())
        .expect("a valid request");
    tracing::subscriber::with_default(capture.clone(), || {
        let response = block_on(validate.call(request));
        block_on(response.into_body().collect(1024)).expect("the body");
    });
    let events = capture.events.lock().unwrap();
    let warnings: Vec<_> = events
        .iter()
        .filter(|(target, _, _)| target == "albany::validate")
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    let (_, level, fields) = warnings[0];
    assert_eq!(*level, tracing::Level::WARN);
    for part in [
        "rule=\"VAL-4\"",
        "method=DELETE",
        "uri=/item/7",
        "Transfer-Encoding",
    ] {
        assert!(fields.contains(part), "{part:?} missing from {fields:?}");
    }
}
