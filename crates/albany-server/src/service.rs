//! One request: from hyper's request to the application and back.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use albany::upgrade::{OnUpgrade, UpgradeError, Upgraded};
use albany::{Application, Body, Request, Response, ConnectionContext};
use http::{header, HeaderValue, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::head_timeout::Activity;
use crate::io::FromHyper;
use crate::request_body::{read_ahead, ClientGone};
use crate::request_checks;

/// What every connection of one server shares.
pub(crate) struct Shared<A> {
    pub(crate) application: A,
    pub(crate) max_request_body_size: Option<u64>,
}

/// What every request of one connection shares.
pub(crate) struct ConnectionState<A> {
    pub(crate) shared: Arc<Shared<A>>,
    /// The runtime handle, connection info and shutdown signal, given to
    /// every request of the connection.
    pub(crate) server_context: ConnectionContext,
    /// Requests in flight, for the header read timeout.
    pub(crate) activity: Arc<Activity>,
}

/// Serves one request: builds the Albany request (body and extensions),
/// calls the application, and turns a panic before the response into a 500.
/// The request counts as in flight (no header read timeout) until its
/// response body is dropped, or this future is.
pub(crate) async fn serve_request<A: Application>(
    context: Arc<ConnectionState<A>>,
    request: http::Request<Incoming>,
) -> Result<http::Response<ResponseBody>, Infallible> {
    let in_flight = context.activity.start();
    let connect = request.method() == http::Method::CONNECT;
    // One async function, not one that awaits another: each nested future
    // is a move of the request (measured with callgrind). The synchronous
    // part is a plain function: locals an async function borrows stay in
    // its state across every await, which would make this future
    // (allocated once per connection by hyper) hold the request twice.
    let mut response = match prepare_request(&context, request) {
        Err(status) => status_response(status),
        Ok(Prepared {
            request,
            client_gone,
            head_request,
            http2,
        }) => {
            let mut call = pin!(context.shared.application.call(request));
            let mut client_gone = pin!(client_gone);
            // One poll function, so that the application's future is moved
            // once: it is polled under `catch_unwind` and raced with the
            // client leaving.
            let called = poll_fn(|cx| {
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
    if status == StatusCode::SWITCHING_PROTOCOLS || (connect && status.is_success()) {
        // [LIMIT-3] An upgraded connection has no more request heads.
        context.activity.stop();
    }
    response.body_mut().set_in_flight(in_flight);
    Ok(response)
}

/// The response to an application that panicked before its response: 500.
fn panicked(payload: Box<dyn std::any::Any + Send>) -> http::Response<ResponseBody> {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    tracing::error!(panic = message, "application panicked; answering 500");
    status_response(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A request ready for the application.
struct Prepared {
    request: Request,
    /// Resolves when an HTTP/1.x client leaves while its body is unread
    /// (CANCEL-5); `None` when the server does not read ahead.
    client_gone: Option<ClientGone>,
    head_request: bool,
    http2: bool,
}

/// Checks hyper's request and builds the application's (body and
/// extensions); `Err` is the status the server answers with itself.
fn prepare_request<A: Application>(
    context: &ConnectionState<A>,
    request: http::Request<Incoming>,
) -> Result<Prepared, StatusCode> {
    let shared = &context.shared;
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

    if let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() {
        parts.extensions.insert(OnUpgrade::new(async move {
            match on_upgrade.await {
                Ok(upgraded) => Ok(Upgraded::new(FromHyper::new(upgraded))),
                Err(error) => Err(UpgradeError::new(error)),
            }
        }));
    }
    // [EXT-1, EXT-2, EXT-3, EXT-12] One insert: the connection's
    // context is shared by its requests.
    parts.extensions.insert(context.server_context.clone());

    Ok(Prepared {
        request: Request::from_parts(parts, body),
        client_gone,
        head_request,
        http2,
    })
}

/// Checks what the server frames itself before hyper sees the response.
fn prepare_response(
    mut response: Response,
    head_request: bool,
    http2: bool,
) -> http::Response<ResponseBody> {
    // [RESP-23] The server answers in the request's protocol: hyper writes
    // the response's version over HTTP/1.1 (and panics on HTTP/0.9).
    *response.version_mut() = http::Version::default();

    // The framing fields, found in one pass over the field names (cheaper
    // than two lookups for the few fields a response usually has).
    let (mut transfer_encoding, mut content_length) = (false, false);
    for name in response.headers().keys() {
        transfer_encoding |= name == header::TRANSFER_ENCODING;
        content_length |= name == header::CONTENT_LENGTH;
    }

    // [RESP-4] Transfer codings are the server's: hyper would honour an
    // application's `Transfer-Encoding` over HTTP/1.1.
    if transfer_encoding {
        response.headers_mut().remove(header::TRANSFER_ENCODING);
        tracing::warn!("removed the application's Transfer-Encoding; the server frames responses");
    }

    let status = response.status();
    // [RESP-12, RESP-13] Interim responses are the server's: a final 1xx is
    // an application error, and HTTP/2 has no 101 (RFC 9113 §8.6).
    if status.is_informational() && (status != StatusCode::SWITCHING_PROTOCOLS || http2) {
        tracing::error!(%status, "the application answered with an interim status; answering 500");
        return status_response(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let no_content = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if no_content {
        // [RESP-9, RESP-10, RESP-11] No content, over either protocol (hyper
        // sends DATA frames over HTTP/2 otherwise); the body is dropped
        // without being polled. A HEAD response keeps the length a GET would
        // have had (RFC 9110 §9.3.2); 1xx and 204 have none (§8.6).
        let headers = response.headers_mut();
        if status.is_informational() || status == StatusCode::NO_CONTENT {
            headers.remove(header::CONTENT_LENGTH);
        } else if head_request && !content_length {
            if let Some(length) = response.body().size_hint().exact().filter(|&n| n > 0) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            }
        }
        *response.body_mut() = Body::empty();
        return response.map(ResponseBody::new);
    }

    // [RESP-6] A `Content-Length` that contradicts an exact body length is
    // never sent: the response could not be framed correctly.
    let declared = content_length
        .then(|| response.headers().get(header::CONTENT_LENGTH))
        .flatten();
    if let (Some(exact), Some(declared)) = (response.body().size_hint().exact(), declared) {
        let declared = declared
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared != Some(exact) {
            tracing::error!(
                ?declared,
                body_length = exact,
                "the application's Content-Length disagrees with its body; answering 500"
            );
            return status_response(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    response.map(ResponseBody::new)
}

/// A response the server makes itself: the status, its reason phrase as a
/// plain-text body, and `Connection: close` for errors the request caused
/// (4xx, 501): its unread body could otherwise be read as the next request.
fn status_response(status: StatusCode) -> http::Response<ResponseBody> {
    let reason = status.canonical_reason().unwrap_or("");
    let mut response = Response::new(Body::from(format!("{} {reason}\n", status.as_u16())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status.is_client_error() || status == StatusCode::NOT_IMPLEMENTED {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response.map(ResponseBody::new)
}
