//! Limits and timeouts (spec §16).

use std::time::{Duration, Instant};

use super::case;
use crate::{ensure, ensure_eq, h1, h2, h2_frames, Case, Context, Failure, RunningServer};

pub(super) const CASES: &[Case] = &[
    case!(
        "limits.invalid-settings",
        Must,
        ["LIMIT-12", "LIMIT-1", "LIMIT-5", "ADAPT-6"],
        [],
        "settings out of range, given all at once, stop serve with InvalidInput naming the setting",
        invalid_settings
    ),
    case!(
        "limits.uri-too-long",
        Must,
        ["REQ-15"],
        ["RFC 9110 §15.5.15"],
        "a target over 65534 bytes gets 414",
        uri_too_long
    ),
    case!(
        "limits.head-too-large",
        Must,
        ["LIMIT-1", "REQ-15"],
        ["RFC 6585 §5"],
        "a 100 KiB field over the default 64 KiB head limit gets 431",
        head_too_large
    ),
    case!(
        "limits.head-limit-setting",
        Must,
        ["LIMIT-1"],
        ["RFC 6585 §5"],
        "max_header_size = 16 KiB: 20 KiB head gets 431, 10 KiB is served",
        head_limit_setting
    ),
    case!(
        "limits.too-many-fields",
        Must,
        ["LIMIT-2"],
        ["RFC 6585 §5"],
        "a head with 101 field lines gets 431",
        too_many_fields
    ),
    case!(
        "limits.body-too-large-announced",
        Must,
        ["LIMIT-6"],
        ["RFC 9110 §15.5.14"],
        "Content-Length over max_request_body_size: 413, close, application not called",
        body_too_large_announced
    ),
    case!(
        "limits.body-too-large-while-read",
        Must,
        ["LIMIT-6", "REQ-12", "BODY-23", "BLOCK-4"],
        ["RFC 9110 §15.5.14"],
        "a chunked body growing past max_request_body_size fails; buffering answers 413",
        body_too_large_while_read
    ),
    case!(
        "limits.header-read-timeout-silent",
        Must,
        ["LIMIT-3"],
        ["RFC 9112 §9.5"],
        "a connection that sends nothing is closed after header_read_timeout",
        header_read_timeout_silent
    ),
    case!(
        "limits.header-read-timeout-partial",
        Must,
        ["LIMIT-3"],
        ["RFC 9112 §9.5"],
        "a request head left unfinished is closed after header_read_timeout",
        header_read_timeout_partial
    ),
    case!(
        "limits.idle-timeout",
        Must,
        ["LIMIT-3"],
        ["RFC 9112 §9.5"],
        "an idle keep-alive connection is closed after header_read_timeout",
        idle_timeout
    ),
    case!(
        "limits.header-read-timeout-in-flight",
        Must,
        ["LIMIT-3"],
        ["RFC 9112 §9.5"],
        "a slow response or a slow body outlasting header_read_timeout is not cut",
        header_read_timeout_in_flight
    ),
    case!(
        "limits.header-read-timeout-http2",
        Must,
        ["LIMIT-3", "H2-1"],
        ["RFC 9113 §3.4"],
        "an HTTP/2 connection idle past header_read_timeout after its preface stays open",
        header_read_timeout_http2
    ),
    case!(
        "limits.header-read-timeout-upgraded",
        Must,
        ["LIMIT-3", "UPG-1"],
        ["RFC 9110 §7.8"],
        "an upgraded connection idle past header_read_timeout stays open",
        header_read_timeout_upgraded
    ),
    case!(
        "limits.max-connections",
        Must,
        ["LIMIT-5"],
        [],
        "at max_connections further connections wait until one closes",
        max_connections
    ),
    case!(
        "limits.http2-disabled",
        Must,
        ["H2-2", "LIMIT-8"],
        ["RFC 9113 §3.3"],
        "http2 = false: the HTTP/2 preface is not served",
        http2_disabled
    ),
    case!(
        "limits.http2-head-too-large",
        Must,
        ["LIMIT-1"],
        ["RFC 9113 §10.5.1"],
        "over HTTP/2 a field block over max_header_size gets 431 or a reset",
        http2_head_too_large
    ),
    case!(
        "limits.max-requests-http1",
        Must,
        ["LIMIT-26"],
        ["RFC 9112 §9.6"],
        "max_requests_per_connection = 3: the third response says Connection: close, then the connection closes",
        max_requests_http1
    ),
    case!(
        "limits.max-requests-http2",
        Must,
        ["LIMIT-26"],
        ["RFC 9113 §6.8"],
        "max_requests_per_connection = 3: after the third stream, GOAWAY (NO_ERROR) and the third is answered",
        max_requests_http2
    ),
];

