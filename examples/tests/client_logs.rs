//! What a client can make the server log (spec OBS-4), on each adapter:
//! attacks and rude clients (HTTP/2 rapid reset, too many malformed
//! requests, responses aborted mid-body over HTTP/1.1 and HTTP/2, uploads
//! abandoned while the application echoes them) make no event at WARN or
//! above from Albany's targets, and none at all through the examples'
//! default filter (`albany_examples::DEFAULT_LOG_FILTER`). One test: the
//! subscriber that records events is global (the servers' worker threads
//! log into it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use albany::{from_fn, Body, Request, RequestExt, Response};
use albany_conformance::h2_frames::{
    self, kind, RawConnection, StreamOutcome, CANCEL, ENHANCE_YOUR_CALM,
};
use albany_examples::testing::{serve_with, ServerThread, ADAPTERS};
use albany_examples::DEFAULT_LOG_FILTER;
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// One recorded event: its level, target and message.
struct Seen {
    level: tracing::Level,
    target: String,
    message: String,
}

/// Records every event its filter lets through.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message,
        });
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The events as log lines, for failure messages.
fn lines<'a>(seen: impl IntoIterator<Item = &'a Seen>) -> Vec<String> {
    seen.into_iter()
        .map(|seen| format!("{} {}: {}", seen.level, seen.target, seen.message))
        .collect()
}

