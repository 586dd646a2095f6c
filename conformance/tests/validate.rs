//! The application validator, driven in process: for every rule, bad
//! applications make it fire (recorded and logged, or a panic), and good
//! applications report nothing.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use albany::body::{CollectError, Collected};
use albany::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use albany::upgrade::{OnUpgrade, UpgradeError};
use albany::{from_fn, Application, Body, BoxApplication, Request, Response};
use albany_conformance::validate::{Action, Rule, Validate, Violation, Violations};
use bytes::Bytes;
use futures_lite::future::block_on;
use http_body::{Frame, SizeHint};

// ---------------------------------------------------------------------------
// Helpers

/// An application that answers every request with what `make` builds.
fn respond(make: impl Fn() -> Response + Send + Sync + 'static) -> impl Application {
    from_fn(move |_request: Request| std::future::ready(make()))
}

/// A response with `status`, `headers` and `body`.
fn response(status: u16, headers: &[(&'static str, &'static str)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status code");
    for &(name, value) in headers {
        response
            .headers_mut()
            .append(name, HeaderValue::from_static(value));
    }
    response
}

fn request(method: Method, path: &str) -> Request {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("a valid request")
}

fn get(path: &str) -> Request {
    request(Method::GET, path)
}

/// A validator that records and logs (never panics).
fn logging<A: Application>(app: A) -> Validate<A> {
    Validate::new(app).with_action(Action::Log)
}

/// A validator that panics on the first violation.
fn panicking<A: Application>(app: A) -> Validate<A> {
    Validate::new(app).with_action(Action::Panic)
}

/// What a client would see: the head, and the body read to its end.
struct Exchanged {
    response: Response<()>,
    body: Result<Collected, CollectError>,
}

impl Exchanged {
    fn data(&self) -> &Bytes {
        self.body.as_ref().expect("the body ends normally").data()
    }
}

/// Calls the validator and reads the whole body.
fn exchange<A: Application>(validate: &Validate<A>, request: Request) -> Exchanged {
    let response = block_on(validate.call(request));
    let (parts, body) = response.into_parts();
    let body = block_on(body.collect(1 << 20));
    Exchanged {
        response: Response::from_parts(parts, ()),
        body,
    }
}

fn ids(violations: &[Violation]) -> Vec<&'static str> {
    violations
        .iter()
        .map(|violation| violation.rule.id())
        .collect()
}

/// Runs `request` through `app` in log mode and returns the violations.
fn violations_of<A: Application>(app: A, request: Request) -> Vec<Violation> {
    let validate = logging(app);
    exchange(&validate, request);
    validate.violations().take()
}

