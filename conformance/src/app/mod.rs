//! The reference application the suite serves on every adapter.
//!
//! Each route exercises one part of the interface; [`AppState`] lets a test
//! observe what the application saw and did (bytes pushed, futures
//! dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use std::time::Duration;

pub mod io;

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
    /// Every request the application was called with, as `METHOD target`,
    /// in the order of the calls.
    pub seen: Mutex<Vec<String>>,
    /// Request bodies that ended with an error, as `/inspect` and `/count`
    /// read them.
    pub body_errors: AtomicU64,
    /// `/push` producers that stopped because the body was dropped.
    pub push_stopped: AtomicU64,
    /// Bytes sent so far by `/push` producers.
    pub pushed: AtomicU64,
    /// `/pending` futures dropped so far.
    pub dropped: AtomicU64,
    /// `/pending` futures started so far.
    pub pending: AtomicU64,
    /// The process id of the child `/io/child-hold` spawned; 0 before.
    pub child_pid: AtomicU64,
}

impl AppState {
    /// Whether the application was called with a request whose target
    /// contains `needle`.
    pub fn saw(&self, needle: &str) -> bool {
        self.seen
            .lock()
            .expect("the list of requests")
            .iter()
            .any(|line| line.contains(needle))
    }

    /// How many requests the application was called with.
    pub fn calls(&self) -> usize {
        self.seen.lock().expect("the list of requests").len()
    }
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
/// | `/upgrade` | `101` (over HTTP/2 a `CONNECT`: `200` and a first line naming its `:protocol`, or `-`), then echoes the upgraded connection |
/// | `/runtime` | uses sleep, spawn, spawn_blocking, timeout; answers what worked |
/// | `/info` | the peer address and the scheme from `ConnectionInfo` |
/// | `/blocking` | `albany::blocking`: `N bytes on THREAD`; 413 past 64 KiB |
/// | `/wrong-length` | `short` with `Content-Length: 100` (the server answers 500) |
/// | `/until-shutdown` | `waiting`, then `bye` once the shutdown signal fires |
/// | `/early-hints` | a final `103` (the server answers 500) |
/// | `/bare-101` | `101` whatever the request (over HTTP/2 the server answers 500) |
/// | `/no-content`, `/not-modified` | 204 and 304, each with a body the server must not send |
/// | `/transfer-encoding` | `plain` with `Transfer-Encoding: gzip` (the server removes it) |
/// | `/http09` | a response whose version is HTTP/0.9 (the server ignores it) |
/// | `/inspect…` | reads the body (up to 1 MiB) and describes what it saw: see [`inspect`] |
/// | `/count` | reads the body and answers its length in bytes |
/// | `/first-chunk` | answers the length of the body's first data frame, at once |
/// | `/ticks?n=N&ms=M` | N chunks `tick\n`, one every M ms |
/// | `/close` | `bye` with `Connection: close` |
/// | `/short-length`, `/long-length` | `Content-Length: 10` with a streamed body of 5 or 20 bytes |
/// | `/hop-by-hop` | `ok` with connection-specific fields (RESP-14) |
/// | `/blocking-panic` | `albany::blocking` whose function panics |
/// | `/io/…` | the runtime's I/O: connections, listeners, child processes; see [`io`] |
/// | `OPTIONS *` | `204` with `Allow` |
/// | `CONNECT host:port` | `403` naming the authority (over HTTP/2: as `/upgrade`) |
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
    let blocking_panic = albany::blocking(|_request: Request<Bytes>| -> Response {
        panic!("deliberate panic in a blocking application")
    });
    BoxApplication::new(Reference {
        state,
        blocking: BoxApplication::new(blocking),
        blocking_panic: BoxApplication::new(blocking_panic),
    })
}

/// The body limit of the `/blocking` route, in bytes.
pub const BLOCKING_BODY_LIMIT: u64 = 64 * 1024;

