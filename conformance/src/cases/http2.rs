//! HTTP/2 specifics (spec §17; RFC 9113).

use std::time::Duration;

use bytes::Bytes;

use super::case;
use crate::h2_frames::{self, RawConnection, StreamOutcome, PROTOCOL_ERROR};
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