/// Asserts that `app` reports `rule`, and nothing else, for `request`.
#[track_caller]
fn assert_reports<A: Application>(app: A, request: Request, rule: Rule) -> Vec<Violation> {
    let found = violations_of(app, request);
    assert!(!found.is_empty(), "{} was not reported", rule.id());
    assert!(
        found.iter().all(|violation| violation.rule == rule),
        "expected only {}, got {:?}",
        rule.id(),
        found.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    found
}

/// Asserts that `app` reports nothing for `request`, and returns what a
/// client would see.
#[track_caller]
fn assert_clean<A: Application>(app: A, request: Request) -> Exchanged {
    let validate = logging(app);
    let exchanged = exchange(&validate, request);
    let found = validate.violations().take();
    assert!(
        found.is_empty(),
        "expected no violation, got {:?}",
        found.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    exchanged
}

/// Runs `request` through `app` in panic mode (the test expects a panic).
fn run_panicking<A: Application>(app: A, request: Request) {
    exchange(&panicking(app), request);
}

fn trailers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for &(name, value) in fields {
        map.append(name, HeaderValue::from_static(value));
    }
    map
}

fn exact(n: u64) -> SizeHint {
    SizeHint::with_exact(n)
}

fn at_least(n: u64) -> SizeHint {
    let mut hint = SizeHint::new();
    hint.set_lower(n);
    hint
}

/// One step of a [`Script`] body.
enum Step {
    Data(&'static str),
    Trailers(HeaderMap),
    /// `Ready(None)`; the script goes on if polled again.
    End,
    /// `Ready(Some(Err(_)))`.
    Fail,
}

/// A body that does what it is told, lies included.
///
/// Each poll takes the next step (`None` once the steps run out). Its size
/// hint after `n` polls is `hints[n]` (the last one past the end, unknown
/// if none); `is_end_stream` turns `true` after `ends_after` polls, if set.
struct Script {
    steps: VecDeque<Step>,
    hints: Vec<SizeHint>,
    polls: usize,
    ends_after: Option<usize>,
}

impl Script {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Script {
            steps: steps.into_iter().collect(),
            hints: Vec::new(),
            polls: 0,
            ends_after: None,
        }
    }

    fn hints(mut self, hints: impl IntoIterator<Item = SizeHint>) -> Self {
        self.hints = hints.into_iter().collect();
        self
    }

    fn ends_after(mut self, polls: usize) -> Self {
        self.ends_after = Some(polls);
        self
    }

    fn body(self) -> Body {
        Body::new(self)
    }
}

impl http_body::Body for Script {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.polls += 1;
        Poll::Ready(match self.steps.pop_front() {
            None | Some(Step::End) => None,
            Some(Step::Fail) => Some(Err(std::io::Error::other("the script fails"))),
            Some(Step::Data(text)) => Some(Ok(Frame::data(Bytes::from_static(text.as_bytes())))),
            Some(Step::Trailers(map)) => Some(Ok(Frame::trailers(map))),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.ends_after.is_some_and(|polls| self.polls >= polls)
    }

    fn size_hint(&self) -> SizeHint {
        self.hints
            .get(self.polls)
            .or(self.hints.last())
            .cloned()
            .unwrap_or_default()
    }
}

/// A streamed body of `chunks`, of unknown length.
fn stream(chunks: &[&'static str]) -> Body {
    let chunks: Vec<Result<&'static str, std::io::Error>> =
        chunks.iter().copied().map(Ok).collect();
    Body::from_stream(futures_lite::stream::iter(chunks))
}

/// A streamed body of `chunks` and then `trailers`, of unknown length.
fn stream_with_trailers(chunks: &[&'static str], trailers: HeaderMap) -> Body {
    let mut frames: Vec<Result<Frame<Bytes>, std::io::Error>> = chunks
        .iter()
        .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk.as_bytes()))))
        .collect();
    frames.push(Ok(Frame::trailers(trailers)));
    Body::from_frame_stream(futures_lite::stream::iter(frames))
}

/// What a server inserts in a request that can be upgraded (EXT-4).
fn on_upgrade() -> OnUpgrade {
    OnUpgrade::new(async { Err(UpgradeError::new("no connection in these tests")) })
}

/// An HTTP/1.1 WebSocket upgrade request, with its `OnUpgrade`.
fn upgrade_request() -> Request {
    Request::builder()
        .uri("/chat")
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .extension(on_upgrade())
        .body(Body::empty())
        .expect("a valid request")
}

// ---------------------------------------------------------------------------
// Good applications report nothing

#[test]
fn good_plain_200_with_exact_body() {
    let exchanged = assert_clean(
        respond(|| Response::new(Body::from("hello"))),
        get("/hello"),
    );
    assert_eq!(exchanged.response.status(), StatusCode::OK);
    assert_eq!(exchanged.data(), "hello");
}

#[test]
fn good_exact_body_with_matching_content_length() {
    let exchanged = assert_clean(
        respond(|| response(200, &[("content-length", "5")], Body::from("hello"))),
        get("/"),
    );
    assert_eq!(exchanged.data(), "hello");
}

#[test]
fn good_streaming_body_of_unknown_length() {
    let exchanged = assert_clean(
        respond(|| Response::new(stream(&["a", "bc", "", "def"]))),
        get("/"),
    );
    assert_eq!(exchanged.data(), "abcdef");
}

#[test]
fn good_streaming_body_with_matching_content_length() {
    let exchanged = assert_clean(
        respond(|| response(200, &[("content-length", "6")], stream(&["abc", "def"]))),
        get("/"),
    );
    assert_eq!(exchanged.data(), "abcdef");
}

#[test]
fn good_channel_body() {
    let app = respond(|| {
        let (mut sender, body) = Body::channel(1024);
        sender.try_send("pushed").expect("the body is alive");
        sender.finish();
        Response::new(body)
    });
    assert_eq!(assert_clean(app, get("/")).data(), "pushed");
}

