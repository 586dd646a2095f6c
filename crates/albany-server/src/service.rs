//! One request: the application called with the adapted request, under
//! `catch_unwind`, raced with the client going away.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use albany::{Application, ConnectionContext};
use http::StatusCode;
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::connection::Requests;
use crate::counters::Counters;
use crate::forwarded::forwarded;
use crate::observe::Observed;
use crate::request::{prepare_request, Prepared};
use crate::response_checks::{panicked, prepare_response, status_response};

/// What every connection of one server shares.
pub(crate) struct Shared<A> {
    pub(crate) application: A,
    pub(crate) max_request_body_size: Option<u64>,
    /// The request body timeouts (LIMIT-14, LIMIT-15); `None` when both
    /// are off.
    pub(crate) body_timeouts: Option<crate::request_body::BodyTimeouts>,
    pub(crate) access_log: bool,
    /// `access_log`, or `trusted_proxies` not empty: one check per request
    /// for both.
    pub(crate) access_log_or_proxies: bool,
    pub(crate) counters: Counters,
    /// Resolves when the graceful shutdown deadline passes: upgraded
    /// connections still open are closed then (SHUT-8).
    pub(crate) shutdown_deadline: albany::ShutdownSignal,
    pub(crate) trusted_proxies: crate::forwarded::Trusted,
}

/// What every request of one connection shares.
pub(crate) struct ConnectionState<A> {
    pub(crate) shared: Arc<Shared<A>>,
    /// The runtime handle, connection info and shutdown signal, given to
    /// every request of the connection (spec EXT-12).
    pub(crate) context: ConnectionContext,
    /// Requests in flight, for the header read timeout (LIMIT-3).
    pub(crate) requests: Arc<Requests>,
    /// The connection's span, the parent of its requests' (OBS-1).
    pub(crate) span: tracing::Span,
}

/// Serves one request: builds the Albany request (body and extensions),
/// calls the application, and turns a panic before the response into a 500.
/// The request counts as in flight (no header read timeout) until its
/// response body is dropped, or this future is.
pub(crate) async fn serve_request<A: Application>(
    state: Arc<ConnectionState<A>>,
    mut request: http::Request<Incoming>,
) -> Result<http::Response<ResponseBody>, Infallible> {
    // [OBS-1, OBS-2] `None` unless the span or the access log is on.
    let observed = if state.shared.access_log_or_proxies {
        observed_request(&state, &mut request)
    } else {
        Observed::start(&request, None, &state.context, &state.span, false)
    };
    let mut in_flight = state.requests.start(observed);
    let connect = request.method() == http::Method::CONNECT;
    // One async function, not one that awaits another: each nested future
    // is a move of the request (measured with callgrind). The synchronous
    // part is a plain function: locals an async function borrows stay in
    // its state across every await, which would make this future
    // (allocated once per connection by hyper) hold the request twice.
    let mut body_timed_out = None;
    let mut stream_answer = None;
    let mut response = match prepare_request(&state, request) {
        Err(status) => status_response(status),
        Ok(Prepared {
            request,
            client_gone,
            head_request,
            http2,
            body_timed_out: timed_out,
            stream_answer: answer,
        }) => {
            body_timed_out = timed_out;
            stream_answer = answer;
            let mut call = pin!(state.shared.application.call(request));
            let mut client_gone = pin!(client_gone);
            // One poll function, so that the application's future is moved
            // once: it is polled under `catch_unwind` and raced with the
            // client leaving.
            let called = poll_fn(|cx| {
                let _entered = in_flight.observed().map(|observed| observed.span().enter());
                match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
                    Ok(Poll::Ready(response)) => return Poll::Ready(Some(Ok(response))),
                    Err(payload) => return Poll::Ready(Some(Err(payload))),
                    Ok(Poll::Pending) => {}
                }
                match client_gone.as_mut().as_pin_mut() {
                    Some(gone) => gone.poll(cx).map(|()| None),
                    None => Poll::Pending,
                }
            })
            .await;
            match called {
                // [LIMIT-16] The request body timed out before the response
                // head: the client gets 408, whatever the application
                // answered (it may not know the error).
                Some(Ok(_)) if body_timed_out.as_ref().is_some_and(|t| t.fired()) => {
                    body_timed_out = None;
                    status_response(StatusCode::REQUEST_TIMEOUT)
                }
                Some(Ok(response)) => prepare_response(response, head_request, http2),
                Some(Err(payload)) => panicked(payload),
                None => {
                    // [CANCEL-1] Dropping the future is the cancellation.
                    tracing::debug!("the client closed the connection during the request");
                    status_response(StatusCode::BAD_REQUEST)
                }
            }
        }
    };
    let status = response.status();
    let tunnel = connect && status.is_success();
    if let Some(answer) = stream_answer {
        // [LIMIT-11] An HTTP/2 `CONNECT` answered `2xx` is a tunnel.
        answer.answer(tunnel);
    }
    if status == StatusCode::SWITCHING_PROTOCOLS || tunnel {
        // [LIMIT-3] An upgraded connection has no more request heads.
        state.requests.stop();
    } else if state.requests.draining() {
        // [SHUT-9] Graceful shutdown has begun (HTTP/1.x only): this is the
        // connection's last response; hyper closes after it.
        drain_response(response.headers_mut());
    }
    if let Some(observed) = in_flight.observed_mut() {
        observed.status(status.as_u16());
    }
    response.body_mut().set_in_flight(in_flight);
    if let Some(timed_out) = body_timed_out {
        // [LIMIT-16] A timeout after the head aborts the response.
        response.body_mut().abort_on(timed_out);
    }
    // [LIMIT-19] Over HTTP/2, the stream's watchdog starts with the head.
    crate::rt::note_response_progress();
    Ok(response)
}

/// Marks a response of a connection in graceful shutdown as its last.
#[cold]
#[inline(never)]
fn drain_response(headers: &mut http::HeaderMap) {
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}

/// The request observed with the access log on, or trusted proxies set:
/// from a peer among them, with the `Forwarded` extension inserted into
/// `request` (spec EXT-13) and its client.
#[inline(never)]
fn observed_request<A>(
    state: &ConnectionState<A>,
    request: &mut http::Request<Incoming>,
) -> Option<Box<Observed>> {
    let shared = &state.shared;
    // [EXT-13] Only from a trusted peer; nothing to do without any.
    let forwarded = if shared.trusted_proxies.is_empty() {
        None
    } else {
        // `None` on a Unix domain socket.
        let peer = state.context.connection_info().peer_addr();
        forwarded(
            request.headers(),
            peer.map(|peer| peer.ip()),
            &shared.trusted_proxies,
        )
    };
    let observed = Observed::start(
        request,
        forwarded.as_ref(),
        &state.context,
        &state.span,
        shared.access_log,
    );
    if let Some(forwarded) = forwarded {
        request.extensions_mut().insert(forwarded);
    }
    observed
}
