//! albany-test's two modes, in memory and through the engine, on one
//! application, under a plain `#[test]` and under tokio, smol and
//! async-std.

use std::time::{Duration, Instant};

use albany::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use albany::{from_fn, Application, Body, Request, RequestExt, Response};
use albany_test::{
    assert_body, assert_header, assert_ok, assert_status, Engine, TestClient, TestRequest,
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// The application under test: one route per feature.
fn app() -> impl Application {
    from_fn(|request: Request| async move {
        match request.uri().path() {
            "/text" => text("hello"),
            "/json" => {
                let info = request.connection_info().expect("a ConnectionInfo");
                let peer = info.peer_addr().map(|addr| addr.to_string());
                let mut response = Response::new(Body::from(format!(
                    r#"{{"peer":"{}","scheme":"{}","version":"{:?}"}}"#,
                    peer.unwrap_or_default(),
                    info.scheme(),
                    request.version()
                )));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            "/echo" => Response::new(request.into_body()),
            "/stream" => {
                // Three frames, 20 ms apart, on the request's runtime.
                let handle = request.runtime().expect("a Handle").clone();
                let (mut sender, body) = Body::channel(16);
                drop(handle.clone().spawn(async move {
                    for i in 0..3 {
                        handle.sleep(Duration::from_millis(20)).await;
                        if sender.send(format!("event {i}\n")).await.is_err() {
                            return;
                        }
                    }
                    sender.finish();
                }));
                Response::new(body)
            }
            "/trailers" => {
                let (mut sender, body) = Body::channel(1024);
                let mut trailers = HeaderMap::new();
                trailers.insert("x-checksum", HeaderValue::from_static("abc"));
                sender.try_send("data").unwrap();
                drop(
                    request
                        .runtime()
                        .unwrap()
                        .spawn(async move { sender.send_trailers(trailers).await }),
                );
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert(header::TRAILER, HeaderValue::from_static("x-checksum"));
                response
            }
            "/blocking" => {
                let handle = request.runtime().unwrap();
                let started = Instant::now();
                handle.sleep(Duration::from_millis(10)).await;
                let sum = handle
                    .spawn_blocking(|| {
                        std::thread::sleep(Duration::from_millis(5));
                        (1..=10u32).sum::<u32>()
                    })
                    .await
                    .unwrap();
                assert!(started.elapsed() >= Duration::from_millis(10));
                text(&format!("sum {sum}"))
            }
            "/shutdown" => {
                // A long poll that ends when graceful shutdown starts.
                let signal = request.shutdown_signal().expect("a shutdown signal");
                signal.await;
                text("bye")
            }
            "/hosts" => text(
                &request
                    .headers()
                    .get_all(header::HOST)
                    .iter()
                    .count()
                    .to_string(),
            ),
            "/upgrade" => upgrade(request),
            "/panic" => panic!("the application panicked on purpose"),
            _ => {
                let mut response = text("Not Found");
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }
        }
    })
}

fn text(body: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_owned()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Answers `101` and echoes what comes on the upgraded connection.
fn upgrade(mut request: Request) -> Response {
    let on_upgrade = request.take_upgrade().expect("an OnUpgrade");
    drop(request.runtime().unwrap().spawn(async move {
        let connection = on_upgrade.await.expect("the upgraded connection");
        let (mut reader, mut writer) = futures_lite::io::split(connection);
        let _ = futures_lite::io::copy(&mut reader, &mut writer).await;
    }));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    response
        .headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static("echo"));
    response
}

/// The requests both modes answer alike; `make` builds a request of the
/// mode under test, `engine` says which it is.
async fn common(make: &dyn Fn(Method, &str) -> TestRequest, engine: bool) {
    let response = make(Method::GET, "/text").await;
    assert_ok!(response, "hello");
    assert_header!(response, "content-type", "text/plain; charset=utf-8");
    if engine {
        // The engine frames the response.
        response.assert_header("content-length", "5");
    } else {
        response.assert_no_header("content-length");
    }

    let response = make(Method::GET, "/json").await;
    response
        .assert_ok()
        .assert_header("content-type", "application/json")
        .assert_body(r#"{"peer":"127.0.0.1:49152","scheme":"http","version":"HTTP/1.1"}"#);

    let response = make(Method::POST, "/echo").text("ping").await;
    assert_body!(response, "ping");

    let response = make(Method::GET, "/nope").await;
    assert_status!(response, 404);
    assert_status!(response, StatusCode::NOT_FOUND);

    // A streaming body: three frames, read as they come.
    let started = Instant::now();
    let mut streaming = make(Method::GET, "/stream").send_streaming().await;
    assert_eq!(streaming.status(), 200);
    let mut frames = Vec::new();
    while let Some(chunk) = streaming.next_chunk().await.unwrap() {
        frames.push(chunk);
    }
    assert_eq!(frames.concat(), b"event 0\nevent 1\nevent 2\n");
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert!(started.elapsed() >= Duration::from_millis(60));
    if engine {
        let streamed = make(Method::GET, "/stream").await;
        streamed
            .assert_header("transfer-encoding", "chunked")
            .assert_body("event 0\nevent 1\nevent 2\n");
    }

    // Trailers: over HTTP/1.1 through the engine, sent to a client that
    // accepts them.
    let response = make(Method::GET, "/trailers")
        .header(header::TE, "trailers")
        .await;
    response
        .assert_ok()
        .assert_body("data")
        .assert_trailer("x-checksum", "abc");

    // Handle::sleep and Handle::spawn_blocking inside the application.
    make(Method::GET, "/blocking").await.assert_body("sum 55");

    // An upgrade: the test speaks to the application's echo.
    let mut response = make(Method::GET, "/upgrade")
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "echo")
        .await;
    response.assert_status(101);
    let mut connection = response.take_upgraded().expect("the client's end");
    connection.write_all(b"marco").await.unwrap();
    let mut buf = [0; 5];
    connection.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"marco");
}

/// In memory: what only the absence of a server shows.
async fn memory_only(client: &TestClient) {
    // HEAD: the application's body, as it made it.
    client.head("/text").await.assert_ok().assert_body("hello");
    // Two Host field lines reach the application.
    client
        .get("/hosts")
        .header(header::HOST, "a")
        .header(header::HOST, "b")
        .await
        .assert_body("2");
    // A very large head is no one's business but the application's.
    client
        .get("/text")
        .header("x-large", "a".repeat(100_000))
        .await
        .assert_ok();
    // The shutdown signal is the test's.
    let waiting = client.get("/shutdown").send();
    let trigger = client.shutdown_trigger();
    let fire = async {
        client.handle().sleep(Duration::from_millis(30)).await;
        trigger.trigger();
    };
    let (response, ()) = futures_lite::future::zip(waiting, fire).await;
    response.assert_body("bye");
}

/// Through the engine: the server's rules.
async fn engine_only<B: albany_server::Binding>(engine: &Engine<B>) {
    // HEAD: no body, the length a GET would have.
    engine
        .head("/text")
        .await
        .assert_ok()
        .assert_header("content-length", "5")
        .assert_body("");
    // Two Host field lines: 400 from the engine, the application not called.
    let raw = engine
        .raw("GET /hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        .send()
        .await;
    assert_eq!(raw.status(), Some(400), "{raw:?}");
    // A head over max_header_size (64 KiB by default): 431.
    let large = format!(
        "GET /text HTTP/1.1\r\nHost: x\r\nX-Large: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let raw = engine.raw(large).send().await;
    assert_eq!(raw.status(), Some(431), "{raw:?}");
    // A panic before the response: 500, and the engine goes on.
    engine.get("/panic").await.assert_status(500);
    engine.get("/text").await.assert_ok();
    // HTTP/2 with prior knowledge on the same kind of connection.
    let response = engine.get("/json").version(Version::HTTP_2).await;
    assert_eq!(response.version(), Version::HTTP_2);
    response.assert_body(r#"{"peer":"127.0.0.1:49152","scheme":"http","version":"HTTP/2.0"}"#);
    engine
        .get("/trailers")
        .version(Version::HTTP_2)
        .await
        .assert_body("data")
        .assert_trailer("x-checksum", "abc");
    // Graceful shutdown: the long poll ends with the signal.
    let waiting = engine.get("/shutdown").send();
    let fire = async {
        engine.handle().sleep(Duration::from_millis(30)).await;
        engine.shutdown();
    };
    let (response, ()) = futures_lite::future::zip(waiting, fire).await;
    response.assert_body("bye");
}

#[test]
fn memory_mode_under_a_plain_test() {
    let client = TestClient::new(app());
    albany_test::block_on(async {
        common(&|method, uri| client.request(method, uri), false).await;
        memory_only(&client).await;
    });
    // The blocking API.
    client.get("/text").block().assert_ok();
}

#[test]
fn engine_mode_under_a_plain_test() {
    let engine = Engine::new(app());
    albany_test::block_on(async {
        common(&|method, uri| engine.request(method, uri), true).await;
        engine_only(&engine).await;
    });
}

#[test]
fn engine_mode_over_http2() {
    let engine = Engine::new(app());
    let h2 = |method, uri: &str| engine.request(method, uri).version(Version::HTTP_2);
    let response = h2(Method::GET, "/text").block();
    assert_eq!(response.version(), Version::HTTP_2);
    response.assert_ok().assert_body("hello");
    h2(Method::POST, "/echo")
        .body("over h2")
        .block()
        .assert_body("over h2");
    h2(Method::HEAD, "/text")
        .block()
        .assert_header("content-length", "5")
        .assert_body("");
}

#[test]
fn connection_info_is_the_tests() {
    let info = albany::ConnectionInfo::new(
        "10.1.2.3:4567".parse().unwrap(),
        "10.1.2.4:443".parse().unwrap(),
    )
    .with_tls(albany::TlsInfo::new());
    let body = r#"{"peer":"10.1.2.3:4567","scheme":"https","version":"HTTP/1.1"}"#;
    TestClient::new(app())
        .connection_info(info.clone())
        .get("/json")
        .block()
        .assert_body(body);
    Engine::new(app())
        .connection_info(info)
        .get("/json")
        .block()
        .assert_body(body);
}

#[test]
fn engine_settings_apply() {
    let mut settings = albany_server::Settings::default();
    settings.max_request_body_size = Some(3);
    settings.header_read_timeout = Some(Duration::from_millis(100));
    let engine = Engine::new(app()).settings(settings);
    engine
        .post("/echo")
        .body("too long")
        .block()
        .assert_status(413);
    // A client that sends no complete head is closed after the header read timeout.
    let started = Instant::now();
    let raw = engine.raw("GET /text HTTP/1.1\r\n").block();
    assert!(raw.bytes().is_empty(), "{raw:?}");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_failed_assertion_shows_the_response() {
    let response = TestClient::new(app()).get("/nope").block();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        response.assert_ok();
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("expected status 200"), "{message}");
    assert!(message.contains("404 Not Found"), "{message}");
    assert!(message.contains("\"Not Found\""), "{message}");
    assert!(message.contains("content-type: text/plain"), "{message}");
}

#[test]
fn an_application_that_does_not_answer_times_out() {
    let client = TestClient::new(from_fn(|_| std::future::pending::<Response>()));
    let started = Instant::now();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.get("/").timeout(Duration::from_millis(50)).block();
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("no response to GET /"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn both_modes_under_tokio() {
    let client = TestClient::new(app()).with_handle(albany_tokio::handle());
    common(&|method, uri| client.request(method, uri), false).await;
    memory_only(&client).await;
    let engine = Engine::new(app()).binding(albany_tokio::TokioBinding::new(
        tokio::runtime::Handle::current(),
    ));
    common(&|method, uri| engine.request(method, uri), true).await;
    engine_only(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_modes_under_tokio_multi_thread() {
    let client = TestClient::new(app()).with_handle(albany_tokio::handle());
    common(&|method, uri| client.request(method, uri), false).await;
    let engine = Engine::new(app()).binding(albany_tokio::TokioBinding::new(
        tokio::runtime::Handle::current(),
    ));
    common(&|method, uri| engine.request(method, uri), true).await;
}

#[test]
fn both_modes_under_smol() {
    smol::block_on(async {
        let client = TestClient::new(app()).with_handle(albany_smol::handle());
        common(&|method, uri| client.request(method, uri), false).await;
        memory_only(&client).await;
        let engine = Engine::new(app()).binding(albany_smol::SmolBinding::global());
        common(&|method, uri| engine.request(method, uri), true).await;
        engine_only(&engine).await;
    });
}

#[test]
fn both_modes_under_async_std() {
    async_std::task::block_on(async {
        let client = TestClient::new(app()).with_handle(albany_async_std::handle());
        common(&|method, uri| client.request(method, uri), false).await;
        memory_only(&client).await;
        let engine = Engine::new(app()).binding(albany_async_std::AsyncStdBinding);
        common(&|method, uri| engine.request(method, uri), true).await;
        engine_only(&engine).await;
    });
}
