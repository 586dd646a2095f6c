//! Request semantics: what reaches the application, Host rules, request
//! targets, HEAD, 204 and 304, `Expect: 100-continue`, `Date`.

use super::{case, exchange, inspected, inspected_all, rejected};
use crate::{ensure, ensure_eq, h1, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "semantics.host-missing",
        Must,
        ["H1-13"],
        ["RFC 9112 §3.2"],
        "an HTTP/1.1 request without Host gets 400",
        host_missing
    ),
    case!(
        "semantics.host-twice",
        Must,
        ["H1-13"],
        ["RFC 9112 §3.2"],
        "two Host field lines get 400",
        host_twice
    ),
    case!(
        "semantics.host-invalid",
        Must,
        ["H1-13"],
        ["RFC 9112 §3.2", "RFC 9110 §7.2"],
        "a Host value that is not uri-host[:port] gets 400",
        host_invalid
    ),
    case!(
        "semantics.host-optional-in-http10",
        Must,
        ["H1-13", "REQ-6"],
        ["RFC 9112 §3.2"],
        "an HTTP/1.0 request without Host is served",
        host_optional_in_http10
    ),
    case!(
        "semantics.absolute-form",
        Must,
        ["H1-14", "REQ-3"],
        ["RFC 9112 §3.2.2"],
        "an absolute-form target is served and kept as received",
        absolute_form
    ),
    case!(
        "semantics.asterisk-form",
        Must,
        ["H1-15", "REQ-3"],
        ["RFC 9112 §3.2.4"],
        "OPTIONS * reaches the application as *",
        asterisk_form
    ),
    case!(
        "semantics.asterisk-with-get",
        Must,
        ["H1-15"],
        ["RFC 9112 §3.2.4"],
        "GET * gets 400",
        asterisk_with_get
    ),
    case!(
        "semantics.authority-form",
        Must,
        ["H1-16", "REQ-3"],
        ["RFC 9112 §3.2.3"],
        "CONNECT host:port reaches the application with that authority",
        authority_form
    ),
    case!(
        "semantics.authority-form-with-get",
        Must,
        ["H1-16"],
        ["RFC 9112 §3.2.3"],
        "GET host:port gets 400",
        authority_form_with_get
    ),
    case!(
        "semantics.request-as-received",
        Must,
        ["REQ-1", "REQ-2", "REQ-5", "REQ-6"],
        ["RFC 9110 §9.1", "RFC 9112 §3.2.1"],
        "extension method, origin-form path and query reach the application unchanged",
        request_as_received
    ),
    case!(
        "semantics.fields-order-and-duplicates",
        Must,
        ["REQ-7"],
        ["RFC 9110 §5.2", "RFC 9110 §5.3"],
        "repeated fields arrive as several values in order, names lower case, values trimmed",
        fields_order_and_duplicates
    ),
    case!(
        "semantics.body-size-hints",
        Must,
        ["REQ-10", "REQ-11"],
        ["RFC 9112 §6"],
        "no body: ended, exact 0; Content-Length: exact; chunked: no exact hint, decoded",
        body_size_hints
    ),
    case!(
        "semantics.request-trailers",
        Must,
        ["REQ-13"],
        ["RFC 9112 §7.1.2"],
        "chunked request trailers reach the application as the last frame",
        request_trailers
    ),
    case!(
        "semantics.head",
        Must,
        ["RESP-9"],
        ["RFC 9110 §9.3.2"],
        "HEAD: Content-Length kept, no body, the connection goes on",
        head
    ),
    case!(
        "semantics.no-content",
        Must,
        ["RESP-10"],
        ["RFC 9110 §15.3.5"],
        "204: no body and no Content-Length although the application gave one",
        no_content
    ),
    case!(
        "semantics.not-modified",
        Must,
        ["RESP-10"],
        ["RFC 9110 §15.4.5"],
        "304: no body although the application gave one",
        not_modified
    ),
    case!(
        "semantics.expect-continue",
        Must,
        ["REQ-14"],
        ["RFC 9110 §10.1.1"],
        "Expect: 100-continue gets 100 once the application reads the body",
        expect_continue
    ),
    case!(
        "semantics.expect-continue-answered-first",
        Must,
        ["REQ-14"],
        ["RFC 9110 §10.1.1"],
        "no 100 when the application answers without reading",
        expect_continue_answered_first
    ),
    case!(
        "semantics.date",
        Must,
        ["RESP-17", "H1-21"],
        ["RFC 9110 §6.6.1", "RFC 9110 §5.6.7"],
        "every response carries Date in IMF-fixdate form",
        date
    ),
    case!(
        "semantics.content-length-from-hint",
        Must,
        ["RESP-1"],
        ["RFC 9110 §8.6"],
        "an exact size hint gives Content-Length",
        content_length_from_hint
    ),
    case!(
        "semantics.chunked-when-unknown",
        Must,
        ["RESP-2"],
        ["RFC 9112 §7.1"],
        "an unknown length is sent chunked over HTTP/1.1",
        chunked_when_unknown
    ),
    case!(
        "semantics.transfer-encoding-ignored",
        Must,
        ["RESP-3", "RESP-4"],
        ["RFC 9112 §6.1"],
        "the application's Transfer-Encoding is removed; the server frames",
        transfer_encoding_ignored
    ),
    case!(
        "semantics.content-length-disagrees",
        Must,
        ["RESP-6", "RESP-5"],
        ["RFC 9110 §8.6"],
        "Content-Length that contradicts an exact body length gets 500",
        content_length_disagrees
    ),
    case!(
        "semantics.final-1xx",
        Must,
        ["RESP-12", "RESP-13"],
        ["RFC 9110 §15.2"],
        "a final 103 from the application becomes 500",
        final_1xx
    ),
    case!(
        "semantics.response-version",
        Must,
        ["RESP-22", "RESP-23"],
        ["RFC 9110 §2.5"],
        "the response is in the request's protocol whatever its version",
        response_version
    ),
];

