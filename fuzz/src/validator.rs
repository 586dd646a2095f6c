//! The `validator` target: the conformance crate's application validator
//! around an application whose response is decoded from the input.

use std::pin::Pin;
use std::task::{Context, Poll};

use albany::upgrade::{OnUpgrade, UpgradeError};
use albany::{from_fn, Application, Body, Request, Response};
use albany_conformance::validate::{Action, Rule, Validate};
use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use http_body::{Frame, SizeHint};

use crate::noop_context;

/// The most body steps taken from one input.
const MAX_STEPS: usize = 256;

/// Field names the validator has rules about, and two it has none about.
const NAMES: [&str; 14] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "trailer",
    "content-type",
    "host",
    "set-cookie",
    "x-custom",
    "content-encoding",
    "date",
];

const METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::CONNECT,
    Method::OPTIONS,
    Method::PUT,
];

const VERSIONS: [Version; 5] = [
    Version::HTTP_11,
    Version::HTTP_10,
    Version::HTTP_2,
    Version::HTTP_09,
    Version::HTTP_3,
];

#[derive(Arbitrary, Debug)]
struct Behaviour {
    method: u8,
    request_version: u8,
    on_upgrade: bool,
    status: u16,
    response_version: u8,
    fields: Vec<Field>,
    hint: Hint,
    /// `is_end_stream()` is true once this many steps were taken.
    end_stream_at: Option<u8>,
    /// What the body does when polled again after the `None` that ends
    /// its script.
    after: After,
    steps: Vec<BodyStep>,
}

