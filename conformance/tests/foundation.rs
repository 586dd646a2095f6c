//! The foundation tests: the same test code on every adapter, over real
//! loopback sockets, with clients that do not run on the adapter's runtime.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use albany_conformance::app::{self, pattern, pattern_mismatch, AppState};
use albany_conformance::{h1, h2, RunningServer, Target};
use albany_server::Settings;
use bytes::Bytes;

/// Starts the reference application on `target` with test settings.
fn start(target: &dyn Target) -> (RunningServer, Arc<AppState>) {
    start_with(target, test_settings())
}

fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.graceful_shutdown_timeout = Duration::from_secs(5);
    settings
}

fn start_with(target: &dyn Target, settings: Settings) -> (RunningServer, Arc<AppState>) {
    let state = Arc::new(AppState::default());
    let server = target
        .start(app::application(state.clone()), settings)
        .expect("the server starts");
    (server, state)
}

/// Polls `condition` every 10 ms for at most `limit`.
fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Opens a connection with a request to `/pending` and waits until the
/// application has started it.
fn open_pending(server: &RunningServer, state: &AppState) -> h1::Connection {
    let before = state.pending.load(Ordering::SeqCst);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection.send(&h1::get("/pending")).unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        state.pending.load(Ordering::SeqCst) > before
    }));
    connection
}

fn get_post_head(target: &dyn Target) {
    let (server, _) = start(target);
    let response = h1::exchange(server.addr(), &h1::get("/hello")).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"Hello, world!");
    assert_eq!(response.header("content-length"), Some("13"));
    assert!(response.header("date").is_some());

    let post = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello there";
    let response = h1::exchange(server.addr(), post).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"hello there");

    let head = b"HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection.send(head).unwrap();
    let response = connection.read_response(true).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-length"), Some("13"));
    assert!(response.body.is_empty());
    // No body bytes follow a HEAD response: the next response parses.
    connection.send(&h1::get("/say/next")).unwrap();
    assert_eq!(connection.read_response(false).unwrap().body, b"next");

    let response = h1::exchange(server.addr(), &h1::get("/nowhere")).unwrap();
    assert_eq!(response.status(), 404);
    server.shutdown().unwrap();
}

fn http2_prior_knowledge(target: &dyn Target) {
    let (server, _) = start(target);
    let responses = h2::send_all(server.addr(), vec![h2::get(server.addr(), "/hello")]).unwrap();
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].body.as_ref().unwrap(), "Hello, world!");
    server.shutdown().unwrap();
}

fn keep_alive_1000_requests(target: &dyn Target) {
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    for i in 0..1000 {
        connection.send(&h1::get(&format!("/say/{i}"))).unwrap();
        let response = connection.read_response(false).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body, i.to_string().as_bytes());
    }
    server.shutdown().unwrap();
}

