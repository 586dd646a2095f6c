//! The axum example's router (`examples/axum.rs`) served through
//! `albany::from_tower` and `albany_compat::compat` on each adapter, and
//! checked from clients that share no runtime with it: `std` sockets
//! speaking HTTP/1.1 and tungstenite's blocking WebSocket client.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use albany_examples::testing::{exchange, get, h1, serve, TARGETS};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[allow(dead_code)] // `main` and its `Args`: the tests serve `app()` themselves.
#[path = "../axum.rs"]
mod example;

fn post_json(target: &str, json: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

/// `curl --http2-prior-knowledge --compressed URL`: the body, a newline,
/// the HTTP version and the status. One URL per call: curl 7.88 fails the
/// second request on a reused prior-knowledge connection ("Error in the
/// HTTP2 framing layer", curl/curl#10634, fixed in curl 8.0).
fn curl_h2(url: &str) -> String {
    let output = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(["--http2-prior-knowledge", "--compressed"])
        .args(["--write-out", "\n%{http_version} %{response_code}", url])
        .output()
        .expect("curl (Debian's curl package; .ci/run installs it)");
    assert!(
        output.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("a UTF-8 answer")
}

fn body_text(response: &h1::Response) -> String {
    String::from_utf8(response.body.clone()).expect("a UTF-8 body")
}

#[test]
fn extractors_json_and_state_on_every_runtime() {
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let addr = server.addr();

        // Path and query extractors.
        let hello = get(addr, "/hello/world?greeting=Bonjour");
        assert_eq!(hello.status(), 200, "{name}");
        assert_eq!(body_text(&hello), "Bonjour, world!", "{name}");
        assert_eq!(body_text(&get(addr, "/hello/you")), "Hello, you!", "{name}");

        // JSON in and out; axum's own rejections for bad JSON.
        let shout = exchange(addr, &post_json("/shout", r#"{"text":"quiet please"}"#));
        assert_eq!(shout.status(), 200, "{name}");
        assert_eq!(
            shout.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let value: serde_json::Value = serde_json::from_slice(&shout.body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"text": "quiet please", "loud": "QUIET PLEASE"}),
            "{name}"
        );
        let missing = exchange(addr, &post_json("/shout", r#"{"words":1}"#));
        assert_eq!(missing.status(), 422, "{name}");
        let malformed = exchange(addr, &post_json("/shout", "{not json"));
        assert_eq!(malformed.status(), 400, "{name}");

        // State: one counter for every request and connection.
        for expected in 1..=3 {
            let count = exchange(addr, &post_json("/count", ""));
            assert_eq!(count.status(), 200, "{name}");
            let value: serde_json::Value = serde_json::from_slice(&count.body).unwrap();
            assert_eq!(value, serde_json::json!({ "count": expected }), "{name}");
        }

        // The same router over HTTP/2 (curl, prior knowledge), gzip too.
        assert_eq!(
            curl_h2(&format!("http://{addr}/hello/h2?greeting=Hi")),
            "Hi, h2!\n2 200",
            "{name}"
        );
        assert_eq!(
            curl_h2(&format!("http://{addr}/lorem")),
            format!("{}\n2 200", example::lorem_text()),
            "{name}"
        );

        // Unknown routes are axum's 404.
        assert_eq!(get(addr, "/nope").status(), 404, "{name}");
        server.shutdown().unwrap();
    }
}

#[test]
fn connect_info_is_the_clients_address() {
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let mut connection = h1::Connection::open(server.addr()).unwrap();
        let local = connection.stream().local_addr().unwrap();
        connection.send(&h1::get("/whoami")).unwrap();
        let response = connection.read_response(false).unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({ "client": local.to_string() }),
            "{name}"
        );
        drop(connection);
        server.shutdown().unwrap();
    }
}

#[test]
fn albanys_connection_context_reaches_axum_handlers() {
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let response = get(server.addr(), "/albany");
        assert_eq!(response.status(), 200, "{name}");
        let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            value["local_addr"],
            serde_json::json!(server.addr().to_string()),
            "{name}"
        );
        assert_eq!(value["shutting_down"], serde_json::json!(false), "{name}");
        // The closure ran on the adapter's blocking pool: tokio's threads
        // under albany-tokio, the `blocking` crate's (`blocking-N`) under
        // smol and async-std; not on async-compat's tokio runtime.
        let thread = value["blocking_thread"].as_str().unwrap_or("(unnamed)");
        let expected = if name == "tokio" {
            "tokio-"
        } else {
            "blocking-"
        };
        assert!(thread.starts_with(expected), "{name}: {thread}");
        server.shutdown().unwrap();
    }
}

