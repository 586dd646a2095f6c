//! Message framing and request-smuggling defences (RFC 9112 §2–§7, §11.2).

use super::{body_rejected, case, rejected};
use crate::{ensure, ensure_eq, h1, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "framing.te-in-http10",
        Must,
        ["H1-22"],
        ["RFC 9112 §6.1"],
        "Transfer-Encoding in an HTTP/1.0 request gets 400",
        te_in_http10
    ),
    case!(
        "framing.cl-and-te",
        Must,
        ["H1-1", "REQ-15"],
        ["RFC 9112 §6.1", "RFC 9112 §11.2"],
        "Content-Length with Transfer-Encoding: 400 or chunked framing alone, then close",
        cl_and_te
    ),
    case!(
        "framing.te-and-cl",
        Must,
        ["H1-1"],
        ["RFC 9112 §6.1", "RFC 9112 §11.2"],
        "Transfer-Encoding before Content-Length: 400, close",
        te_and_cl
    ),
    case!(
        "framing.cl-not-a-number",
        Must,
        ["H1-2"],
        ["RFC 9112 §6.3", "RFC 9110 §8.6"],
        "Content-Length: abc gets 400",
        cl_not_a_number
    ),
    case!(
        "framing.cl-negative",
        Must,
        ["H1-2"],
        ["RFC 9110 §8.6"],
        "Content-Length: -1 gets 400",
        cl_negative
    ),
    case!(
        "framing.cl-plus-sign",
        Must,
        ["H1-2"],
        ["RFC 9110 §8.6"],
        "Content-Length: +5 gets 400",
        cl_plus_sign
    ),
    case!(
        "framing.cl-hex",
        Must,
        ["H1-2"],
        ["RFC 9110 §8.6"],
        "Content-Length: 0x5 gets 400",
        cl_hex
    ),
    case!(
        "framing.cl-inner-space",
        Must,
        ["H1-2"],
        ["RFC 9110 §8.6"],
        "Content-Length: 1 0 gets 400",
        cl_inner_space
    ),
    case!(
        "framing.cl-overflow",
        Must,
        ["H1-2"],
        ["RFC 9110 §8.6"],
        "Content-Length beyond u64 gets 400",
        cl_overflow
    ),
    case!(
        "framing.cl-conflicting-lines",
        Must,
        ["H1-2"],
        ["RFC 9112 §6.3", "RFC 9110 §8.6"],
        "two Content-Length lines that differ get 400",
        cl_conflicting_lines
    ),
    case!(
        "framing.cl-conflicting-list",
        Must,
        ["H1-2"],
        ["RFC 9112 §6.3", "RFC 9110 §8.6"],
        "Content-Length: 5, 6 gets 400",
        cl_conflicting_list
    ),
    case!(
        "framing.te-final-not-chunked",
        Must,
        ["H1-4"],
        ["RFC 9112 §6.3"],
        "Transfer-Encoding: chunked, gzip gets 400",
        te_final_not_chunked
    ),
    case!(
        "framing.te-chunked-twice",
        Must,
        ["H1-4"],
        ["RFC 9112 §6.1"],
        "Transfer-Encoding: chunked, chunked gets 400",
        te_chunked_twice
    ),
    case!(
        "framing.te-not-chunked",
        Must,
        ["H1-4"],
        ["RFC 9112 §6.3"],
        "Transfer-Encoding: identity gets 400",
        te_not_chunked
    ),
    case!(
        "framing.te-obfuscated",
        Must,
        ["H1-4"],
        ["RFC 9112 §6.3", "RFC 9112 §11.2"],
        "Transfer-Encoding: xchunked gets 400",
        te_obfuscated
    ),
    case!(
        "framing.te-unknown-coding",
        Must,
        ["H1-5"],
        ["RFC 9112 §6.1"],
        "Transfer-Encoding: gzip, chunked gets 501",
        te_unknown_coding
    ),
    case!(
        "framing.chunk-size-not-hex",
        Must,
        ["H1-6", "REQ-12"],
        ["RFC 9112 §7.1"],
        "chunk size zz: the body fails, the connection closes",
        chunk_size_not_hex
    ),
    case!(
        "framing.chunk-size-overflow",
        Must,
        ["H1-6", "REQ-12"],
        ["RFC 9112 §7.1"],
        "chunk size beyond u64: the body fails, the connection closes",
        chunk_size_overflow
    ),
    case!(
        "framing.chunk-size-empty",
        Must,
        ["H1-6"],
        ["RFC 9112 §7.1"],
        "empty chunk size line: the body fails",
        chunk_size_empty
    ),
    case!(
        "framing.chunk-size-negative",
        Must,
        ["H1-6"],
        ["RFC 9112 §7.1"],
        "chunk size -5: the body fails",
        chunk_size_negative
    ),
    case!(
        "framing.chunk-ext-bare-lf",
        Must,
        ["H1-6"],
        ["RFC 9112 §7.1.1"],
        "a chunk extension with a bare LF: the body fails",
        chunk_ext_bare_lf
    ),
    case!(
        "framing.chunk-data-without-crlf",
        Must,
        ["H1-6"],
        ["RFC 9112 §7.1"],
        "chunk data not followed by CRLF: the body fails",
        chunk_data_without_crlf
    ),
    case!(
        "framing.chunk-data-too-long",
        Must,
        ["H1-6", "REQ-12"],
        ["RFC 9112 §7.1", "RFC 9112 §11.2"],
        "chunk data longer than its size: no byte after it is a request",
        chunk_data_too_long
    ),
    case!(
        "framing.bare-cr-in-field",
        Must,
        ["H1-7"],
        ["RFC 9112 §2.2"],
        "a bare CR in a field line gets 400",
        bare_cr_in_field
    ),
    case!(
        "framing.bare-cr-in-request-line",
        Must,
        ["H1-7"],
        ["RFC 9112 §2.2"],
        "a bare CR in the request line gets 400",
        bare_cr_in_request_line
    ),
    case!(
        "framing.obs-fold",
        Must,
        ["H1-9"],
        ["RFC 9112 §5.2"],
        "a folded field line gets 400",
        obs_fold
    ),
    case!(
        "framing.space-before-colon",
        Must,
        ["H1-10"],
        ["RFC 9112 §5.1"],
        "whitespace between field name and colon gets 400",
        space_before_colon
    ),
    case!(
        "framing.tab-before-colon",
        Must,
        ["H1-10"],
        ["RFC 9112 §5.1"],
        "a tab between field name and colon gets 400",
        tab_before_colon
    ),
    case!(
        "framing.name-not-token",
        Must,
        ["H1-11"],
        ["RFC 9110 §5.1"],
        "a field name with ( ) gets 400",
        name_not_token
    ),
    case!(
        "framing.empty-name",
        Must,
        ["H1-11"],
        ["RFC 9110 §5.1"],
        "a field line starting with a colon gets 400",
        empty_name
    ),
    case!(
        "framing.nul-in-value",
        Must,
        ["H1-11"],
        ["RFC 9110 §5.5"],
        "NUL in a field value gets 400",
        nul_in_value
    ),
    case!(
        "framing.ctl-in-value",
        Must,
        ["H1-11"],
        ["RFC 9110 §5.5"],
        "a control character in a field value gets 400",
        ctl_in_value
    ),
    case!(
        "framing.line-without-colon",
        Must,
        ["H1-11", "REQ-15"],
        ["RFC 9112 §5"],
        "a field line without a colon gets 400",
        line_without_colon
    ),
    case!(
        "framing.request-line-garbage",
        Must,
        ["H1-12", "REQ-15"],
        ["RFC 9112 §3"],
        "a request line that does not parse gets 400",
        request_line_garbage
    ),
    case!(
        "framing.method-not-token",
        Must,
        ["H1-12"],
        ["RFC 9112 §3.1", "RFC 9110 §9.1"],
        "a method that is not a token gets 400",
        method_not_token
    ),
    case!(
        "framing.target-with-control",
        Must,
        ["H1-12"],
        ["RFC 9112 §3.2"],
        "a target with a control character gets 400",
        target_with_control
    ),
    case!(
        "framing.double-space",
        Must,
        ["H1-12"],
        ["RFC 9112 §3"],
        "two spaces between method and target get 400",
        double_space
    ),
    case!(
        "framing.unknown-version",
        Must,
        ["H1-12"],
        ["RFC 9112 §2.3", "RFC 9110 §15.6.6"],
        "HTTP/9.9 gets 400 or 505",
        unknown_version
    ),
    case!(
        "framing.lowercase-version",
        Must,
        ["H1-12"],
        ["RFC 9112 §2.3"],
        "http/1.1 in lower case gets 400",
        lowercase_version
    ),
];