fn pipelined_requests_answered_in_order(target: &dyn Target) {
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    let mut requests = h1::get("/slow?ms=200");
    requests.extend(h1::get("/say/two"));
    requests.extend(h1::get("/say/three"));
    connection.send(&requests).unwrap();
    let bodies: Vec<Vec<u8>> = (0..3)
        .map(|_| connection.read_response(false).unwrap().body)
        .collect();
    assert_eq!(
        bodies,
        [b"slow".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    server.shutdown().unwrap();
}

fn upload_8_mib_echoed_while_streaming(target: &dyn Target) {
    const SIZE: usize = 8 * 1024 * 1024;
    const FIRST: usize = 1024 * 1024;
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    let body = pattern(0, SIZE);
    connection
        .send(
            format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {SIZE}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut writer = connection.stream().try_clone().unwrap();
    let (echo_started, wait_for_echo) = std::sync::mpsc::channel::<()>();
    let upload = {
        let body = body.clone();
        thread::spawn(move || {
            writer.write_all(&body[..FIRST]).unwrap();
            // The rest is sent only once echoed bytes have come back, so the
            // test fails (times out) if the server buffers the whole upload.
            wait_for_echo
                .recv_timeout(Duration::from_secs(10))
                .expect("echoed bytes arrive before the upload ends");
            writer.write_all(&body[FIRST..]).unwrap();
        })
    };
    let head = connection.read_head().unwrap();
    assert_eq!(head.status, 200);
    let mut echoed = connection.read_some(SIZE).unwrap();
    assert!(!echoed.is_empty());
    echo_started.send(()).unwrap();
    while echoed.len() < SIZE {
        let more = connection.read_some(SIZE - echoed.len()).unwrap();
        assert!(
            !more.is_empty(),
            "the echo ended after {} bytes",
            echoed.len()
        );
        echoed.extend(more);
    }
    upload.join().unwrap();
    assert_eq!(echoed.len(), SIZE);
    assert_eq!(pattern_mismatch(&echoed), None);
    server.shutdown().unwrap();
}

fn download_64_mib_byte_exact(target: &dyn Target) {
    const SIZE: usize = 64 * 1024 * 1024;
    let (server, _) = start(target);
    let started = Instant::now();
    let response =
        h1::exchange(server.addr(), &h1::get(&format!("/download?size={SIZE}"))).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert!(response.complete);
    assert_eq!(response.body.len(), SIZE);
    assert_eq!(pattern_mismatch(&response.body), None);
    println!(
        "[{}] 64 MiB streamed response in {:.3} s ({:.0} MiB/s)",
        target.name(),
        elapsed.as_secs_f64(),
        64.0 / elapsed.as_secs_f64()
    );
    server.shutdown().unwrap();
}

fn push_writer_waits_for_a_slow_reader(target: &dyn Target) {
    const SIZE: u64 = 64 * 1024 * 1024;
    let (server, state) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection
        .send(&h1::get(&format!("/push?size={SIZE}")))
        .unwrap();
    let head = connection.read_head().unwrap();
    assert_eq!(head.status, 200);
    // The client reads nothing more: the producer must stall once the
    // channel (64 KiB) and the socket buffers are full.
    assert!(eventually(Duration::from_secs(5), || {
        let before = state.pushed.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(200));
        before > 0 && state.pushed.load(Ordering::SeqCst) == before
    }));
    let stalled = state.pushed.load(Ordering::SeqCst);
    assert!(
        stalled < 32 * 1024 * 1024,
        "the producer ran ahead of the reader: {stalled} bytes pushed"
    );
    let response = connection.read_body(&head, false).unwrap();
    assert!(response.complete);
    assert_eq!(response.body.len() as u64, SIZE);
    assert_eq!(pattern_mismatch(&response.body), None);
    assert_eq!(state.pushed.load(Ordering::SeqCst), SIZE);
    println!(
        "[{}] producer stalled after {} KiB while the client did not read",
        target.name(),
        stalled / 1024
    );
    server.shutdown().unwrap();
}

fn trailers_over_http1_chunked_and_http2(target: &dyn Target) {
    let (server, _) = start(target);
    let request = b"GET /trailers HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\n\r\n";
    let response = h1::exchange(server.addr(), request).unwrap();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert!(response.complete);
    assert_eq!(response.body, b"hello");
    assert_eq!(response.trailer("x-checksum"), Some("5d41402a"));

    let responses = h2::send_all(server.addr(), vec![h2::get(server.addr(), "/trailers")]).unwrap();
    assert_eq!(responses[0].body.as_ref().unwrap(), "hello");
    let trailers = responses[0]
        .trailers
        .as_ref()
        .expect("trailers over HTTP/2");
    assert_eq!(trailers["x-checksum"], "5d41402a");

    // Trailers sent by the client come back through the echo.
    let mut request = http::Request::post(format!("http://{}/echo", server.addr()))
        .body(Bytes::from_static(b"data"))
        .unwrap();
    request
        .headers_mut()
        .insert("te", "trailers".parse().unwrap());
    let responses = h2::send_all(server.addr(), vec![request]).unwrap();
    assert_eq!(responses[0].body.as_ref().unwrap(), "data");
    server.shutdown().unwrap();
}

fn panic_before_head_is_500_and_serving_continues(target: &dyn Target) {
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection.send(&h1::get("/panic")).unwrap();
    let response = connection.read_response(false).unwrap();
    assert_eq!(response.status(), 500);
    connection.send(&h1::get("/hello")).unwrap();
    assert_eq!(
        connection.read_response(false).unwrap().body,
        b"Hello, world!"
    );
    let response = h1::exchange(server.addr(), &h1::get("/hello")).unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown().unwrap();
}

fn body_error_after_head_aborts_the_response(target: &dyn Target) {
    let (server, _) = start(target);
    for path in ["/body-error", "/body-panic"] {
        let mut connection = h1::Connection::open(server.addr()).unwrap();
        connection.send(&h1::get(path)).unwrap();
        let response = connection.read_response(false).unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.header("transfer-encoding"),
            Some("chunked"),
            "{path}"
        );
        assert!(
            !response.complete,
            "{path}: the aborted response looks complete"
        );
        assert!(
            connection.is_closed_within(Duration::from_secs(5)),
            "{path}"
        );

        let responses = h2::send_all(server.addr(), vec![h2::get(server.addr(), path)]).unwrap();
        assert!(
            responses[0].body.is_err(),
            "{path}: HTTP/2 stream not reset"
        );
    }
    // The server still serves.
    let response = h1::exchange(server.addr(), &h1::get("/hello")).unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown().unwrap();
}

fn client_disconnect_drops_the_application_future(target: &dyn Target) {
    let (server, state) = start(target);
    let connection = open_pending(&server, &state);
    let closed = Instant::now();
    drop(connection);
    assert!(
        eventually(Duration::from_secs(1), || state
            .dropped
            .load(Ordering::SeqCst)
            == 1),
        "the application's future was not dropped within 1 s of the disconnect"
    );
    println!(
        "[{}] future dropped {:?} after the client closed",
        target.name(),
        closed.elapsed()
    );

    // Over HTTP/2: the client resets the stream (RST_STREAM) and keeps the
    // connection open.
    let addr = server.addr();
    let client = thread::spawn(move || {
        h2::send_then_reset(
            addr,
            h2::get(addr, "/pending"),
            Duration::from_millis(300),
            Duration::from_secs(3),
        )
    });
    assert!(eventually(Duration::from_secs(5), || state
        .pending
        .load(Ordering::SeqCst)
        == 2));
    assert!(
        eventually(Duration::from_millis(1300), || state
            .dropped
            .load(Ordering::SeqCst)
            == 2),
        "the application's future was not dropped within 1 s of RST_STREAM"
    );
    client.join().unwrap().unwrap();
    server.shutdown().unwrap();
}

fn graceful_shutdown_finishes_requests_in_flight(target: &dyn Target) {
    let (server, _) = start(target);
    let addr = server.addr();
    let mut slow = h1::Connection::open(addr).unwrap();
    slow.send(&h1::get("/slow?ms=1000")).unwrap();
    let mut idle = h1::Connection::open(addr).unwrap();
    idle.send(&h1::get("/hello")).unwrap();
    assert_eq!(idle.read_response(false).unwrap().status(), 200);
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    server.begin_shutdown();
    // New connections are refused once the listener is closed.
    assert!(
        eventually(Duration::from_secs(2), || TcpStream::connect(addr).is_err()),
        "new connections are still accepted during graceful shutdown"
    );
    // The idle keep-alive connection is closed.
    assert!(idle.is_closed_within(Duration::from_secs(5)));
    // The request in flight completes.
    let response = slow.read_response(false).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"slow");
    server.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn shutdown_signal_reaches_the_application(target: &dyn Target) {
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection.send(&h1::get("/until-shutdown")).unwrap();
    let head = connection.read_head().unwrap();
    assert_eq!(head.status, 200);
    let first = connection.read_some(64).unwrap();
    assert!(String::from_utf8_lossy(&first).contains("waiting"));
    server.begin_shutdown();
    let rest = connection.read_body(&head, false).unwrap();
    assert!(rest.complete);
    assert!(String::from_utf8_lossy(&rest.body).ends_with("bye\n"));
    server.shutdown().unwrap();
}

fn keep_alive_off_closes_after_each_response(target: &dyn Target) {
    let mut settings = test_settings();
    settings.keep_alive = false;
    let (server, _) = start_with(target, settings);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection.send(&h1::get("/hello")).unwrap();
    let response = connection.read_response(false).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(connection.is_closed_within(Duration::from_secs(5)));
    server.shutdown().unwrap();
}

fn graceful_shutdown_deadline_is_enforced(target: &dyn Target) {
    let mut settings = test_settings();
    settings.graceful_shutdown_timeout = Duration::from_millis(300);
    let (server, state) = start_with(target, settings);
    let mut connection = open_pending(&server, &state);
    let started = Instant::now();
    server.shutdown().unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(state.dropped.load(Ordering::SeqCst), 1);
    assert!(connection.is_closed_within(Duration::from_secs(5)));
}

fn upgrade_echoes_over_the_upgraded_connection(target: &dyn Target) {
    let (server, _) = start(target);
    let mut connection = h1::Connection::open(server.addr()).unwrap();
    connection
        .send(b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    let head = connection.read_head().unwrap();
    assert_eq!(head.status, 101);
    assert_eq!(head.header("upgrade"), Some("echo"));
    for message in [&b"ping"[..], b"hello over the upgraded connection"] {
        connection.send(message).unwrap();
        let mut echoed = Vec::new();
        while echoed.len() < message.len() {
            let more = connection.read_some(message.len() - echoed.len()).unwrap();
            assert!(!more.is_empty());
            echoed.extend(more);
        }
        assert_eq!(echoed, message);
    }
    server.shutdown().unwrap();
}

fn runtime_service_inside_the_application(target: &dyn Target) {
    let (server, _) = start(target);
    let response = h1::exchange(server.addr(), &h1::get("/runtime")).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "sleep spawn spawn_blocking timeout"
    );
    let response = h1::exchange(server.addr(), &h1::get("/info")).unwrap();
    assert!(String::from_utf8_lossy(&response.body).starts_with("peer=127.0.0.1:"));
    server.shutdown().unwrap();
}

fn http2_100_concurrent_streams(target: &dyn Target) {
    let (server, _) = start(target);
    let addr = server.addr();
    let requests = (0..100)
        .map(|i| h2::get(addr, &format!("/slow?ms={}", 200 + i % 3)))
        .collect();
    let started = Instant::now();
    let responses = h2::send_all(addr, requests).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(responses.len(), 100);
    for response in &responses {
        assert_eq!(response.status, 200);
        assert_eq!(response.body.as_ref().unwrap(), "slow");
    }
    // Served concurrently: 100 sequential 200 ms sleeps would take 20 s.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    server.shutdown().unwrap();
}

fn malformed_requests_get_400(target: &dyn Target) {
    let (server, _) = start(target);
    let cases: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
    ];
    for case in cases {
        let mut connection = h1::Connection::open(server.addr()).unwrap();
        connection.send(case).unwrap();
        let response = connection.read_response(false).unwrap_or_else(|error| {
            panic!("{:?}: no response: {error}", String::from_utf8_lossy(case))
        });
        assert_eq!(
            response.status(),
            400,
            "{:?}",
            String::from_utf8_lossy(case)
        );
        assert!(connection.is_closed_within(Duration::from_secs(5)));
    }
    let response = h1::exchange(server.addr(), &h1::get("/hello")).unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown().unwrap();
}

