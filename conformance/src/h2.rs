//! An HTTP/2 client for the suite: prior knowledge over TCP (RFC 9113
//! §3.3), ALPN `h2` over TLS (RFC 9113 §3.2) to a TLS [`Endpoint`].
//!
//! It is hyper's client on a current-thread tokio runtime created for each
//! call, on the test's own thread: never the server's runtime.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::transport::{Alpn, Endpoint};

/// How long one call may take before it fails, in seconds.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One response, as the HTTP/2 client saw it.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body's data, or the error that ended it (such as a stream reset).
    pub body: Result<Bytes, String>,
    /// The trailers, if any.
    pub trailers: Option<HeaderMap>,
}

/// Sends every request concurrently, each on its own stream of one HTTP/2
/// connection to `endpoint`, and returns the responses in the same order.
///
/// # Errors
///
/// A connect or handshake error, a request that got no response head, or
/// the call taking longer than [`CALL_TIMEOUT`].
pub fn send_all(
    endpoint: impl Into<Endpoint>,
    requests: Vec<http::Request<Bytes>>,
) -> io::Result<Vec<Response>> {
    let endpoint = endpoint.into();
    client_runtime()?.block_on(async move {
        tokio::time::timeout(CALL_TIMEOUT, send_all_inner(endpoint, requests))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "HTTP/2 call timed out"))?
    })
}

async fn send_all_inner(
    endpoint: Endpoint,
    requests: Vec<http::Request<Bytes>>,
) -> io::Result<Vec<Response>> {
    let sender = connect(endpoint).await?;
    let mut tasks = Vec::new();
    for request in requests {
        let mut sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            sender.ready().await.map_err(io::Error::other)?;
            let response = sender
                .send_request(request.map(Full::new))
                .await
                .map_err(io::Error::other)?;
            let (parts, mut body) = response.into_parts();
            let mut data = BytesMut::new();
            let mut trailers: Option<HeaderMap> = None;
            let mut error = None;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(chunk) => data.extend_from_slice(&chunk),
                        Err(frame) => trailers = frame.into_trailers().ok(),
                    },
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            Ok::<_, io::Error>(Response {
                status: parts.status,
                headers: parts.headers,
                body: match error {
                    Some(error) => Err(error),
                    None => Ok(data.freeze()),
                },
                trailers,
            })
        }));
    }
    let mut responses = Vec::with_capacity(tasks.len());
    for task in tasks {
        responses.push(task.await.map_err(io::Error::other)??);
    }
    Ok(responses)
}

/// Sends `request` on a new HTTP/2 connection, waits `delay`, then cancels
/// it (the client sends `RST_STREAM` with `CANCEL`, RFC 9113 §8.7) and keeps
/// the connection open for `keep_open` more.
///
/// # Errors
///
/// A connect or handshake error.
pub fn send_then_reset(
    endpoint: impl Into<Endpoint>,
    request: http::Request<Bytes>,
    delay: Duration,
    keep_open: Duration,
) -> io::Result<()> {
    let endpoint = endpoint.into();
    client_runtime()?.block_on(async move {
        let mut sender = connect(endpoint).await?;
        sender.ready().await.map_err(io::Error::other)?;
        let response = sender.send_request(request.map(Full::new));
        // Dropping the unfinished response future resets the stream.
        let _ = tokio::time::timeout(delay, response).await;
        tokio::time::sleep(keep_open).await;
        Ok(())
    })
}

/// The client's own current-thread runtime, never the server's.
fn client_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Opens an HTTP/2 connection to `endpoint`: prior knowledge over TCP;
/// over TLS, a handshake offering ALPN `h2` that must choose it. The
/// connection is driven by a task on the client's runtime.
async fn connect(endpoint: Endpoint) -> io::Result<SendRequest<Full<Bytes>>> {
    connect_watching(endpoint, None).await
}

/// As [`connect`]; `extended_connect` (when given) follows whether the
/// server's SETTINGS enable extended CONNECT (RFC 8441 §3).
async fn connect_watching(
    endpoint: Endpoint,
    extended_connect: Option<Arc<AtomicBool>>,
) -> io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(endpoint.addr()).await?;
    stream.set_nodelay(true)?;
    let Some(client) = endpoint.tls_client() else {
        return handshake(stream, extended_connect).await;
    };
    let connector = tokio_rustls::TlsConnector::from(client.config(Alpn::H2));
    let stream = connector.connect(client.server_name(), stream).await?;
    let chosen = stream.get_ref().1.alpn_protocol();
    if chosen != Some(Alpn::H2.id()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "ALPN chose {:?}, not \"h2\"",
                chosen.map(String::from_utf8_lossy)
            ),
        ));
    }
    handshake(stream, extended_connect).await
}

/// The HTTP/2 handshake on `io`.
async fn handshake<T>(
    io: T,
    extended_connect: Option<Arc<AtomicBool>>,
) -> io::Result<SendRequest<Full<Bytes>>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(io::Error::other)?;
    match extended_connect {
        None => drop(tokio::spawn(connection)),
        Some(flag) => drop(tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            // hyper polls this future only to send requests; the tick reads
            // the flag every 10 ms as well, once the SETTINGS have arrived.
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            std::future::poll_fn(|cx| {
                while tick.poll_tick(cx).is_ready() {}
                let polled = connection.as_mut().poll(cx);
                flag.store(
                    connection.is_extended_connect_protocol_enabled(),
                    Ordering::SeqCst,
                );
                polled
            })
            .await
        })),
    }
    Ok(sender)
}