#[test]
fn compression_layer_gzips_for_clients_that_accept_it() {
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let addr = server.addr();
        let gzipped = exchange(
            addr,
            b"GET /lorem HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
        );
        assert_eq!(gzipped.status(), 200, "{name}");
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"), "{name}");
        assert!(
            gzipped.body.len() < example::lorem_text().len() / 4,
            "{name}: {} bytes compressed",
            gzipped.body.len()
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gzipped.body[..])
            .read_to_string(&mut text)
            .expect("a gzip body");
        assert_eq!(text, example::lorem_text(), "{name}");

        // Without `Accept-Encoding`, the text as it is.
        let plain = get(addr, "/lorem");
        assert_eq!(plain.header("content-encoding"), None, "{name}");
        assert_eq!(body_text(&plain), example::lorem_text(), "{name}");
        server.shutdown().unwrap();
    }
}

#[test]
fn timeout_layer_answers_408_on_tokios_timer_on_every_runtime() {
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let addr = server.addr();
        // tokio::time::sleep in the handler: works under compat.
        let quick = get(addr, "/slow?ms=10");
        assert_eq!(quick.status(), 200, "{name}");
        assert_eq!(body_text(&quick), "slept 10 ms", "{name}");

        let started = Instant::now();
        let slow = get(addr, "/slow?ms=10000");
        let waited = started.elapsed();
        assert_eq!(slow.status(), 408, "{name}");
        assert!(
            waited >= example::TIMEOUT && waited < example::TIMEOUT + Duration::from_secs(3),
            "{name}: answered after {waited:?}"
        );
        server.shutdown().unwrap();
    }
}

#[test]
fn websocket_route_echoes_text_and_binary_and_closes_cleanly() {
    use tungstenite::{Error, Message};
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let addr = server.addr();
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (mut socket, response) =
            tungstenite::client(format!("ws://{addr}/ws"), stream).expect("the handshake");
        assert_eq!(response.status(), 101, "{name}");

        socket.send(Message::text("hello, axum")).unwrap();
        assert_eq!(
            socket.read().unwrap(),
            Message::text("hello, axum"),
            "{name}"
        );
        let bytes = vec![0u8, 1, 2, 254, 255];
        socket.send(Message::binary(bytes.clone())).unwrap();
        assert_eq!(socket.read().unwrap(), Message::binary(bytes), "{name}");

        // A clean close: our Close frame, the server's Close reply, then
        // the end of the connection.
        socket.close(None).unwrap();
        let mut replied = false;
        let closed = loop {
            match socket.read() {
                Ok(Message::Close(_)) => replied = true,
                Ok(other) => panic!("{name}: {other:?} after Close"),
                Err(error) => break error,
            }
        };
        assert!(replied, "{name}: no Close reply");
        assert!(
            matches!(closed, Error::ConnectionClosed),
            "{name}: {closed:?}"
        );
        server.shutdown().unwrap();
    }
}

/// A tower service that fails: in `poll_ready` when `ready` is false, in
/// the call otherwise.
#[derive(Clone)]
struct Failing {
    ready: bool,
}

impl tower_service::Service<albany::Request> for Failing {
    type Response = albany::Response;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<albany::Response, std::io::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        std::task::Poll::Ready(match self.ready {
            true => Ok(()),
            false => Err(std::io::Error::other("not ready: secret detail")),
        })
    }

    fn call(&mut self, _: albany::Request) -> Self::Future {
        std::future::ready(Err(std::io::Error::other("failed: secret detail")))
    }
}

#[test]
fn service_errors_are_500s_on_every_runtime() {
    for target in TARGETS {
        let name = target.name();
        for ready in [false, true] {
            let server = serve(target, albany::from_tower(Failing { ready }));
            let addr = server.addr();
            // Twice: the server keeps serving after an error.
            for _ in 0..2 {
                let response = get(addr, "/");
                assert_eq!(response.status(), 500, "{name} ready={ready}");
                assert_eq!(
                    body_text(&response),
                    "Internal Server Error\n",
                    "{name} ready={ready}"
                );
            }
            server.shutdown().unwrap();
        }
    }
}