fn oversized_request_head_gets_431(target: &dyn Target) {
    let (server, _) = start(target);
    // The default limit is 64 KiB; send a 100 KiB header field.
    let request = format!(
        "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 431);
    server.shutdown().unwrap();
}

fn silent_connection_closed_after_header_read_timeout(target: &dyn Target) {
    let mut settings = test_settings();
    settings.header_read_timeout = Some(Duration::from_millis(300));
    let (server, _) = start_with(target, settings);
    // Sends nothing at all.
    let mut silent = h1::Connection::open(server.addr()).unwrap();
    // Sends half a request head.
    let mut partial = h1::Connection::open(server.addr()).unwrap();
    partial.send(b"GET /hello HTTP/1.1\r\nHost: loc").unwrap();
    let started = Instant::now();
    assert!(silent.is_closed_within(Duration::from_secs(5)));
    assert!(partial.is_closed_within(Duration::from_secs(5)));
    assert!(started.elapsed() < Duration::from_secs(5));
    // A prompt client is still served.
    let response = h1::exchange(server.addr(), &h1::get("/hello")).unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown().unwrap();
}

fn server_owns_framing_and_version(target: &dyn Target) {
    let (server, _) = start(target);
    let response = h1::exchange(server.addr(), &h1::get("/wrong-length")).unwrap();
    assert_eq!(response.status(), 500);
    let response = h1::exchange(server.addr(), &h1::get("/http09")).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.head.minor_version, 1);
    assert_eq!(response.body, b"version ignored");
    let responses =
        h2::send_all(server.addr(), vec![h2::get(server.addr(), "/wrong-length")]).unwrap();
    assert_eq!(responses[0].status, 500);

    // The application's Transfer-Encoding is replaced by the server's framing.
    let response = h1::exchange(server.addr(), &h1::get("/transfer-encoding")).unwrap();
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), Some("5"));
    assert_eq!(response.body, b"plain");
    server.shutdown().unwrap();
}