struct Reference {
    state: Arc<AppState>,
    blocking: BoxApplication,
    blocking_panic: BoxApplication,
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
        self.state
            .seen
            .lock()
            .expect("the list of requests")
            .push(format!("{} {}", request.method(), request.uri()));
        // [UPG-7, UPG-8] Over HTTP/2 a CONNECT goes to the `/upgrade`
        // route (a plain CONNECT has no path).
        if request.method() == http::Method::CONNECT && request.version() == http::Version::HTTP_2 {
            return upgrade(request);
        }
        if request.method() == http::Method::CONNECT {
            let authority = request.uri().authority().map(|a| a.to_string());
            return text(
                StatusCode::FORBIDDEN,
                format!("connect {}", authority.unwrap_or_default()),
            );
        }
        if request.uri() == "*" {
            let mut response = text(StatusCode::NO_CONTENT, Body::empty());
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            return response;
        }
        let path = request.uri().path().to_owned();
        if path.starts_with("/inspect") {
            return inspect(request, &self.state).await;
        }
        if path.starts_with("/io/") {
            return io::call(request, &self.state).await;
        }
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
            "/count" => match count_body(request.into_body()).await {
                Ok(length) => text(StatusCode::OK, length.to_string()),
                Err(error) => {
                    self.state.body_errors.fetch_add(1, Ordering::SeqCst);
                    text(StatusCode::BAD_REQUEST, format!("body error: {error}"))
                }
            },
            "/first-chunk" => {
                let mut body = request.into_body();
                match body.frame().await {
                    Some(Ok(frame)) => {
                        let length = frame.data_ref().map_or(0, |data| data.len());
                        text(StatusCode::OK, length.to_string())
                    }
                    _ => text(StatusCode::BAD_REQUEST, "no first chunk"),
                }
            }
            "/ticks" => ticks(&request),
            "/close" => {
                let mut response = text(StatusCode::OK, "bye");
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
            "/short-length" | "/long-length" => {
                let length = if path == "/short-length" { 5 } else { 20 };
                let chunks =
                    futures_lite::stream::iter([Ok::<_, std::io::Error>(pattern(0, length))]);
                let mut response = Response::new(Body::from_stream(chunks));
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
                response
            }
            "/hop-by-hop" => {
                let mut response = text(StatusCode::OK, "ok");
                let headers = response.headers_mut();
                headers.insert(header::CONNECTION, HeaderValue::from_static("x-private"));
                headers.insert("x-private", HeaderValue::from_static("secret"));
                headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
                headers.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert("x-kept", HeaderValue::from_static("yes"));
                response
            }
            "/blocking-panic" => self.blocking_panic.call(request).await,
            "/client" => {
                let forwarded = request.forwarded();
                text(
                    StatusCode::OK,
                    format!(
                        "client={} forwarded={} proto={} host={}",
                        request
                            .client_ip()
                            .map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                        forwarded.is_some(),
                        forwarded.and_then(|f| f.proto.as_deref()).unwrap_or("-"),
                        forwarded.and_then(|f| f.host.as_deref()).unwrap_or("-"),
                    ),
                )
            }
            "/info" => match request.connection_info() {
                Some(info) => {
                    let peer = info
                        .peer_addr()
                        .map_or_else(|| "none (not TCP)".to_owned(), |peer| peer.to_string());
                    text(
                        StatusCode::OK,
                        format!("peer={peer} scheme={}", info.scheme()),
                    )
                }
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
        let (mut sender, body) = Body::channel(CHUNK as u64);
        let state = self.state.clone();
        handle.spawn(async move {
            let mut offset = 0u64;
            while offset < size {
                let len = (size - offset).min(16 * 1024) as usize;
                if sender.send(pattern(offset, len)).await.is_err() {
                    state.push_stopped.fetch_add(1, Ordering::SeqCst);
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
    // [UPG-7, UPG-8] Over HTTP/2 a CONNECT is answered 200 and its stream
    // is the connection; the first line tells the `:protocol` the
    // application saw (`-` for a plain CONNECT).
    let connect = request.method() == albany::http::Method::CONNECT;
    let greeting = connect.then(|| {
        let protocol = request.extensions().get::<albany::upgrade::Protocol>();
        format!("{}\n", protocol.map_or("-", |protocol| protocol.as_str()))
    });
    handle.spawn(async move {
        if let Ok(mut connection) = on_upgrade.await {
            if let Some(greeting) = greeting {
                use futures_lite::AsyncWriteExt;
                if connection.write_all(greeting.as_bytes()).await.is_err() {
                    return;
                }
                let _ = connection.flush().await;
            }
            let (mut reader, mut writer) = futures_lite::io::split(connection);
            let _ = futures_lite::io::copy(&mut reader, &mut writer).await;
        }
    });
    if connect {
        return text(StatusCode::OK, Body::empty());
    }
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

/// The largest body `/inspect` reads, in bytes.
pub const INSPECT_BODY_LIMIT: u64 = 1024 * 1024;

/// `/inspect`: reads the request body (up to [`INSPECT_BODY_LIMIT`]) and
/// answers, one `key: value` line each, what the application observed:
///
/// ```text
/// method: POST
/// uri: /inspect?x=1
/// version: HTTP/1.1
/// header: host: localhost        (one line per value, in HeaderMap order)
/// extensions: runtime connection-info shutdown-signal upgrade
/// connection-context: true            (the three given as one ConnectionContext)
/// size-hint: exact 5             (or: lower 0 upper none)
/// end-of-stream: false
/// body: 5 bytes fnv1a 0x…       (or: body-error: …)
/// trailer: x-sum: 1
/// ```
///
/// It answers `200`, or `400` when the body failed (`413` when it was too
/// large); the differential run compares these descriptions across targets.
pub async fn inspect(request: Request, state: &AppState) -> Response {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "method: {}", request.method());
    let _ = writeln!(out, "uri: {}", request.uri());
    let _ = writeln!(out, "version: {:?}", request.version());
    for (name, value) in request.headers() {
        let _ = writeln!(
            out,
            "header: {}: {}",
            name,
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let mut extensions = Vec::new();
    if request.runtime().is_some() {
        extensions.push("runtime");
    }
    if request.connection_info().is_some() {
        extensions.push("connection-info");
    }
    if request.shutdown_signal().is_some() {
        extensions.push("shutdown-signal");
    }
    if request
        .extensions()
        .get::<albany::upgrade::OnUpgrade>()
        .is_some()
    {
        extensions.push("upgrade");
    }
    let _ = writeln!(out, "extensions: {}", extensions.join(" "));
    let _ = writeln!(
        out,
        "connection-context: {}",
        request
            .extensions()
            .get::<albany::ConnectionContext>()
            .is_some()
    );
    let body = request.into_body();
    let hint = http_body::Body::size_hint(&body);
    match hint.exact() {
        Some(exact) => {
            let _ = writeln!(out, "size-hint: exact {exact}");
        }
        None => {
            let upper = hint.upper().map_or("none".to_owned(), |u| u.to_string());
            let _ = writeln!(out, "size-hint: lower {} upper {upper}", hint.lower());
        }
    }
    let _ = writeln!(
        out,
        "end-of-stream: {}",
        http_body::Body::is_end_stream(&body)
    );
    let status = match body.collect(INSPECT_BODY_LIMIT).await {
        Ok(collected) => {
            let (data, trailers) = collected.into_parts();
            let _ = writeln!(
                out,
                "body: {} bytes fnv1a {:#018x}",
                data.len(),
                fnv1a(&data)
            );
            for (name, value) in trailers.iter().flatten() {
                let _ = writeln!(
                    out,
                    "trailer: {}: {}",
                    name,
                    String::from_utf8_lossy(value.as_bytes())
                );
            }
            StatusCode::OK
        }
        Err(error) => {
            state.body_errors.fetch_add(1, Ordering::SeqCst);
            let _ = writeln!(out, "body-error: {error}");
            match error {
                albany::body::CollectError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            }
        }
    };
    text(status, out)
}

/// The 64-bit FNV-1a hash of `data`.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Reads `body` to its end and counts its data bytes.
async fn count_body(mut body: Body) -> Result<u64, albany::Error> {
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            length += data.len() as u64;
        }
    }
    Ok(length)
}

/// `/ticks?n=N&ms=M`: N chunks `tick\n`, the first at once, then one every
/// M ms, through `Body::channel`.
fn ticks(request: &Request) -> Response {
    let count = query_number(request, "n").unwrap_or(3);
    let interval = Duration::from_millis(query_number(request, "ms").unwrap_or(500));
    let Some(handle) = request.runtime().cloned() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
    };
    let (mut sender, body) = Body::channel(1024);
    handle.clone().spawn(async move {
        for i in 0..count {
            if i > 0 {
                handle.sleep(interval).await;
            }
            if sender.send("tick\n").await.is_err() {
                return;
            }
        }
        sender.finish();
    });
    Response::new(body)
}
