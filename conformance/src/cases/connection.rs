//! Connection management: keep-alive, pipelining, `Connection: close`,
//! HTTP/1.0, unread request bodies (RFC 9112 §9).

use super::case;
use crate::{ensure, ensure_eq, h1, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "connection.keep-alive",
        Must,
        ["LIMIT-4"],
        ["RFC 9112 §9.3"],
        "1000 requests on one connection",
        keep_alive
    ),
    case!(
        "connection.pipelining-order",
        Must,
        ["H1-19"],
        ["RFC 9112 §9.3.2"],
        "pipelined requests are answered in order, a slow first one included",
        pipelining_order
    ),
    case!(
        "connection.close-request",
        Must,
        ["H1-18"],
        ["RFC 9112 §9.6"],
        "Connection: close in the request: response with Connection: close, then close",
        close_request
    ),
    case!(
        "connection.close-response",
        Must,
        ["RESP-15"],
        ["RFC 9112 §9.6"],
        "Connection: close from the application ends the connection",
        close_response
    ),
    case!(
        "connection.http10-closes",
        Must,
        ["H1-17"],
        ["RFC 9112 §9.3"],
        "HTTP/1.0 without keep-alive: the connection closes after the response",
        http10_closes
    ),
    case!(
        "connection.http10-never-chunked",
        Must,
        ["H1-17", "RESP-2"],
        ["RFC 9112 §6.1", "RFC 9112 §6.3"],
        "HTTP/1.0: a body of unknown length is delimited by close, not chunked",
        http10_never_chunked
    ),
    case!(
        "connection.http10-keep-alive",
        Should,
        ["H1-17"],
        ["RFC 9112 §9.3"],
        "HTTP/1.0 with Connection: keep-alive and a known length stays open",
        http10_keep_alive
    ),
    case!(
        "connection.unread-length-body",
        Must,
        ["H1-20"],
        ["RFC 9112 §6.3", "RFC 9112 §11.2"],
        "an unread Content-Length body is never read as a request",
        unread_length_body
    ),
    case!(
        "connection.unread-chunked-body",
        Must,
        ["H1-20"],
        ["RFC 9112 §7.1", "RFC 9112 §11.2"],
        "an unread chunked body is never read as a request",
        unread_chunked_body
    ),
    case!(
        "connection.keep-alive-off",
        Must,
        ["LIMIT-4"],
        ["RFC 9112 §9.6"],
        "keep_alive = false: Connection: close and close after each response",
        keep_alive_off
    ),
];

fn keep_alive(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    for i in 0..1000 {
        connection.send(&h1::get(&format!("/say/{i}")))?;
        let response = connection.read_response(false)?;
        ensure_eq!(response.status(), 200, "status of request {i}");
        ensure_eq!(
            response.body,
            i.to_string().into_bytes(),
            "body of request {i}"
        );
    }
    server.shutdown()?;
    Ok(())
}

fn pipelining_order(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    let mut requests = h1::get("/slow?ms=200");
    requests.extend(h1::get("/say/two"));
    requests.extend(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nthree");
    requests.extend(h1::get("/say/four"));
    connection.send(&requests)?;
    let mut bodies = Vec::new();
    for _ in 0..4 {
        bodies.push(String::from_utf8_lossy(&connection.read_response(false)?.body).into_owned());
    }
    ensure_eq!(
        bodies,
        vec!["slow", "two", "three", "four"],
        "bodies in order"
    );
    server.shutdown()?;
    Ok(())
}

fn close_request(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = super::response_then_close(
        &server,
        b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.header("connection"), Some("close"), "Connection");
    server.shutdown()?;
    Ok(())
}

fn close_response(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = super::response_then_close(&server, &h1::get("/close"))?;
    ensure_eq!(response.body, b"bye".to_vec(), "body");
    server.shutdown()?;
    Ok(())
}

fn http10_closes(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = super::response_then_close(&server, b"GET /hello HTTP/1.0\r\n\r\n")?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.body, b"Hello, world!".to_vec(), "body");
    server.shutdown()?;
    Ok(())
}

fn http10_never_chunked(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(b"GET /download?size=100000 HTTP/1.0\r\n\r\n")?;
    let response = connection.read_response(false)?;
    ensure_eq!(
        response.header("transfer-encoding"),
        None,
        "Transfer-Encoding"
    );
    ensure_eq!(response.body.len(), 100_000, "close-delimited body length");
    ensure_eq!(
        crate::app::pattern_mismatch(&response.body),
        None,
        "body bytes"
    );
    server.shutdown()?;
    Ok(())
}

fn http10_keep_alive(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    for word in ["one", "two"] {
        connection.send(
            format!("GET /say/{word} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
        )?;
        let response = connection.read_response(false)?;
        ensure_eq!(response.body, word.as_bytes().to_vec(), "body");
    }
    server.shutdown()?;
    Ok(())
}

/// Sends `request` (whose body holds a request for `/say/smuggled`) to a
/// route that does not read it, then `/say/next`; the smuggled request must
/// never be served.
fn unread_body(context: &mut Context<'_>, request: &[u8]) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(request)?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.body, b"Hello, world!".to_vec(), "first response");
    // The server either discards the body and serves the next request, or
    // closes the connection.
    if connection.send(&h1::get("/say/next")).is_ok() {
        if let Ok(next) = connection.read_response(false) {
            ensure_eq!(
                next.body,
                b"next".to_vec(),
                "the response after the unread body"
            );
        }
    }
    ensure!(
        !state.saw("/say/smuggled"),
        "the unread body was served as a request"
    );
    server.shutdown()?;
    Ok(())
}

fn unread_length_body(context: &mut Context<'_>) -> Result<(), Failure> {
    let smuggled = h1::get("/say/smuggled");
    let mut request = format!(
        "POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    request.extend(smuggled);
    unread_body(context, &request)
}

fn unread_chunked_body(context: &mut Context<'_>) -> Result<(), Failure> {
    let smuggled = h1::get("/say/smuggled");
    let mut request = format!(
        "POST /hello HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        smuggled.len()
    )
    .into_bytes();
    request.extend(smuggled);
    request.extend(b"\r\n0\r\n\r\n");
    unread_body(context, &request)
}

fn keep_alive_off(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start_with(|settings| settings.keep_alive = false)?;
    let response = super::response_then_close(&server, &h1::get("/hello"))?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.header("connection"), Some("close"), "Connection");
    server.shutdown()?;
    Ok(())
}
