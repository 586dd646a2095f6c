//! What a test gets back: [`TestResponse`] (the body read whole, with
//! assertions) and [`StreamingResponse`] (the body read frame by frame).

use std::fmt;
use std::time::Duration;

use albany::rt::Handle;
use albany::upgrade::Upgraded;
use albany::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};

/// At most this many bytes of a body are shown in a failed assertion's
/// message.
const SHOWN: usize = 2048;

/// A response whose body has been read to its end (or to its error), with
/// the trailers, the data frames as they came, and assertions.
///
/// Every `assert_*` method panics with a message that shows the status,
/// the header fields and the body (its first 2 KiB, as text where it is
/// UTF-8), and returns `&self` so that assertions chain:
///
/// ```
/// use albany::{from_fn, Body, Response};
/// use albany_test::TestClient;
///
/// let client = TestClient::new(from_fn(|_| async { Response::new(Body::from("hi")) }));
/// client
///     .get("/")
///     .block()
///     .assert_ok()
///     .assert_header("content-length", "2")
///     .assert_body("hi");
/// ```
///
/// In memory ([`TestClient`](crate::TestClient)) the status, header fields
/// and body are exactly what the application returned. Through the engine
/// ([`Engine`](crate::Engine)) they are what a client receives: framing
/// headers (`content-length`, `transfer-encoding`), `date`, the server's
/// own error responses.
pub struct TestResponse {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
    chunks: Vec<Bytes>,
    trailers: Option<HeaderMap>,
    body_error: Option<String>,
    upgraded: Option<Upgraded>,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response: in memory, the one the
    /// application set (by default HTTP/1.1); through the engine, the one
    /// of the connection.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of the header field `name` (case-insensitive), if
    /// it is there and is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body, all its data frames concatenated.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The data frames of the body, in order, as they were read: how a
    /// streaming body came (through the engine, as the client's side of
    /// the connection delivered them, which may join or split frames).
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The trailer fields, if the body ended with them.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The first value of the trailer field `name`, if any.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()?
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    /// Why the body did not end normally, if it did not: the application's
    /// body failed (in memory), or the connection was aborted (through the
    /// engine: the HTTP/1.1 connection closed before the last chunk, or
    /// HTTP/2 reset the stream); also when the body was longer than the
    /// request's [`body_limit`](crate::TestRequest::body_limit). The body
    /// holds what was read before.
    pub fn body_error(&self) -> Option<&str> {
        self.body_error.as_deref()
    }

    /// Takes the client's end of an upgraded connection: after a `101
    /// Switching Protocols` answer to a request that asked for an upgrade
    /// (or a 2xx answer to `CONNECT`), the bytes the application writes to
    /// its `Upgraded` are read here and the other way round. `None` when
    /// there was no upgrade, or it was taken already.
    pub fn take_upgraded(&mut self) -> Option<Upgraded> {
        self.upgraded.take()
    }

    /// Asserts the status: a number or a [`StatusCode`].
    #[track_caller]
    pub fn assert_status<S>(&self, expected: S) -> &Self
    where
        StatusCode: PartialEq<S>,
        S: fmt::Debug,
    {
        if self.status != expected {
            self.fail(format_args!("expected status {expected:?}"));
        }
        self
    }

    /// Asserts `200 OK`.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_status(StatusCode::OK)
    }

    /// Asserts that the header field `name` is there, and that its first
    /// value is `expected`.
    #[track_caller]
    pub fn assert_header(&self, name: &str, expected: &str) -> &Self {
        if self.headers.get(name).map(|value| value.as_bytes()) != Some(expected.as_bytes()) {
            self.fail(format_args!("expected the header field {name}: {expected}"));
        }
        self
    }

    /// Asserts that there is no header field `name`.
    #[track_caller]
    pub fn assert_no_header(&self, name: &str) -> &Self {
        if self.headers.contains_key(name) {
            self.fail(format_args!("expected no header field {name}"));
        }
        self
    }

    /// Asserts that the body ended normally and is `expected`.
    #[track_caller]
    pub fn assert_body(&self, expected: impl AsRef<[u8]>) -> &Self {
        let expected = expected.as_ref();
        if self.body_error.is_some() || self.body != expected {
            self.fail(format_args!("expected the body {:?}", Shown(expected)));
        }
        self
    }

    /// Asserts that the body ended normally and contains `expected`.
    #[track_caller]
    pub fn assert_body_contains(&self, expected: &str) -> &Self {
        if self.body_error.is_some() || !self.text().contains(expected) {
            self.fail(format_args!("expected a body containing {expected:?}"));
        }
        self
    }

    /// Asserts that the body ended with the trailer field `name`, whose
    /// first value is `expected`.
    #[track_caller]
    pub fn assert_trailer(&self, name: &str, expected: &str) -> &Self {
        let value = self
            .trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name));
        if value.map(|value| value.as_bytes()) != Some(expected.as_bytes()) {
            self.fail(format_args!(
                "expected the trailer field {name}: {expected}"
            ));
        }
        self
    }

    #[track_caller]
    fn fail(&self, expected: fmt::Arguments<'_>) -> ! {
        panic!("{expected}, but the response was:\n{self:?}")
    }
}