fn no_content_for_head_204_and_304(target: &dyn Target) {
    let (server, _) = start(target);
    let addr = server.addr();
    // HTTP/1.1: no body bytes; the next response on the connection parses.
    let mut connection = h1::Connection::open(addr).unwrap();
    for (path, status) in [("/no-content", 204), ("/not-modified", 304)] {
        connection.send(&h1::get(path)).unwrap();
        let response = connection.read_response(false).unwrap();
        assert_eq!(response.status(), status);
        assert!(response.body.is_empty());
    }
    connection.send(&h1::get("/say/after")).unwrap();
    assert_eq!(connection.read_response(false).unwrap().body, b"after");
    // HTTP/2: no DATA frames either, and HEAD keeps the GET's length.
    let head = http::Request::head(format!("http://{addr}/hello"))
        .body(Bytes::new())
        .unwrap();
    let requests = vec![
        head,
        h2::get(addr, "/no-content"),
        h2::get(addr, "/not-modified"),
    ];
    let responses = h2::send_all(addr, requests).unwrap();
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].headers["content-length"], "13");
    assert_eq!(responses[1].status, 204);
    assert_eq!(responses[1].headers.get("content-length"), None);
    assert_eq!(responses[2].status, 304);
    for response in &responses {
        assert_eq!(response.body.as_ref().unwrap().len(), 0);
    }
    // A final 1xx is not a response: 500, over both protocols; so is a 101
    // over HTTP/2, which has no upgrades of that kind.
    let response = h1::exchange(addr, &h1::get("/early-hints")).unwrap();
    assert_eq!(response.status(), 500);
    let requests = vec![h2::get(addr, "/early-hints"), h2::get(addr, "/bare-101")];
    for response in h2::send_all(addr, requests).unwrap() {
        assert_eq!(response.status, 500);
    }
    server.shutdown().unwrap();
}

