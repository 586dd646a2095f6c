//! The differential corpus: raw HTTP/1.1 requests, valid, edge and
//! malformed, the request-smuggling set included.

/// One corpus entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A short unique name, such as `smuggling/cl-te-lowercase`.
    pub name: String,
    /// The bytes sent, as they are.
    pub bytes: Vec<u8>,
    /// How many responses a conforming server may send at most (more than
    /// one for pipelined entries).
    pub requests: usize,
}

fn entry(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Entry {
    Entry {
        name: name.into(),
        bytes: bytes.into(),
        requests: 1,
    }
}

const BASE: &str = "GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-Field: value\r\n\r\n";

/// Every entry, in a fixed order: at least 200.
pub fn corpus() -> Vec<Entry> {
    let mut entries = Vec::new();
    valid_methods_and_targets(&mut entries);
    bodies(&mut entries);
    fields(&mut entries);
    versions_and_connections(&mut entries);
    smuggling(&mut entries);
    malformed(&mut entries);
    byte_mutations(&mut entries);
    pipelined(&mut entries);
    entries
}

fn valid_methods_and_targets(entries: &mut Vec<Entry>) {
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE",
    ];
    let targets = [
        "/inspect",
        "/inspect?a=1&b=%20",
        "/inspect/./x/../y%2F",
        "/hello",
        "/nowhere",
    ];
    for method in methods {
        for target in targets {
            entries.push(entry(
                format!("valid/{method} {target}"),
                format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            ));
        }
    }
    for (name, bytes) in [
        (
            "absolute-form",
            "GET http://example.com/inspect HTTP/1.1\r\nHost: other\r\n\r\n",
        ),
        (
            "absolute-form-https",
            "GET https://example.com:8443/inspect?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
        ),
        (
            "asterisk-options",
            "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "connect",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        ),
        (
            "host-with-port",
            "GET /inspect HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        ),
        (
            "host-ipv6",
            "GET /inspect HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        ),
        (
            "host-ipv4",
            "GET /inspect HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        ),
        (
            "empty-query",
            "GET /inspect? HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "percent-encoded",
            "GET /inspect/%E2%82%AC?x=%FF HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "long-target",
            &format!(
                "GET /inspect/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                "a".repeat(8000)
            ),
        ),
    ] {
        entries.push(entry(format!("target/{name}"), bytes));
    }
}

fn bodies(entries: &mut Vec<Entry>) {
    for length in [0usize, 1, 5, 100, 16 * 1024, 65_536] {
        let body = "b".repeat(length);
        entries.push(entry(
            format!("body/content-length-{length}"),
            format!("POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n\r\n{body}"),
        ));
    }
    for (name, body) in [
        ("one-chunk", "5\r\nhello\r\n0\r\n\r\n"),
        ("many-chunks", "1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n"),
        ("empty", "0\r\n\r\n"),
        ("uppercase-hex", "A\r\n0123456789\r\n0\r\n\r\n"),
        ("leading-zeros", "0005\r\nhello\r\n0\r\n\r\n"),
        ("extension", "5;name=value\r\nhello\r\n0\r\n\r\n"),
        ("quoted-extension", "5;name=\"a b\"\r\nhello\r\n0\r\n\r\n"),
        ("trailers", "5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n"),
        (
            "two-trailers",
            "5\r\nhello\r\n0\r\nx-a: 1\r\nx-b: 2\r\n\r\n",
        ),
        ("last-chunk-extension", "5\r\nhello\r\n0;end\r\n\r\n"),
    ] {
        entries.push(entry(
            format!("body/chunked-{name}"),
            format!("POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}"),
        ));
    }
    entries.push(entry(
        "body/expect-continue-sent-anyway",
        "POST /inspect HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
    ));
    entries.push(entry(
        "body/unread-by-hello",
        "POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    ));
    entries.push(entry(
        "body/get-with-body",
        "GET /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
    ));
    entries.push(entry(
        "body/echo",
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello there",
    ));
    entries.push(entry(
        "body/count-chunked",
        "POST /count HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ));
}

fn fields(entries: &mut Vec<Entry>) {
    let many: String = (0..50).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    for (name, fields) in [
        ("duplicates", "X-Dup: 1\r\nX-Dup: 2\r\n".to_owned()),
        ("duplicates-interleaved", "X-Dup: 1\r\nX-Other: o\r\nX-Dup: 2\r\n".to_owned()),
        ("mixed-case", "x-MiXeD: Value\r\n".to_owned()),
        ("empty-value", "X-Empty:\r\n".to_owned()),
        ("whitespace-value", "X-Space:    padded   \r\n".to_owned()),
        ("tab-in-value", "X-Tab: a\tb\r\n".to_owned()),
        ("obs-text", "X-Latin: caf\u{e9}\r\n".to_owned()),
        ("long-value", format!("X-Long: {}\r\n", "v".repeat(16 * 1024))),
        ("many-fields", many),
        ("comma-list", "Accept: text/html, application/json;q=0.9\r\n".to_owned()),
        ("cookie-pair", "Cookie: a=1\r\nCookie: b=2\r\n".to_owned()),
        ("te-trailers", "TE: trailers\r\n".to_owned()),
        ("content-length-zero-get", "Content-Length: 0\r\n".to_owned()),
        ("upgrade-unaccepted", "Connection: upgrade\r\nUpgrade: websocket\r\n".to_owned()),
        ("h2c-upgrade", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n".to_owned()),
        ("x-forwarded", "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nForwarded: for=10.0.0.1\r\n".to_owned()),
        ("token-chars", "X-!#$%&'*+-.^_`|~: token\r\n".to_owned()),
    ] {
        entries.push(entry(
            format!("fields/{name}"),
            format!("GET /inspect HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n").into_bytes(),
        ));
    }
    entries.push(entry(
        "fields/obs-text-raw",
        b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-Raw: \xff\xfe\r\n\r\n".to_vec(),
    ));
}

fn versions_and_connections(entries: &mut Vec<Entry>) {
    for (name, bytes) in [
        ("http10", "GET /inspect HTTP/1.0\r\n\r\n"),
        (
            "http10-host",
            "GET /inspect HTTP/1.0\r\nHost: localhost\r\n\r\n",
        ),
        (
            "http10-keep-alive",
            "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ),
        ("http10-stream", "GET /download?size=1000 HTTP/1.0\r\n\r\n"),
        (
            "http10-post",
            "POST /inspect HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
        ),
        ("http10-head", "HEAD /hello HTTP/1.0\r\n\r\n"),
        (
            "http11-close",
            "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ),
        (
            "http11-keep-alive",
            "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
        ),
        (
            "http11-close-mixed-case",
            "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: CLOSE\r\n\r\n",
        ),
        (
            "stream",
            "GET /download?size=100000 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "head-stream",
            "HEAD /download?size=100000 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "no-content",
            "GET /no-content HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "not-modified",
            "GET /not-modified HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "wrong-length",
            "GET /wrong-length HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "transfer-encoding",
            "GET /transfer-encoding HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "trailers",
            "GET /trailers HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\n\r\n",
        ),
        (
            "trailers-no-te",
            "GET /trailers HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        ("panic", "GET /panic HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        (
            "early-hints",
            "GET /early-hints HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "http09-version",
            "GET /http09 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "close-route",
            "GET /close HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "short-length",
            "GET /short-length HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "long-length",
            "GET /long-length HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
    ] {
        entries.push(entry(format!("connection/{name}"), bytes));
    }
}

fn smuggling(entries: &mut Vec<Entry>) {
    let tail = "0\r\n\r\nGET /say/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for (name, framing) in [
        (
            "cl-te",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n".to_owned(),
        ),
        (
            "te-cl",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n".to_owned(),
        ),
        (
            "cl-te-uppercase",
            "Content-Length: 5\r\nTransfer-Encoding: CHUNKED\r\n".to_owned(),
        ),
        (
            "te-space-value",
            "Transfer-Encoding:  chunked \r\nContent-Length: 5\r\n".to_owned(),
        ),
        (
            "te-tab-value",
            "Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n".to_owned(),
        ),
        (
            "te-twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n".to_owned(),
        ),
        (
            "te-list-identity",
            "Transfer-Encoding: identity, chunked\r\n".to_owned(),
        ),
        ("te-xchunked", "Transfer-Encoding: xchunked\r\n".to_owned()),
        (
            "te-chunked-semicolon",
            "Transfer-Encoding: chunked;\r\n".to_owned(),
        ),
        (
            "te-space-before-colon",
            "Transfer-Encoding : chunked\r\n".to_owned(),
        ),
        ("te-folded", "Transfer-Encoding:\r\n chunked\r\n".to_owned()),
        (
            "te-vertical-tab",
            "Transfer-Encoding:\x0bchunked\r\n".to_owned(),
        ),
        ("te-nul", "Transfer-Encoding: chunked\0\r\n".to_owned()),
        ("te-http10", "Transfer-Encoding: chunked\r\n".to_owned()),
        ("cl-leading-zeros", "Content-Length: 0005\r\n".to_owned()),
        (
            "cl-duplicate-same",
            "Content-Length: 5\r\nContent-Length: 5\r\n".to_owned(),
        ),
        ("cl-list-same", "Content-Length: 5, 5\r\n".to_owned()),
        ("cl-list-differ", "Content-Length: 5, 50\r\n".to_owned()),
        (
            "cl-lines-differ",
            "Content-Length: 5\r\nContent-Length: 50\r\n".to_owned(),
        ),
        ("cl-space-before-colon", "Content-Length : 5\r\n".to_owned()),
        ("cl-negative", "Content-Length: -5\r\n".to_owned()),
        ("cl-plus", "Content-Length: +5\r\n".to_owned()),
        ("cl-empty", "Content-Length: \r\n".to_owned()),
        ("cl-underscore-name", "Content_Length: 5\r\n".to_owned()),
    ] {
        let version = if name == "te-http10" {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        entries.push(entry(
            format!("smuggling/{name}"),
            format!("POST /inspect {version}\r\nHost: localhost\r\n{framing}\r\n{tail}"),
        ));
    }
    for (name, body) in [
        ("chunk-size-too-small", "2\r\nhello\r\n0\r\n\r\n"),
        ("chunk-size-hex-prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
        ("chunk-size-space", "5 \r\nhello\r\n0\r\n\r\n"),
        ("chunk-size-leading-space", " 5\r\nhello\r\n0\r\n\r\n"),
        (
            "chunk-size-overflow",
            "10000000000000000\r\nhello\r\n0\r\n\r\n",
        ),
        ("chunk-bare-lf", "5\nhello\n0\n\n"),
        ("chunk-ext-bare-cr", "5;a\rb\r\nhello\r\n0\r\n\r\n"),
        ("chunk-missing-crlf", "5\r\nhello0\r\n\r\n"),
        ("last-chunk-missing", "5\r\nhello\r\n"),
        ("trailer-smuggles", "0\r\nContent-Length: 50\r\n\r\n"),
    ] {
        entries.push(entry(
            format!("smuggling/{name}"),
            format!(
                "POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}GET /say/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
            ),
        ));
    }
}

fn malformed(entries: &mut Vec<Entry>) {
    for (name, bytes) in [
        ("garbage", &b"GARBAGE\r\n\r\n"[..]),
        ("empty-line-only", b"\r\n\r\n"),
        ("no-version", b"GET /inspect\r\nHost: localhost\r\n\r\n"),
        (
            "version-9",
            b"GET /inspect HTTP/9.9\r\nHost: localhost\r\n\r\n",
        ),
        (
            "version-2",
            b"GET /inspect HTTP/2.0\r\nHost: localhost\r\n\r\n",
        ),
        (
            "version-lowercase",
            b"GET /inspect http/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "version-junk",
            b"GET /inspect HTTP/1.1x\r\nHost: localhost\r\n\r\n",
        ),
        (
            "double-space",
            b"GET  /inspect HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "trailing-space",
            b"GET /inspect HTTP/1.1 \r\nHost: localhost\r\n\r\n",
        ),
        (
            "tab-separator",
            b"GET\t/inspect HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "method-paren",
            b"GE(T /inspect HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "target-space",
            b"GET /in spect HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        ("target-empty", b"GET  HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ("host-missing", b"GET /inspect HTTP/1.1\r\n\r\n"),
        (
            "host-twice",
            b"GET /inspect HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ),
        ("host-space", b"GET /inspect HTTP/1.1\r\nHost: a b\r\n\r\n"),
        ("host-slash", b"GET /inspect HTTP/1.1\r\nHost: a/b\r\n\r\n"),
        (
            "host-at",
            b"GET /inspect HTTP/1.1\r\nHost: user@host\r\n\r\n",
        ),
        ("host-empty", b"GET /inspect HTTP/1.1\r\nHost:\r\n\r\n"),
        ("asterisk-get", b"GET * HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        (
            "authority-get",
            b"GET localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        (
            "no-colon",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n",
        ),
        (
            "empty-name",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\n: v\r\n\r\n",
        ),
        (
            "name-space",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nBad Name: v\r\n\r\n",
        ),
        (
            "name-paren",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nBad(Name): v\r\n\r\n",
        ),
        (
            "name-utf8",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nN\xc3\xa4me: v\r\n\r\n",
        ),
        (
            "space-before-colon",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A : v\r\n\r\n",
        ),
        (
            "obs-fold",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A: v\r\n  w\r\n\r\n",
        ),
        (
            "leading-whitespace-line",
            b"GET /inspect HTTP/1.1\r\n Host: localhost\r\n\r\n",
        ),
        (
            "bare-lf-head",
            b"GET /inspect HTTP/1.1\nHost: localhost\n\n",
        ),
        (
            "bare-cr-value",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n",
        ),
        (
            "nul-value",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n",
        ),
        (
            "del-value",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A: a\x7fb\r\n\r\n",
        ),
        (
            "esc-value",
            b"GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-A: a\x1bb\r\n\r\n",
        ),
        ("too-many-fields", &[]),
        ("head-too-large", &[]),
    ] {
        let bytes = match name {
            "too-many-fields" => {
                let fields: String = (0..101).map(|i| format!("X-{i}: {i}\r\n")).collect();
                format!("GET /inspect HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n").into_bytes()
            }
            "head-too-large" => format!(
                "GET /inspect HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
                "a".repeat(70 * 1024)
            )
            .into_bytes(),
            _ => bytes.to_vec(),
        };
        entries.push(entry(format!("malformed/{name}"), bytes));
    }
}

/// The base request with one byte inserted at each interesting position.
fn byte_mutations(entries: &mut Vec<Entry>) {
    let positions = [
        ("method", 1),
        ("after-method", 3),
        ("target", 6),
        ("version", 20),
        ("field-name", 45),
        ("field-value", 53),
    ];
    for (place, at) in positions {
        for (what, byte) in [
            ("nul", 0u8),
            ("cr", b'\r'),
            ("lf", b'\n'),
            ("tab", b'\t'),
            ("del", 0x7f),
            ("xff", 0xff),
        ] {
            let mut bytes = BASE.as_bytes().to_vec();
            bytes.insert(at, byte);
            entries.push(entry(format!("mutation/{what}-in-{place}"), bytes));
        }
    }
}

fn pipelined(entries: &mut Vec<Entry>) {
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    for (name, bytes, requests) in [
        ("two-gets", format!("{}{}", get("/say/one"), get("/say/two")), 2),
        ("three-gets", format!("{}{}{}", get("/say/one"), get("/inspect"), get("/say/three")), 3),
        ("post-then-get", format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc{}", get("/say/two")), 2),
        ("chunked-then-get", format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n{}", get("/say/two")), 2),
        ("close-then-get", format!("GET /say/one HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n{}", get("/say/two")), 2),
        ("http10-then-get", format!("GET /say/one HTTP/1.0\r\n\r\n{}", get("/say/two")), 2),
        ("head-then-get", format!("HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n{}", get("/say/two")), 2),
        ("bad-then-get", format!("GET /x HTTP/1.1\r\nHost: localhost\r\nBad Name: v\r\n\r\n{}", get("/say/two")), 2),
    ] {
        entries.push(Entry {
            name: format!("pipelined/{name}"),
            bytes: bytes.into_bytes(),
            requests,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_200_unique_entries() {
        let entries = corpus();
        assert!(entries.len() >= 200, "{} entries", entries.len());
        let mut names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), entries.len(), "duplicate entry names");
    }
}
