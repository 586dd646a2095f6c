//! The middleware: a request id and the application's time, on every
//! response.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use albany::http::header::HeaderName;
use albany::http::HeaderValue;
use albany::{Application, Request, Response};

/// `x-request-id`: the header that carries a request's id, both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `server-timing` (W3C Server Timing): where the application's time goes.
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The most bytes of an `x-request-id` taken from a request.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Wraps `application` in the [`RequestIdAndTiming`] middleware.
pub fn request_id_and_timing<A: Application>(application: A) -> RequestIdAndTiming<A> {
    RequestIdAndTiming { inner: application }
}

/// Middleware that gives every request an id and every response its id
/// and the application's time.
///
/// - The id is the request's `x-request-id` when it is 1 to
///   [`MAX_REQUEST_ID_LEN`] bytes of ASCII letters, digits, `-`, `_`, `.`
///   and `:` (a front server's id is kept); otherwise (absent, empty, too
///   long, other characters) a new one: 32 lowercase hex digits, unique in
///   the process (a counter) after a prefix random per process. The
///   request goes on with the id in its `x-request-id` header and as a
///   [`RequestId`] extension; the response gets it in `x-request-id`.
/// - The response gets `server-timing: app;dur=MS`, the milliseconds
///   (three decimals, from [`Instant`]) from the middleware's call to the
///   inner application's response; a streaming body's time after that is
///   not in it. The inner application's own `server-timing` values are
///   kept (the header is appended).
///
/// Request extensions, the request body and the response body pass
/// through untouched.
#[derive(Clone, Copy, Default)]
pub struct RequestIdAndTiming<A> {
    inner: A,
}

impl<A> fmt::Debug for RequestIdAndTiming<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestIdAndTiming").finish_non_exhaustive()
    }
}

/// A request's id, in its extensions after [`RequestIdAndTiming`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id (ASCII).
    pub fn as_str(&self) -> &str {
        self.0
            .to_str()
            .expect("request ids are checked or generated ASCII")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<A: Application> Application for RequestIdAndTiming<A> {
    async fn call(&self, mut request: Request) -> Response {
        let started = Instant::now();
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(value) if is_acceptable_id(value) => value.clone(),
            _ => generate_id(),
        };
        request.headers_mut().insert(X_REQUEST_ID, id.clone());
        request.extensions_mut().insert(RequestId(id.clone()));
        let mut response = self.inner.call(request).await;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, id);
        let timing = HeaderValue::from_str(&format!("app;dur={millis:.3}"))
            .expect("a number is a valid header value");
        headers.append(SERVER_TIMING, timing);
        response
    }
}

fn is_acceptable_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn generate_id() -> HeaderValue {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let prefix = KEYS.get_or_init(RandomState::new).hash_one(0u8);
    HeaderValue::from_str(&format!("{prefix:016x}{n:016x}")).expect("hex digits")
}

#[cfg(test)]
mod tests {
    use albany::{from_fn, Body, Request, Response};
    use futures_lite::future::block_on;

    use super::*;

    fn call(id: Option<&str>) -> (Response, Option<String>) {
        let app = request_id_and_timing(from_fn(|request: Request| async move {
            let seen = request.extensions().get::<RequestId>().cloned();
            let mut response = Response::new(Body::empty());
            if let Some(seen) = seen {
                response
                    .headers_mut()
                    .insert("x-seen", seen.as_str().parse().unwrap());
            }
            response
        }));
        let mut request = Request::new(Body::empty());
        if let Some(id) = id {
            request
                .headers_mut()
                .insert(X_REQUEST_ID, id.parse().unwrap());
        }
        let response = block_on(app.call(request));
        let id = response
            .headers()
            .get(&X_REQUEST_ID)
            .map(|v| v.to_str().unwrap().to_owned());
        (response, id)
    }

    #[test]
    fn echoes_a_good_id_and_replaces_a_bad_one() {
        let (response, id) = call(Some("abc-123.x:y_z"));
        assert_eq!(id.as_deref(), Some("abc-123.x:y_z"));
        assert_eq!(response.headers()["x-seen"], "abc-123.x:y_z");
        let timing = response.headers()[&SERVER_TIMING].to_str().unwrap();
        assert!(timing.starts_with("app;dur="), "{timing}");
        for bad in [Some("has space"), Some(&"x".repeat(129)[..]), None] {
            let (response, id) = call(bad);
            let id = id.unwrap();
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert_eq!(response.headers()["x-seen"], id.as_str());
        }
        assert_ne!(call(None).1, call(None).1);
    }
}
