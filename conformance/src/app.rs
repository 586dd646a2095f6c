//! The reference application the suite serves on every adapter.
//!
//! Each route exercises one part of the interface; [`AppState`] lets a test
//! observe what the application saw and did (bytes pushed, futures
//! dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use std::time::Duration;

use albany::http::{header, HeaderMap, HeaderValue, StatusCode};
use albany::{Application, Body, BoxApplication, Request, RequestExt, Response};
use bytes::Bytes;

/// Chunk size of the streamed routes, in bytes.
pub const CHUNK: usize = 64 * 1024;

/// The byte at `offset` of the test pattern: `offset % 251`, a period that
/// does not align with any power-of-two chunk size.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// `len` bytes of the test pattern starting at `offset`.
pub fn pattern(offset: u64, len: usize) -> Bytes {
    (0..len as u64).map(|i| pattern_byte(offset + i)).collect()
}

/// Returns the offset of the first byte of `data` that differs from the
/// pattern, if any.
pub fn pattern_mismatch(data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .find(|&(i, &byte)| byte != pattern_byte(i as u64))
        .map(|(i, _)| i)
}

/// What the reference application did, for tests to observe.
#[derive(Debug, Default)]
pub struct AppState {
    /// Bytes sent so far by `/push` producers.
    pub pushed: AtomicU64,
    /// `/pending` futures dropped so far.
    pub dropped: AtomicU64,
    /// `/pending` futures started so far.
    pub pending: AtomicU64,
}

/// The reference application.
///
/// | route | answer |
/// | --- | --- |
/// | `/hello` | `Hello, world!` |
/// | `/echo` | the request body, streamed back as it arrives (trailers too) |
/// | `/say/TEXT` | `TEXT` |
/// | `/slow?ms=N` | `slow` after N ms of `Handle::sleep` |
/// | `/download?size=N` | N bytes of the pattern, streamed, chunked |
/// | `/push?size=N` | N bytes of the pattern through `Body::channel(64 KiB)` |
/// | `/trailers` | `hello` and the trailer `x-checksum: 5d41402a` |
/// | `/panic` | panics before the response |
/// | `/body-error` | `partial`, then a body error |
/// | `/body-panic` | `partial`, then a panic in the body |
/// | `/pending` | never answers; counts its drop in [`AppState::dropped`] |
/// | `/upgrade` | `101`, then echoes the upgraded connection |
/// | `/runtime` | uses sleep, spawn, spawn_blocking, timeout; answers what worked |
/// | `/info` | the peer address from `ConnectionInfo` |
/// | `/blocking` | `albany::blocking`: `N bytes on THREAD`; 413 past 64 KiB |
/// | `/wrong-length` | `short` with `Content-Length: 100` (the server answers 500) |
/// | `/until-shutdown` | `waiting`, then `bye` once the shutdown signal fires |
/// | `/early-hints` | a final `103` (the server answers 500) |
/// | `/bare-101` | `101` whatever the request (over HTTP/2 the server answers 500) |
/// | `/no-content`, `/not-modified` | 204 and 304, each with a body the server must not send |
/// | `/transfer-encoding` | `plain` with `Transfer-Encoding: gzip` (the server removes it) |
/// | `/http09` | a response whose version is HTTP/0.9 (the server ignores it) |
pub fn application(state: Arc<AppState>) -> BoxApplication {
    let blocking = albany::blocking(|request: Request<Bytes>| {
        // Blocking work, as a synchronous handler may do.
        std::thread::sleep(Duration::from_millis(5));
        let thread = std::thread::current();
        let body = format!(
            "{} bytes on {}",
            request.body().len(),
            thread.name().unwrap_or("an unnamed thread")
        );
        Response::new(Body::from(body))
    })
    .body_limit(BLOCKING_BODY_LIMIT);
    BoxApplication::new(Reference {
        state,
        blocking: BoxApplication::new(blocking),
    })
}

/// The body limit of the `/blocking` route, in bytes.
pub const BLOCKING_BODY_LIMIT: usize = 64 * 1024;

struct Reference {
    state: Arc<AppState>,
    blocking: BoxApplication,
}

fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
}

fn query_number(request: &Request, name: &str) -> Option<u64> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok())?
    })
}

