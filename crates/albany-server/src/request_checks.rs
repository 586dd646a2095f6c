//! Checks of an HTTP/1.x request head that hyper leaves to the server, made
//! before the application is called (spec chapter "HTTP/1.1 message
//! parsing").
//!
//! hyper already rejects what httparse cannot parse (H1-7 to H1-12), invalid
//! or conflicting `Content-Length` (H1-2), a final coding other than
//! `chunked` (H1-4) and `Transfer-Encoding` in HTTP/1.0 (H1-22). It frames a
//! request with both `Content-Length` and `Transfer-Encoding` by the latter
//! and closes the connection after the response (H1-1). What is left:
//! `Host` (H1-13), the request-target forms (H1-15, H1-16) and the transfer
//! codings before the final `chunked` (H1-4, H1-5).

use http::request::Parts;
use http::{header, Method, StatusCode, Version};

/// Returns the status to answer `parts` with, without calling the
/// application, when the head breaks a rule above; `None` when it is fine.
/// `has_body` is `false` when hyper framed no body, so there is no
/// `Transfer-Encoding` to check (hyper frames a request with one as
/// chunked). HTTP/2 requests are not checked here: the HTTP/2 layer
/// validates them.
pub(crate) fn reject(parts: &Parts, has_body: bool) -> Option<(StatusCode, &'static str)> {
    if parts.version != Version::HTTP_11 && parts.version != Version::HTTP_10 {
        return None;
    }
    host(parts)
        .or_else(|| target_form(parts))
        .or_else(|| has_body.then(|| transfer_codings(parts)).flatten())
}

/// [H1-13] RFC 9112 §3.2: an HTTP/1.1 request has exactly one `Host`, and
/// a `Host` is `uri-host [ ":" port ]` (empty when the target has no
/// authority, RFC 9110 §7.2).
fn host(parts: &Parts) -> Option<(StatusCode, &'static str)> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let Some(host) = hosts.next() else {
        return (parts.version == Version::HTTP_11)
            .then_some((StatusCode::BAD_REQUEST, "an HTTP/1.1 request without Host"));
    };
    if hosts.next().is_some() {
        return Some((StatusCode::BAD_REQUEST, "more than one Host field line"));
    }
    let value = host.as_bytes();
    if value.is_empty() || is_host_and_port(value) {
        return None;
    }
    Some((
        StatusCode::BAD_REQUEST,
        "a Host that is not uri-host[:port]",
    ))
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2), checked
/// without allocating: an IP-literal in brackets, or a reg-name (which
/// covers IPv4 addresses) of unreserved characters, percent-encodings and
/// sub-delims, then optionally a colon and digits.
fn is_host_and_port(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..end];
        let valid = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
        if !valid {
            return false;
        }
        (&value[..=end], &value[end + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        }
    };
    let port_valid = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    let reg_name = |bytes: &[u8]| !bytes.is_empty() && bytes.iter().all(|&b| REG_NAME[b as usize]);
    port_valid && (host.first() == Some(&b'[') || reg_name(host))
}

/// The bytes of a reg-name (RFC 3986 §3.2.2): unreserved, `%` (of a
/// percent-encoding) and sub-delims.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        byte += 1;
    }
    table
};

/// [H1-15, H1-16] RFC 9112 §3.2.3, §3.2.4: the asterisk-form only with
/// OPTIONS, the authority-form only with CONNECT.
fn target_form(parts: &Parts) -> Option<(StatusCode, &'static str)> {
    let uri = &parts.uri;
    if uri.scheme().is_some() {
        return None;
    }
    if uri.authority().is_none() && uri.path() == "*" && parts.method != Method::OPTIONS {
        return Some((
            StatusCode::BAD_REQUEST,
            "the asterisk-form with a method other than OPTIONS",
        ));
    }
    if uri.authority().is_some() && parts.method != Method::CONNECT {
        return Some((
            StatusCode::BAD_REQUEST,
            "the authority-form with a method other than CONNECT",
        ));
    }
    None
}

/// [H1-4, H1-5] RFC 9112 §6.1: `chunked` once and last (hyper checks the
/// last), and no other coding, since the server implements none.
fn transfer_codings(parts: &Parts) -> Option<(StatusCode, &'static str)> {
    let mut chunked = 0;
    let mut other = false;
    for value in parts.headers.get_all(header::TRANSFER_ENCODING) {
        let Ok(value) = value.to_str() else {
            return Some((
                StatusCode::BAD_REQUEST,
                "a Transfer-Encoding that is not ASCII",
            ));
        };
        for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if coding.eq_ignore_ascii_case("chunked") {
                chunked += 1;
            } else {
                other = true;
            }
        }
    }
    if chunked > 1 {
        Some((StatusCode::BAD_REQUEST, "chunked applied more than once"))
    } else if other {
        Some((
            StatusCode::NOT_IMPLEMENTED,
            "a transfer coding other than chunked",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(request: http::request::Builder) -> Parts {
        request.body(()).expect("a request").into_parts().0
    }

    fn check(
        method: &str,
        uri: &str,
        version: Version,
        headers: &[(&str, &str)],
    ) -> Option<StatusCode> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .version(version);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        reject(&parts(builder), true).map(|(status, _)| status)
    }

    #[test]
    fn host_rules() {
        let v11 = Version::HTTP_11;
        assert_eq!(check("GET", "/", v11, &[]), Some(StatusCode::BAD_REQUEST));
        assert_eq!(check("GET", "/", Version::HTTP_10, &[]), None);
        assert_eq!(
            check("GET", "/", v11, &[("host", "a"), ("host", "b")]),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check("GET", "/", v11, &[("host", "a b")]),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check("GET", "/", v11, &[("host", "user@host")]),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check("GET", "/", v11, &[("host", ":80")]),
            Some(StatusCode::BAD_REQUEST)
        );
        for bad in ["a:b", "[::1", "[zz]", "a]b", "x:80:90"] {
            assert_eq!(
                check("GET", "/", v11, &[("host", bad)]),
                Some(StatusCode::BAD_REQUEST),
                "{bad}"
            );
        }
        for good in [
            "localhost",
            "example.com:8080",
            "[::1]:80",
            "[::1]",
            "127.0.0.1",
            "",
            "a.b:",
            "xn--bcher-kva.example",
        ] {
            assert_eq!(check("GET", "/", v11, &[("host", good)]), None, "{good}");
        }
        assert_eq!(check("GET", "/", Version::HTTP_2, &[]), None);
    }

    #[test]
    fn target_forms() {
        let host = [("host", "localhost")];
        assert_eq!(check("OPTIONS", "*", Version::HTTP_11, &host), None);
        assert_eq!(
            check("GET", "*", Version::HTTP_11, &host),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check("CONNECT", "example.com:443", Version::HTTP_11, &host),
            None
        );
        assert_eq!(
            check("GET", "example.com:443", Version::HTTP_11, &host),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check("GET", "http://example.com/", Version::HTTP_11, &host),
            None
        );
    }

    #[test]
    fn codings() {
        let with = |te: &str| {
            check(
                "POST",
                "/",
                Version::HTTP_11,
                &[("host", "h"), ("transfer-encoding", te)],
            )
        };
        assert_eq!(with("chunked"), None);
        assert_eq!(with("Chunked"), None);
        assert_eq!(with("chunked, chunked"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(with("gzip, chunked"), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(with("identity, chunked"), Some(StatusCode::NOT_IMPLEMENTED));
    }
}
