//! HTTP/2 specifics (spec §17; RFC 9113).

use std::time::Duration;

use bytes::Bytes;

use super::case;
use crate::h2_frames::{self, RawConnection, StreamOutcome, ENHANCE_YOUR_CALM, PROTOCOL_ERROR};
use crate::{ensure, ensure_eq, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "http2.prior-knowledge",
        Must,
        ["H2-1", "REQ-6"],
        ["RFC 9113 §3.3", "RFC 9113 §3.4"],
        "HTTP/2 with prior knowledge on the HTTP/1.1 port",
        prior_knowledge
    ),
    case!(
        "http2.request-uri",
        Must,
        ["REQ-4", "REQ-6"],
        ["RFC 9113 §8.3.1"],
        "the URI comes from :scheme, :authority and :path; version HTTP/2.0",
        request_uri
    ),
    case!(
        "http2.max-concurrent-streams",
        Must,
        ["H2-3", "LIMIT-9"],
        ["RFC 9113 §6.5.2"],
        "SETTINGS_MAX_CONCURRENT_STREAMS equals http2_max_concurrent_streams",
        max_concurrent_streams
    ),
    case!(
        "http2.connection-field-rejected",
        Must,
        ["H2-7"],
        ["RFC 9113 §8.2.2"],
        "a request with Connection is reset with PROTOCOL_ERROR",
        connection_field_rejected
    ),
    case!(
        "http2.transfer-encoding-rejected",
        Must,
        ["H2-7"],
        ["RFC 9113 §8.2.2"],
        "a request with Transfer-Encoding is reset with PROTOCOL_ERROR",
        transfer_encoding_rejected
    ),
    case!(
        "http2.te-gzip-rejected",
        Must,
        ["H2-7"],
        ["RFC 9113 §8.2.2"],
        "a request with TE: gzip is reset with PROTOCOL_ERROR",
        te_gzip_rejected
    ),
    case!(
        "http2.te-trailers-allowed",
        Must,
        ["H2-7"],
        ["RFC 9113 §8.2.2"],
        "a request with TE: trailers is served",
        te_trailers_allowed
    ),
    case!(
        "http2.uppercase-name-rejected",
        Must,
        ["H2-10"],
        ["RFC 9113 §8.2.1"],
        "a request with an uppercase field name is reset",
        uppercase_name_rejected
    ),
    case!(
        "http2.content-length-mismatch",
        Must,
        ["H2-8"],
        ["RFC 9113 §8.1.1"],
        "DATA shorter than content-length: the stream is reset with PROTOCOL_ERROR",
        content_length_mismatch
    ),
    case!(
        "http2.no-content",
        Must,
        ["RESP-11"],
        ["RFC 9113 §8.1", "RFC 9110 §9.3.2"],
        "HEAD, 204 and 304 carry no DATA; HEAD keeps Content-Length",
        no_content
    ),
    case!(
        "http2.no-101",
        Must,
        ["RESP-11"],
        ["RFC 9113 §8.6"],
        "a 101 or a final 1xx becomes 500 over HTTP/2",
        no_101
    ),
    case!(
        "http2.hop-by-hop-removed",
        Must,
        ["RESP-16"],
        ["RFC 9113 §8.2.2"],
        "connection-specific response fields are removed",
        hop_by_hop_removed
    ),
    case!(
        "http2.h2c-upgrade-ignored",
        Must,
        ["H2-5"],
        ["RFC 9113 §3.1"],
        "Upgrade: h2c is answered over HTTP/1.1",
        h2c_upgrade_ignored
    ),
    case!(
        "http2.connect",
        Must,
        ["UPG-7"],
        ["RFC 9113 §8.5"],
        "a CONNECT answered 200 hands the stream to the application, both ways",
        connect
    ),
    case!(
        "http2.extended-connect",
        Must,
        ["UPG-8"],
        ["RFC 8441 §3", "RFC 8441 §4"],
        "with http2_extended_connect: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, :protocol reaches the application, 200 opens the stream",
        extended_connect
    ),
    case!(
        "http2.extended-connect-off",
        Must,
        ["UPG-8"],
        ["RFC 8441 §3", "RFC 9113 §8.3.1"],
        "by default: no SETTINGS_ENABLE_CONNECT_PROTOCOL, and a :protocol request is reset",
        extended_connect_off
    ),
    case!(
        "http2.settings-advertised",
        Must,
        ["H2-11", "H2-12", "H2-15", "LIMIT-1"],
        ["RFC 9113 §6.5.2", "RFC 9113 §6.9.2", "RFC 9113 §4.2"],
        "SETTINGS and the connection WINDOW_UPDATE carry the configured limits; a frame over 16384 bytes gets GOAWAY FRAME_SIZE_ERROR",
        settings_advertised
    ),
    case!(
        "http2.rapid-reset",
        Must,
        ["H2-13"],
        ["RFC 9113 §6.4", "RFC 9113 §5.4.1"],
        "a burst of streams reset before they are served gets GOAWAY ENHANCE_YOUR_CALM, then a FIN at once",
        rapid_reset
    ),
    case!(
        "http2.local-reset-limit",
        Must,
        ["H2-14"],
        ["RFC 9113 §5.4.2", "RFC 9113 §5.4.1"],
        "more than 1024 malformed requests on one connection get GOAWAY ENHANCE_YOUR_CALM",
        local_reset_limit
    ),
];