fn max_connections_holds_back_further_connections(target: &dyn Target) {
    let mut settings = test_settings();
    settings.max_connections = 1;
    let (server, _) = start_with(target, settings);
    let mut first = h1::Connection::open(server.addr()).unwrap();
    first.send(&h1::get("/hello")).unwrap();
    assert_eq!(first.read_response(false).unwrap().status(), 200);
    // The second connection waits in the backlog while the first is open.
    let mut second = h1::Connection::open(server.addr()).unwrap();
    second.send(&h1::get("/say/second")).unwrap();
    second
        .stream()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(
        second.read_head().is_err(),
        "a second connection was served"
    );
    drop(first);
    second
        .stream()
        .set_read_timeout(Some(h1::IO_TIMEOUT))
        .unwrap();
    let response = second.read_response(false).unwrap();
    assert_eq!(response.body, b"second");
    server.shutdown().unwrap();
}

fn request_body_limit_gives_413(target: &dyn Target) {
    let mut settings = test_settings();
    settings.max_request_body_size = Some(1024);
    let (server, _) = start_with(target, settings);
    // Announced too long: 413 without calling the application.
    let request = format!(
        "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2048\r\n\r\n{}",
        "x".repeat(2048)
    );
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.header("connection"), Some("close"));
    // Grows too long while read (chunked): `albany::blocking` answers 413.
    let chunk = "y".repeat(600);
    let request = format!(
        "POST /blocking HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
         258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 413);
    // Within the limit.
    let request = "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown().unwrap();
}