#[test]
fn good_trailers_declared_on_a_chunked_body() {
    let app = respond(|| {
        let body = stream_with_trailers(
            &["hello"],
            trailers(&[
                ("x-checksum", "5d41402a"),
                ("content-digest", "sha-256=:x:"),
            ]),
        );
        response(200, &[("trailer", "X-Checksum, Content-Digest")], body)
    });
    let exchanged = assert_clean(app, get("/trailers"));
    let collected = exchanged.body.expect("the body ends normally");
    assert_eq!(collected.data(), "hello");
    assert_eq!(
        collected.trailers().expect("trailers")["x-checksum"],
        "5d41402a"
    );
}

#[test]
fn good_101_to_an_upgrade_request() {
    let app = respond(|| {
        response(
            101,
            &[("connection", "upgrade"), ("upgrade", "websocket")],
            Body::empty(),
        )
    });
    let exchanged = assert_clean(app, upgrade_request());
    assert_eq!(exchanged.response.status(), StatusCode::SWITCHING_PROTOCOLS);
}

#[test]
fn good_head_with_empty_body_and_content_length() {
    let app = respond(|| response(200, &[("content-length", "5")], Body::empty()));
    assert_clean(app, request(Method::HEAD, "/hello"));
    // A body of unknown length that yields nothing is no content either.
    let app = respond(|| response(200, &[("content-length", "5")], stream(&[])));
    assert_clean(app, request(Method::HEAD, "/hello"));
}

#[test]
fn good_204_and_304_without_content() {
    assert_clean(respond(|| response(204, &[], Body::empty())), get("/"));
    assert_clean(
        respond(|| response(304, &[("etag", "\"v1\"")], Body::empty())),
        get("/"),
    );
}

#[test]
fn good_connection_close() {
    let app = respond(|| response(200, &[("connection", "close")], Body::from("bye")));
    assert_clean(app, get("/"));
}

#[test]
fn good_default_version_whatever_the_request_version() {
    let app = respond(|| Response::new(Body::from("hi")));
    let mut http2 = get("/");
    *http2.version_mut() = Version::HTTP_2;
    assert_clean(app, http2);

    // Copying the request's version is fine too.
    let app = from_fn(|request: Request| async move {
        let mut response = Response::new(Body::from("hi"));
        *response.version_mut() = request.version();
        response
    });
    let mut http10 = get("/");
    *http10.version_mut() = Version::HTTP_10;
    assert_clean(app, http10);
}

#[test]
fn good_body_error_is_not_a_length_or_hint_violation() {
    // An error means the body is incomplete (BODY-2): an aborted response,
    // not a wrong Content-Length or size hint.
    let app = respond(|| {
        let body = Script::new([Step::Data("abc"), Step::Fail])
            .hints([exact(10), exact(7)])
            .body();
        response(200, &[("content-length", "10")], body)
    });
    let validate = logging(app);
    let exchanged = exchange(&validate, get("/"));
    assert!(matches!(exchanged.body, Err(CollectError::Body(_))));
    assert!(
        validate.violations().is_empty(),
        "{:?}",
        validate.violations()
    );
}

#[test]
fn good_size_hints_that_narrow_consistently() {
    // At least 3, then exactly 2 more after 3 bytes, then nothing.
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("abc"), Step::Data("de")])
                .hints([at_least(3), exact(2), exact(0)])
                .body(),
        )
    });
    assert_eq!(assert_clean(app, get("/")).data(), "abcde");
}

#[test]
fn good_connect_may_get_101_over_http_1_1() {
    let app = respond(|| {
        response(
            101,
            &[("connection", "upgrade"), ("upgrade", "tunnel")],
            Body::empty(),
        )
    });
    let mut connect = request(Method::CONNECT, "example.com:443");
    connect.extensions_mut().insert(on_upgrade());
    assert_clean(app, connect);
}

// ---------------------------------------------------------------------------
// VAL-1: status

#[test]
fn val1_interim_status_other_than_101() {
    assert_reports(
        respond(|| response(103, &[("link", "</a.css>")], Body::empty())),
        get("/"),
        Rule::Status,
    );
}

#[test]
fn val1_status_above_599() {
    assert_reports(
        respond(|| response(600, &[], Body::empty())),
        get("/"),
        Rule::Status,
    );
}