/// The settings of the server's first SETTINGS frame on `raw`, as
/// (identifier, value) pairs.
fn server_settings(raw: &mut RawConnection) -> Result<Vec<(u16, u32)>, Failure> {
    for _ in 0..10 {
        let Some(frame) = raw.read_frame()? else {
            break;
        };
        if frame.kind == h2_frames::kind::SETTINGS && frame.flags & h2_frames::ACK == 0 {
            return Ok(frame
                .payload
                .chunks_exact(6)
                .map(|s| {
                    (
                        u16::from_be_bytes([s[0], s[1]]),
                        u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                    )
                })
                .collect());
        }
    }
    Err(Failure::Fail("no SETTINGS frame from the server".into()))
}

/// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// Over an open tunnel: the application's first line, then an echo.
fn tunnel_echoes(tunnel: &mut h2::Tunnel, greeting: &str) -> Result<(), Failure> {
    let wait = Duration::from_secs(10);
    let line = tunnel.read_exact(greeting.len(), wait)?;
    ensure_eq!(
        String::from_utf8_lossy(&line),
        greeting,
        "the application's first line"
    );
    tunnel.write_all(b"ping over the stream")?;
    ensure_eq!(
        tunnel.read_exact(20, wait)?,
        b"ping over the stream".to_vec(),
        "echoed bytes"
    );
    Ok(())
}

fn connect(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let endpoint = server.endpoint();
    let request = http::Request::connect(endpoint.to_string())
        .body(Bytes::new())
        .map_err(|error| Failure::Fail(error.to_string()))?;
    // A CONNECT has no path: the suite's application answers every one
    // with its `/upgrade` route.
    let mut tunnel = h2::connect_tunnel(endpoint, request)?;
    ensure_eq!(tunnel.status.as_u16(), 200, "status");
    tunnel_echoes(&mut tunnel, "-\n")?;
    drop(tunnel);
    server.shutdown()?;
    Ok(())
}

fn extended_connect(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.http2_extended_connect = true)?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let settings = server_settings(&mut raw)?;
    ensure!(
        settings.contains(&(ENABLE_CONNECT_PROTOCOL, 1)),
        "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 not in the server's SETTINGS {settings:?}"
    );
    drop(raw);
    let request = h2::extended_connect(server.endpoint(), "/upgrade", "echo-test", &[]);
    let mut tunnel = h2::connect_tunnel(server.endpoint(), request)?;
    ensure!(
        tunnel.extended_connect_enabled,
        "the client saw no SETTINGS_ENABLE_CONNECT_PROTOCOL"
    );
    ensure_eq!(tunnel.status.as_u16(), 200, "status");
    tunnel_echoes(&mut tunnel, "echo-test\n")?;
    drop(tunnel);
    server.shutdown()?;
    Ok(())
}