fn blocking_application_on_the_blocking_pool(target: &dyn Target) {
    let (server, _) = start(target);
    let request = "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 200);
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert!(body.starts_with("5 bytes on "), "{body}");
    // Its own body limit (64 KiB) gives 413.
    let size = app::BLOCKING_BODY_LIMIT + 1;
    let request = format!(
        "POST /blocking HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n{}",
        "z".repeat(size)
    );
    let response = h1::exchange(server.addr(), request.as_bytes()).unwrap();
    assert_eq!(response.status(), 413);
    // Twenty blocking requests at once, over HTTP/2, all answered.
    let addr = server.addr();
    let requests = (0..20)
        .map(|_| {
            http::Request::post(format!("http://{addr}/blocking"))
                .body(Bytes::from_static(b"abc"))
                .unwrap()
        })
        .collect();
    for response in h2::send_all(addr, requests).unwrap() {
        assert_eq!(response.status, 200);
        assert!(response.body.unwrap().starts_with(b"3 bytes on "));
    }
    server.shutdown().unwrap();
}

/// Runs every test on every adapter: one module per adapter.
macro_rules! for_each_adapter {
    ($($test:ident),* $(,)?) => {
        mod tokio {
            $( #[test] fn $test() { super::$test(&albany_conformance::TOKIO) } )*
        }
        mod async_std {
            $( #[test] fn $test() { super::$test(&albany_conformance::ASYNC_STD) } )*
        }
        mod smol {
            $( #[test] fn $test() { super::$test(&albany_conformance::SMOL) } )*
        }
    };
}

for_each_adapter!(
    get_post_head,
    http2_prior_knowledge,
    keep_alive_1000_requests,
    pipelined_requests_answered_in_order,
    upload_8_mib_echoed_while_streaming,
    download_64_mib_byte_exact,
    push_writer_waits_for_a_slow_reader,
    trailers_over_http1_chunked_and_http2,
    panic_before_head_is_500_and_serving_continues,
    body_error_after_head_aborts_the_response,
    client_disconnect_drops_the_application_future,
    graceful_shutdown_finishes_requests_in_flight,
    graceful_shutdown_deadline_is_enforced,
    shutdown_signal_reaches_the_application,
    keep_alive_off_closes_after_each_response,
    upgrade_echoes_over_the_upgraded_connection,
    runtime_service_inside_the_application,
    http2_100_concurrent_streams,
    malformed_requests_get_400,
    oversized_request_head_gets_431,
    silent_connection_closed_after_header_read_timeout,
    server_owns_framing_and_version,
    no_content_for_head_204_and_304,
    max_connections_holds_back_further_connections,
    request_body_limit_gives_413,
    blocking_application_on_the_blocking_pool,
);