/// What tower-http's `TraceLayer` records: its `request` spans' fields (by
/// span id) and, per span, the messages of the events inside it.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Traces>>);

#[derive(Default)]
struct Traces {
    spans: HashMap<u64, HashMap<String, String>>,
    events: HashMap<u64, Vec<HashMap<String, String>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let metadata = attrs.metadata();
        if metadata.name() == "request" && metadata.target().starts_with("tower_http::trace") {
            let mut fields = HashMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().spans.insert(id.into_u64(), fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, context: Context<'_, S>) {
        if !event.metadata().target().starts_with("tower_http::trace") {
            return;
        }
        let Some(span) = context.event_span(event) else {
            return;
        };
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let mut traces = self.0.lock().unwrap();
        traces
            .events
            .entry(span.id().into_u64())
            .or_default()
            .push(fields);
    }
}

impl Recorder {
    /// The global recorder (the servers' worker threads log into the
    /// global subscriber).
    fn global() -> &'static Recorder {
        static RECORDER: OnceLock<Recorder> = OnceLock::new();
        RECORDER.get_or_init(|| {
            let recorder = Recorder::default();
            let subscriber = tracing_subscriber::registry().with(recorder.clone());
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            recorder
        })
    }

    /// The fields of the span whose `uri` is `uri`, and its events'.
    fn request(&self, uri: &str) -> (HashMap<String, String>, Vec<HashMap<String, String>>) {
        let traces = self.0.lock().unwrap();
        let (id, fields) = traces
            .spans
            .iter()
            .find(|(_, fields)| fields.get("uri").map(String::as_str) == Some(uri))
            .unwrap_or_else(|| panic!("no TraceLayer span for {uri}"));
        let events = traces.events.get(id).cloned().unwrap_or_default();
        (fields.clone(), events)
    }
}

#[test]
fn trace_layer_emits_its_span_and_events_on_every_runtime() {
    let recorder = Recorder::global();
    for target in TARGETS {
        let name = target.name();
        let server = serve(target, example::app());
        let uri = format!("/hello/{name}?greeting=traced");
        let response = get(server.addr(), &uri);
        assert_eq!(response.status(), 200, "{name}");
        // The response event comes when the head is ready, before the
        // client has it; the span is complete by the time it reads it.
        let (span, events) = recorder.request(&uri);
        assert_eq!(
            span.get("method").map(String::as_str),
            Some("GET"),
            "{name}"
        );
        assert_eq!(
            span.get("version").map(String::as_str),
            Some("HTTP/1.1"),
            "{name}"
        );
        let messages: Vec<&str> = events
            .iter()
            .filter_map(|event| event.get("message").map(String::as_str))
            .collect();
        assert!(
            messages.contains(&"started processing request"),
            "{name}: {messages:?}"
        );
        let finished = events
            .iter()
            .find(|event| {
                event.get("message").map(String::as_str) == Some("finished processing request")
            })
            .unwrap_or_else(|| panic!("{name}: no response event: {messages:?}"));
        assert_eq!(
            finished.get("status").map(String::as_str),
            Some("200"),
            "{name}"
        );
        server.shutdown().unwrap();
    }
}