fn extended_connect_off(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| s.http2_extended_connect = false)?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let settings = server_settings(&mut raw)?;
    ensure!(
        !settings.contains(&(ENABLE_CONNECT_PROTOCOL, 1)),
        "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 advertised while off: {settings:?}"
    );
    let authority = server.endpoint().to_string();
    let scheme = raw.scheme();
    raw.send_headers(
        1,
        &[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", scheme),
            (":authority", &authority),
            (":path", "/upgrade"),
        ],
        false,
    )?;
    let outcome = raw.outcome(1, Duration::from_secs(10))?;
    ensure!(
        matches!(
            outcome,
            StreamOutcome::Reset(PROTOCOL_ERROR) | StreamOutcome::GoAway(PROTOCOL_ERROR)
        ),
        "expected a PROTOCOL_ERROR reset, got {outcome:?}"
    );
    ensure_eq!(state.calls(), 0, "application calls");
    drop(raw);
    server.shutdown()?;
    Ok(())
}

fn prior_knowledge(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/hello")],
    )?;
    ensure_eq!(responses[0].status.as_u16(), 200, "status");
    ensure_eq!(
        responses[0].body.as_deref().ok(),
        Some(&b"Hello, world!"[..]),
        "body"
    );
    if server.is_tls() {
        // Over TLS the client above chose h2 by ALPN; prior knowledge is a
        // client that sends no ALPN and the preface at once (spec TLS-2).
        let mut raw = RawConnection::open_without_alpn(server.endpoint())?;
        let authority = server.endpoint().to_string();
        raw.send_get(1, &authority, "/hello", &[])?;
        ensure_eq!(
            raw.outcome(1, Duration::from_secs(10))?,
            StreamOutcome::Response(Some(200)),
            "prior knowledge over TLS, without ALPN"
        );
        drop(raw);
    }
    server.shutdown()?;
    Ok(())
}

fn request_uri(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/inspect?q=1")],
    )?;
    let body =
        String::from_utf8_lossy(responses[0].body.as_deref().unwrap_or_default()).into_owned();
    let expected = format!("uri: {}", server.endpoint().url("/inspect?q=1"));
    ensure!(
        body.lines().any(|l| l == expected),
        "{expected:?} not in {body:?}"
    );
    ensure!(
        body.lines().any(|l| l == "version: HTTP/2.0"),
        "version not HTTP/2.0 in {body:?}"
    );
    server.shutdown()?;
    Ok(())
}

fn max_concurrent_streams(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|s| s.http2_max_concurrent_streams = 7)?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let mut advertised = None;
    for _ in 0..10 {
        let Some(frame) = raw.read_frame()? else {
            break;
        };
        if frame.kind == h2_frames::kind::SETTINGS && frame.flags & h2_frames::ACK == 0 {
            for setting in frame.payload.chunks_exact(6) {
                if u16::from_be_bytes([setting[0], setting[1]]) == 0x3 {
                    advertised = Some(u32::from_be_bytes([
                        setting[2], setting[3], setting[4], setting[5],
                    ]));
                }
            }
            break;
        }
    }
    ensure_eq!(advertised, Some(7), "SETTINGS_MAX_CONCURRENT_STREAMS");
    // Close the raw connection: graceful shutdown would wait for it.
    drop(raw);
    server.shutdown()?;
    Ok(())
}

/// Sends a GET for `/hello` with `extra` fields on a raw connection and
/// checks that the stream is reset with PROTOCOL_ERROR, without calling the
/// application.
fn expect_reset(context: &mut Context<'_>, extra: &[(&str, &str)]) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let authority = server.endpoint().to_string();
    raw.send_get(1, &authority, "/hello", extra)?;
    let outcome = raw.outcome(1, Duration::from_secs(10))?;
    ensure!(
        matches!(
            outcome,
            StreamOutcome::Reset(PROTOCOL_ERROR) | StreamOutcome::GoAway(PROTOCOL_ERROR)
        ),
        "expected a PROTOCOL_ERROR reset, got {outcome:?}"
    );
    ensure_eq!(state.calls(), 0, "application calls");
    // Close the raw connection: graceful shutdown would wait for it.
    drop(raw);
    server.shutdown()?;
    Ok(())
}

fn connection_field_rejected(context: &mut Context<'_>) -> Result<(), Failure> {
    expect_reset(context, &[("connection", "keep-alive")])
}

fn transfer_encoding_rejected(context: &mut Context<'_>) -> Result<(), Failure> {
    expect_reset(context, &[("transfer-encoding", "chunked")])
}

