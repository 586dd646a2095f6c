//! Limits and timeouts (spec §16).

use std::time::{Duration, Instant};

use albany_server::MinDataRate;

use super::case;
use crate::{ensure, ensure_eq, h1, h2, h2_frames, Case, Context, Failure, RunningServer};

pub(super) const CASES: &[Case] = &[
    case!(
        "limits.invalid-settings",
        Must,
        ["LIMIT-12", "LIMIT-1", "LIMIT-5", "LIMIT-23", "ADAPT-6"],
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
        ["LIMIT-5", "LIMIT-22"],
        [],
        "at max_connections with every connection busy a new one waits until one is idle",
        max_connections
    ),
    case!(
        serial "limits.full-table-idle-http1",
        Must,
        ["LIMIT-5", "LIMIT-20"],
        [],
        "max_connections idle HTTP/1.1 connections: the oldest is closed, a new client is served",
        full_table_idle_http1
    ),
    case!(
        serial "limits.full-table-idle-http2",
        Must,
        ["LIMIT-5", "LIMIT-20"],
        ["RFC 9113 §6.8"],
        "max_connections idle HTTP/2 connections: the oldest gets GOAWAY, a new client is served",
        full_table_idle_http2
    ),
    case!(
        serial "limits.full-table-no-request-lost",
        Must,
        ["LIMIT-20", "LIMIT-22"],
        [],
        "an idle connection closed to make room still answers the request it was sent meanwhile",
        full_table_no_request_lost
    ),
    case!(
        serial "limits.full-table-room-elsewhere",
        Must,
        ["LIMIT-20", "LIMIT-22"],
        [],
        "the oldest idle connection sent a partial head as room is made: another closes instead",
        full_table_room_elsewhere
    ),
    case!(
        "limits.http2-idle-timeout",
        Must,
        ["LIMIT-11"],
        ["RFC 9113 §6.8"],
        "an HTTP/2 connection with no open stream for http2_idle_timeout gets GOAWAY and is closed",
        http2_idle_timeout
    ),
    case!(
        "limits.http2-idle-timeout-no-pong",
        Must,
        ["LIMIT-11"],
        ["RFC 9113 §6.8"],
        "an idle HTTP/2 peer that ignores the GOAWAY's PING is closed 1 s later",
        http2_idle_timeout_no_pong
    ),
    case!(
        "limits.http2-idle-timeout-tunnel",
        Must,
        ["LIMIT-11", "UPG-8"],
        ["RFC 9113 §8.5"],
        "a CONNECT tunnel over HTTP/2 idle past http2_idle_timeout is an open stream: not closed",
        http2_idle_timeout_tunnel
    ),
    case!(
        "limits.http2-keep-alive",
        Must,
        ["LIMIT-21"],
        ["RFC 9113 §6.7"],
        "a peer that answers keep-alive PINGs stays; one that ignores them is closed",
        http2_keep_alive
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
        "limits.body-timeout-stalled",
        Must,
        ["LIMIT-14", "LIMIT-16", "LIMIT-18"],
        ["RFC 9110 §15.5.9"],
        "a body that stops arriving gets 408 with Connection: close after request_body_timeout",
        body_timeout_stalled
    ),
    case!(
        "limits.body-timeout-blocking",
        Must,
        ["LIMIT-14", "LIMIT-18"],
        ["RFC 9110 §15.5.9"],
        "albany::blocking reading a stalled body answers 408",
        body_timeout_blocking
    ),
    case!(
        "limits.body-timeout-http2",
        Must,
        ["LIMIT-14", "LIMIT-16"],
        ["RFC 9110 §15.5.9", "RFC 9113 §8.1"],
        "over HTTP/2 a stream whose body stops arriving gets 408 after request_body_timeout",
        body_timeout_http2
    ),
    case!(
        "limits.body-timeout-after-head",
        Must,
        ["LIMIT-16"],
        ["RFC 9112 §9.6", "RFC 9113 §8.1"],
        "a body that stops arriving after the response head was sent aborts the response (HTTP/1.1 and HTTP/2)",
        body_timeout_after_head
    ),
    case!(
        "limits.body-min-rate",
        Must,
        ["LIMIT-15", "LIMIT-16"],
        ["RFC 9110 §15.5.9"],
        "a body trickling below request_body_min_rate gets 408 though bytes keep coming",
        body_min_rate
    ),
    case!(
        "limits.write-timeout",
        Must,
        ["LIMIT-17"],
        [],
        "a client that stops reading a large response is closed after response_write_timeout",
        write_timeout
    ),
    case!(
        "limits.http2-stream-stalled",
        Should,
        ["LIMIT-19"],
        ["RFC 9113 §6.9"],
        "over HTTP/2 a stream given no flow-control window is reset after response_write_timeout",
        http2_stream_stalled
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

/// The connection limit of the full-table cases.
const TABLE: usize = 8;

/// 8 connections each waiting on a 1.5 s response: a ninth is not served
/// while they are busy, and is served once one of them is idle; every slow
/// response arrives complete.
fn max_connections(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = TABLE)?;
    let mut busy = Vec::new();
    for _ in 0..TABLE {
        let mut connection = open_waiting_5s(&server)?;
        connection.send(&h1::get("/slow?ms=1500"))?;
        busy.push(connection);
    }
    // Over TLS the handshake itself waits for the server to accept.
    let mut waiting = h1::Connection::open_deferred(server.endpoint())?;
    waiting.send(&h1::get("/say/waiting"))?;
    waiting
        .stream()
        .set_read_timeout(Some(Duration::from_millis(500)))?;
    ensure!(
        waiting.read_head().is_err(),
        "a connection was served beyond max_connections while every connection was busy"
    );
    waiting.stream().set_read_timeout(Some(h1::IO_TIMEOUT))?;
    ensure_eq!(
        waiting.read_response(false)?.body,
        b"waiting".to_vec(),
        "once a connection was idle"
    );
    for (index, connection) in busy.iter_mut().enumerate() {
        let response = connection.read_response(false)?;
        ensure_eq!(response.status(), 200, "slow response {index}");
        ensure_eq!(
            response.body.as_slice(),
            b"slow",
            "slow response {index}'s body"
        );
    }
    server.shutdown()?;
    Ok(())
}

/// Fills the table with idle keep-alive connections (each answered once).
fn idle_http1_connections(server: &RunningServer) -> Result<Vec<h1::Connection>, Failure> {
    let mut idle = Vec::new();
    for index in 0..TABLE {
        let mut connection = open_waiting_5s(server)?;
        connection.send(&h1::get("/hello"))?;
        ensure_eq!(
            connection.read_response(false)?.status(),
            200,
            "idle connection {index}'s request"
        );
        idle.push(connection);
    }
    Ok(idle)
}

/// A new client is served within 2 s, its request answered.
fn served_promptly(server: &RunningServer) -> Result<(), Failure> {
    let started = Instant::now();
    let mut client = h1::Connection::open_deferred(server.endpoint())?;
    client.send(&h1::get("/say/new"))?;
    client
        .stream()
        .set_read_timeout(Some(Duration::from_secs(3)))?;
    ensure_eq!(
        client.read_response(false)?.body,
        b"new".to_vec(),
        "the new client's response"
    );
    let elapsed = started.elapsed();
    ensure!(
        elapsed < Duration::from_secs(2),
        "the new client waited {elapsed:?}"
    );
    Ok(())
}

fn full_table_idle_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = TABLE)?;
    let mut idle = idle_http1_connections(&server)?;
    served_promptly(&server)?;
    ensure!(
        idle[0].is_closed_within(Duration::from_secs(2)),
        "the oldest idle connection was not the one closed"
    );
    // The others are still served.
    let last = idle.last_mut().expect("TABLE connections");
    last.send(&h1::get("/hello"))?;
    ensure_eq!(
        last.read_response(false)?.status(),
        200,
        "the newest idle connection"
    );
    server.shutdown()?;
    Ok(())
}