fn uri_too_long(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| s.max_header_size = 256 * 1024)?;
    let request = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let response = h1::exchange(server.endpoint(), request.as_bytes())?;
    ensure_eq!(response.status(), 414, "status");
    ensure_eq!(state.calls(), 0, "application calls");
    server.shutdown()?;
    Ok(())
}

fn head_too_large(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let request = format!(
        "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let response = super::response_then_close(&server, request.as_bytes())?;
    ensure_eq!(response.status(), 431, "status");
    ensure_eq!(state.calls(), 0, "application calls");
    server.shutdown()?;
    Ok(())
}

fn head_limit_setting(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_header_size = 16 * 1024)?;
    let big = format!(
        "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    ensure_eq!(
        h1::exchange(server.endpoint(), big.as_bytes())?.status(),
        431,
        "20 KiB head"
    );
    let fits = format!(
        "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10 * 1024)
    );
    ensure_eq!(
        h1::exchange(server.endpoint(), fits.as_bytes())?.status(),
        200,
        "10 KiB head"
    );
    server.shutdown()?;
    Ok(())
}

fn too_many_fields(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut request = String::from("GET /hello HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..100 {
        request.push_str(&format!("X-F{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    ensure_eq!(
        h1::exchange(server.endpoint(), request.as_bytes())?.status(),
        431,
        "101 field lines"
    );
    server.shutdown()?;
    Ok(())
}

fn body_too_large_announced(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| s.max_request_body_size = Some(1024))?;
    let request = format!(
        "POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2048\r\n\r\n{}",
        "x".repeat(2048)
    );
    let response = super::response_then_close(&server, request.as_bytes())?;
    ensure_eq!(response.status(), 413, "status");
    ensure_eq!(response.header("connection"), Some("close"), "Connection");
    ensure_eq!(state.calls(), 0, "application calls");
    server.shutdown()?;
    Ok(())
}

fn body_too_large_while_read(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_request_body_size = Some(1024))?;
    let chunk = "y".repeat(600);
    for path in ["/blocking", "/inspect"] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
        );
        let response = h1::exchange(server.endpoint(), request.as_bytes())?;
        ensure_eq!(response.status(), 413, "{path} status");
    }
    let request = "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    ensure_eq!(
        h1::exchange(server.endpoint(), request.as_bytes())?.status(),
        200,
        "within the limit"
    );
    server.shutdown()?;
    Ok(())
}

/// Starts the reference server with a 1 s header read timeout.
fn start_with_short_timeout(context: &mut Context<'_>) -> Result<RunningServer, Failure> {
    let (server, _) =
        context.start_with(|s| s.header_read_timeout = Some(Duration::from_secs(1)))?;
    Ok(server)
}

/// Opens an HTTP/1.1 connection to `server` whose reads give up after 5 s
/// (a server that wrongly closed it or never answers fails the case then).
fn open_waiting_5s(server: &RunningServer) -> Result<h1::Connection, Failure> {
    let connection = h1::Connection::open(server.endpoint())?;
    connection
        .stream()
        .set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(connection)
}

/// Opens a connection, lets `prepare` use it, then checks that the server
/// closes it between 0.5 and 5 s later with a 1 s timeout, sending nothing.
fn closed_by_timeout(
    context: &mut Context<'_>,
    prepare: impl FnOnce(&mut h1::Connection) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let server = start_with_short_timeout(context)?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    prepare(&mut connection)?;
    let started = Instant::now();
    connection
        .stream()
        .set_read_timeout(Some(Duration::from_secs(5)))?;
    let rest = connection.read_some(1024);
    let elapsed = started.elapsed();
    match rest {
        Ok(bytes) => ensure!(
            bytes.is_empty(),
            "the server sent {:?}",
            String::from_utf8_lossy(&bytes)
        ),
        Err(error) => ensure!(
            error.kind() == std::io::ErrorKind::ConnectionReset,
            "the connection was not closed within 5 s: {error}"
        ),
    }
    ensure!(
        elapsed >= Duration::from_millis(500),
        "closed after only {elapsed:?}"
    );
    // A prompt client is still served.
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "a prompt client"
    );
    server.shutdown()?;
    Ok(())
}

