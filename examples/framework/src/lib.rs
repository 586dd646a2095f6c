#![doc = include_str!("../README.md")]

mod middleware;
mod router;

pub use middleware::{
    request_id_and_timing, RequestId, RequestIdAndTiming, MAX_REQUEST_ID_LEN, SERVER_TIMING,
    X_REQUEST_ID,
};
pub use router::{Params, RequestParams, Router};

use albany::http::{header, HeaderValue, StatusCode};
use albany::{Body, Response};

/// A `text/plain; charset=utf-8` response with `status` and `body`.
pub fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