fn full_table_idle_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = TABLE)?;
    let authority = server.endpoint().to_string();
    let mut idle = Vec::new();
    for index in 0..TABLE {
        let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
        connection.send_get(1, &authority, "/hello", &[])?;
        ensure_eq!(
            connection.outcome(1, Duration::from_secs(5))?,
            h2_frames::StreamOutcome::Response(Some(200)),
            "idle connection {index}'s stream"
        );
        // As an HTTP/2 client does, each answers the server's PINGs.
        idle.push(std::thread::spawn(move || {
            connection.until_closed(Duration::from_secs(10), true)
        }));
    }
    served_promptly(&server)?;
    let oldest = idle.remove(0);
    let ending = oldest
        .join()
        .map_err(|_| Failure::Fail("a client thread panicked".to_owned()))??;
    ensure!(
        ending.closed,
        "the oldest idle HTTP/2 connection is still open"
    );
    ensure_eq!(ending.goaway, Some(0), "its GOAWAY (NO_ERROR)");
    server.shutdown()?;
    for other in idle {
        let ending = other
            .join()
            .map_err(|_| Failure::Fail("a client thread panicked".to_owned()))??;
        ensure!(
            ending.closed,
            "an idle HTTP/2 connection outlived the server"
        );
    }
    Ok(())
}