fn header_read_timeout_silent(context: &mut Context<'_>) -> Result<(), Failure> {
    closed_by_timeout(context, |_| Ok(()))
}

fn header_read_timeout_partial(context: &mut Context<'_>) -> Result<(), Failure> {
    closed_by_timeout(context, |connection| {
        Ok(connection.send(b"GET /hello HTTP/1.1\r\nHost: loc")?)
    })
}

/// With a 1 s timeout: a response taking 1.5 s, then a request body sent
/// 1.5 s after its head, both on one kept-alive connection, which then
/// serves a third request.
fn header_read_timeout_in_flight(context: &mut Context<'_>) -> Result<(), Failure> {
    let server = start_with_short_timeout(context)?;
    let mut connection = open_waiting_5s(&server)?;
    connection.send(&h1::get("/slow?ms=1500"))?;
    ensure_eq!(
        connection.read_response(false)?.status(),
        200,
        "a response slower than the timeout"
    );
    connection.send(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(1500));
    connection.send(b"hello")?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), 200, "a body slower than the timeout");
    ensure_eq!(response.body.as_slice(), b"5", "bytes counted");
    connection.send(&h1::get("/hello"))?;
    ensure_eq!(
        connection.read_response(false)?.status(),
        200,
        "the next request on the connection"
    );
    server.shutdown()?;
    Ok(())
}

/// With a 1 s timeout, an HTTP/2 connection answers a request, idles
/// 1.5 s, and answers another: over HTTP/2 the timeout covers the preface.
fn header_read_timeout_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let server = start_with_short_timeout(context)?;
    let authority = server.endpoint().to_string();
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    connection.send_get(1, &authority, "/hello", &[])?;
    ensure_eq!(
        connection.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "the first stream"
    );
    std::thread::sleep(Duration::from_millis(1500));
    connection.send_get(3, &authority, "/hello", &[])?;
    ensure_eq!(
        connection.outcome(3, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "a stream after 1.5 s idle"
    );
    drop(connection);
    server.shutdown()?;
    Ok(())
}

/// With a 1 s timeout, a connection upgraded to the reference
/// application's echo protocol idles 1.5 s and still echoes.
fn header_read_timeout_upgraded(context: &mut Context<'_>) -> Result<(), Failure> {
    let server = start_with_short_timeout(context)?;
    let mut connection = open_waiting_5s(&server)?;
    connection.send(
        b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )?;
    ensure_eq!(connection.read_head()?.status, 101, "status");
    std::thread::sleep(Duration::from_millis(1500));
    connection.send(b"still here")?;
    ensure_eq!(
        connection.read_exactly(10)?,
        b"still here".to_vec(),
        "echo after 1.5 s idle"
    );
    server.shutdown()?;
    Ok(())
}

fn idle_timeout(context: &mut Context<'_>) -> Result<(), Failure> {
    closed_by_timeout(context, |connection| {
        connection.send(&h1::get("/hello"))?;
        ensure_eq!(connection.read_response(false)?.status(), 200, "status");
        Ok(())
    })
}

fn max_connections(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = 1)?;
    let mut first = h1::Connection::open(server.endpoint())?;
    first.send(&h1::get("/hello"))?;
    ensure_eq!(
        first.read_response(false)?.status(),
        200,
        "first connection"
    );
    // Over TLS the handshake itself waits for the server to accept.
    let mut second = h1::Connection::open_deferred(server.endpoint())?;
    second.send(&h1::get("/say/second"))?;
    second
        .stream()
        .set_read_timeout(Some(Duration::from_millis(500)))?;
    ensure!(
        second.read_head().is_err(),
        "a second connection was served at max_connections = 1"
    );
    drop(first);
    second.stream().set_read_timeout(Some(h1::IO_TIMEOUT))?;
    ensure_eq!(
        second.read_response(false)?.body,
        b"second".to_vec(),
        "once the first closed"
    );
    server.shutdown()?;
    Ok(())
}

fn http2_disabled(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.http2 = false)?;
    let result = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/hello")],
    );
    ensure!(result.is_err(), "HTTP/2 was served with http2 = false");
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "HTTP/1.1"
    );
    server.shutdown()?;
    Ok(())
}