fn te_gzip_rejected(context: &mut Context<'_>) -> Result<(), Failure> {
    expect_reset(context, &[("te", "gzip")])
}

fn uppercase_name_rejected(context: &mut Context<'_>) -> Result<(), Failure> {
    expect_reset(context, &[("X-Upper", "1")])
}

fn te_trailers_allowed(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let authority = server.endpoint().to_string();
    raw.send_get(1, &authority, "/hello", &[("te", "trailers")])?;
    ensure_eq!(
        raw.outcome(1, Duration::from_secs(10))?,
        StreamOutcome::Response(Some(200)),
        "outcome"
    );
    // Close the raw connection: graceful shutdown would wait for it.
    drop(raw);
    server.shutdown()?;
    Ok(())
}

fn content_length_mismatch(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let authority = server.endpoint().to_string();
    raw.send_headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", raw.scheme()),
            (":authority", &authority),
            (":path", "/inspect"),
            ("content-length", "10"),
        ],
        false,
    )?;
    raw.send_data(1, b"hello", true)?;
    let outcome = raw.outcome(1, Duration::from_secs(10))?;
    ensure!(
        matches!(outcome, StreamOutcome::Reset(PROTOCOL_ERROR)),
        "expected RST_STREAM PROTOCOL_ERROR, got {outcome:?}"
    );
    // Close the raw connection: graceful shutdown would wait for it.
    drop(raw);
    server.shutdown()?;
    Ok(())
}

fn no_content(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let head = http::Request::head(addr.url("/hello"))
        .body(Bytes::new())
        .expect("a request");
    let responses = h2::send_all(
        addr,
        vec![
            head,
            h2::get(addr, "/no-content"),
            h2::get(addr, "/not-modified"),
        ],
    )?;
    ensure_eq!(responses[0].status.as_u16(), 200, "HEAD status");
    ensure_eq!(
        responses[0]
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("13"),
        "HEAD Content-Length"
    );
    ensure_eq!(responses[1].status.as_u16(), 204, "204 status");
    ensure_eq!(
        responses[1].headers.get("content-length"),
        None,
        "204 Content-Length"
    );
    ensure_eq!(responses[2].status.as_u16(), 304, "304 status");
    for (i, response) in responses.iter().enumerate() {
        ensure_eq!(
            response.body.as_ref().map(|b| b.len()).ok(),
            Some(0),
            "DATA length of response {i}"
        );
    }
    server.shutdown()?;
    Ok(())
}

fn no_101(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let responses = h2::send_all(
        addr,
        vec![h2::get(addr, "/bare-101"), h2::get(addr, "/early-hints")],
    )?;
    ensure_eq!(responses[0].status.as_u16(), 500, "101 over HTTP/2");
    ensure_eq!(responses[1].status.as_u16(), 500, "103 as a final status");
    server.shutdown()?;
    Ok(())
}

fn hop_by_hop_removed(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/hop-by-hop")],
    )?;
    let response = &responses[0];
    ensure_eq!(response.status.as_u16(), 200, "status");
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "transfer-encoding",
        "x-private",
    ] {
        ensure!(
            response.headers.get(name).is_none(),
            "{name} was sent over HTTP/2"
        );
    }
    ensure!(
        response.headers.get("x-kept").is_some(),
        "an ordinary field was removed"
    );
    ensure_eq!(response.body.as_deref().ok(), Some(&b"ok"[..]), "body");
    server.shutdown()?;
    Ok(())
}

fn h2c_upgrade_ignored(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(
        server.endpoint(),
        b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.head.minor_version, 1, "HTTP/1.1");
    ensure_eq!(response.body, b"Hello, world!".to_vec(), "body");
    server.shutdown()?;
    Ok(())
}

/// SETTINGS parameters (RFC 9113 §6.5.2).
/// The error code FRAME_SIZE_ERROR (RFC 9113 §7).
const FRAME_SIZE_ERROR: u32 = 0x6;

