//! An HTTP/2 client (prior knowledge, RFC 9113 §3.3) for the suite.
//!
//! It is hyper's client on a current-thread tokio runtime created for each
//! call, on the test's own thread: never the server's runtime.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};

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
/// connection to `addr`, and returns the responses in the same order.
///
/// # Errors
///
/// A connect or handshake error, a request that got no response head, or
/// the call taking longer than [`CALL_TIMEOUT`].
pub fn send_all(
    addr: SocketAddr,
    requests: Vec<http::Request<Bytes>>,
) -> io::Result<Vec<Response>> {
    client_runtime()?.block_on(async move {
        tokio::time::timeout(CALL_TIMEOUT, send_all_inner(addr, requests))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "HTTP/2 call timed out"))?
    })
}

async fn send_all_inner(
    addr: SocketAddr,
    requests: Vec<http::Request<Bytes>>,
) -> io::Result<Vec<Response>> {
    let sender = connect(addr).await?;
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
    addr: SocketAddr,
    request: http::Request<Bytes>,
    delay: Duration,
    keep_open: Duration,
) -> io::Result<()> {
    client_runtime()?.block_on(async move {
        let mut sender = connect(addr).await?;
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

/// Opens an HTTP/2 connection (prior knowledge) to `addr`; the connection
/// is driven by a task on the client's runtime.
async fn connect(addr: SocketAddr) -> io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// A `GET` for `path` on `addr`, with an empty body.
pub fn get(addr: SocketAddr, path: &str) -> http::Request<Bytes> {
    http::Request::get(format!("http://{addr}{path}"))
        .body(Bytes::new())
        .expect("a valid request")
}
