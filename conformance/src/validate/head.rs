//! The checks made on the head of a response, once, when the application
//! returns it: VAL-1 to VAL-4, VAL-10, and the parts of VAL-5 to VAL-7 that
//! the head already decides.

use albany::http::header;
use albany::http::response::Parts;
use albany::http::{HeaderMap, Method, StatusCode, Uri, Version};
use albany::upgrade::OnUpgrade;
use albany::{Body, Request};
use http_body::SizeHint;

use super::fields;
use super::report::Reporter;
use super::Rule;

/// What the checks need to know of the request, taken before the
/// application consumes it.
pub(super) struct RequestInfo {
    pub(super) method: Method,
    pub(super) uri: Uri,
    version: Version,
    /// The request reached the validator with an `OnUpgrade` (EXT-4), over
    /// a protocol that has `101` (not HTTP/2 or HTTP/3).
    upgradable: bool,
}

impl RequestInfo {
    pub(super) fn of(request: &Request) -> Self {
        let version = request.version();
        let upgradable = version != Version::HTTP_2
            && version != Version::HTTP_3
            && request.extensions().get::<OnUpgrade>().is_some();
        RequestInfo {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version,
            upgradable,
        }
    }
}

/// What the head decides about the body, for the body checks.
pub(super) struct Expect {
    /// The response carries no content (to HEAD, 1xx, 204, 304): data is a
    /// VAL-5 violation. Names the response, for messages.
    pub(super) no_content: Option<String>,
    /// A valid `Content-Length`, on a response that carries content: the
    /// number of bytes the body must yield (VAL-6).
    pub(super) content_length: Option<u64>,
    /// The response has a `Content-Length` field, valid or not (VAL-8).
    pub(super) has_content_length: bool,
    /// The field names the `Trailer` field lists, lowercase (VAL-8).
    pub(super) trailer_names: Vec<String>,
}

/// Checks the head of `response` (its `parts` and the `body` it carries),
/// reports what is wrong, and returns what the body checks need.
pub(super) fn check(
    request: &RequestInfo,
    parts: &Parts,
    body: &Body,
    reporter: &mut Reporter,
) -> Expect {
    let status = parts.status;
    let headers = &parts.headers;
    let hint = body.size_hint();

    check_version(request, parts.version, reporter);
    check_status(request, status, reporter);
    check_fields(headers, reporter);
    check_connection_fields(status, headers, reporter);
    if headers.contains_key(header::TRANSFER_ENCODING) {
        let values: Vec<_> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
        reporter.report(
            Rule::TransferEncoding,
            format!("the application set Transfer-Encoding {values:?}; framing is the server's"),
        );
    }

    let no_content = request.method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if no_content && hint.lower() > 0 {
        reporter.report_once(Rule::NoContent, || {
            format!(
                "{} has a body of {} (its size hint); it carries no content",
                no_content_response(&request.method, status),
                describe(&hint)
            )
        });
    }

    // Content-Length is only checked where content is sent: elsewhere it
    // gives the length a GET would have (RESP-5).
    let content_length = if no_content {
        None
    } else {
        match fields::content_length(headers.get_all(header::CONTENT_LENGTH)) {
            Ok(length) => length,
            Err(why) => {
                reporter.report_once(Rule::ContentLength, || why);
                None
            }
        }
    };
    if let Some(length) = content_length {
        let fits = hint.lower() <= length && hint.upper().is_none_or(|upper| length <= upper);
        if !fits {
            reporter.report_once(Rule::ContentLength, || {
                format!(
                    "Content-Length is {length} but the body's size hint is {}",
                    describe(&hint)
                )
            });
        }
    }

    if let Some(why) = invalid_hint(&hint) {
        reporter.report_once(Rule::SizeHint, || why);
    }

    Expect {
        no_content: no_content.then(|| no_content_response(&request.method, status)),
        content_length,
        has_content_length: headers.contains_key(header::CONTENT_LENGTH),
        trailer_names: fields::list_items(headers.get_all(header::TRAILER))
            .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase())
            .collect(),
    }
}

/// Names a response that carries no content, for messages.
fn no_content_response(method: &Method, status: StatusCode) -> String {
    if method == Method::HEAD {
        format!("the {} response to HEAD", status.as_u16())
    } else {
        format!("a {} response", status.as_u16())
    }
}