#[test]
fn val1_101_to_a_request_without_on_upgrade() {
    let app = || {
        respond(|| {
            response(
                101,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
                Body::empty(),
            )
        })
    };
    // A plain GET.
    let found = assert_reports(app(), get("/"), Rule::Status);
    assert!(found[0].detail.contains("OnUpgrade"), "{}", found[0]);
    // Upgrade fields, but the OnUpgrade was taken before (by middleware).
    let mut taken = upgrade_request();
    taken.extensions_mut().remove::<OnUpgrade>();
    assert_reports(app(), taken, Rule::Status);
}

#[test]
fn val1_101_over_http2() {
    let app = respond(|| {
        response(
            101,
            &[("connection", "upgrade"), ("upgrade", "websocket")],
            Body::empty(),
        )
    });
    let mut request = upgrade_request();
    *request.version_mut() = Version::HTTP_2;
    let found = assert_reports(app, request, Rule::Status);
    assert!(found[0].detail.contains("HTTP/2"), "{}", found[0]);
}

#[test]
#[should_panic(expected = "VAL-1")]
fn val1_panics() {
    run_panicking(respond(|| response(103, &[], Body::empty())), get("/"));
}

// ---------------------------------------------------------------------------
// VAL-2: field syntax

/// `http` accepts a DQUOTE in names made by `from_static` and
/// `from_lowercase` (its HTTP/2 table), though it is not a `tchar`.
fn quoted_name() -> HeaderName {
    HeaderName::from_static("x-\"quoted\"")
}

#[test]
fn val2_header_name_that_is_not_a_token() {
    let app = respond(|| {
        let mut response = Response::new(Body::from("x"));
        response
            .headers_mut()
            .insert(quoted_name(), HeaderValue::from_static("1"));
        response
    });
    let found = assert_reports(app, get("/"), Rule::FieldSyntax);
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.contains("not a token"), "{}", found[0]);
}

#[test]
fn val2_trailer_name_that_is_not_a_token() {
    let app = respond(|| {
        let mut map = HeaderMap::new();
        map.insert(quoted_name(), HeaderValue::from_static("1"));
        response(
            200,
            &[("trailer", "x-\"quoted\"")],
            stream_with_trailers(&["x"], map),
        )
    });
    let found = assert_reports(app, get("/"), Rule::FieldSyntax);
    assert!(found[0].detail.starts_with("trailer"), "{}", found[0]);
}

// Field values with control characters cannot be built in safe code with
// debug assertions (`http` checks them even in its `_unchecked`
// constructor then); `fields::value_error` has unit tests in the library.

#[test]
#[should_panic(expected = "VAL-2")]
fn val2_panics() {
    let app = respond(|| {
        let mut response = Response::new(Body::empty());
        response
            .headers_mut()
            .insert(quoted_name(), HeaderValue::from_static("1"));
        response
    });
    run_panicking(app, get("/"));
}

// ---------------------------------------------------------------------------
// VAL-3: connection-specific fields

#[test]
fn val3_connection_specific_fields() {
    let cases: [(u16, &[(&str, &str)]); 9] = [
        (200, &[("keep-alive", "timeout=5")]),
        (200, &[("connection", "keep-alive")]),
        (200, &[("connection", "close, x-secret")]),
        (200, &[("proxy-connection", "keep-alive")]),
        (200, &[("te", "trailers")]),
        (200, &[("upgrade", "h2c")]),
        (200, &[("connection", "upgrade")]),
        (101, &[("upgrade", "websocket")]),
        (101, &[("connection", "upgrade")]),
    ];
    for (status, headers) in cases {
        let app = respond(move || response(status, headers, Body::empty()));
        let found = violations_of(app, upgrade_request());
        assert_eq!(ids(&found), ["VAL-3"], "{status} {headers:?}: {found:?}");
    }
}