#[derive(Arbitrary, Debug, Clone)]
enum Field {
    Known(u8, Vec<u8>),
    Number(u8, u32),
    Raw(Vec<u8>, Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Hint {
    Unknown,
    /// Honest: exactly the data still to come.
    Honest,
    /// The same bounds whatever was yielded.
    Fixed(u16, Option<u16>),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    End,
    Data,
    Trailers,
    Error,
}

#[derive(Arbitrary, Debug, Clone)]
enum BodyStep {
    Data(Vec<u8>),
    Trailers(Vec<Field>),
    Error,
    Pending,
}

/// A body that follows a script, honest or not.
struct Scripted {
    steps: Vec<BodyStep>,
    next: usize,
    hint: Hint,
    end_stream_at: Option<usize>,
    after: After,
    after_polls: u8,
}

impl Scripted {
    fn remaining_data(&self) -> u64 {
        self.steps[self.next..]
            .iter()
            .map(|step| match step {
                BodyStep::Data(data) => data.len() as u64,
                _ => 0,
            })
            .sum()
    }
}

impl http_body::Body for Scripted {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(step) = this.steps.get(this.next).cloned() else {
            // `None` first, then once what `after` says, then `None`.
            this.after_polls = this.after_polls.saturating_add(1);
            if this.after_polls != 2 {
                return Poll::Ready(None);
            }
            return Poll::Ready(match this.after {
                After::End => None,
                After::Data => Some(Ok(Frame::data(Bytes::from_static(b"after")))),
                After::Trailers => Some(Ok(Frame::trailers(HeaderMap::new()))),
                After::Error => Some(Err(std::io::Error::other("after the end"))),
            });
        };
        this.next += 1;
        Poll::Ready(Some(match step {
            BodyStep::Data(data) => Ok(Frame::data(Bytes::from(data))),
            BodyStep::Trailers(fields) => Ok(Frame::trailers(header_map(&fields))),
            BodyStep::Error => Err(std::io::Error::other("scripted error")),
            BodyStep::Pending => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.end_stream_at.is_some_and(|at| self.next >= at)
    }

    fn size_hint(&self) -> SizeHint {
        match self.hint {
            Hint::Unknown => SizeHint::default(),
            Hint::Honest => SizeHint::with_exact(self.remaining_data()),
            Hint::Fixed(a, b) => {
                let mut hint = SizeHint::new();
                hint.set_lower(u64::from(a));
                if let Some(b) = b {
                    hint.set_upper(u64::from(a.max(b)));
                }
                hint
            }
        }
    }
}

fn header_map(fields: &[Field]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for field in fields.iter().take(32) {
        let (name, value) = match field {
            Field::Known(index, value) => (
                HeaderName::from_static(NAMES[usize::from(*index) % NAMES.len()]),
                HeaderValue::from_bytes(value),
            ),
            Field::Number(index, number) => (
                HeaderName::from_static(NAMES[usize::from(*index) % NAMES.len()]),
                Ok(HeaderValue::from(*number)),
            ),
            Field::Raw(name, value) => match HeaderName::from_bytes(name) {
                Ok(name) => (name, HeaderValue::from_bytes(value)),
                Err(_) => continue,
            },
        };
        if let Ok(value) = value {
            map.append(name, value);
        }
    }
    map
}

/// Wraps an application of fuzzed behaviour (status, version, header
/// fields, body frames with `Pending`s, errors and trailers, a size hint
/// honest or not, `is_end_stream()`, frames after the end) in
/// `albany_conformance::validate::Validate` with `Action::Log`, calls it
/// with a request of a fuzzed method and version (with or without an
/// `OnUpgrade`), and reads the response's body to its end.
///
/// Checks: no panic; the head is passed on unchanged; the data frames are
/// forwarded unchanged up to the body's end (`None`, an error, trailers or
/// `is_end_stream()`), and nothing after it; a frame after `None` is
/// reported as `VAL-9`; the body ends within a bounded number of polls.
pub fn validator(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(mut behaviour) = Behaviour::arbitrary(&mut input) else {
        return;
    };
    behaviour.steps.truncate(MAX_STEPS);
    let status = StatusCode::from_u16(behaviour.status).unwrap_or(StatusCode::OK);
    let version = VERSIONS[usize::from(behaviour.response_version) % VERSIONS.len()];
    let headers = header_map(&behaviour.fields);
    let script = Scripted {
        steps: behaviour.steps.clone(),
        next: 0,
        hint: behaviour.hint,
        end_stream_at: behaviour.end_stream_at.map(usize::from),
        after: behaviour.after,
        after_polls: 0,
    };
    let expected_data = forwarded_data(&behaviour);
    let app = {
        let headers = headers.clone();
        let script = std::sync::Mutex::new(Some(script));
        from_fn(move |_request: Request| {
            let body = script.lock().unwrap().take();
            let headers = headers.clone();
            async move {
                let mut response = Response::new(body.map_or_else(Body::empty, Body::new));
                *response.status_mut() = status;
                *response.version_mut() = version;
                *response.headers_mut() = headers;
                response
            }
        })
    };
    let validate = Validate::new(app).with_action(Action::Log);
    let violations = validate.violations().clone();

    let mut request = Request::new(Body::empty());
    *request.method_mut() = METHODS[usize::from(behaviour.method) % METHODS.len()].clone();
    *request.version_mut() = VERSIONS[usize::from(behaviour.request_version) % 3];
    *request.uri_mut() = http::Uri::from_static("/fuzz");
    if behaviour.on_upgrade {
        request.extensions_mut().insert(OnUpgrade::new(async {
            Err(UpgradeError::new("no connection to upgrade"))
        }));
    }
    let response = futures_lite::future::block_on(validate.call(request));
    assert_eq!(response.status(), status, "the status was changed");
    assert_eq!(response.version(), version, "the version was changed");
    assert_eq!(
        response.headers(),
        &headers,
        "the header fields were changed"
    );

    let mut body = response.into_body();
    let mut seen = Vec::new();
    let mut polls = 0;
    let mut ended = false;
    let bound = behaviour.steps.len() + 4;
    while !ended {
        polls += 1;
        assert!(polls <= bound, "the body did not end within {bound} polls");
        match Pin::new(&mut body).poll_frame(&mut noop_context()) {
            Poll::Pending => {}
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => ended = true,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    seen.extend_from_slice(data);
                }
            }
        }
    }
    for _ in 0..2 {
        assert!(
            matches!(
                Pin::new(&mut body).poll_frame(&mut noop_context()),
                Poll::Ready(None)
            ),
            "the validator's body yielded something after its end"
        );
    }
    assert!(
        seen == expected_data.0,
        "the data forwarded differs: {} bytes seen, {} expected",
        seen.len(),
        expected_data.0.len()
    );
    if expected_data.1 && matches!(behaviour.after, After::Data | After::Trailers) {
        assert!(
            violations.rules().contains(&Rule::FrameAfterEnd),
            "a frame after None was not reported: {:?}",
            violations.to_vec()
        );
    }
}

/// The data the validator forwards, and whether the script ended with
/// `None` (so that the frame after it is the one the validator checks).
fn forwarded_data(behaviour: &Behaviour) -> (Vec<u8>, bool) {
    let at = behaviour.end_stream_at.map(usize::from);
    let mut data = Vec::new();
    if at == Some(0) {
        return (data, false);
    }
    for (i, step) in behaviour.steps.iter().enumerate() {
        match step {
            BodyStep::Data(bytes) => {
                data.extend_from_slice(bytes);
                if at.is_some_and(|at| i + 1 >= at) {
                    return (data, false);
                }
            }
            BodyStep::Trailers(_) | BodyStep::Error => return (data, false),
            BodyStep::Pending => {}
        }
    }
    (data, true)
}