rejected!(host_missing, b"GET /hello HTTP/1.1\r\n\r\n", &[400]);
rejected!(
    host_twice,
    b"GET /hello HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
    &[400]
);
rejected!(
    host_invalid,
    b"GET /hello HTTP/1.1\r\nHost: a b/c\r\n\r\n",
    &[400]
);
rejected!(
    asterisk_with_get,
    b"GET * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    authority_form_with_get,
    b"GET localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);

fn host_optional_in_http10(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, b"GET /hello HTTP/1.0\r\n\r\n")?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.body, b"Hello, world!".to_vec(), "body");
    Ok(())
}

fn absolute_form(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(
        context,
        b"GET http://example.com/inspect?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(
        inspected(&response, "uri"),
        Some("http://example.com/inspect?q=1"),
        "uri"
    );
    Ok(())
}

fn asterisk_form(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let response = h1::exchange(
        server.endpoint(),
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 204, "status");
    ensure!(
        state.saw("OPTIONS *"),
        "the application saw {:?}",
        state.seen.lock().unwrap()
    );
    server.shutdown()?;
    Ok(())
}

fn authority_form(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, called) = exchange(
        context,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )?;
    ensure!(called, "the application was not called");
    ensure_eq!(response.status(), 403, "status");
    ensure_eq!(
        response.body,
        b"connect example.com:443".to_vec(),
        "what the application saw"
    );
    Ok(())
}