/// max_connections = 1: the idle connection, asked to close for a new
/// one, is sent a request at the same moment; that request is answered
/// (with `Connection: close` if the close had begun), then the new client
/// is served.
fn full_table_no_request_lost(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = 1)?;
    for round in 0..5 {
        let mut first = open_waiting_5s(&server)?;
        first.send(&h1::get("/hello"))?;
        ensure_eq!(
            first.read_response(false)?.status(),
            200,
            "round {round}: first request"
        );
        let mut second = h1::Connection::open_deferred(server.endpoint())?;
        second.send(&h1::get("/say/second"))?;
        first.send(&h1::get("/say/again"))?;
        let response = first.read_response(false)?;
        ensure_eq!(
            response.body,
            b"again".to_vec(),
            "round {round}: the request sent as the close began"
        );
        if response.header("connection") != Some("close") {
            // Answered before the close began: the close follows it.
            ensure!(
                first.is_closed_within(Duration::from_secs(2)),
                "round {round}: the idle connection was not closed"
            );
        }
        second.stream().set_read_timeout(Some(h1::IO_TIMEOUT))?;
        ensure_eq!(
            second.read_response(false)?.body,
            b"second".to_vec(),
            "round {round}: the new client"
        );
    }
    server.shutdown()?;
    Ok(())
}

/// max_connections = 2, both idle: as a new client arrives, the oldest
/// sends the start of a request head (and stalls): it is not idle any
/// more, so the other idle connection closes, and the new client is served
/// promptly; the stalled one, once its head is complete, is answered.
fn full_table_room_elsewhere(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.max_connections = 2)?;
    let mut oldest = open_waiting_5s(&server)?;
    oldest.send(&h1::get("/hello"))?;
    ensure_eq!(
        oldest.read_response(false)?.status(),
        200,
        "the oldest's request"
    );
    let mut other = open_waiting_5s(&server)?;
    other.send(&h1::get("/hello"))?;
    ensure_eq!(
        other.read_response(false)?.status(),
        200,
        "the other's request"
    );
    let started = Instant::now();
    let mut new = h1::Connection::open_deferred(server.endpoint())?;
    new.send(&h1::get("/say/new"))?;
    oldest.send(b"GET /say/oldest HTTP/1.1\r\nHost: loc")?;
    new.stream()
        .set_read_timeout(Some(Duration::from_secs(5)))?;
    ensure_eq!(
        new.read_response(false)?.body,
        b"new".to_vec(),
        "the new client"
    );
    let waited = started.elapsed();
    ensure!(
        waited < Duration::from_secs(2),
        "the new client waited {waited:?}"
    );
    ensure!(
        other.is_closed_within(Duration::from_secs(2)),
        "the other idle connection was not closed"
    );
    oldest.send(b"alhost\r\n\r\n")?;
    ensure_eq!(
        oldest.read_response(false)?.body,
        b"oldest".to_vec(),
        "the stalled request, completed"
    );
    server.shutdown()?;
    Ok(())
}

