//! Upgrades, the runtime service, blocking applications and the
//! extensions, seen from the wire.

use bytes::Bytes;

use super::{case, inspected};
use crate::app::BLOCKING_BODY_LIMIT;
use crate::{ensure, ensure_eq, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!("interface.upgrade", Must, ["UPG-1", "UPG-3", "EXT-4", "EXT-8"], ["RFC 9110 §7.8", "RFC 9110 §15.2.2"],
        "101, then the application echoes over the upgraded connection", upgrade),
    case!("interface.upgrade-early-bytes", Must, ["UPG-4"], ["RFC 9110 §7.8"],
        "bytes sent right after the request head are read first from the upgrade", upgrade_early_bytes),
    case!("interface.upgrade-declined", Must, ["UPG-5"], ["RFC 9110 §7.8"],
        "a request with Upgrade answered 200 goes on as HTTP/1.1", upgrade_declined),
    case!("interface.extensions", Must, ["EXT-1", "EXT-2", "EXT-3", "EXT-4", "EXT-12"], [],
        "runtime, connection info and shutdown signal in every request; OnUpgrade only when upgradable", extensions),
    case!("interface.connection-info", Must, ["EXT-2", "ADAPT-4"], [],
        "ConnectionInfo's peer address is the client's address; its scheme is http, or https over TLS", connection_info),
    case!("interface.forwarded-untrusted", Must, ["EXT-13"], ["RFC 7239 §8.3"],
        "Forwarded and X-Forwarded-* from a peer that is not trusted (the default) change nothing", forwarded_untrusted),
    case!("interface.forwarded-trusted", Must, ["EXT-13"], ["RFC 7239 §4", "RFC 7239 §5.2"],
        "from a trusted peer, the nearest untrusted address of the chain is the client, with proto and host", forwarded_trusted),
    case!("interface.runtime", Must, ["EXT-1", "RT-2", "RT-3", "RT-4", "RT-8", "RT-12", "RT-13", "RT-14", "ADAPT-3"], [],
        "sleep, spawn, spawn_blocking and timeout work inside the application", runtime),
    case!("interface.blocking", Must, ["BLOCK-1", "BLOCK-2", "BLOCK-3"], [],
        "albany::blocking gets the body and runs off the task threads", blocking),
    case!("interface.blocking-limit", Must, ["BLOCK-4"], ["RFC 9110 §15.5.14"],
        "a body over the blocking limit gets 413", blocking_limit),
    case!("interface.blocking-body-error", Must, ["BLOCK-5"], ["RFC 9110 §15.5.1"],
        "a malformed body gets 400 from albany::blocking", blocking_body_error),
    case!("interface.blocking-panic", Must, ["BLOCK-7", "ERR-1"], ["RFC 9110 §15.6.1"],
        "a panic in a blocking function gets 500", blocking_panic),
];

fn upgrade(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 101, "status");
    ensure_eq!(head.header("upgrade"), Some("echo"), "Upgrade");
    for message in [&b"ping"[..], b"hello over the upgraded connection"] {
        connection.send(message)?;
        let echoed = connection.read_exactly(message.len())?;
        ensure_eq!(echoed, message.to_vec(), "echo");
    }
    server.shutdown()?;
    Ok(())
}

fn upgrade_early_bytes(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly bytes")?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 101, "status");
    ensure_eq!(
        connection.read_exactly(11)?,
        b"early bytes".to_vec(),
        "echo of the early bytes"
    );
    server.shutdown()?;
    Ok(())
}

fn upgrade_declined(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )?;
    ensure_eq!(connection.read_response(false)?.status(), 200, "status");
    connection.send(&h1::get("/say/still-http"))?;
    ensure_eq!(
        connection.read_response(false)?.body,
        b"still-http".to_vec(),
        "the next request"
    );
    server.shutdown()?;
    Ok(())
}

fn extensions(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let plain = h1::exchange(addr, &h1::get("/inspect"))?;
    ensure_eq!(
        inspected(&plain, "extensions"),
        Some("runtime connection-info shutdown-signal"),
        "plain GET"
    );
    ensure_eq!(
        inspected(&plain, "connection-context"),
        Some("true"),
        "one ConnectionContext extension"
    );
    let upgradable = h1::exchange(
        addr,
        b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )?;
    ensure_eq!(
        inspected(&upgradable, "extensions"),
        Some("runtime connection-info shutdown-signal upgrade"),
        "GET with Upgrade"
    );
    let responses = h2::send_all(addr, vec![h2::get(addr, "/inspect")])?;
    let body =
        String::from_utf8_lossy(responses[0].body.as_deref().unwrap_or_default()).into_owned();
    ensure!(
        body.lines()
            .any(|l| l == "extensions: runtime connection-info shutdown-signal"),
        "HTTP/2 GET: {body:?}"
    );
    server.shutdown()?;
    Ok(())
}

