//! The rules the server applies to a response before hyper writes it (spec
//! chapter "Response handling by the server", RESP-*), and the responses
//! the server makes itself.

use albany::{Body, Response};
use http::{header, HeaderValue, StatusCode};

use crate::body::ResponseBody;

/// The response to an application that panicked before its response: 500.
pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> http::Response<ResponseBody> {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    tracing::error!(panic = message, "application panicked; answering 500");
    status_response(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Checks what the server frames itself before hyper sees the response.
pub(crate) fn prepare_response(
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
pub(crate) fn status_response(status: StatusCode) -> http::Response<ResponseBody> {
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