/// With `http2_idle_timeout` of 1 s: a stream open longer (1.5 s) is not
/// cut; 1 s after it ends the connection gets GOAWAY and is closed.
fn http2_idle_timeout(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| {
        s.http2_idle_timeout = Some(Duration::from_secs(1));
        s.http2_keep_alive_interval = None;
    })?;
    let authority = server.endpoint().to_string();
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    connection.send_get(1, &authority, "/slow?ms=1500", &[])?;
    ensure_eq!(
        connection.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "a stream open longer than the idle timeout"
    );
    let ending = connection.until_closed(Duration::from_secs(4), true)?;
    ensure!(
        ending.closed,
        "the idle connection was not closed within 4 s"
    );
    ensure_eq!(ending.goaway, Some(0), "its GOAWAY (NO_ERROR)");
    ensure!(
        ending.after >= Duration::from_millis(700),
        "closed {:?} after the stream's headers",
        ending.after
    );
    drop(connection);
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "a new client"
    );
    server.shutdown()?;
    Ok(())
}

/// With `http2_idle_timeout` of 1 s, a connection that answers nothing
/// (not even the GOAWAY's PING) gets GOAWAY after 1 s and is closed about
/// 1 s later.
fn http2_idle_timeout_no_pong(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| {
        s.http2_idle_timeout = Some(Duration::from_secs(1));
        s.http2_keep_alive_interval = None;
    })?;
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    let ending = connection.until_closed(Duration::from_secs(5), false)?;
    ensure!(
        ending.closed,
        "the idle connection was not closed within 5 s"
    );
    ensure_eq!(ending.goaway, Some(0), "its GOAWAY (NO_ERROR)");
    ensure!(
        ending.after >= Duration::from_millis(1500),
        "closed {:?} after the preface: before the PING's grace",
        ending.after
    );
    server.shutdown()?;
    Ok(())
}

/// With `http2_idle_timeout` of 1 s, a `CONNECT` tunnel (the reference
/// application's echo) sends nothing for 2.5 s (longer than the timeout
/// and the GOAWAY's 1 s grace), then still echoes.
fn http2_idle_timeout_tunnel(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| {
        s.http2_idle_timeout = Some(Duration::from_secs(1));
        s.http2_keep_alive_interval = None;
    })?;
    let endpoint = server.endpoint();
    let request = http::Request::connect(endpoint.to_string())
        .body(bytes::Bytes::new())
        .map_err(|error| Failure::Fail(error.to_string()))?;
    let mut tunnel = h2::connect_tunnel(endpoint, request)?;
    ensure_eq!(tunnel.status.as_u16(), 200, "status");
    let wait = Duration::from_secs(5);
    ensure_eq!(tunnel.read_exact(2, wait)?, b"-\n".to_vec(), "the greeting");
    std::thread::sleep(Duration::from_millis(2500));
    tunnel.write_all(b"still here")?;
    ensure_eq!(
        tunnel.read_exact(10, wait)?,
        b"still here".to_vec(),
        "echo after 2.5 s idle"
    );
    drop(tunnel);
    server.shutdown()?;
    Ok(())
}