fn request_as_received(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(
        context,
        b"PURGE /inspect/./a/../b%2Fc?x=%41&y HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(inspected(&response, "method"), Some("PURGE"), "method");
    ensure_eq!(
        inspected(&response, "uri"),
        Some("/inspect/./a/../b%2Fc?x=%41&y"),
        "uri"
    );
    ensure_eq!(inspected(&response, "version"), Some("HTTP/1.1"), "version");
    let (response, _) = exchange(context, b"GET /inspect HTTP/1.0\r\n\r\n")?;
    ensure_eq!(inspected(&response, "version"), Some("HTTP/1.0"), "version");
    ensure!(
        inspected_all(&response.body, "header").is_empty(),
        "headers the client did not send: {:?}",
        inspected_all(&response.body, "header")
    );
    Ok(())
}

fn fields_order_and_duplicates(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(
        context,
        b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-Dup: one\r\nX-Other: between\r\nx-dup:   two  \r\nX-DUP: three\r\n\r\n",
    )?;
    let headers = inspected_all(&response.body, "header");
    let dups: Vec<&String> = headers
        .iter()
        .filter(|h| h.starts_with("x-dup: "))
        .collect();
    ensure_eq!(
        dups,
        vec!["x-dup: one", "x-dup: two", "x-dup: three"],
        "values of the repeated field"
    );
    ensure!(
        headers.iter().any(|h| h == "x-other: between"),
        "x-other missing: {headers:?}"
    );
    ensure!(
        headers.iter().any(|h| h == "host: localhost"),
        "host missing: {headers:?}"
    );
    Ok(())
}

fn body_size_hints(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let response = h1::exchange(addr, &h1::get("/inspect"))?;
    ensure_eq!(
        inspected(&response, "size-hint"),
        Some("exact 0"),
        "no body: size hint"
    );
    ensure_eq!(
        inspected(&response, "end-of-stream"),
        Some("true"),
        "no body: end of stream"
    );
    let response = h1::exchange(
        addr,
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    )?;
    ensure_eq!(
        inspected(&response, "size-hint"),
        Some("exact 5"),
        "Content-Length: size hint"
    );
    let response = h1::exchange(
        addr,
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
    )?;
    let hint = inspected(&response, "size-hint").unwrap_or("");
    ensure!(hint.starts_with("lower"), "chunked: size hint {hint}");
    ensure_eq!(
        inspected(&response, "body"),
        Some(format!("5 bytes fnv1a {:#018x}", crate::app::fnv1a(b"hello")).as_str()),
        "chunked: decoded body"
    );
    let headers = inspected_all(&response.body, "header");
    ensure!(
        headers.iter().any(|h| h == "transfer-encoding: chunked"),
        "framing fields stay in the headers: {headers:?}"
    );
    server.shutdown()?;
    Ok(())
}

fn request_trailers(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(
        context,
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n",
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(
        inspected_all(&response.body, "trailer"),
        vec!["x-sum: 42".to_owned()],
        "trailers"
    );
    Ok(())
}

fn head(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(b"HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let response = connection.read_response(true)?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(
        response.header("content-length"),
        Some("13"),
        "Content-Length"
    );
    // No body bytes follow: the next response parses.
    connection.send(&h1::get("/say/next"))?;
    let next = connection.read_response(false)?;
    ensure_eq!(next.body, b"next".to_vec(), "the next response");
    // A streamed body is not sent either.
    connection.send(b"HEAD /download?size=100000 HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let response = connection.read_response(true)?;
    ensure_eq!(response.status(), 200, "streamed HEAD status");
    connection.send(&h1::get("/say/after"))?;
    ensure_eq!(
        connection.read_response(false)?.body,
        b"after".to_vec(),
        "after a streamed HEAD"
    );
    server.shutdown()?;
    Ok(())
}

fn no_body_status(context: &mut Context<'_>, path: &str, status: u16) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get(path))?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), status, "status");
    if status == 204 {
        ensure_eq!(
            response.header("content-length"),
            None,
            "Content-Length on 204"
        );
    }
    ensure_eq!(
        response.header("transfer-encoding"),
        None,
        "Transfer-Encoding"
    );
    connection.send(&h1::get("/say/next"))?;
    ensure_eq!(
        connection.read_response(false)?.body,
        b"next".to_vec(),
        "the next response"
    );
    server.shutdown()?;
    Ok(())
}

fn no_content(context: &mut Context<'_>) -> Result<(), Failure> {
    no_body_status(context, "/no-content", 204)
}

fn not_modified(context: &mut Context<'_>) -> Result<(), Failure> {
    no_body_status(context, "/not-modified", 304)
}

fn expect_continue(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )?;
    let interim = connection.read_head()?;
    ensure_eq!(interim.status, 100, "interim status");
    connection.send(b"hello")?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), 200, "final status");
    ensure_eq!(
        inspected(&response, "body"),
        Some(format!("5 bytes fnv1a {:#018x}", crate::app::fnv1a(b"hello")).as_str()),
        "body"
    );
    server.shutdown()?;
    Ok(())
}

