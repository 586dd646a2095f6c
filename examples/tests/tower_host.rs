//! An Albany application served by servers that are not Albany's, through
//! the tower bridge `albany::tower::ApplicationService` (spec TOWER-11 to
//! TOWER-18): by plain hyper-util (`auto::Builder` with
//! `TowerToHyperService`, one service per connection made with
//! `for_connection`; the conformance suite's `hyper-util-tower` target), and
//! by `axum::serve` with the application as a `Router`'s fallback behind a
//! tower-http layer. Both on tokio (hyper-util's and axum's runtime), tested
//! over loopback with a `std` client (and HTTP/2 with prior knowledge from
//! a hyper client on a runtime of its own): the runtime `Handle` works inside
//! (`sleep`, `spawn_blocking`), `ConnectionInfo` has the client's address,
//! request bodies arrive, and the shutdown signal resolves when the host
//! starts its graceful shutdown.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use albany::http::{HeaderName, HeaderValue};
use albany::shutdown::ShutdownTrigger;
use albany::tower::ApplicationService;
use albany::{from_fn, Body, BoxApplication, ConnectionInfo, Request, RequestExt, Response};
use albany_conformance::h1::{self, Connection};
use albany_conformance::h2;
use albany_conformance::{suite_settings, Target, HYPER_UTIL_TOWER};

/// The application both hosts serve.
///
/// | route | answer |
/// | --- | --- |
/// | `/info` | `peer=ADDR local=ADDR runtime=BOOL shutdown=BOOL` |
/// | `/work` | sleeps 30 ms with `Handle::sleep`, runs a blocking function with `spawn_blocking`: `slept=BOOL blocking-thread=BOOL` |
/// | `/echo` | the request body |
/// | `/wait` | `bye`, once the shutdown signal resolves |
fn application() -> BoxApplication {
    BoxApplication::new(from_fn(|request: Request| async move {
        let text = match request.uri().path() {
            "/info" => {
                let info = request.connection_info();
                format!(
                    "peer={:?} local={:?} runtime={} shutdown={:?}",
                    info.and_then(ConnectionInfo::peer_addr),
                    info.and_then(ConnectionInfo::local_addr),
                    request.runtime().is_some(),
                    request.shutdown_signal().map(|s| s.is_triggered()),
                )
            }
            "/work" => {
                let Some(handle) = request.runtime() else {
                    return Response::new(Body::from("no runtime"));
                };
                let started = Instant::now();
                handle.sleep(Duration::from_millis(30)).await;
                let slept = started.elapsed() >= Duration::from_millis(30);
                let here = thread::current().id();
                let blocking = handle.spawn_blocking(move || thread::current().id() != here);
                format!("slept={slept} blocking-thread={:?}", blocking.await)
            }
            "/echo" => match request.into_body().to_bytes(1 << 20).await {
                Ok(bytes) => return Response::new(Body::from(bytes)),
                Err(error) => format!("body error: {error}"),
            },
            "/wait" => match request.shutdown_signal() {
                Some(signal) => {
                    signal.await;
                    "bye".to_owned()
                }
                None => "no shutdown signal".to_owned(),
            },
            _ => "not found".to_owned(),
        };
        Response::new(Body::from(text))
    }))
}

