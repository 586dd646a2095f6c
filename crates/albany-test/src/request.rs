//! [`TestRequest`]: a request built fluently and sent to a
//! [`TestClient`](crate::TestClient) or an [`Engine`](crate::Engine).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use albany::body::Frame;
use albany::rt::Handle;
use albany::upgrade::Upgraded;
use albany::{Body, Error, Request};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri, Version};
use http_body::SizeHint;

use crate::response::{StreamingResponse, TestResponse};

/// The longest a request waits, by default, for its response head and for
/// each frame of its body: 10 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most body bytes [`TestRequest::send`] reads, by default: 16 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 16 * 1024 * 1024;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a request is sent to: the application in memory, or the engine.
pub(crate) trait Backend: Send + Sync + 'static {
    /// The runtime service the timeouts run on.
    fn handle(&self) -> &Handle;
    /// The client's default timeout.
    fn timeout(&self) -> Duration;
    /// Sends `request`: the response (body unread) and, after an upgrade,
    /// the client's end of the connection.
    fn exchange(
        &self,
        request: Request,
    ) -> BoxFuture<Result<(http::Response<Body>, Option<Upgraded>), String>>;
}

/// A request under construction; [`send`](TestRequest::send) it (or
/// `.await` it, or [`block`](TestRequest::block) on it).
///
/// Made by [`TestClient::get`](crate::TestClient::get) and its siblings, or
/// the same methods of [`Engine`](crate::Engine). Invalid header names or
/// values are reported when it is sent, by a panic that names them.
///
/// ```
/// use albany::{from_fn, Body, Request, Response};
/// use albany_test::TestClient;
///
/// let client = TestClient::new(from_fn(|request: Request| async move {
///     let kind = request.headers()["content-type"].clone();
///     let body = request.into_body().to_bytes(1024).await.unwrap();
///     let mut response = Response::new(Body::from(body));
///     response.headers_mut().insert("content-type", kind);
///     response
/// }));
/// let response = client
///     .post("/echo")
///     .header("x-trace", "1")
///     .json(r#"{"n":1}"#)
///     .block();
/// response.assert_header("content-type", "application/json").assert_body(r#"{"n":1}"#);
/// ```
pub struct TestRequest {
    backend: Arc<dyn Backend>,
    builder: http::request::Builder,
    body: Body,
    trailers: Option<HeaderMap>,
    timeout: Duration,
    body_limit: u64,
}

impl TestRequest {
    pub(crate) fn new(backend: Arc<dyn Backend>, method: Method, uri: &str) -> Self {
        let timeout = backend.timeout();
        TestRequest {
            backend,
            builder: http::Request::builder().method(method).uri(uri),
            body: Body::empty(),
            trailers: None,
            timeout,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Appends a header field (a second call with the same name adds a
    /// second field line).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.builder = self.builder.header(name, value);
        self
    }

    /// The HTTP version (default HTTP/1.1). Through the
    /// [`Engine`](crate::Engine), `Version::HTTP_2` sends the request over
    /// an HTTP/2 connection (prior knowledge), any other over HTTP/1.1.
    pub fn version(mut self, version: Version) -> Self {
        self.builder = self.builder.version(version);
        self
    }

    /// The body (default: empty).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// A text body, with `content-type: text/plain; charset=utf-8`.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// A JSON body, already serialized, with `content-type: application/json`.
    pub fn json(self, json: impl Into<String>) -> Self {
        self.header(http::header::CONTENT_TYPE, "application/json")
            .body(json.into())
    }

    /// Trailer fields sent after the body. Through the engine over
    /// HTTP/1.1 the body is then sent chunked.
    pub fn trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(trailers);
        self
    }

    /// Inserts a request extension, as middleware in front of the
    /// application would (in memory only: the engine builds its own
    /// requests).
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, extension: T) -> Self {
        self.builder = self.builder.extension(extension);
        self
    }

    /// How long to wait for the response head, and then for each frame of
    /// the body (default [`DEFAULT_TIMEOUT`], or the client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most body bytes [`send`](TestRequest::send) reads (default
    /// [`DEFAULT_BODY_LIMIT`]); past it the response's
    /// [`body_error`](TestResponse::body_error) says so.
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sends the request and reads the whole response body (and trailers).
    ///
    /// # Panics
    ///
    /// When the request is invalid (a header name or value), when the
    /// response head or a body frame does not come within the timeout,
    /// when the engine's connection fails before a response, and, in
    /// memory, when the application panics (the panic goes on into the
    /// test).
    pub async fn send(self) -> TestResponse {
        self.send_streaming().await.collect().await
    }

    /// Sends the request and returns as soon as the response head is
    /// there, its body unread.
    ///
    /// # Panics
    ///
    /// As [`send`](TestRequest::send).
    pub async fn send_streaming(self) -> StreamingResponse {
        let TestRequest {
            backend,
            builder,
            body,
            trailers,
            timeout,
            body_limit,
        } = self;
        let body = match trailers {
            None => body,
            Some(trailers) => Body::new(WithTrailers {
                body,
                trailers: Some(trailers),
            }),
        };
        let request = builder
            .body(body)
            .unwrap_or_else(|error| panic!("albany-test: invalid request: {error}"));
        let method = request.method().clone();
        let uri = request.uri().clone();
        let handle = backend.handle().clone();
        let exchanged = handle
            .timeout(timeout, backend.exchange(request))
            .await
            .unwrap_or_else(|_| {
                panic!("albany-test: no response to {method} {uri} within {timeout:?}")
            });
        let (response, upgraded) =
            exchanged.unwrap_or_else(|error| panic!("albany-test: {method} {uri} failed: {error}"));
        let (head, body) = response.into_parts();
        StreamingResponse {
            head,
            body,
            upgraded,
            handle,
            timeout,
            body_limit,
            trailers: None,
        }
    }

    /// Sends the request and waits for the whole response on this thread
    /// (with [`block_on`](crate::block_on)): for a plain `#[test]`. Inside
    /// an async test, `.await` the request instead.
    ///
    /// # Panics
    ///
    /// As [`send`](TestRequest::send).
    pub fn block(self) -> TestResponse {
        crate::block_on(self.send())
    }
}

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = BoxFuture<TestResponse>;

    /// `request.await` is `request.send().await`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl fmt::Debug for TestRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.builder.method_ref())
            .field("uri", &self.builder.uri_ref().map(Uri::to_string))
            .field("headers", &self.builder.headers_ref())
            .finish_non_exhaustive()
    }
}

/// A body followed by trailer fields.
struct WithTrailers {
    body: Body,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match self.body.poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.trailers.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // Not exact: the length does not decide the framing of a body
        // with trailers (chunked over HTTP/1.1).
        let mut hint = SizeHint::new();
        hint.set_lower(self.body.size_hint().lower());
        hint
    }
}