/// Keep-alive PINGs every 300 ms, answered within 500 ms: a peer that
/// answers them stays open 2 s (and is served); one that ignores them is
/// closed.
fn http2_keep_alive(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| {
        s.http2_idle_timeout = None;
        s.http2_keep_alive_interval = Some(Duration::from_millis(300));
        s.http2_keep_alive_timeout = Duration::from_millis(500);
    })?;
    let authority = server.endpoint().to_string();
    let mut answering = h2_frames::RawConnection::open(server.endpoint())?;
    let mut ignoring = h2_frames::RawConnection::open(server.endpoint())?;
    let stayed = answering.until_closed(Duration::from_secs(2), true)?;
    ensure!(!stayed.closed, "a peer answering PINGs was closed");
    ensure!(
        stayed.pings >= 2,
        "{} keep-alive PINGs in 2 s",
        stayed.pings
    );
    answering.send_get(1, &authority, "/hello", &[])?;
    ensure_eq!(
        answering.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "a stream after 2 s of PINGs"
    );
    let ending = ignoring.until_closed(Duration::from_secs(3), false)?;
    ensure!(ending.closed, "a peer ignoring PINGs was not closed");
    ensure!(ending.pings >= 1, "no keep-alive PING was sent");
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
    let breakers: [Breaker; 16] = [
        ("max_header_size", |s| s.max_header_size = 4096),
        ("header_read_timeout", |s| {
            s.header_read_timeout = Some(Duration::ZERO);
        }),
        ("max_connections", |s| s.max_connections = 0),
        ("http2_max_concurrent_streams", |s| {
            s.http2_max_concurrent_streams = 0;
        }),
        ("backlog", |s| s.backlog = 0),
        ("request_body_timeout", |s| {
            s.request_body_timeout = Some(Duration::ZERO);
        }),
        ("request_body_min_rate", |s| {
            s.request_body_min_rate = Some(MinDataRate::new(0, Duration::from_secs(5)));
        }),
        ("request_body_min_rate", |s| {
            s.request_body_min_rate = Some(MinDataRate::new(240, Duration::ZERO));
        }),
        ("response_write_timeout", |s| {
            s.response_write_timeout = Some(Duration::ZERO);
        }),
        ("http2_idle_timeout", |s| {
            s.http2_idle_timeout = Some(Duration::ZERO);
        }),
        ("http2_keep_alive_interval", |s| {
            s.http2_keep_alive_interval = Some(Duration::ZERO);
        }),
        ("http2_keep_alive_timeout", |s| {
            s.http2_keep_alive_timeout = Duration::ZERO;
        }),
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

/// Starts the reference server with a 1 s request body timeout and no
/// minimum rate.
fn start_with_body_timeout(
    context: &mut Context<'_>,
) -> Result<(RunningServer, std::sync::Arc<crate::app::AppState>), Failure> {
    context.start_with(|s| {
        s.request_body_timeout = Some(Duration::from_secs(1));
        s.request_body_min_rate = None;
    })
}

/// Sends `head` and part of its body, then nothing: checks that a 408
/// with `Connection: close` comes between 0.5 and 5 s later, and that the
/// connection then closes.
fn stalled_gets_408(server: &RunningServer, path: &str) -> Result<(), Failure> {
    let mut connection = open_waiting_5s(server)?;
    connection.send(
        format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
            .as_bytes(),
    )?;
    let started = Instant::now();
    let response = connection.read_response(false)?;
    let elapsed = started.elapsed();
    ensure_eq!(response.status(), 408, "{path} status");
    ensure_eq!(
        response.header("connection"),
        Some("close"),
        "{path} Connection"
    );
    ensure!(
        elapsed >= Duration::from_millis(500),
        "{path}: 408 after only {elapsed:?}"
    );
    ensure!(
        connection.is_closed_within(Duration::from_secs(3)),
        "{path}: the connection stayed open after the 408"
    );
    Ok(())
}

fn body_timeout_stalled(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = start_with_body_timeout(context)?;
    stalled_gets_408(&server, "/count")?;
    // The application saw the body fail (and answered 400, replaced).
    ensure_eq!(
        state.body_errors.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "body errors the application saw"
    );
    // A body that keeps coming, slower than the timeout in all but not
    // between two reads, is served.
    let mut connection = open_waiting_5s(&server)?;
    connection.send(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\n")?;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        connection.send(b"ab")?;
    }
    let response = connection.read_response(false)?;
    ensure_eq!(
        response.status(),
        200,
        "a body whose gaps are under the timeout"
    );
    ensure_eq!(response.body.as_slice(), b"6", "bytes counted");
    // A body the application never reads is not timed.
    let mut connection = open_waiting_5s(&server)?;
    connection
        .send(b"POST /slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")?;
    ensure_eq!(
        connection.read_response(false)?.status(),
        200,
        "an unread body outlasting the timeout"
    );
    server.shutdown()?;
    Ok(())
}

fn body_timeout_blocking(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = start_with_body_timeout(context)?;
    stalled_gets_408(&server, "/blocking")?;
    server.shutdown()?;
    Ok(())
}

fn body_timeout_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = start_with_body_timeout(context)?;
    let authority = server.endpoint().to_string();
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    let scheme = connection.scheme();
    connection.send_headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", scheme),
            (":authority", &authority),
            (":path", "/count"),
            ("content-length", "100"),
        ],
        false,
    )?;
    connection.send_data(1, b"0123456789", false)?;
    let started = Instant::now();
    ensure_eq!(
        connection.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(408)),
        "the stalled stream"
    );
    let elapsed = started.elapsed();
    ensure!(
        elapsed >= Duration::from_millis(500),
        "408 after only {elapsed:?}"
    );
    // The connection serves on.
    connection.send_get(3, &authority, "/hello", &[])?;
    ensure_eq!(
        connection.outcome(3, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "the next stream"
    );
    drop(connection);
    server.shutdown()?;
    Ok(())
}