fn connection_info(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    let local = connection.stream().local_addr()?;
    connection.send(&h1::get("/info"))?;
    let response = connection.read_response(false)?;
    ensure_eq!(
        String::from_utf8_lossy(&response.body),
        format!("peer={local} scheme={}", server.endpoint().scheme()),
        "peer address and scheme (https over TLS)"
    );
    server.shutdown()?;
    Ok(())
}

/// `GET /client` with `fields`; the application's answer.
fn client_seen(addr: crate::Endpoint, fields: &str) -> Result<String, Failure> {
    let request = format!("GET /client HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n");
    let response = h1::exchange(addr, request.as_bytes())?;
    Ok(String::from_utf8_lossy(&response.body).into_owned())
}

const SPOOFED: &str = "Forwarded: for=203.0.113.9;proto=https;host=evil.example\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n";

fn forwarded_untrusted(context: &mut Context<'_>) -> Result<(), Failure> {
    // Trusted: a network the loopback client is not in, then nothing.
    for trusted in [vec!["10.0.0.0/8".parse().expect("a network")], vec![]] {
        let (server, _) = context.start_with(|settings| settings.trusted_proxies = trusted)?;
        ensure_eq!(
            client_seen(server.endpoint(), SPOOFED)?,
            "client=127.0.0.1 forwarded=false proto=- host=-",
            "a spoofed client"
        );
        server.shutdown()?;
    }
    Ok(())
}

fn forwarded_trusted(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|settings| {
        settings.trusted_proxies = vec![
            "127.0.0.0/8".parse().expect("a network"),
            "10.0.0.0/8".parse().expect("a network"),
        ];
    })?;
    let addr = server.endpoint();
    // RFC 7239: the element of the first untrusted hop from the right.
    ensure_eq!(
        client_seen(addr, "Forwarded: for=192.0.2.1, for=\"[2001:db8::17]:4711\";proto=HTTPS;host=example.com, for=10.1.2.3\r\n")?,
        "client=2001:db8::17 forwarded=true proto=https host=example.com",
        "Forwarded"
    );
    // X-Forwarded-For, as nginx's $proxy_add_x_forwarded_for builds it: a
    // client-supplied first entry is not believed.
    ensure_eq!(
        client_seen(addr, "X-Forwarded-For: 203.0.113.9, 198.51.100.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: example.org\r\n")?,
        "client=198.51.100.4 forwarded=true proto=https host=example.org",
        "X-Forwarded-For"
    );
    ensure_eq!(
        client_seen(addr, "")?,
        "client=127.0.0.1 forwarded=false proto=- host=-",
        "no forwarding fields"
    );
    server.shutdown()?;
    Ok(())
}

fn runtime(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(server.endpoint(), &h1::get("/runtime"))?;
    ensure_eq!(
        String::from_utf8_lossy(&response.body),
        "sleep spawn spawn_blocking timeout",
        "what worked"
    );
    server.shutdown()?;
    Ok(())
}

fn blocking(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let response = h1::exchange(
        addr,
        b"POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    )?;
    ensure_eq!(response.status(), 200, "status");
    let body = String::from_utf8_lossy(&response.body).into_owned();
    ensure!(body.starts_with("5 bytes on "), "{body}");
    let requests = (0..20)
        .map(|_| {
            http::Request::post(addr.url("/blocking"))
                .body(Bytes::from_static(b"abc"))
                .expect("a request")
        })
        .collect();
    for response in h2::send_all(addr, requests)? {
        ensure_eq!(response.status.as_u16(), 200, "HTTP/2 status");
        ensure!(
            response
                .body
                .as_deref()
                .unwrap_or_default()
                .starts_with(b"3 bytes on "),
            "HTTP/2 body {:?}",
            response.body
        );
    }
    server.shutdown()?;
    Ok(())
}

fn blocking_limit(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let size = BLOCKING_BODY_LIMIT as usize + 1;
    let request = format!(
        "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n{}",
        "z".repeat(size)
    );
    ensure_eq!(
        h1::exchange(server.endpoint(), request.as_bytes())?.status(),
        413,
        "status"
    );
    server.shutdown()?;
    Ok(())
}

fn blocking_body_error(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(
        server.endpoint(),
        b"POST /blocking HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 400, "status");
    server.shutdown()?;
    Ok(())
}

fn blocking_panic(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/blocking-panic"))?.status(),
        500,
        "status"
    );
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "afterwards"
    );
    server.shutdown()?;
    Ok(())
}