#[test]
#[should_panic(expected = "VAL-3")]
fn val3_panics() {
    run_panicking(
        respond(|| response(200, &[("keep-alive", "timeout=5")], Body::empty())),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-4: Transfer-Encoding

#[test]
fn val4_transfer_encoding() {
    let app = respond(|| response(200, &[("transfer-encoding", "chunked")], stream(&["x"])));
    assert_reports(app, get("/"), Rule::TransferEncoding);
}

#[test]
#[should_panic(expected = "VAL-4")]
fn val4_panics() {
    run_panicking(
        respond(|| response(200, &[("transfer-encoding", "gzip")], Body::from("x"))),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-5: content on responses that carry none

#[test]
fn val5_head_with_a_body() {
    // Reported once on the head, though the body then yields its data.
    let found = assert_reports(
        respond(|| Response::new(Body::from("hello"))),
        request(Method::HEAD, "/"),
        Rule::NoContent,
    );
    assert_eq!(found.len(), 1);
    // A stream of unknown length: only its data gives it away.
    assert_reports(
        respond(|| Response::new(stream(&["hello"]))),
        request(Method::HEAD, "/"),
        Rule::NoContent,
    );
}

#[test]
fn val5_204_with_a_size_hint() {
    let found = assert_reports(
        respond(|| response(204, &[], Body::from("oops"))),
        get("/"),
        Rule::NoContent,
    );
    assert_eq!(found.len(), 1);
}

#[test]
fn val5_304_and_101_with_data_when_polled() {
    // Unknown size hints: only the data gives it away.
    let app = respond(|| response(304, &[], stream(&["oops"])));
    assert_reports(app, get("/"), Rule::NoContent);
    let app = respond(|| {
        response(
            101,
            &[("connection", "upgrade"), ("upgrade", "websocket")],
            stream(&["oops"]),
        )
    });
    assert_reports(app, upgrade_request(), Rule::NoContent);
}

#[test]
#[should_panic(expected = "VAL-5")]
fn val5_panics() {
    run_panicking(
        respond(|| Response::new(Body::from("hello"))),
        request(Method::HEAD, "/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-6: Content-Length

#[test]
fn val6_content_length_that_is_not_a_number() {
    for value in ["12a", "-1", "1, 1", ""] {
        let app = respond(move || response(200, &[("content-length", value)], Body::empty()));
        let found = violations_of(app, get("/"));
        assert_eq!(ids(&found), ["VAL-6"], "{value:?}: {found:?}");
    }
    // Two fields.
    let app = respond(|| {
        response(
            200,
            &[("content-length", "1"), ("content-length", "1")],
            Body::from("x"),
        )
    });
    assert_reports(app, get("/"), Rule::ContentLength);
}

#[test]
fn val6_content_length_that_contradicts_an_exact_body() {
    // Reported on the head, once (the body then ends after 5 bytes).
    let app = respond(|| response(200, &[("content-length", "100")], Body::from("short")));
    let found = assert_reports(app, get("/wrong-length"), Rule::ContentLength);
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.contains("size hint"), "{}", found[0]);
}

#[test]
fn val6_streamed_body_shorter_than_content_length() {
    let app = respond(|| response(200, &[("content-length", "10")], stream(&["abc", "de"])));
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    block_on(body.frame()).expect("a frame").expect("data");
    assert!(validate.violations().is_empty(), "not before the end");
    assert!(block_on(body.frame()).is_none());
    assert_eq!(validate.violations().rules(), [Rule::ContentLength]);
}

#[test]
fn val6_streamed_body_longer_than_content_length() {
    let app = respond(|| response(200, &[("content-length", "2")], stream(&["abc", "def"])));
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    // As soon as the data passes the length, before the end.
    assert_eq!(validate.violations().rules(), [Rule::ContentLength]);
    block_on(body.collect(1024)).expect("the rest");
    assert_eq!(validate.violations().len(), 1);
}

#[test]
fn val6_not_compared_on_no_content_responses() {
    let app = respond(|| response(304, &[("content-length", "100")], Body::empty()));
    assert_clean(app, get("/"));
}

#[test]
#[should_panic(expected = "VAL-6")]
fn val6_panics_on_the_head() {
    run_panicking(
        respond(|| response(200, &[("content-length", "100")], Body::from("short"))),
        get("/"),
    );
}

#[test]
#[should_panic(expected = "VAL-6")]
fn val6_panics_in_the_body() {
    run_panicking(
        respond(|| response(200, &[("content-length", "10")], stream(&["abc"]))),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-7: size hints

#[test]
fn val7_exact_hint_of_10_but_5_bytes() {
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("hello")])
                .hints([exact(10), exact(5)])
                .body(),
        )
    });
    let found = assert_reports(app, get("/"), Rule::SizeHint);
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.contains("exactly 10"), "{}", found[0]);
}

#[test]
fn val7_exact_hint_of_5_but_10_bytes() {
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("hello"), Step::Data("world")])
                .hints([exact(5), exact(0)])
                .body(),
        )
    });
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    assert!(validate.violations().is_empty());
    block_on(body.frame()).expect("a frame").expect("data");
    // At the frame that passes the bound, before the end.
    assert_eq!(validate.violations().rules(), [Rule::SizeHint]);
}

