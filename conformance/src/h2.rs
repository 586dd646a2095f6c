//! An HTTP/2 client for the suite: prior knowledge over TCP (RFC 9113
//! §3.3), ALPN `h2` over TLS (RFC 9113 §3.2) to a TLS [`Endpoint`].
//!
//! It is hyper's client on a current-thread tokio runtime created for each
//! call, on the test's own thread: never the server's runtime.

use std::io;
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
    let stream = tokio::net::TcpStream::connect(endpoint.addr()).await?;
    stream.set_nodelay(true)?;
    let Some(client) = endpoint.tls_client() else {
        return handshake(stream).await;
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
    handshake(stream).await
}

/// The HTTP/2 handshake on `io`.
async fn handshake<T>(io: T) -> io::Result<SendRequest<Full<Bytes>>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// A `GET` for `path` on `endpoint` (`http://` or, over TLS, `https://`),
/// with an empty body.
pub fn get(endpoint: impl Into<Endpoint>, path: &str) -> http::Request<Bytes> {
    http::Request::get(endpoint.into().url(path))
        .body(Bytes::new())
        .expect("a valid request")
}