/// `/echo` sends its head before the body arrives: when the body stops,
/// the chunked response is cut before its last chunk and the connection
/// closes.
fn body_timeout_after_head(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = start_with_body_timeout(context)?;
    let mut connection = open_waiting_5s(&server)?;
    connection
        .send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "status");
    let started = Instant::now();
    let body = connection.read_body(&head, false);
    let elapsed = started.elapsed();
    if let Ok(response) = body {
        ensure!(
            !response.complete,
            "the response ended normally: {:?}",
            String::from_utf8_lossy(&response.body)
        );
    }
    ensure!(
        elapsed < Duration::from_millis(4500),
        "the response was not aborted within 4.5 s"
    );
    // Over HTTP/2: the head, then RST_STREAM.
    let authority = server.endpoint().to_string();
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    let scheme = connection.scheme();
    connection.send_headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", scheme),
            (":authority", &authority),
            (":path", "/echo"),
            ("content-length", "100"),
        ],
        false,
    )?;
    connection.send_data(1, b"0123456789", false)?;
    ensure_eq!(
        connection.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "the HTTP/2 response head"
    );
    let outcome = connection.outcome(1, Duration::from_secs(5))?;
    ensure!(
        matches!(outcome, h2_frames::StreamOutcome::Reset(_)),
        "the HTTP/2 stream after the timeout: {outcome:?}"
    );
    drop(connection);
    server.shutdown()?;
    Ok(())
}

