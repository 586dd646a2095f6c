//! Request adaptation: hyper's request checked and turned into the
//! application's, with its body and extensions.

use albany::upgrade::{OnUpgrade, Protocol, UpgradeError, Upgraded};
use std::sync::Arc;

use albany::{Application, Body, Request};
use http::{header, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::connection::{StreamAnswer, StreamHeld};
use crate::request_body::{read_ahead, BodyTimedOut, ClientGone, TimedBody};
use crate::request_checks;
use crate::service::ConnectionState;
use crate::upgrade_io::{FromHyper, Held};

/// A request ready for the application.
pub(crate) struct Prepared {
    pub(crate) request: Request,
    /// Resolves when an HTTP/1.x client leaves while its body is unread
    /// (CANCEL-5); `None` when the server does not read ahead.
    pub(crate) client_gone: Option<ClientGone>,
    pub(crate) head_request: bool,
    pub(crate) http2: bool,
    /// Says whether the request body timed out (LIMIT-16); `None` when it
    /// is not timed (no body, or the timeouts are off).
    pub(crate) body_timed_out: Option<Arc<BodyTimedOut>>,
    /// Over HTTP/2, for a `CONNECT`: told the response (LIMIT-11).
    pub(crate) stream_answer: Option<StreamAnswer>,
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
    let mut body_timed_out = None;
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
            timed(incoming, state, &mut body_timed_out)
        } else {
            let (body, gone) = read_ahead(incoming);
            client_gone = Some(gone);
            timed(body, state, &mut body_timed_out)
        };
        match limit {
            Some(limit) => body.limit(limit),
            None => body,
        }
    };

    // hyper's own `OnUpgrade` stays in the extensions (a clone shares the
    // connection): tower applications hosted through `albany::from_tower`,
    // such as axum's `WebSocketUpgrade`, take it from there (spec TOWER-6).
    let mut stream_answer = None;
    if let Some(on_upgrade) = parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned() {
        let counters = shared.counters.clone();
        let deadline = shared.shutdown_deadline.clone();
        let runtime = state.context.runtime().clone();
        // [LIMIT-11] Over HTTP/2 the upgraded stream keeps the connection
        // from being idle for as long as the application holds it (or,
        // taken through hyper's `OnUpgrade`, as long as the connection
        // lasts: see `Requests::hold_stream`).
        let stream = http2.then(|| {
            let (held, answer) = state.requests.hold_stream();
            stream_answer = Some(answer);
            held
        });
        let requests = state.requests.clone();
        parts.extensions.insert(OnUpgrade::new(async move {
            let upgraded = on_upgrade.await;
            let stream = stream.map(StreamHeld::resolved);
            match upgraded {
                // [SHUT-8, UPG-9] Over HTTP/1.1 the connection's task
                // counts, holds and closes an upgraded connection, whoever
                // took it (connection/linger.rs); an HTTP/2 stream is held
                // here: counted, waited for by graceful shutdown, closed at
                // its deadline.
                Ok(upgraded) if !http2 => {
                    requests.count_upgrade(&counters);
                    Ok(Upgraded::new(FromHyper::new(upgraded)))
                }
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
        body_timed_out,
        stream_answer,
    })
}

/// [LIMIT-14, LIMIT-15] `body` as the application's, timed while the
/// application waits on it if the server has request body timeouts; then
/// `timed_out` says when it timed out.
fn timed<A, B>(
    body: B,
    state: &ConnectionState<A>,
    timed_out: &mut Option<Arc<BodyTimedOut>>,
) -> Body
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin + Send + 'static,
    B::Error: Into<albany::BoxError>,
{
    match state.shared.body_timeouts {
        Some(timeouts) => {
            let (body, fired) = TimedBody::new(body, state.context.runtime().clone(), timeouts);
            *timed_out = Some(fired);
            Body::new(body)
        }
        None => Body::new(body),
    }
}
