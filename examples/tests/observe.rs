//! What the engine tells about its requests, on each adapter (spec OBS-1
//! to OBS-3): the request span with OpenTelemetry's HTTP server field
//! names, the access log line, and the live counters. One test: the
//! subscriber that records spans and events is global (the servers'
//! worker threads log into it).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use albany::{from_fn, Body, Request, RequestExt, Response};
use albany_examples::testing::{echo_upgrade, read_until};
use albany_server::{Binding, Counters, Server};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Every `request` span's fields (by the span's `url.path`), and every
/// access log line.
#[derive(Default)]
struct Seen {
    spans: HashMap<u64, HashMap<String, String>>,
    access: Vec<String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "request" {
            let mut fields = HashMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().spans.insert(id.into_u64(), fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(fields) = self.0.lock().unwrap().spans.get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "albany::access" {
            let mut fields = HashMap::new();
            event.record(&mut Fields(&mut fields));
            let line = fields.remove("message").unwrap_or_default();
            self.0.lock().unwrap().access.push(line);
        }
    }
}

impl Recorder {
    /// The fields of the request span whose `url.path` is `path`.
    fn span(&self, path: &str) -> HashMap<String, String> {
        let seen = self.0.lock().unwrap();
        seen.spans
            .values()
            .find(|fields| fields.get("url.path").map(String::as_str) == Some(path))
            .cloned()
            .unwrap_or_else(|| panic!("no request span for {path}: {:?}", seen.spans))
    }

    /// The access log line for `path`.
    fn access(&self, path: &str) -> String {
        let seen = self.0.lock().unwrap();
        seen.access
            .iter()
            .find(|line| line.contains(path))
            .cloned()
            .unwrap_or_else(|| panic!("no access log line for {path}: {:?}", seen.access))
    }
}

/// `/hello` answers 13 bytes; `/slow` streams for as long as the test
/// holds `gate`; `/upgrade` switches to an echo protocol.
fn application(gate: Arc<Mutex<bool>>) -> impl albany::Application {
    from_fn(move |request: Request| {
        let gate = gate.clone();
        async move {
            let handle = request.runtime().cloned().expect("a runtime");
            match request.uri().path() {
                "/slow" => {
                    let (mut sender, body) = Body::channel(64);
                    handle.clone().spawn(async move {
                        let _ = sender.send("first\n").await;
                        while *gate.lock().unwrap() {
                            handle.sleep(Duration::from_millis(10)).await;
                        }
                        let _ = sender.send("last\n").await;
                        sender.finish();
                    });
                    Response::new(body)
                }
                "/upgrade" => echo_upgrade(request),
                _ => Response::new(Body::from("Hello, world!")),
            }
        }
    })
}

/// Waits until `check` holds (at most 5 s).
fn eventually(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(5), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn connect(addr: SocketAddr, request: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream
}

fn check<B: Binding + Default>(adapter: &str, recorder: &Recorder) {
    let gate = Arc::new(Mutex::new(true));
    let server = Server::<B>::bind("127.0.0.1:0").unwrap().access_log(true);
    let addr = server.local_addr().unwrap();
    let counters: Counters = server.counters();
    let shutdown = server.shutdown_trigger();
    let app = application(gate.clone());
    let thread = std::thread::spawn(move || server.serve_blocking(app));

    // [OBS-1, OBS-2] A request's span and access log line.
    let hello = format!("/hello-{adapter}");
    let mut stream = connect(
        addr,
        &format!("GET {hello}?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    );
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    drop(stream);
    assert!(response.ends_with("Hello, world!"), "{adapter}: {response}");
    eventually("the access log line", || {
        recorder
            .0
            .lock()
            .unwrap()
            .access
            .iter()
            .any(|line| line.contains(&hello))
    });
    let span = recorder.span(&hello);
    let expect = [
        ("http.request.method", "GET"),
        ("url.query", "x=1"),
        ("network.protocol.version", "1.1"),
        ("client.address", "127.0.0.1"),
        ("http.response.status_code", "200"),
        ("http.response.body.size", "13"),
    ];
    for (name, value) in expect {
        assert_eq!(
            span.get(name).map(String::as_str),
            Some(value),
            "{adapter}: {name} in {span:?}"
        );
    }
    let line = recorder.access(&hello);
    assert!(
        line.starts_with("127.0.0.1 - - [")
            && line.contains(&format!("] \"GET {hello}?x=1 HTTP/1.1\" 200 13 "))
            && line.ends_with("ms"),
        "{adapter}: {line}"
    );

    // [OBS-3] Counters while a response streams.
    let before = counters.requests_total();
    let mut slow = connect(addr, "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n");
    read_until(&mut slow, "first");
    // The first connection's task may still be ending.
    eventually("one connection open", || counters.open_connections() == 1);
    assert_eq!(counters.requests_in_flight(), 1, "{adapter}: {counters:?}");
    assert_eq!(
        counters.requests_total(),
        before + 1,
        "{adapter}: {counters:?}"
    );
    *gate.lock().unwrap() = false;
    read_until(&mut slow, "0\r\n\r\n");
    eventually("no request in flight", || {
        counters.requests_in_flight() == 0
    });
    drop(slow);
    eventually("no connection open", || counters.open_connections() == 0);

    // An upgraded connection counts while it is open.
    let mut upgraded = connect(
        addr,
        "GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    );
    read_until(&mut upgraded, "\r\n\r\n");
    upgraded.write_all(b"ping").unwrap();
    read_until(&mut upgraded, "ping");
    assert_eq!(
        counters.upgraded_connections(),
        1,
        "{adapter}: {counters:?}"
    );
    drop(upgraded);
    eventually("the upgraded connection closed", || {
        counters.upgraded_connections() == 0
    });

    shutdown.trigger();
    thread.join().unwrap().unwrap();

    // On a Unix domain socket the peer has no address: the span has no
    // `client.address` and the access log line says `-`.
    let dir = std::env::temp_dir().join(format!("albany-observe-{adapter}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let server = Server::<B>::bind_unix(&path).unwrap().access_log(true);
    let shutdown = server.shutdown_trigger();
    let app = application(gate.clone());
    let thread = std::thread::spawn(move || server.serve_blocking(app));
    let unix = format!("/hello-unix-{adapter}");
    let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    write!(
        stream,
        "GET {unix} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("Hello, world!"), "{adapter}: {response}");
    eventually("the Unix request's access log line", || {
        recorder
            .0
            .lock()
            .unwrap()
            .access
            .iter()
            .any(|line| line.contains(&unix))
    });
    let span = recorder.span(&unix);
    assert_eq!(span.get("client.address"), None, "{adapter}: {span:?}");
    assert_eq!(
        span.get("network.peer.address"),
        None,
        "{adapter}: {span:?}"
    );
    let line = recorder.access(&unix);
    assert!(line.starts_with("- - - ["), "{adapter}: {line}");
    shutdown.trigger();
    thread.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn spans_access_log_and_counters() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone().with_filter(
        tracing_subscriber::filter::Targets::new().with_target("albany", tracing::Level::DEBUG),
    ));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    check::<albany_tokio::TokioBinding>("tokio", &recorder);
    check::<albany_async_std::AsyncStdBinding>("async-std", &recorder);
    check::<albany_smol::SmolBinding>("smol", &recorder);
}