fn text(response: &h1::Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// `GET target` on a new connection; the response and the client's own
/// address (the server's peer).
fn get(addr: SocketAddr, target: &str) -> (h1::Response, SocketAddr) {
    let mut connection = Connection::open(addr).expect("connect");
    connection
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let client = connection.stream().local_addr().unwrap();
    connection.send(&h1::get(target)).unwrap();
    (connection.read_response(false).expect("a response"), client)
}

/// What both hosts must show: `/info`, `/work`, `/echo`, then `/wait`
/// answered once `shutdown` is called.
fn check_host(addr: SocketAddr, shutdown: impl FnOnce()) {
    let (response, client) = get(addr, "/info");
    assert_eq!(response.status(), 200);
    assert_eq!(
        text(&response),
        format!("peer=Some({client}) local=Some({addr}) runtime=true shutdown=Some(false)")
    );

    let (response, _) = get(addr, "/work");
    assert_eq!(text(&response), "slept=true blocking-thread=Ok(true)");

    // HTTP/2 with prior knowledge, from a client on a tokio runtime of its
    // own: two streams of one connection, the same ConnectionInfo.
    let responses = h2::send_all(addr, vec![h2::get(addr, "/info"), h2::get(addr, "/work")])
        .expect("HTTP/2 responses");
    let info = String::from_utf8_lossy(responses[0].body.as_ref().expect("a body")).into_owned();
    assert!(
        info.starts_with("peer=Some(127.0.0.1:")
            && info.ends_with(&format!(
                "local=Some({addr}) runtime=true shutdown=Some(false)"
            )),
        "{info}"
    );
    assert_eq!(
        responses[1].body.as_deref().expect("a body"),
        b"slept=true blocking-thread=Ok(true)"
    );

    let body = "a request body through tower".repeat(1000);
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = h1::exchange(addr, request.as_bytes()).expect("an echo");
    assert_eq!(text(&response), body);

    // A request waiting for the shutdown signal: no answer until the host
    // starts its graceful shutdown, then `bye`.
    let mut waiting = Connection::open(addr).expect("connect");
    waiting
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    waiting.send(&h1::get("/wait")).unwrap();
    assert!(
        waiting.read_some(1).is_err(),
        "/wait answered before the shutdown"
    );
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    shutdown();
    let response = waiting.read_response(false).expect("the answer to /wait");
    assert_eq!(text(&response), "bye");
}

#[test]
fn hyper_util_hosts_an_albany_application() {
    // conformance/src/hosted.rs: hyper-util's auto::Builder, a service per
    // connection with for_connection, hyper-util's GracefulShutdown.
    let server = HYPER_UTIL_TOWER
        .start(application(), suite_settings())
        .expect("hyper-util starts");
    let addr = server.addr();
    check_host(addr, || server.begin_shutdown());
    server.shutdown().expect("hyper-util stops");
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "the listener is still open after the shutdown"
    );
}

#[test]
fn axum_serve_hosts_an_albany_application_behind_a_tower_http_layer() {
    use axum::extract::ConnectInfo;
    use axum::routing::get as route_get;
    use tower::util::MapRequestLayer;
    use tower_http::set_header::SetResponseHeaderLayer;

    let trigger = ShutdownTrigger::new();
    let (sender, receiver) = mpsc::channel();
    let host_trigger = trigger.clone();
    let host = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let local = listener.local_addr().unwrap();
            sender.send(local).unwrap();
            let albany = ApplicationService::new(application(), albany_tokio::handle())
                .with_shutdown_trigger(host_trigger.clone());
            let router = axum::Router::new()
                .route("/axum", route_get(|| async { "an axum route" }))
                .fallback_service(albany)
                .layer(SetResponseHeaderLayer::overriding(
                    HeaderName::from_static("x-hosted-by"),
                    HeaderValue::from_static("axum"),
                ))
                // axum shows the connection as ConnectInfo; Albany's
                // application reads it as a ConnectionInfo.
                .layer(MapRequestLayer::new(
                    move |mut request: axum::extract::Request| {
                        if let Some(ConnectInfo(peer)) = request
                            .extensions()
                            .get::<ConnectInfo<SocketAddr>>()
                            .copied()
                        {
                            request
                                .extensions_mut()
                                .insert(ConnectionInfo::new(peer, local));
                        }
                        request
                    },
                ));
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            // The host's graceful shutdown and the application's signal
            // are one trigger.
            .with_graceful_shutdown(host_trigger.signal())
            .await
        })
    });
    let addr = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("axum starts");

    let (response, _) = get(addr, "/axum");
    assert_eq!(text(&response), "an axum route");
    assert_eq!(response.header("x-hosted-by"), Some("axum"));
    let (response, _) = get(addr, "/info");
    assert_eq!(
        response.header("x-hosted-by"),
        Some("axum"),
        "the layer wraps Albany's application"
    );
    check_host(addr, || trigger.trigger());

    let deadline = Instant::now() + Duration::from_secs(10);
    while !host.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(host.is_finished(), "axum::serve did not stop");
    host.join()
        .unwrap()
        .expect("axum::serve ends without an error");
}