/// `/stream` streams 16 KiB chunks for up to 10 s (until the client goes);
/// `/echo` answers with the request body as it arrives; `/hello` answers.
fn application() -> impl albany::Application {
    from_fn(|request: Request| async move {
        match request.uri().path() {
            "/stream" => {
                let handle = request.runtime().cloned().expect("a runtime");
                let (mut sender, body) = Body::channel(4);
                handle.clone().spawn(async move {
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_secs(10) {
                        if sender.send(vec![b'x'; 16 * 1024]).await.is_err() {
                            return;
                        }
                        handle.sleep(Duration::from_millis(1)).await;
                    }
                    sender.finish();
                });
                Response::new(body)
            }
            "/echo" => Response::new(request.into_body()),
            _ => Response::new(Body::from("Hello, world!")),
        }
    })
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads at least `bytes` bytes (or until the server stops sending).
fn read_some(stream: &mut TcpStream, bytes: usize) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0;
    while total < bytes {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

/// Reads frames until a DATA frame on `stream` (acknowledging SETTINGS).
fn first_data(raw: &mut RawConnection, stream: u32) {
    for _ in 0..100 {
        let frame = raw.read_frame().unwrap().expect("the connection ended");
        if frame.kind == kind::SETTINGS && frame.flags & h2_frames::ACK == 0 {
            raw.write_frame(kind::SETTINGS, h2_frames::ACK, 0, &[])
                .unwrap();
        }
        if frame.kind == kind::DATA && frame.stream == stream {
            return;
        }
    }
    panic!("no DATA frame on stream {stream}");
}

/// Every attack, against the server at `addr`.
fn attack(adapter: &str, addr: SocketAddr) {
    let authority = addr.to_string();
    // Rapid reset (CVE-2023-44487), five connections.
    for _ in 0..5 {
        let mut raw = RawConnection::open(addr).unwrap();
        let last = raw.rapid_reset(1, 100, &authority, "/hello").unwrap();
        assert_eq!(
            raw.outcome(last, Duration::from_secs(10)).unwrap(),
            StreamOutcome::GoAway(ENHANCE_YOUR_CALM),
            "{adapter}: rapid reset"
        );
    }
    // 1100 malformed requests on one connection (H2-14).
    let mut raw = RawConnection::open(addr).unwrap();
    let block = h2_frames::field_block(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", &authority),
        (":path", "/hello"),
        ("connection", "keep-alive"),
    ]);
    let mut bytes = Vec::new();
    for i in 0..1100 {
        bytes.extend(h2_frames::frame_bytes(
            kind::HEADERS,
            h2_frames::END_HEADERS | h2_frames::END_STREAM,
            1 + 2 * i,
            &block,
        ));
    }
    let _ = raw.write_raw(&bytes);
    let mut goaway = None;
    for _ in 0..2000 {
        match raw.read_frame() {
            Ok(Some(frame)) if frame.kind == kind::GOAWAY => {
                goaway = Some(frame.payload[4..8].to_vec());
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(
        goaway,
        Some(ENHANCE_YOUR_CALM.to_be_bytes().to_vec()),
        "{adapter}: too many malformed requests"
    );
    drop(raw);
    // HTTP/1.1: responses aborted mid-body (the socket closed with unread
    // bytes: a reset).
    for _ in 0..3 {
        let mut stream = connect(addr);
        stream
            .write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        read_some(&mut stream, 40 * 1024);
        drop(stream);
    }
    // HTTP/1.1: an upload abandoned while the application echoes it (its
    // response body is the request body, which fails).
    for _ in 0..3 {
        let mut stream = connect(addr);
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n")
            .unwrap();
        stream.write_all(&[b'u'; 64 * 1024]).unwrap();
        read_some(&mut stream, 16 * 1024);
        drop(stream);
    }
    // HTTP/2: a response reset mid-body, then one whose connection is
    // closed mid-body.
    for close in [false, true] {
        let mut raw = RawConnection::open(addr).unwrap();
        raw.send_get(1, &authority, "/stream", &[]).unwrap();
        first_data(&mut raw, 1);
        if !close {
            raw.write_frame(kind::RST_STREAM, 0, 1, &CANCEL.to_be_bytes())
                .unwrap();
            raw.send_get(3, &authority, "/hello", &[]).unwrap();
            assert_eq!(
                raw.outcome(3, Duration::from_secs(10)).unwrap(),
                StreamOutcome::Response(Some(200)),
                "{adapter}: the connection after a reset stream"
            );
        }
        drop(raw);
    }
    // HTTP/2: an echoed upload reset by the client (the request body
    // fails, and with it the response body).
    let mut raw = RawConnection::open(addr).unwrap();
    raw.send_headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", &authority),
            (":path", "/echo"),
        ],
        false,
    )
    .unwrap();
    raw.send_data(1, &[b'u'; 8 * 1024], false).unwrap();
    first_data(&mut raw, 1);
    raw.write_frame(kind::RST_STREAM, 0, 1, &CANCEL.to_be_bytes())
        .unwrap();
    raw.send_get(3, &authority, "/hello", &[]).unwrap();
    assert_eq!(
        raw.outcome(3, Duration::from_secs(10)).unwrap(),
        StreamOutcome::Response(Some(200)),
        "{adapter}: the connection after a reset upload"
    );
    drop(raw);
}

/// Waits until the server has no request in flight and no connection
/// open (at most 10 s): every response given up, every connection task
/// done, so that whatever they log has been logged.
fn settle(adapter: &str, server: &ServerThread) {
    let started = Instant::now();
    let counters = server.counters();
    while counters.requests_in_flight() > 0 || counters.open_connections() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{adapter}: requests or connections left over ({} in flight, {} open)",
            counters.requests_in_flight(),
            counters.open_connections()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Lingering closes and stream tasks log after the counters drop.
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn clients_cannot_make_the_server_warn() {
    let warnings = Recorder::default();
    let examples = Recorder::default();
    let subscriber = tracing_subscriber::registry()
        .with(warnings.clone().with_filter(LevelFilter::WARN))
        .with(
            examples
                .clone()
                .with_filter(EnvFilter::new(DEFAULT_LOG_FILTER)),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    for adapter in ADAPTERS {
        let server = serve_with(adapter, application(), albany_server::Settings::default());
        let addr = server.addr();
        // What the start logged is not the clients' doing.
        std::thread::sleep(Duration::from_millis(100));
        warnings.take();
        examples.take();
        attack(adapter, addr);
        settle(adapter, &server);
        let warned = warnings.take();
        let albany = lines(
            warned
                .iter()
                .filter(|seen| seen.target.starts_with("albany")),
        );
        assert!(
            albany.is_empty(),
            "{adapter}: Albany logged at WARN or above for what clients did: {albany:#?}"
        );
        // The h2 crate does log its defences at WARN (which is why the
        // examples' filter has `h2=error`): the attacks did reach them.
        assert!(
            warned
                .iter()
                .any(|seen| seen.target.starts_with("h2") && seen.level == tracing::Level::WARN),
            "{adapter}: no WARN from h2: did the rapid reset reach its limit? {:#?}",
            lines(&warned)
        );
        let shown = examples.take();
        assert!(
            shown.is_empty(),
            "{adapter}: the examples' default filter ({DEFAULT_LOG_FILTER}) let through: {:#?}",
            lines(&shown)
        );
        server.stop().unwrap();
    }
}