fn http2_head_too_large(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| s.max_header_size = 16 * 1024)?;
    let mut request = h2::get(server.endpoint(), "/hello");
    request.headers_mut().insert(
        "x-big",
        "a".repeat(20 * 1024).parse().expect("a valid value"),
    );
    // A reset of the stream or the connection is the other allowed answer.
    if let Ok(responses) = h2::send_all(server.endpoint(), vec![request]) {
        ensure_eq!(responses[0].status.as_u16(), 431, "status");
    }
    ensure_eq!(state.calls(), 0, "application calls");
    server.shutdown()?;
    Ok(())
}

/// A setting's name, and how to put it out of range.
type Breaker = (&'static str, fn(&mut albany_server::Settings));

fn invalid_settings(context: &mut Context<'_>) -> Result<(), Failure> {
    let breakers: [Breaker; 9] = [
        ("max_header_size", |s| s.max_header_size = 4096),
        ("header_read_timeout", |s| {
            s.header_read_timeout = Some(Duration::ZERO);
        }),
        ("max_connections", |s| s.max_connections = 0),
        ("http2_max_concurrent_streams", |s| {
            s.http2_max_concurrent_streams = 0;
        }),
        ("backlog", |s| s.backlog = 0),
        ("http2_initial_stream_window_size", |s| {
            s.http2_initial_stream_window_size = 65_534;
        }),
        ("http2_initial_stream_window_size", |s| {
            s.http2_initial_stream_window_size = 1 << 31;
        }),
        ("http2_initial_connection_window_size", |s| {
            s.http2_initial_connection_window_size = 1024;
        }),
        ("max_requests_per_connection", |s| {
            s.max_requests_per_connection = Some(0);
        }),
    ];
    for (name, break_it) in breakers {
        // The target starts the server with `Server::settings`, the path
        // that skips the builder's methods.
        let (server, _) = context.start_with(break_it)?;
        let error = match server.shutdown() {
            Ok(()) => {
                return Err(Failure::Fail(format!(
                    "the server served with an invalid {name}"
                )))
            }
            Err(error) => error,
        };
        ensure_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidInput,
            "the error's kind for {name}"
        );
        ensure!(
            error.to_string().contains(name),
            "the error does not name {name}: {error}"
        );
    }
    Ok(())
}

fn max_requests_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| s.max_requests_per_connection = Some(3))?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    for n in 1..=3 {
        connection.send(&h1::get(&format!("/say/{n}")))?;
        let response = connection.read_response(false)?;
        ensure_eq!(response.status(), 200, "status of response {n}");
        ensure_eq!(
            response.body,
            format!("{n}").into_bytes(),
            "body of response {n}"
        );
        let close = response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        ensure_eq!(close, n == 3, "Connection: close on response {n}");
    }
    ensure!(
        connection.is_closed_within(Duration::from_secs(5)),
        "the connection stayed open after its third response"
    );
    ensure_eq!(state.calls(), 3, "application calls");
    // The limit is per connection: a new one is served.
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "a new connection"
    );
    server.shutdown()?;
    Ok(())
}

fn max_requests_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    use h2_frames::{kind, RawConnection, StreamOutcome};
    let (server, _) = context.start_with(|s| s.max_requests_per_connection = Some(3))?;
    let authority = server.endpoint().to_string();
    let mut raw = RawConnection::open(server.endpoint())?;
    for stream in [1, 3] {
        raw.send_get(stream, &authority, "/hello", &[])?;
        ensure_eq!(
            raw.outcome(stream, Duration::from_secs(10))?,
            StreamOutcome::Response(Some(200)),
            "stream {stream}"
        );
    }
    raw.send_get(5, &authority, "/hello", &[])?;
    // The third stream is answered, and the server says GOAWAY (before or
    // after the answer); the connection then ends.
    let (mut answered, mut goaway) = (false, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    raw.set_read_timeout(Some(Duration::from_secs(10)))?;
    while !(answered && goaway.is_some()) && Instant::now() < deadline {
        let Some(frame) = raw.read_frame()? else {
            break;
        };
        match frame.kind {
            kind::HEADERS if frame.stream == 5 => answered = true,
            kind::GOAWAY => {
                goaway = frame
                    .payload
                    .get(4..8)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
            }
            kind::PING if frame.flags & h2_frames::ACK == 0 => {
                raw.write_frame(kind::PING, h2_frames::ACK, 0, &frame.payload)?;
            }
            _ => {}
        }
    }
    ensure!(answered, "the third stream was not answered");
    ensure_eq!(goaway, Some(0), "GOAWAY's error code (NO_ERROR)");
    drop(raw);
    server.shutdown()?;
    Ok(())
}
