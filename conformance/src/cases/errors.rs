//! Errors and panics before and after the response head (spec §8).

use super::{case, CLOSE_WAIT};
use crate::{ensure, ensure_eq, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "errors.panic-before-head",
        Must,
        ["ERR-1"],
        ["RFC 9110 §15.6.1"],
        "a panicking application future gets 500 and the connection goes on",
        panic_before_head
    ),
    case!(
        "errors.panic-isolated",
        Must,
        ["ERR-1", "ERR-4", "RT-16"],
        [],
        "panics on many connections do not stop the server",
        panic_isolated
    ),
    case!(
        "errors.body-error-http1",
        Must,
        ["ERR-2", "ERR-3"],
        ["RFC 9112 §7.1"],
        "a body error after the head: no last chunk, the connection closes",
        body_error_http1
    ),
    case!(
        "errors.body-panic-http1",
        Must,
        ["ERR-2", "ERR-3", "ERR-4"],
        ["RFC 9112 §7.1"],
        "a body panic after the head: no last chunk, the connection closes",
        body_panic_http1
    ),
    case!(
        "errors.body-error-http2",
        Must,
        ["ERR-2", "H2-9"],
        ["RFC 9113 §6.4"],
        "a body error resets its stream; the other streams complete",
        body_error_http2
    ),
    case!(
        "errors.short-body-http1",
        Must,
        ["RESP-7", "ERR-3"],
        ["RFC 9112 §6.2"],
        "a body shorter than its Content-Length aborts the response",
        short_body_http1
    ),
    case!(
        "errors.long-body-http1",
        Must,
        ["RESP-7"],
        ["RFC 9112 §6.2", "RFC 9112 §11.2"],
        "bytes beyond Content-Length are never sent as another response",
        long_body_http1
    ),
    case!(
        "errors.short-body-http2",
        Must,
        ["RESP-8"],
        ["RFC 9113 §8.1.1"],
        "over HTTP/2 a body shorter than its content-length resets the stream",
        short_body_http2
    ),
];

fn panic_before_head(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get("/panic"))?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), 500, "status");
    connection.send(&h1::get("/hello"))?;
    ensure_eq!(
        connection.read_response(false)?.status(),
        200,
        "next request on the connection"
    );
    let responses = h2::send_all(
        server.endpoint(),
        vec![
            h2::get(server.endpoint(), "/panic"),
            h2::get(server.endpoint(), "/hello"),
        ],
    )?;
    ensure_eq!(responses[0].status.as_u16(), 500, "HTTP/2 status");
    ensure_eq!(responses[1].status.as_u16(), 200, "the other HTTP/2 stream");
    server.shutdown()?;
    Ok(())
}

fn panic_isolated(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    for _ in 0..50 {
        for path in ["/panic", "/body-panic"] {
            let mut connection = h1::Connection::open(server.endpoint())?;
            connection.send(&h1::get(path))?;
            let _ = connection.read_response(false);
        }
    }
    let response = h1::exchange(server.endpoint(), &h1::get("/hello"))?;
    ensure_eq!(response.status(), 200, "after 100 panics");
    server.shutdown()?;
    Ok(())
}

fn aborted_http1(context: &mut Context<'_>, path: &str) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get(path))?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(
        response.header("transfer-encoding"),
        Some("chunked"),
        "Transfer-Encoding"
    );
    ensure!(!response.complete, "the failed response looks complete");
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open"
    );
    server.shutdown()?;
    Ok(())
}

fn body_error_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    aborted_http1(context, "/body-error")
}

fn body_panic_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    aborted_http1(context, "/body-panic")
}

fn body_error_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let responses = h2::send_all(
        addr,
        vec![
            h2::get(addr, "/body-error"),
            h2::get(addr, "/body-panic"),
            h2::get(addr, "/slow?ms=300"),
        ],
    )?;
    ensure!(
        responses[0].body.is_err(),
        "/body-error: the stream was not reset"
    );
    ensure!(
        responses[1].body.is_err(),
        "/body-panic: the stream was not reset"
    );
    ensure_eq!(
        responses[2].body.as_deref().ok(),
        Some(&b"slow"[..]),
        "the other stream"
    );
    server.shutdown()?;
    Ok(())
}

fn short_body_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get("/short-length"))?;
    // The server may close before writing anything, or after a head and
    // part of the body; never with a complete response.
    if let Ok(response) = connection.read_response(false) {
        ensure_eq!(
            response.header("content-length"),
            Some("10"),
            "Content-Length"
        );
        ensure!(!response.complete, "a 5-byte body passed for 10 bytes");
    }
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open"
    );
    server.shutdown()?;
    Ok(())
}

fn long_body_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get("/long-length"))?;
    let response = connection.read_response(false)?;
    ensure_eq!(
        response.header("content-length"),
        Some("10"),
        "Content-Length"
    );
    // Whatever follows must be a valid next response or nothing.
    let _ = connection.send(&h1::get("/say/next"));
    match connection.read_response(false) {
        Ok(next) => ensure_eq!(next.body, b"next".to_vec(), "the next response"),
        Err(error) => ensure!(
            matches!(
                error.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ),
            "after the long body: {error}"
        ),
    }
    server.shutdown()?;
    Ok(())
}

fn short_body_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/short-length")],
    )?;
    ensure!(
        responses[0].body.is_err(),
        "a 5-byte body ended normally under content-length: 10 ({:?})",
        responses[0].body
    );
    server.shutdown()?;
    Ok(())
}
