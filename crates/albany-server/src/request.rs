//! Request adaptation: hyper's request checked and turned into the
//! application's, with its body and extensions.

use albany::upgrade::{OnUpgrade, Protocol, UpgradeError, Upgraded};
use albany::{Application, Body, Request};
use http::{header, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::request_body::{read_ahead, ClientGone};
use crate::request_checks;
use crate::service::ConnectionState;
use crate::upgrade_io::Held;

/// A request ready for the application.
pub(crate) struct Prepared {
    pub(crate) request: Request,
    /// Resolves when an HTTP/1.x client leaves while its body is unread
    /// (CANCEL-5); `None` when the server does not read ahead.
    pub(crate) client_gone: Option<ClientGone>,
    pub(crate) head_request: bool,
    pub(crate) http2: bool,
}

/// Checks hyper's request and builds the application's (body and
/// extensions); `Err` is the status the server answers with itself.
pub(crate) fn prepare_request<A: Application>(
    state: &ConnectionState<A>,
    request: http::Request<Incoming>,
) -> Result<Prepared, StatusCode> {
    let shared = &state.shared;
    let (mut parts, incoming) = request.into_parts();
    // Asked once: over HTTP/2 it takes the connection's stream lock.
    let no_body = incoming.is_end_stream();
    if let Some((status, reason)) = request_checks::reject(&parts, !no_body) {
        tracing::debug!(%status, reason, "rejected the request head");
        return Err(status);
    }
    let head_request = parts.method == http::Method::HEAD;
    let http2 = parts.version == http::Version::HTTP_2;

    let mut client_gone = None;
    let body = if no_body {
        Body::empty()
    } else {
        let limit = shared.max_request_body_size;
        if limit.is_some_and(|limit| incoming.size_hint().lower() > limit) {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        // [CANCEL-5] Over HTTP/1.x the server reads ahead to see the client
        // leave; not when the client waits for `100 Continue`, which the
        // first read would send (REQ-14).
        let expects_continue = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let body = if http2 || expects_continue {
            Body::new(incoming)
        } else {
            let (body, gone) = read_ahead(incoming);
            client_gone = Some(gone);
            Body::new(body)
        };
        match limit {
            Some(limit) => body.limit(limit),
            None => body,
        }
    };

    // hyper's own `OnUpgrade` stays in the extensions (a clone shares the
    // connection): tower applications hosted through `albany::from_tower`,
    // such as axum's `WebSocketUpgrade`, take it from there (spec TOWER-6).
    if let Some(on_upgrade) = parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned() {
        let counters = shared.counters.clone();
        let deadline = shared.shutdown_deadline.clone();
        let runtime = state.context.runtime().clone();
        // [LIMIT-11] Over HTTP/2 the upgraded stream keeps the connection
        // from being idle for as long as the application holds it.
        let stream = http2.then(|| state.requests.hold_stream());
        parts.extensions.insert(OnUpgrade::new(async move {
            match on_upgrade.await {
                // [SHUT-8, UPG-9] Counted, waited for by graceful shutdown,
                // closed at its deadline.
                Ok(upgraded) => Ok(Upgraded::new(Held::new(
                    upgraded,
                    (counters.upgrade(), stream),
                    counters.tracker().track(),
                    deadline,
                    |closer| drop(runtime.spawn(closer)),
                ))),
                Err(error) => Err(UpgradeError::new(error)),
            }
        }));
    }
    // [UPG-8] RFC 8441's `:protocol`, as Albany's type (hyper's stays too).
    if let Some(protocol) = parts.extensions.get::<hyper::ext::Protocol>() {
        parts.extensions.insert(Protocol::new(protocol.as_str()));
    }
    // [EXT-1, EXT-2, EXT-3, EXT-12] One insert: the connection's
    // context is shared by its requests.
    parts.extensions.insert(state.context.clone());

    Ok(Prepared {
        request: Request::from_parts(parts, body),
        client_gone,
        head_request,
        http2,
    })
}