#[test]
fn val7_remaining_hint_that_contradicts_the_first() {
    // Exactly 6, then "10 more" after 3 bytes.
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("abc"), Step::Data("def")])
                .hints([exact(6), exact(10), exact(0)])
                .body(),
        )
    });
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    assert_eq!(validate.violations().rules(), [Rule::SizeHint]);
}

#[test]
fn val7_lower_bound_not_reached() {
    let app =
        respond(|| Response::new(Script::new([Step::Data("abc")]).hints([at_least(8)]).body()));
    assert_reports(app, get("/"), Rule::SizeHint);
}

#[test]
fn val7_checked_when_the_body_reports_its_end() {
    // A server stops polling once `is_end_stream()` is true: the check is
    // made there, without waiting for a `None` that never comes.
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("hello")])
                .hints([exact(10), exact(5)])
                .ends_after(1)
                .body(),
        )
    });
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    assert!(body.is_end_stream());
    assert_eq!(validate.violations().rules(), [Rule::SizeHint]);
}

#[test]
#[should_panic(expected = "VAL-7")]
fn val7_panics() {
    run_panicking(
        respond(|| {
            Response::new(
                Script::new([Step::Data("hello")])
                    .hints([exact(10), exact(5)])
                    .body(),
            )
        }),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-8: trailers

#[test]
fn val8_trailers_on_a_body_with_an_exact_size_hint() {
    let app = respond(|| {
        let body = Script::new([Step::Data("a"), Step::Trailers(trailers(&[("x-sum", "1")]))])
            .hints([exact(1), exact(0)])
            .body();
        response(200, &[("trailer", "x-sum")], body)
    });
    let found = assert_reports(app, get("/"), Rule::Trailers);
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.contains("exact size hint"), "{}", found[0]);
}

#[test]
fn val8_trailers_with_content_length() {
    let app = respond(|| {
        let body = stream_with_trailers(&["a"], trailers(&[("x-sum", "1")]));
        response(200, &[("trailer", "x-sum"), ("content-length", "1")], body)
    });
    let found = assert_reports(app, get("/"), Rule::Trailers);
    assert!(found[0].detail.contains("Content-Length"), "{}", found[0]);
}

#[test]
fn val8_trailer_not_named_in_trailer_field() {
    let app = respond(|| {
        let body = stream_with_trailers(&["a"], trailers(&[("x-sum", "1"), ("x-other", "2")]));
        response(200, &[("trailer", "x-sum")], body)
    });
    let found = assert_reports(app, get("/"), Rule::Trailers);
    assert_eq!(found.len(), 1);
    assert!(found[0].detail.contains("x-other"), "{}", found[0]);
    // No Trailer field at all.
    let app = respond(|| Response::new(stream_with_trailers(&["a"], trailers(&[("x-sum", "1")]))));
    assert_reports(app, get("/"), Rule::Trailers);
}

#[test]
fn val8_field_not_allowed_in_trailers() {
    for name in [
        "content-type",
        "content-length",
        "set-cookie",
        "authorization",
        "cache-control",
    ] {
        let app = respond(move || {
            let mut map = HeaderMap::new();
            map.insert(HeaderName::from_static(name), HeaderValue::from_static("x"));
            let mut response = Response::new(stream_with_trailers(&["a"], map));
            response
                .headers_mut()
                .insert(header::TRAILER, HeaderValue::from_static(name));
            response
        });
        let found = violations_of(app, get("/"));
        assert_eq!(ids(&found), ["VAL-8"], "{name}: {found:?}");
        assert!(found[0].detail.contains("not allowed"), "{}", found[0]);
    }
}

#[test]
#[should_panic(expected = "VAL-8")]
fn val8_panics() {
    run_panicking(
        respond(|| Response::new(stream_with_trailers(&["a"], trailers(&[("x-sum", "1")])))),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-9: frames after the end

#[test]
fn val9_frame_after_none() {
    let app = respond(|| {
        Response::new(Script::new([Step::Data("a"), Step::End, Step::Data("b")]).body())
    });
    let validate = logging(app);
    let exchanged = exchange(&validate, get("/"));
    assert_eq!(exchanged.data(), "a");
    assert_eq!(validate.violations().rules(), [Rule::FrameAfterEnd]);
    assert!(validate.violations().to_vec()[0].detail.contains("None"));
}

#[test]
fn val9_frame_after_an_error() {
    let app = respond(|| {
        Response::new(Script::new([Step::Data("a"), Step::Fail, Step::Data("b")]).body())
    });
    let validate = logging(app);
    let exchanged = exchange(&validate, get("/"));
    assert!(matches!(exchanged.body, Err(CollectError::Body(_))));
    assert_eq!(validate.violations().rules(), [Rule::FrameAfterEnd]);
}

#[test]
fn val9_frame_after_trailers() {
    let app = respond(|| {
        let body = Script::new([
            Step::Data("a"),
            Step::Trailers(trailers(&[("x-sum", "1")])),
            Step::Data("b"),
        ])
        .body();
        response(200, &[("trailer", "x-sum")], body)
    });
    let validate = logging(app);
    let mut body = block_on(validate.call(get("/"))).into_body();
    block_on(body.frame()).expect("a frame").expect("data");
    let last = block_on(body.frame()).expect("a frame").expect("trailers");
    assert!(last.is_trailers());
    // Found at once: a server does not poll after trailers.
    assert_eq!(validate.violations().rules(), [Rule::FrameAfterEnd]);
    // And the stray frame is not forwarded.
    assert!(block_on(body.frame()).is_none());
    assert!(block_on(body.frame()).is_none());
    assert_eq!(validate.violations().len(), 1);
}

#[test]
fn val9_frame_after_is_end_stream() {
    let app = respond(|| {
        Response::new(
            Script::new([Step::Data("a"), Step::Data("b")])
                .ends_after(1)
                .body(),
        )
    });
    let validate = logging(app);
    let exchanged = exchange(&validate, get("/"));
    assert_eq!(exchanged.data(), "a");
    assert_eq!(validate.violations().rules(), [Rule::FrameAfterEnd]);
}

#[test]
#[should_panic(expected = "VAL-9")]
fn val9_panics() {
    run_panicking(
        respond(|| {
            Response::new(Script::new([Step::Data("a"), Step::End, Step::Data("b")]).body())
        }),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-10: version

#[test]
fn val10_version_changed() {
    let app = respond(|| {
        let mut response = Response::new(Body::from("x"));
        *response.version_mut() = Version::HTTP_2;
        response
    });
    assert_reports(app, get("/"), Rule::Version);

    let app = respond(|| {
        let mut response = Response::new(Body::from("x"));
        *response.version_mut() = Version::HTTP_10;
        response
    });
    let mut http2 = get("/");
    *http2.version_mut() = Version::HTTP_2;
    assert_reports(app, http2, Rule::Version);
}

#[test]
#[should_panic(expected = "VAL-10")]
fn val10_panics() {
    run_panicking(
        respond(|| {
            let mut response = Response::new(Body::empty());
            *response.version_mut() = Version::HTTP_09;
            response
        }),
        get("/"),
    );
}

// ---------------------------------------------------------------------------
// VAL-11: reporting

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn val11_panic_names_rule_method_path_and_problem_and_is_recorded() {
    let validate = panicking(respond(|| {
        response(200, &[("transfer-encoding", "chunked")], Body::empty())
    }));
    let payload = catch_unwind(AssertUnwindSafe(|| {
        block_on(validate.call(request(Method::POST, "/upload?x=1")))
    }))
    .expect_err("the validator panics");
    let message = panic_message(&*payload);
    for part in [
        "VAL-4",
        "POST",
        "/upload?x=1",
        "Transfer-Encoding",
        "RESP-3",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    assert_eq!(validate.violations().rules(), [Rule::TransferEncoding]);
}

#[test]
fn val11_body_violations_panic_in_poll_frame() {
    let validate = panicking(respond(|| {
        response(200, &[("content-length", "10")], stream(&["abc"]))
    }));
    // The head is fine: `call` returns.
    let response = block_on(validate.call(get("/short")));
    assert!(validate.violations().is_empty());
    let payload = catch_unwind(AssertUnwindSafe(|| {
        block_on(response.into_body().collect(1024))
    }))
    .expect_err("reading the body panics");
    assert!(panic_message(&*payload).contains("VAL-6"));
    assert_eq!(validate.violations().len(), 1);
}

#[test]
fn val11_log_mode_lets_the_response_go_on_unchanged() {
    let app = respond(|| {
        response(
            200,
            &[
                ("transfer-encoding", "chunked"),
                ("keep-alive", "timeout=5"),
            ],
            Body::from("body"),
        )
    });
    let validate = logging(app);
    let exchanged = exchange(&validate, get("/"));
    assert_eq!(exchanged.response.status(), StatusCode::OK);
    assert_eq!(exchanged.response.headers()["transfer-encoding"], "chunked");
    assert_eq!(exchanged.response.headers()["keep-alive"], "timeout=5");
    assert_eq!(exchanged.data(), "body");
    assert_eq!(
        validate.violations().rules(),
        [Rule::ConnectionField, Rule::TransferEncoding]
    );
}

#[test]
fn val11_collector_is_shared_and_take_empties_it() {
    let shared = Violations::new();
    let first = logging(respond(|| {
        response(200, &[("te", "trailers")], Body::empty())
    }))
    .with_violations(shared.clone());
    let second =
        logging(respond(|| response(103, &[], Body::empty()))).with_violations(shared.clone());
    exchange(&first, get("/a"));
    exchange(&second, get("/b"));
    exchange(&first, get("/c"));
    assert_eq!(shared.len(), 3);
    assert_eq!(first.violations().len(), 3);
    let paths: Vec<String> = shared
        .iter()
        .map(|violation| violation.uri.to_string())
        .collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    let taken = shared.take();
    assert_eq!(ids(&taken), ["VAL-3", "VAL-1", "VAL-3"]);
    assert!(shared.is_empty());
    assert!(second.violations().is_empty());

    // Clones of a validator share its collector.
    let validate = logging(Arc::new(respond(|| response(103, &[], Body::empty()))));
    let clone = validate.clone();
    exchange(&clone, get("/clone"));
    assert_eq!(validate.violations().rules(), [Rule::Status]);
}

#[test]
fn val11_default_action_follows_debug_assertions() {
    let validate = Validate::new(respond(|| Response::new(Body::empty())));
    let expected = if cfg!(debug_assertions) {
        Action::Panic
    } else {
        Action::Log
    };
    assert_eq!(validate.action(), expected);
    assert_eq!(Action::default(), expected);
}

#[test]
fn val11_violations_display_and_rules_have_fixed_ids() {
    let ids: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
    let expected: Vec<String> = (1..=10).map(|n| format!("VAL-{n}")).collect();
    assert_eq!(ids, expected);
    for rule in Rule::ALL {
        assert!(!rule.clause().is_empty());
        assert!(!rule.summary().is_empty());
        assert_eq!(rule.to_string(), rule.id());
    }

    let found = violations_of(
        respond(|| response(200, &[("transfer-encoding", "chunked")], Body::empty())),
        request(Method::PUT, "/thing"),
    );
    let text = found[0].to_string();
    assert!(text.starts_with("[VAL-4] PUT /thing: "), "{text}");
    assert!(text.ends_with("(RESP-3; RFC 9112 §6.1)"), "{text}");
    let error: &dyn std::error::Error = &found[0];
    assert_eq!(error.to_string(), text);
}

#[test]
fn val11_types_are_send_sync_and_validate_is_an_application() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Validate<BoxApplication>>();
    send_sync::<Violations>();
    send_sync::<Violation>();

    let validate = logging(respond(|| Response::new(Body::from("boxed"))));
    let violations = validate.violations().clone();
    let boxed = BoxApplication::new(Arc::new(validate));
    let response = block_on(boxed.call(get("/")));
    assert_eq!(
        block_on(response.into_body().to_bytes(64)).expect("the body"),
        "boxed"
    );
    assert!(violations.is_empty());
}