/// A WebSocket taken through axum's `WebSocketUpgrade` (hyper's own
/// `OnUpgrade`, TOWER-6) is held like one taken through Albany's (spec
/// SHUT-8, UPG-9, OBS-3): counted while open, waited for by graceful
/// shutdown, and closed at its deadline, on every adapter.
#[test]
fn graceful_shutdown_waits_for_an_axum_websocket_and_closes_it_at_the_deadline() {
    use albany_examples::testing::{serve_with, ADAPTERS};
    use std::sync::mpsc;
    use tungstenite::Message;
    const DEADLINE: Duration = Duration::from_secs(1);
    for adapter in ADAPTERS {
        let mut settings = albany_server::Settings::default();
        settings.graceful_shutdown_timeout = DEADLINE;
        let server = serve_with(adapter, example::app(), settings);
        let addr = server.addr();
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (mut socket, response) =
            tungstenite::client(format!("ws://{addr}/ws"), stream).expect("the handshake");
        assert_eq!(response.status(), 101, "{adapter}");
        socket.send(Message::text("before")).unwrap();
        assert_eq!(socket.read().unwrap(), Message::text("before"), "{adapter}");
        // Taken through hyper's `OnUpgrade`, the connection is counted by
        // the connection's task once hyper has handed it over, which may
        // come just after the application's first echo.
        let counted = Instant::now();
        while server.counters().upgraded_connections() != 1 {
            assert!(
                counted.elapsed() < Duration::from_secs(5),
                "{adapter}: the WebSocket is not counted"
            );
            std::thread::sleep(Duration::from_millis(5));
        }

        let (stopped, stop) = mpsc::channel();
        let started = Instant::now();
        std::thread::spawn(move || {
            let result = server.stop();
            let _ = stopped.send(result.map_err(|error| error.to_string()));
        });
        // Shutdown has begun: the WebSocket still works, and serving has not
        // returned while it is open.
        std::thread::sleep(DEADLINE / 4);
        socket.send(Message::text("during")).unwrap();
        assert_eq!(
            socket.read().unwrap(),
            Message::text("during"),
            "{adapter}: the WebSocket was closed when shutdown began"
        );
        assert!(
            stop.try_recv().is_err(),
            "{adapter}: serving returned with a WebSocket open"
        );
        // The deadline closes it: the client's read ends (an end of file
        // or a reset, no Close frame), and serving returns.
        let ended = loop {
            match socket.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(other) => panic!("{adapter}: {other:?} instead of the end of the connection"),
                Err(error) => break error,
            }
        };
        assert!(
            !matches!(ended, tungstenite::Error::Io(ref error) if error.kind() == std::io::ErrorKind::WouldBlock),
            "{adapter}: the WebSocket was still open 10 s after the deadline: {ended:?}"
        );
        let result = stop
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{adapter}: serving did not return after the deadline"));
        assert_eq!(result, Ok(()), "{adapter}");
        assert!(
            started.elapsed() >= DEADLINE,
            "{adapter}: serving returned before the deadline ({:?})",
            started.elapsed()
        );
    }
}

/// An axum WebSocket over HTTP/2 (RFC 8441's extended `CONNECT`), taken
/// through hyper's own `OnUpgrade` (TOWER-6), keeps its connection from
/// being idle (spec LIMIT-11): with a 1 s `http2_idle_timeout` and no
/// keep-alive PINGs, it still echoes after 2.5 s without a message, on
/// every adapter. (Before, the stream counted as ended when its `200` was
/// sent, and the idle timeout closed the connection after 1 s.)
#[test]
fn an_axum_websocket_over_http2_is_not_closed_as_idle() {
    use albany_conformance::h2;
    use albany_examples::testing::{serve_with, ADAPTERS};
    /// A client's (masked, RFC 6455 §5.3) text frame of fewer than 126 bytes.
    fn text_frame(text: &str) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x81, 0x80 | text.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        frame
    }
    let wait = Duration::from_secs(5);
    for adapter in ADAPTERS {
        let mut settings = albany_server::Settings::default();
        settings.http2_extended_connect = true;
        settings.http2_idle_timeout = Some(Duration::from_secs(1));
        settings.http2_keep_alive_interval = None;
        let server = serve_with(adapter, example::app(), settings);
        let request = h2::extended_connect(
            server.addr(),
            "/ws",
            "websocket",
            &[("sec-websocket-version", "13")],
        );
        let mut tunnel = h2::connect_tunnel(server.addr(), request).expect("the CONNECT");
        assert_eq!(tunnel.status, 200, "{adapter}");
        for (text, after) in [
            ("before", Duration::ZERO),
            ("after", Duration::from_millis(2500)),
        ] {
            std::thread::sleep(after);
            tunnel
                .write_all(&text_frame(text))
                .unwrap_or_else(|error| panic!("{adapter}: {text}: {error}"));
            let mut echo = vec![0x81, text.len() as u8];
            echo.extend_from_slice(text.as_bytes());
            assert_eq!(
                tunnel
                    .read_exact(echo.len(), wait)
                    .unwrap_or_else(|error| panic!("{adapter}: the echo of {text:?}: {error}")),
                echo,
                "{adapter}"
            );
        }
        drop(tunnel);
        server.stop().unwrap();
    }
}