impl Application for Reference {
    async fn call(&self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        match path.as_str() {
            "/hello" => text(StatusCode::OK, "Hello, world!"),
            "/echo" => {
                let mut response = Response::new(request.into_body());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                response
            }
            "/slow" => {
                let ms = query_number(&request, "ms").unwrap_or(100);
                let Some(handle) = request.runtime() else {
                    return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
                };
                handle.sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, "slow")
            }
            "/download" => {
                let size = query_number(&request, "size").unwrap_or(0);
                let chunks = (0..size.div_ceil(CHUNK as u64)).map(move |i| {
                    let offset = i * CHUNK as u64;
                    let len = (size - offset).min(CHUNK as u64) as usize;
                    Ok::<_, std::io::Error>(pattern(offset, len))
                });
                Response::new(Body::from_stream(futures_lite::stream::iter(chunks)))
            }
            "/push" => self.push(&request),
            "/trailers" => {
                let (mut sender, body) = Body::channel(1024);
                let Some(handle) = request.runtime() else {
                    return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
                };
                handle.spawn(async move {
                    if sender.send("hello").await.is_ok() {
                        let mut trailers = HeaderMap::new();
                        trailers.insert("x-checksum", HeaderValue::from_static("5d41402a"));
                        let _ = sender.send_trailers(trailers).await;
                    }
                });
                let mut response = Response::new(body);
                // HTTP/1.1 sends only the trailer fields the response
                // declares (RFC 9110 §6.6.2).
                response
                    .headers_mut()
                    .insert(header::TRAILER, HeaderValue::from_static("x-checksum"));
                response
            }
            "/panic" => panic!("deliberate panic before the response head"),
            "/body-error" => body_failure(&request, false),
            "/body-panic" => body_failure(&request, true),
            "/pending" => {
                self.state.pending.fetch_add(1, Ordering::SeqCst);
                let _guard = DropGuard {
                    state: self.state.clone(),
                };
                std::future::pending::<()>().await;
                unreachable!("a pending future never completes")
            }
            "/upgrade" => upgrade(request),
            "/blocking" => self.blocking.call(request).await,
            "/wrong-length" => {
                let mut response = text(StatusCode::OK, "short");
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
                response
            }
            "/until-shutdown" => {
                let (Some(handle), Some(shutdown)) =
                    (request.runtime().cloned(), request.shutdown_signal())
                else {
                    return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime or signal");
                };
                let (mut sender, body) = Body::channel(1024);
                handle.spawn(async move {
                    if sender.send("waiting\n").await.is_ok() {
                        shutdown.await;
                        if sender.send("bye\n").await.is_ok() {
                            sender.finish();
                        }
                    }
                });
                Response::new(body)
            }
            "/bare-101" => text(StatusCode::SWITCHING_PROTOCOLS, Body::empty()),
            "/early-hints" => text(
                StatusCode::from_u16(103).expect("a valid status"),
                Body::empty(),
            ),
            "/no-content" => text(StatusCode::NO_CONTENT, "this body is not sent"),
            "/not-modified" => text(StatusCode::NOT_MODIFIED, "neither is this one"),
            "/transfer-encoding" => {
                let mut response = text(StatusCode::OK, "plain");
                response
                    .headers_mut()
                    .insert(header::TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            "/http09" => {
                let mut response = text(StatusCode::OK, "version ignored");
                *response.version_mut() = http::Version::HTTP_09;
                response
            }
            "/runtime" => runtime(request).await,
            "/info" => match request.connection_info() {
                Some(info) => text(StatusCode::OK, format!("peer={}", info.peer_addr)),
                None => text(StatusCode::INTERNAL_SERVER_ERROR, "no connection info"),
            },
            _ => match path.strip_prefix("/say/") {
                Some(word) => text(StatusCode::OK, word.to_owned()),
                None => text(StatusCode::NOT_FOUND, "not found"),
            },
        }
    }
}

impl Reference {
    fn push(&self, request: &Request) -> Response {
        let size = query_number(request, "size").unwrap_or(0);
        let Some(handle) = request.runtime() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
        };
        let (mut sender, body) = Body::channel(CHUNK);
        let state = self.state.clone();
        handle.spawn(async move {
            let mut offset = 0u64;
            while offset < size {
                let len = (size - offset).min(16 * 1024) as usize;
                if sender.send(pattern(offset, len)).await.is_err() {
                    return;
                }
                offset += len as u64;
                state.pushed.fetch_add(len as u64, Ordering::SeqCst);
            }
            sender.finish();
        });
        Response::new(body)
    }
}

/// A body that sends `partial`, waits 100 ms (so that the head and the
/// first chunk reach the client), then fails with an error or a panic.
fn body_failure(request: &Request, panic: bool) -> Response {
    let Some(handle) = request.runtime().cloned() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
    };
    let stream = futures_lite::stream::unfold(0u8, move |step| {
        let handle = handle.clone();
        async move {
            match step {
                0 => Some((Ok(Bytes::from_static(b"partial")), 1)),
                1 => {
                    handle.sleep(Duration::from_millis(100)).await;
                    if panic {
                        panic!("deliberate panic in the response body");
                    }
                    Some((Err(std::io::Error::other("deliberate body error")), 2))
                }
                _ => None,
            }
        }
    });
    Response::new(Body::from_stream(stream))
}

struct DropGuard {
    state: Arc<AppState>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.state.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn upgrade(mut request: Request) -> Response {
    let (Some(on_upgrade), Some(handle)) = (request.take_upgrade(), request.runtime().cloned())
    else {
        return text(StatusCode::UPGRADE_REQUIRED, "upgrade required");
    };
    handle.spawn(async move {
        if let Ok(connection) = on_upgrade.await {
            let (mut reader, mut writer) = futures_lite::io::split(connection);
            let _ = futures_lite::io::copy(&mut reader, &mut writer).await;
        }
    });
    let mut response = text(StatusCode::SWITCHING_PROTOCOLS, Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("echo"));
    response
}

async fn runtime(request: Request) -> Response {
    let Some(handle) = request.runtime().cloned() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
    };
    let mut worked = Vec::new();
    let start = std::time::Instant::now();
    handle.sleep(Duration::from_millis(20)).await;
    if start.elapsed() >= Duration::from_millis(20) {
        worked.push("sleep");
    }
    if handle.spawn(async { 6 * 7 }).await.ok() == Some(42) {
        worked.push("spawn");
    }
    let blocking = handle.spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(10));
        (1..=100u64).sum::<u64>()
    });
    if blocking.await.ok() == Some(5050) {
        worked.push("spawn_blocking");
    }
    let timed_out = handle
        .timeout(Duration::from_millis(10), std::future::pending::<()>())
        .await
        .is_err();
    let in_time = handle
        .timeout(Duration::from_secs(5), Yield { yielded: false })
        .await
        .is_ok();
    if timed_out && in_time {
        worked.push("timeout");
    }
    text(StatusCode::OK, worked.join(" "))
}

/// Completes on its second poll.
struct Yield {
    yielded: bool,
}

impl Future for Yield {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
