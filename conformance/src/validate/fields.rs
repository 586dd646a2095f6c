//! Field syntax: tokens, field values, lists, `Content-Length`, and the
//! fields that may not be sent in trailers. Pure functions over bytes.

use albany::http::header::{GetAll, HeaderName, HeaderValue};

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Why `name` is not a field name (`token`, RFC 9110 §5.6.2), if it is not.
pub(super) fn name_error(name: &[u8]) -> Option<String> {
    if name.is_empty() {
        return Some("an empty field name".to_owned());
    }
    let (at, &byte) = name
        .iter()
        .enumerate()
        .find(|&(_, &byte)| !is_tchar(byte))?;
    Some(format!(
        "field name {:?} is not a token: byte {at} is {byte:#04x}, not a tchar",
        String::from_utf8_lossy(name)
    ))
}

/// Why `value` is not a field value (RFC 9110 §5.5), if it is not: it
/// contains a control character other than HTAB. `obs-text` is allowed.
pub(super) fn value_error(name: &str, value: &[u8]) -> Option<String> {
    let (at, &byte) = value
        .iter()
        .enumerate()
        .find(|&(_, &byte)| (byte < 0x20 && byte != b'\t') || byte == 0x7f)?;
    let what = match byte {
        b'\r' => "CR",
        b'\n' => "LF",
        0 => "NUL",
        0x7f => "DEL",
        _ => "a control character",
    };
    Some(format!(
        "the value of field {name} contains {what} ({byte:#04x}) at byte {at}"
    ))
}

/// The elements of a comma-separated list field, over all its lines, with
/// optional whitespace trimmed and empty elements skipped (RFC 9110 §5.6.1).
pub(super) fn list_items<'a>(values: GetAll<'a, HeaderValue>) -> impl Iterator<Item = &'a [u8]> {
    values
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

/// Trims optional whitespace (SP, HTAB) at both ends.
fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Parses `Content-Length` (RFC 9110 §8.6): absent, one decimal number, or
/// why it is neither. Several fields, or a list, are an error: a sender
/// generates `1*DIGIT`.
pub(super) fn content_length(values: GetAll<'_, HeaderValue>) -> Result<Option<u64>, String> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("the response has more than one Content-Length field".to_owned());
    }
    let digits = trim_ows(value.as_bytes());
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "Content-Length {value:?} is not a decimal number (1*DIGIT)"
        ));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| format!("Content-Length {value:?} does not fit in 64 bits"))
}

/// Fields a sender may not put in trailers (RFC 9110 §6.5.1): framing,
/// connection management, routing, request modifiers, authentication,
/// response control data and fields that say how to process the content.
/// `Content-Digest` and other fields defined for trailers are not here.
const NOT_IN_TRAILERS: &[&str] = &[
    // message framing
    "content-length",
    "transfer-encoding",
    "trailer",
    // connection management
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    // routing
    "host",
    // request modifiers: controls and conditionals
    "expect",
    "max-forwards",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    // authentication
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    // response control data
    "cache-control",
    "pragma",
    "age",
    "expires",
    "date",
    "location",
    "retry-after",
    "vary",
    "warning",
    // how to process the content
    "content-type",
    "content-encoding",
    "content-range",
];

/// Returns `true` when `name` may not be sent in trailers.
pub(super) fn forbidden_in_trailers(name: &HeaderName) -> bool {
    NOT_IN_TRAILERS.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use albany::http::HeaderMap;

    #[test]
    fn tokens() {
        assert_eq!(name_error(b"x-custom_1.~"), None);
        assert!(name_error(b"x\"quoted").is_some());
        assert!(name_error(b"a b").is_some());
        assert!(name_error(b"").is_some());
        assert!(name_error("é".as_bytes()).is_some());
    }

    #[test]
    fn values() {
        assert_eq!(value_error("x", b"plain\tvalue with obs-text \xe9"), None);
        assert!(value_error("x", b"a\r\nb").unwrap().contains("CR"));
        assert!(value_error("x", b"a\nb").unwrap().contains("LF"));
        assert!(value_error("x", b"a\0b").unwrap().contains("NUL"));
        assert!(value_error("x", b"a\x7fb").unwrap().contains("DEL"));
        assert!(value_error("x", b"\x1b[0m").is_some());
    }

    #[test]
    fn lists_and_lengths() {
        let mut headers = HeaderMap::new();
        headers.append("connection", HeaderValue::from_static(" close ,, Upgrade"));
        headers.append("connection", HeaderValue::from_static("keep-alive"));
        let items: Vec<_> = list_items(headers.get_all("connection")).collect();
        assert_eq!(items, [&b"close"[..], b"Upgrade", b"keep-alive"]);

        let mut headers = HeaderMap::new();
        assert_eq!(content_length(headers.get_all("content-length")), Ok(None));
        headers.insert("content-length", HeaderValue::from_static("042"));
        assert_eq!(
            content_length(headers.get_all("content-length")),
            Ok(Some(42))
        );
        for bad in ["", "+1", "1,1", "0x10", "-0", "99999999999999999999999"] {
            headers.insert("content-length", HeaderValue::from_static(bad));
            assert!(
                content_length(headers.get_all("content-length")).is_err(),
                "{bad}"
            );
        }
        headers.insert("content-length", HeaderValue::from_static("1"));
        headers.append("content-length", HeaderValue::from_static("1"));
        assert!(content_length(headers.get_all("content-length")).is_err());
    }
}