mod setting {
    pub(super) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(super) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(super) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(super) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(super) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// SETTINGS parameters as (identifier, value) pairs.
type SettingsList = Vec<(u16, u32)>;

/// The server's SETTINGS and the increment of its first WINDOW_UPDATE on
/// stream 0 (`None` when none came within 2 s of the SETTINGS).
fn advertised(raw: &mut RawConnection) -> Result<(SettingsList, Option<u32>), Failure> {
    let settings = server_settings(raw)?;
    raw.write_frame(h2_frames::kind::SETTINGS, h2_frames::ACK, 0, &[])?;
    raw.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut increment = None;
    for _ in 0..10 {
        let frame = match raw.read_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => break,
        };
        if frame.kind == h2_frames::kind::WINDOW_UPDATE && frame.stream == 0 {
            let p = &frame.payload;
            if p.len() == 4 {
                increment = Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff);
            }
            break;
        }
    }
    Ok((settings, increment))
}

/// Checks one server's SETTINGS and connection window against the values
/// it was configured with.
fn check_advertised(
    context: &mut Context<'_>,
    what: &str,
    configure: impl FnOnce(&mut albany_server::Settings),
) -> Result<(), Failure> {
    let mut settings = crate::suite_settings();
    configure(&mut settings);
    let expected = settings.clone();
    let (server, _) = context.start_with(|s| *s = settings)?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let (advertised, increment) = advertised(&mut raw)?;
    let value = |id: u16| {
        advertised
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    };
    ensure_eq!(
        value(setting::MAX_CONCURRENT_STREAMS),
        Some(expected.http2_max_concurrent_streams),
        "{what}: SETTINGS_MAX_CONCURRENT_STREAMS"
    );
    ensure_eq!(
        value(setting::INITIAL_WINDOW_SIZE),
        Some(expected.http2_initial_stream_window_size),
        "{what}: SETTINGS_INITIAL_WINDOW_SIZE"
    );
    // 16384 is RFC 9113's initial value: advertising it or not is the same.
    ensure!(
        matches!(value(setting::MAX_FRAME_SIZE), None | Some(16_384)),
        "{what}: SETTINGS_MAX_FRAME_SIZE {:?}, expected 16384",
        value(setting::MAX_FRAME_SIZE)
    );
    ensure_eq!(
        value(setting::MAX_HEADER_LIST_SIZE),
        Some(u32::try_from(expected.max_header_size).unwrap_or(u32::MAX)),
        "{what}: SETTINGS_MAX_HEADER_LIST_SIZE"
    );
    ensure!(
        matches!(value(setting::HEADER_TABLE_SIZE), None | Some(4096)),
        "{what}: SETTINGS_HEADER_TABLE_SIZE {:?}, expected 4096",
        value(setting::HEADER_TABLE_SIZE)
    );
    ensure_eq!(
        increment,
        Some(expected.http2_initial_connection_window_size - 65_535),
        "{what}: the connection's WINDOW_UPDATE increment (window minus 65535)"
    );
    // [H2-15] A DATA frame one byte over the largest frame, on a request
    // whose answer waits for its whole body.
    let authority = server.endpoint().to_string();
    let scheme = raw.scheme();
    raw.send_headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", scheme),
            (":authority", &authority),
            (":path", "/inspect"),
        ],
        false,
    )?;
    let _ = raw.send_data(1, &vec![b'x'; 16_385], false);
    let outcome = raw.outcome(1, Duration::from_secs(10))?;
    ensure_eq!(
        outcome,
        StreamOutcome::GoAway(FRAME_SIZE_ERROR),
        "{what}: the answer to a 16385-byte DATA frame"
    );
    drop(raw);
    server.shutdown()?;
    Ok(())
}

fn settings_advertised(context: &mut Context<'_>) -> Result<(), Failure> {
    check_advertised(context, "defaults", |_| {})?;
    check_advertised(context, "configured", |s| {
        s.http2_max_concurrent_streams = 50;
        s.http2_initial_stream_window_size = 256 * 1024;
        s.http2_initial_connection_window_size = 512 * 1024;
        s.max_header_size = 32 * 1024;
    })
}