/// With a minimum rate of 100 bytes/s after 1 s (no idle timeout), a body
/// sent at about 5 bytes/s gets 408, though no gap exceeds 200 ms.
fn body_min_rate(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| {
        s.request_body_timeout = None;
        s.request_body_min_rate = Some(MinDataRate::new(100, Duration::from_secs(1)));
    })?;
    let mut connection = open_waiting_5s(&server)?;
    connection.send(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")?;
    // One byte per 200 ms from another thread, until the server answers
    // or the connection fails (at most 6 s).
    let mut writer = connection.writer()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let started = Instant::now();
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst)
                && started.elapsed() < Duration::from_secs(6)
            {
                if std::io::Write::write_all(&mut writer, b"x").is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            sent
        }
    });
    let started = Instant::now();
    connection.set_read_timeout(Some(Duration::from_secs(8)))?;
    let response = connection.read_response(false);
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = trickle.join().unwrap_or(0);
    let response = response?;
    ensure_eq!(response.status(), 408, "status");
    ensure!(
        elapsed >= Duration::from_millis(800),
        "408 after only {elapsed:?}"
    );
    ensure!(
        sent >= 4,
        "only {sent} bytes were sent before the 408: the body did not keep coming"
    );
    // A body above the rate is served.
    let request = format!(
        "POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n\r\n{}",
        "y".repeat(2000)
    );
    let response = h1::exchange(server.endpoint(), request.as_bytes())?;
    ensure_eq!(response.status(), 200, "a body above the rate");
    server.shutdown()?;
    Ok(())
}

/// With a 1 s write timeout, a client asks for 1 GiB through the push
/// writer and reads nothing more after the head: the server closes the
/// connection (what the client then reads ends early) and the push writer
/// is freed.
fn write_timeout(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: u64 = 1 << 30;
    let (server, state) = context.start_with(|s| {
        s.response_write_timeout = Some(Duration::from_secs(1));
    })?;
    let mut connection = open_waiting_5s(&server)?;
    connection.send(&h1::get(&format!("/push?size={SIZE}")))?;
    ensure_eq!(connection.read_head()?.status, 200, "status");
    // Nothing read for 3 s: the socket buffers fill, the server's writes
    // stall for more than the timeout.
    std::thread::sleep(Duration::from_secs(3));
    ensure_eq!(
        state.push_stopped.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "push writers freed"
    );
    let started = Instant::now();
    let mut read = 0u64;
    let ended = loop {
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
        match connection.read_some(1 << 20) {
            Ok(bytes) if bytes.is_empty() => break true,
            Ok(bytes) => read += bytes.len() as u64,
            Err(error) => {
                ensure!(
                    error.kind() == std::io::ErrorKind::ConnectionReset,
                    "reading what was sent: {error}"
                );
                break true;
            }
        }
    };
    ensure!(
        ended,
        "the connection was still open 10 s after reading resumed ({read} bytes)"
    );
    ensure!(read < SIZE, "the whole response arrived");
    server.shutdown()?;
    Ok(())
}

/// With a 1 s write timeout, an HTTP/2 client that gives streams no
/// window (SETTINGS_INITIAL_WINDOW_SIZE = 0) and asks for 1 MiB through
/// the push writer: the server resets the stream (the connection stays
/// writable) within 5 s and frees the push writer.
fn http2_stream_stalled(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| {
        s.response_write_timeout = Some(Duration::from_secs(1));
    })?;
    let authority = server.endpoint().to_string();
    let mut connection = h2_frames::RawConnection::open(server.endpoint())?;
    // SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 0.
    connection.write_frame(h2_frames::kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0])?;
    connection.send_get(1, &authority, &format!("/push?size={}", 1 << 20), &[])?;
    ensure_eq!(
        connection.outcome(1, Duration::from_secs(5))?,
        h2_frames::StreamOutcome::Response(Some(200)),
        "the response head"
    );
    let started = Instant::now();
    let outcome = connection.outcome(1, Duration::from_secs(5))?;
    // CANCEL (0x8): the server gave up on the stream.
    ensure_eq!(
        outcome,
        h2_frames::StreamOutcome::Reset(0x8),
        "the stalled stream"
    );
    ensure!(
        started.elapsed() >= Duration::from_millis(500),
        "reset after only {:?}",
        started.elapsed()
    );
    // The push writer is freed once the stream is gone.
    let freed = Instant::now();
    while state.push_stopped.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        ensure!(
            freed.elapsed() < Duration::from_secs(2),
            "the push writer was not freed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(connection);
    server.shutdown()?;
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