fn expect_continue_answered_first(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "the first status (no 100 Continue)");
    server.shutdown()?;
    Ok(())
}

/// Whether `value` is an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    b.len() == 29
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&value[..3])
        && &value[3..5] == ", "
        && digits(5..7)
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&value[8..11])
        && digits(12..16)
        && digits(17..19)
        && digits(20..22)
        && digits(23..25)
        && &value[25..] == " GMT"
}

fn date(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    for path in ["/hello", "/nowhere", "/download?size=10", "/panic"] {
        let response = h1::exchange(server.endpoint(), &h1::get(path))?;
        let date = response.header("date").unwrap_or("");
        ensure!(
            is_imf_fixdate(date),
            "{path}: Date {date:?} is not an IMF-fixdate"
        );
    }
    server.shutdown()?;
    Ok(())
}

fn content_length_from_hint(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, &h1::get("/hello"))?;
    ensure_eq!(
        response.header("content-length"),
        Some("13"),
        "Content-Length"
    );
    ensure_eq!(
        response.header("transfer-encoding"),
        None,
        "Transfer-Encoding"
    );
    ensure_eq!(response.body, b"Hello, world!".to_vec(), "body");
    Ok(())
}

fn chunked_when_unknown(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, &h1::get("/download?size=100000"))?;
    ensure_eq!(
        response.header("transfer-encoding"),
        Some("chunked"),
        "Transfer-Encoding"
    );
    ensure_eq!(response.header("content-length"), None, "Content-Length");
    ensure!(
        response.complete,
        "the chunked body did not end with its last chunk"
    );
    ensure_eq!(response.body.len(), 100_000, "body length");
    Ok(())
}

fn transfer_encoding_ignored(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, &h1::get("/transfer-encoding"))?;
    ensure_eq!(response.status(), 200, "status");
    ensure!(
        response
            .header("transfer-encoding")
            .is_none_or(|v| !v.contains("gzip")),
        "the application's Transfer-Encoding was sent"
    );
    ensure_eq!(response.body, b"plain".to_vec(), "body");
    Ok(())
}

fn content_length_disagrees(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, &h1::get("/wrong-length"))?;
    ensure_eq!(response.status(), 500, "status");
    ensure!(response.complete, "the 500 response is not complete");
    Ok(())
}

fn final_1xx(context: &mut Context<'_>) -> Result<(), Failure> {
    let (response, _) = exchange(context, &h1::get("/early-hints"))?;
    ensure_eq!(response.status(), 500, "status");
    Ok(())
}

fn response_version(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(server.endpoint(), &h1::get("/http09"))?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(response.head.minor_version, 1, "HTTP/1.x minor version");
    ensure_eq!(response.body, b"version ignored".to_vec(), "body");
    let responses = crate::h2::send_all(
        server.endpoint(),
        vec![crate::h2::get(server.endpoint(), "/http09")],
    )?;
    ensure_eq!(responses[0].status.as_u16(), 200, "HTTP/2 status");
    server.shutdown()?;
    Ok(())
}