fn cl_and_te(context: &mut Context<'_>) -> Result<(), Failure> {
    both_lengths(
        context,
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /say/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
}

fn te_and_cl(context: &mut Context<'_>) -> Result<(), Failure> {
    both_lengths(
        context,
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n0\r\n\r\nGET /say/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
}

/// [H1-1] Either 400, or the body framed by Transfer-Encoding alone with
/// Content-Length removed; in both cases the connection closes after the
/// response and the bytes after the chunked body are never a request.
fn both_lengths(context: &mut Context<'_>, request: &[u8]) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(request)?;
    let response = connection.read_response(false)?;
    match response.status() {
        400 => {}
        200 => {
            let headers = super::inspected_all(&response.body, "header");
            ensure!(
                !headers.iter().any(|h| h.starts_with("content-length:")),
                "the application saw Content-Length beside Transfer-Encoding: {headers:?}"
            );
            ensure_eq!(
                super::inspected(&response, "body").map(|b| b.starts_with("0 bytes")),
                Some(true),
                "body"
            );
        }
        status => return Err(Failure::Fail(format!("expected 400 or 200, got {status}"))),
    }
    ensure!(
        connection.is_closed_within(super::CLOSE_WAIT),
        "the connection stayed open"
    );
    ensure!(
        !state.saw("/say/smuggled"),
        "the bytes after the chunked body were served as a request"
    );
    server.shutdown()?;
    Ok(())
}
rejected!(
    cl_not_a_number,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
    &[400]
);
rejected!(
    cl_negative,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    &[400]
);
rejected!(
    cl_plus_sign,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello",
    &[400]
);
rejected!(
    cl_hex,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x5\r\n\r\nhello",
    &[400]
);
rejected!(
    cl_inner_space,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1 0\r\n\r\nhellohello",
    &[400]
);
rejected!(
    cl_overflow,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    &[400]
);
rejected!(cl_conflicting_lines,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", &[400]);
rejected!(
    cl_conflicting_list,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 6\r\n\r\nhello!",
    &[400]
);
rejected!(
    te_final_not_chunked,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    &[400]
);
rejected!(te_chunked_twice,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", &[400]);
rejected!(
    te_not_chunked,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n\r\nhello",
    &[400]
);
rejected!(
    te_obfuscated,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    &[400]
);
rejected!(
    te_unknown_coding,
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    &[501]
);
body_rejected!(chunk_size_not_hex,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
body_rejected!(chunk_size_overflow,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n");
body_rejected!(chunk_size_empty,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n");
body_rejected!(chunk_size_negative,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n");
body_rejected!(chunk_ext_bare_lf,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\nhello\r\n0\r\n\r\n");
body_rejected!(chunk_data_without_crlf,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n");
body_rejected!(chunk_data_too_long,
    b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n");
rejected!(
    bare_cr_in_field,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\rb\r\n\r\n",
    &[400]
);
rejected!(
    bare_cr_in_request_line,
    b"GET /hello\r HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    obs_fold,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n",
    &[400]
);
rejected!(
    space_before_colon,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length : 0\r\n\r\n",
    &[400]
);
rejected!(
    tab_before_colon,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Tab\t: 0\r\n\r\n",
    &[400]
);
rejected!(
    name_not_token,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX(Bad): 1\r\n\r\n",
    &[400]
);
rejected!(
    empty_name,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\n: empty\r\n\r\n",
    &[400]
);
rejected!(
    nul_in_value,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\0b\r\n\r\n",
    &[400]
);
rejected!(
    ctl_in_value,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Bell: a\x07b\r\n\r\n",
    &[400]
);
rejected!(
    line_without_colon,
    b"GET /hello HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n",
    &[400]
);
rejected!(request_line_garbage, b"GARBAGE\r\n\r\n", &[400]);
rejected!(
    method_not_token,
    b"GE(T /hello HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    target_with_control,
    b"GET /hel\x01lo HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    double_space,
    b"GET  /hello HTTP/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    unknown_version,
    b"GET /hello HTTP/9.9\r\nHost: localhost\r\n\r\n",
    &[400, 505]
);
rejected!(
    lowercase_version,
    b"GET /hello http/1.1\r\nHost: localhost\r\n\r\n",
    &[400]
);
rejected!(
    te_in_http10,
    b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    &[400]
);