fn rapid_reset(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let authority = server.endpoint().to_string();
    let mut raw = RawConnection::open(server.endpoint())?;
    // Past h2's limit of 20 streams reset while pending accept, in one
    // write so that they arrive together.
    // 100 pairs: about 6 KiB, one segment on loopback.
    let last = raw.rapid_reset(1, 100, &authority, "/hello")?;
    let outcome = raw.outcome(last, Duration::from_secs(10))?;
    ensure_eq!(
        outcome,
        StreamOutcome::GoAway(ENHANCE_YOUR_CALM),
        "the answer to 100 HEADERS + RST_STREAM pairs"
    );
    // Then a FIN at once (the lingering close, LIMIT-13, which
    // examples/tests/half_close.rs covers otherwise), although the client
    // goes on sending (a PING every 20 ms, each of which restarts the
    // lingering close's 100 ms idle timer): a server that did not shut
    // down its write side first would end the connection only after the
    // linger's 1 s.
    let started = std::time::Instant::now();
    raw.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut ended = false;
    while started.elapsed() < Duration::from_millis(900) {
        let _ = raw.write_frame(h2_frames::kind::PING, 0, 0, &[0; 8]);
        match raw.read_frame() {
            Ok(None) => {
                ended = true;
                break;
            }
            Ok(Some(_)) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    ensure!(
        ended,
        "no end of file within 900 ms of the GOAWAY (the write side was not shut down)"
    );
    drop(raw);
    // The server itself goes on serving.
    let mut fresh = RawConnection::open(server.endpoint())?;
    fresh.send_get(1, &authority, "/hello", &[])?;
    ensure_eq!(
        fresh.outcome(1, Duration::from_secs(10))?,
        StreamOutcome::Response(Some(200)),
        "a new connection after the attack"
    );
    drop(fresh);
    server.shutdown()?;
    Ok(())
}

fn local_reset_limit(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let authority = server.endpoint().to_string();
    let mut raw = RawConnection::open(server.endpoint())?;
    let scheme = raw.scheme();
    // Each request is malformed (a connection-specific field, H2-7): the
    // server resets its stream.
    let block = h2_frames::field_block(&[
        (":method", "GET"),
        (":scheme", scheme),
        (":authority", &authority),
        (":path", "/hello"),
        ("connection", "keep-alive"),
    ]);
    let mut next = 1;
    let mut burst = |raw: &mut RawConnection, count: u32| {
        let mut bytes = Vec::new();
        for _ in 0..count {
            bytes.extend(h2_frames::frame_bytes(
                h2_frames::kind::HEADERS,
                h2_frames::END_HEADERS | h2_frames::END_STREAM,
                next,
                &block,
            ));
            next += 2;
        }
        raw.write_raw(&bytes)
    };
    raw.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Reads frames until `resets` RST_STREAMs have come, or a GOAWAY (its
    // error code), or the connection ends.
    let read =
        |raw: &mut RawConnection, resets: &mut u32, want: u32| -> Result<Option<u32>, Failure> {
            while *resets < want {
                let Some(frame) = raw.read_frame()? else {
                    return Ok(None);
                };
                match frame.kind {
                    h2_frames::kind::RST_STREAM => *resets += 1,
                    h2_frames::kind::GOAWAY => {
                        return Ok(Some(frame.payload.get(4..8).map_or(u32::MAX, |c| {
                            u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                        })))
                    }
                    _ => {}
                }
            }
            Ok(None)
        };
    // 1000 malformed requests, 100 at a time: each is reset, and the
    // connection stays.
    let mut resets = 0;
    for round in 1..=10 {
        burst(&mut raw, 100)?;
        if let Some(code) = read(&mut raw, &mut resets, round * 100)? {
            return Err(Failure::Fail(format!(
                "GOAWAY ({code}) after {resets} reset streams, before 1000"
            )));
        }
    }
    ensure_eq!(resets, 1000, "streams reset");
    // 100 more: past 1024, GOAWAY with ENHANCE_YOUR_CALM.
    let _ = burst(&mut raw, 100);
    let goaway = read(&mut raw, &mut resets, u32::MAX)?;
    ensure_eq!(
        goaway,
        Some(ENHANCE_YOUR_CALM),
        "GOAWAY's error code past 1024 resets"
    );
    ensure!(
        resets <= 1024,
        "{resets} streams reset before the GOAWAY, expected at most 1024"
    );
    ensure_eq!(state.calls(), 0, "application calls");
    drop(raw);
    server.shutdown()?;
    Ok(())
}