/// VAL-10: the version, unless left at the default (RESP-22).
fn check_version(request: &RequestInfo, version: Version, reporter: &mut Reporter) {
    if version != request.version && version != Version::default() {
        reporter.report(
            Rule::Version,
            format!(
                "the response's version is {version:?} but the request's is {:?}; the server \
                 answers in the request's protocol",
                request.version
            ),
        );
    }
}

/// VAL-1: the status (RESP-12, EXT-4).
fn check_status(request: &RequestInfo, status: StatusCode, reporter: &mut Reporter) {
    let code = status.as_u16();
    if code > 599 {
        reporter.report(Rule::Status, format!("status {code} is outside 100..=599"));
    } else if status == StatusCode::SWITCHING_PROTOCOLS {
        if !request.upgradable {
            let why = if matches!(request.version, Version::HTTP_2 | Version::HTTP_3) {
                format!("{:?} has no 101", request.version)
            } else {
                "the request reached the validator without an OnUpgrade".to_owned()
            };
            reporter.report(
                Rule::Status,
                format!("101 to a request that cannot be upgraded: {why}"),
            );
        }
    } else if status.is_informational() {
        reporter.report(
            Rule::Status,
            format!("status {code} is interim; an application's only 1xx is 101"),
        );
    }
}

/// VAL-2: the syntax of every field of the header section.
fn check_fields(headers: &HeaderMap, reporter: &mut Reporter) {
    check_field_syntax(headers, "header", reporter);
}

/// VAL-2 over a header section or trailers.
pub(super) fn check_field_syntax(fields: &HeaderMap, section: &str, reporter: &mut Reporter) {
    for (name, value) in fields {
        if let Some(why) = fields::name_error(name.as_str().as_bytes()) {
            reporter.report(Rule::FieldSyntax, format!("{section} {why}"));
        }
        if let Some(why) = fields::value_error(name.as_str(), value.as_bytes()) {
            reporter.report(Rule::FieldSyntax, format!("{section} {why}"));
        }
    }
}

/// VAL-3: connection-specific fields (RESP-14). `Transfer-Encoding` is
/// VAL-4's.
fn check_connection_fields(status: StatusCode, headers: &HeaderMap, reporter: &mut Reporter) {
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    let has_upgrade = headers.contains_key(header::UPGRADE);
    let mut connection_upgrade = false;
    for option in fields::list_items(headers.get_all(header::CONNECTION)) {
        if option.eq_ignore_ascii_case(b"close") {
            continue;
        }
        if option.eq_ignore_ascii_case(b"upgrade") {
            connection_upgrade = true;
            if switching && has_upgrade {
                continue;
            }
        }
        reporter.report(
            Rule::ConnectionField,
            format!(
                "Connection: {} on a {status} response; only `close`, and `upgrade` with \
                 Upgrade on a 101, are allowed",
                String::from_utf8_lossy(option)
            ),
        );
    }
    for name in ["keep-alive", "proxy-connection", "te"] {
        if headers.contains_key(name) {
            reporter.report(
                Rule::ConnectionField,
                format!("{name} is a connection-specific field"),
            );
        }
    }
    if has_upgrade && !(switching && connection_upgrade) {
        let why = if switching {
            "a 101 with Upgrade but without Connection: upgrade".to_owned()
        } else {
            format!("Upgrade on a {status} response; it belongs on a 101 only")
        };
        reporter.report(Rule::ConnectionField, why);
    }
}

/// A size hint whose lower bound exceeds its upper bound, described.
/// (`http_body::SizeHint`'s setters forbid it; the check is a guard.)
pub(super) fn invalid_hint(hint: &SizeHint) -> Option<String> {
    let upper = hint.upper()?;
    (hint.lower() > upper).then(|| {
        format!(
            "the size hint's lower bound {} exceeds its upper bound {upper}",
            hint.lower()
        )
    })
}

/// A size hint in words: "exactly 5 bytes", "at least 3 bytes", "unknown"...
pub(super) fn describe(hint: &SizeHint) -> String {
    describe_bounds(hint.lower(), hint.upper())
}

/// Bounds on a length in words.
pub(super) fn describe_bounds(lower: u64, upper: Option<u64>) -> String {
    match upper {
        Some(upper) if upper == lower => format!("exactly {lower} bytes"),
        Some(upper) => format!("between {lower} and {upper} bytes"),
        None if lower == 0 => "unknown".to_owned(),
        None => format!("at least {lower} bytes"),
    }
}