/// A `GET` for `path` on `endpoint` (`http://` or, over TLS, `https://`),
/// with an empty body.
pub fn get(endpoint: impl Into<Endpoint>, path: &str) -> http::Request<Bytes> {
    http::Request::get(endpoint.into().url(path))
        .body(Bytes::new())
        .expect("a valid request")
}

/// A `CONNECT` (RFC 9113 §8.5) or extended `CONNECT` (RFC 8441) stream on
/// its own HTTP/2 connection, with the client's runtime that drives it: the
/// response head, and after a `2xx` the stream's bytes both ways. Every
/// call is bounded by [`CALL_TIMEOUT`] or the wait it is given.
pub struct Tunnel {
    runtime: tokio::runtime::Runtime,
    /// Whether the server's SETTINGS had `SETTINGS_ENABLE_CONNECT_PROTOCOL
    /// = 1` (RFC 8441 §3), as hyper saw them after a first request.
    pub extended_connect_enabled: bool,
    /// The response's status.
    pub status: StatusCode,
    /// The response's header fields.
    pub headers: HeaderMap,
    io: Option<TokioIo<hyper::upgrade::Upgraded>>,
    _sender: SendRequest<Full<Bytes>>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("extended_connect_enabled", &self.extended_connect_enabled)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("open", &self.io.is_some())
            .finish()
    }
}

/// Opens an HTTP/2 connection to `endpoint`, sends a `GET /` first (so that
/// the server's SETTINGS have arrived), then `request` (method `CONNECT`;
/// with a `hyper::ext::Protocol` extension for an extended `CONNECT`), and
/// waits for its response head; after a `2xx`, the stream is the tunnel.
///
/// # Errors
///
/// A connect or handshake error, the stream reset (the error names the
/// reason, such as `PROTOCOL_ERROR`), or no response within
/// [`CALL_TIMEOUT`].
pub fn connect_tunnel(
    endpoint: impl Into<Endpoint>,
    request: http::Request<Bytes>,
) -> io::Result<Tunnel> {
    let endpoint = endpoint.into();
    let runtime = client_runtime()?;
    let first = get(endpoint, "/");
    let flag = Arc::new(AtomicBool::new(false));
    let (sender, enabled, response) = runtime.block_on(async move {
        tokio::time::timeout(CALL_TIMEOUT, async move {
            let mut sender = connect_watching(endpoint, Some(flag.clone())).await?;
            sender.ready().await.map_err(io::Error::other)?;
            let primed = sender
                .send_request(first.map(Full::new))
                .await
                .map_err(io::Error::other)?;
            drop(primed);
            tokio::time::sleep(Duration::from_millis(30)).await;
            let enabled = flag.load(Ordering::SeqCst);
            sender.ready().await.map_err(io::Error::other)?;
            let response = sender
                .send_request(request.map(Full::new))
                .await
                .map_err(|error| {
                    let detail = std::error::Error::source(&error)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    io::Error::other(format!("{error}: {detail}"))
                })?;
            Ok::<_, io::Error>((sender, enabled, response))
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "CONNECT timed out"))?
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let io = if status.is_success() {
        let upgraded = runtime.block_on(async {
            tokio::time::timeout(CALL_TIMEOUT, hyper::upgrade::on(response))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "upgrade timed out"))?
                .map_err(io::Error::other)
        })?;
        Some(TokioIo::new(upgraded))
    } else {
        None
    };
    Ok(Tunnel {
        runtime,
        extended_connect_enabled: enabled,
        status,
        headers,
        io,
        _sender: sender,
    })
}

impl Tunnel {
    /// Writes all of `bytes` on the stream.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the response was not a `2xx`; the write error.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let io = self.io.as_mut().ok_or_else(not_open)?;
        self.runtime.block_on(async {
            tokio::time::timeout(CALL_TIMEOUT, async {
                io.write_all(bytes).await?;
                io.flush().await
            })
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
        })
    }

    /// Reads exactly `length` bytes from the stream within `wait`.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the response was not a `2xx`; `UnexpectedEof`
    /// when the stream ends first; `TimedOut`; the read error.
    pub fn read_exact(&mut self, length: usize, wait: Duration) -> io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let io = self.io.as_mut().ok_or_else(not_open)?;
        let mut buffer = vec![0; length];
        self.runtime.block_on(async {
            tokio::time::timeout(wait, io.read_exact(&mut buffer))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))?
        })?;
        Ok(buffer)
    }

    /// Waits within `wait` for the stream to end: `Ok(true)` when it ended
    /// (cleanly or reset), `Ok(false)` when `wait` passed first. Bytes that
    /// arrive meanwhile are discarded.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the response was not a `2xx`.
    pub fn wait_closed(&mut self, wait: Duration) -> io::Result<bool> {
        use tokio::io::AsyncReadExt;
        let io = self.io.as_mut().ok_or_else(not_open)?;
        Ok(self.runtime.block_on(async {
            tokio::time::timeout(wait, async {
                let mut buffer = [0; 4096];
                loop {
                    match io.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await
            .is_ok()
        }))
    }
}

fn not_open() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the CONNECT was not answered with a 2xx: no tunnel",
    )
}

/// An extended `CONNECT` (RFC 8441 §4) for `path` on `endpoint` with
/// `:protocol` set to `protocol`, an empty body, and `fields`.
pub fn extended_connect(
    endpoint: impl Into<Endpoint>,
    path: &str,
    protocol: &'static str,
    fields: &[(&str, &str)],
) -> http::Request<Bytes> {
    let mut request = http::Request::connect(endpoint.into().url(path));
    for (name, value) in fields {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Bytes::new()).expect("a valid request");
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static(protocol));
    request
}
