use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use crate::body::CollectError;
use crate::{Application, Body, Request, RequestExt, Response};

/// The default request body limit of [`blocking`]: 2 MiB.
pub const DEFAULT_BLOCKING_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// Serves a synchronous function as an [`Application`].
///
/// For each request, the body is read in full (up to a limit, 2 MiB by
/// default, see [`Blocking::body_limit`]) and `f` runs on the runtime's
/// blocking thread pool ([`Handle::spawn_blocking`](crate::rt::Handle::spawn_blocking)),
/// so a synchronous handler (a synchronous database driver, file I/O) never
/// stalls the event loop.
///
/// Answers without calling `f`:
/// - `413 Content Too Large` when the body is longer than the limit
///   (RFC 9110 §15.5.14);
/// - `408 Request Timeout` when the server stopped waiting for the body
///   ([`TimeoutError`](crate::body::TimeoutError): the client sent it too
///   slowly; RFC 9110 §15.5.9);
/// - `400 Bad Request` when the request body fails (malformed or cut short);
/// - `500 Internal Server Error` when the request has no runtime
///   [`Handle`](crate::rt::Handle) (it was not served by an adapter).
///
/// A panic in `f` is resumed in the application, where the server turns it
/// into a `500`.
///
/// ```
/// use albany::{blocking, Body, Response};
///
/// let app = blocking(|request: albany::Request<albany::bytes::Bytes>| {
///     // Blocking work is fine here.
///     std::thread::sleep(std::time::Duration::from_millis(1));
///     Response::new(Body::from(format!("{} bytes", request.body().len())))
/// })
/// .body_limit(64 * 1024);
/// # fn is_app(_: impl albany::Application) {}
/// # is_app(app);
/// ```
pub fn blocking<F>(f: F) -> Blocking<F>
where
    F: Fn(Request<Bytes>) -> Response + Send + Sync + 'static,
{
    Blocking {
        f: Arc::new(f),
        body_limit: DEFAULT_BLOCKING_BODY_LIMIT,
    }
}

/// A synchronous function served on the blocking pool; see [`blocking`].
pub struct Blocking<F> {
    f: Arc<F>,
    body_limit: u64,
}

impl<F> Blocking<F> {
    /// Sets the request body limit in bytes (default 2 MiB).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }
}

impl<F> fmt::Debug for Blocking<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl<F> Application for Blocking<F>
where
    F: Fn(Request<Bytes>) -> Response + Send + Sync + 'static,
{
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        let f = self.f.clone();
        let limit = self.body_limit;
        async move {
            let Some(handle) = request.runtime().cloned() else {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "no runtime handle in the request extensions\n",
                );
            };
            let (parts, body) = request.into_parts();
            let bytes = match body.to_bytes(limit).await {
                Ok(bytes) => bytes,
                Err(CollectError::TooLarge { .. }) => {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
                }
                Err(CollectError::TimedOut(_)) => {
                    return plain(StatusCode::REQUEST_TIMEOUT, "request body timed out\n")
                }
                Err(_) => return plain(StatusCode::BAD_REQUEST, "malformed request body\n"),
            };
            let request = Request::from_parts(parts, bytes);
            match handle.spawn_blocking(move || f(request)).await {
                Ok(response) => response,
                Err(error) => match error.try_into_panic() {
                    Ok(payload) => resume_unwind(payload),
                    Err(_cancelled) => plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the blocking handler was cancelled\n",
                    ),
                },
            }
        }
    }
}