/// The status line, header fields, body (first 2 KiB), trailers and body
/// error, as a failed assertion shows them.
impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?} {}", self.version, self.status)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        writeln!(
            f,
            "body ({} bytes): {:?}",
            self.body.len(),
            Shown(&self.body)
        )?;
        if let Some(trailers) = &self.trailers {
            for (name, value) in trailers {
                writeln!(
                    f,
                    "trailer {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                )?;
            }
        }
        if let Some(error) = &self.body_error {
            writeln!(f, "the body failed: {error}")?;
        }
        Ok(())
    }
}

/// Bytes shown as text where they are UTF-8, cut at [`SHOWN`] bytes.
struct Shown<'a>(&'a [u8]);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = &self.0[..self.0.len().min(SHOWN)];
        let more = if cut.len() < self.0.len() { "…" } else { "" };
        match std::str::from_utf8(cut) {
            Ok(text) => write!(f, "{text:?}{more}"),
            Err(_) => write!(f, "{:?}{more}", Bytes::copy_from_slice(cut)),
        }
    }
}

/// A response whose body has not been read yet: read it frame by frame
/// (a stream of events, a long poll), or [`collect`](StreamingResponse::collect)
/// it. Each wait is bounded by the request's timeout.
pub struct StreamingResponse {
    pub(crate) head: http::response::Parts,
    pub(crate) body: Body,
    pub(crate) upgraded: Option<Upgraded>,
    pub(crate) handle: Handle,
    pub(crate) timeout: Duration,
    pub(crate) body_limit: u64,
    pub(crate) trailers: Option<HeaderMap>,
}

impl StreamingResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The first value of the header field `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    /// The next data frame; `Ok(None)` at the end of the body. Trailers,
    /// when they come, are kept for [`trailers`](StreamingResponse::trailers).
    ///
    /// # Errors
    ///
    /// The body's error, as text.
    ///
    /// # Panics
    ///
    /// When no frame comes within the request's timeout.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            let frame = self
                .handle
                .timeout(self.timeout, self.body.frame())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "albany-test: no body frame within {:?} (the request's timeout)",
                        self.timeout
                    )
                });
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(error.to_string()),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => return Ok(Some(data)),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                        }
                    }
                },
            }
        }
    }

    /// The trailer fields, once the body has ended with them.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The response as it is: head and unread body.
    pub fn into_response(self) -> http::Response<Body> {
        http::Response::from_parts(self.head, self.body)
    }

    /// Reads the rest of the body (as [`TestRequest::send`](crate::TestRequest::send) does).
    ///
    /// # Panics
    ///
    /// When the body does not end within the request's timeout.
    pub async fn collect(mut self) -> TestResponse {
        let mut body = BytesMut::new();
        let mut chunks = Vec::new();
        let mut body_error = None;
        loop {
            match self.next_chunk().await {
                Ok(Some(data)) => {
                    if (body.len() + data.len()) as u64 > self.body_limit {
                        body_error = Some(format!(
                            "the body is longer than the limit of {} bytes",
                            self.body_limit
                        ));
                        break;
                    }
                    body.extend_from_slice(&data);
                    chunks.push(data);
                }
                Ok(None) => break,
                Err(error) => {
                    body_error = Some(error);
                    break;
                }
            }
        }
        TestResponse {
            status: self.head.status,
            version: self.head.version,
            headers: self.head.headers,
            body: body.freeze(),
            chunks,
            trailers: self.trailers,
            body_error,
            upgraded: self.upgraded,
        }
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.head.status)
            .field("headers", &self.head.headers)
            .finish_non_exhaustive()
    }
}
