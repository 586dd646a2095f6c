//! Behind nginx (Debian's package, the front server users deploy), on each
//! adapter, over TCP and over a Unix domain socket: upstream keep-alive, a streamed response arriving in
//! pieces (`proxy_buffering off`), a large upload, an upgrade, and the
//! client's address through `X-Forwarded-For` from a trusted nginx, with a
//! spoofed entry ignored. Skipped, saying so, where nginx is not installed
//! (`.ci/run` installs it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use albany::{from_fn, Body, Request, RequestExt, Response};
use albany_examples::testing::{
    echo_upgrade, nginx_installed, read_until, serve_unix, serve_with, Nginx, ServerThread,
    ADAPTERS,
};
use albany_server::Settings;
use futures_lite::AsyncReadExt;

/// The application behind nginx.
fn application(gate: Arc<AtomicBool>) -> impl albany::Application {
    from_fn(move |request: Request| {
        let gate = gate.clone();
        async move {
            let handle = request.runtime().cloned().expect("a runtime");
            match request.uri().path() {
                "/client" => text(format!(
                    "client={} proto={}",
                    request.client_ip().unwrap(),
                    request
                        .forwarded()
                        .and_then(|f| f.proto.clone())
                        .unwrap_or_default()
                )),
                // "first", then, once the test has seen it, "last".
                "/stream" => {
                    let (mut sender, body) = Body::channel(64);
                    handle.clone().spawn(async move {
                        let _ = sender.send("first\n").await;
                        let started = std::time::Instant::now();
                        while !gate.load(Ordering::SeqCst)
                            && started.elapsed() < Duration::from_secs(20)
                        {
                            handle.sleep(Duration::from_millis(5)).await;
                        }
                        let _ = sender.send("last\n").await;
                        sender.finish();
                    });
                    Response::new(body)
                }
                "/upload" => {
                    let mut reader = request.into_body().into_reader();
                    let mut buffer = vec![0; 64 * 1024];
                    let (mut total, mut sum) = (0u64, 0u64);
                    loop {
                        match reader.read(&mut buffer).await {
                            Ok(0) => break,
                            Ok(n) => {
                                total += n as u64;
                                sum = buffer[..n]
                                    .iter()
                                    .fold(sum, |sum, &b| sum.wrapping_add(u64::from(b)));
                            }
                            Err(error) => return text(format!("error {error}")),
                        }
                    }
                    text(format!("{total} {sum}"))
                }
                "/upgrade" => echo_upgrade(request),
                _ => text("not found".to_owned()),
            }
        }
    })
}

fn text(body: String) -> Response {
    Response::new(Body::from(body))
}

/// The `location /` of the nginx in front of the server.
const LOCATION: &str = "
            proxy_pass http://albany;
            proxy_http_version 1.1;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_request_buffering off;";

/// A client connection from `source` (a loopback address) to `addr`.
fn connect_from(source: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// One `GET path` through nginx with extra `fields`; the response body.
fn get(nginx: SocketAddr, source: [u8; 4], path: &str, fields: &str) -> String {
    let mut stream = connect_from(source, nginx);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{fields}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// The server on `adapter` behind nginx, over TCP or (`unix`) a Unix
/// domain socket.
fn behind_nginx(adapter: &str, unix: bool) {
    let adapter_name = adapter;
    let gate = Arc::new(AtomicBool::new(false));
    let mut settings = Settings::default();
    // Over TCP nginx connects from 127.0.0.1; the clients below connect to
    // nginx from 127.0.0.2.
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let mut socket_path = None;
    let (server, nginx): (ServerThread, Nginx) = if unix {
        settings.trust_unix_peers = true;
        let dir = std::env::temp_dir().join(format!(
            "albany-nginx-unix-{adapter}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.sock");
        // nginx's workers run as another user when the test runs as root:
        // the socket's mode lets them connect.
        let server = serve_unix(adapter, application(gate.clone()), settings, &path, 0o666);
        let nginx = Nginx::start(
            &format!("unix:{}", path.display()),
            &format!("{adapter}-unix"),
            LOCATION,
        );
        socket_path = Some(path);
        (server, nginx)
    } else {
        let server = serve_with(adapter, application(gate.clone()), settings);
        let nginx = Nginx::start(&server.addr().to_string(), adapter, LOCATION);
        (server, nginx)
    };
    let adapter = format!(
        "{adapter_name} over {}",
        if unix { "a Unix socket" } else { "TCP" }
    );
    let client = [127, 0, 0, 2];

    // Upstream keep-alive: after two requests one upstream connection is
    // open (nginx keeps it for the next; without keep-alive none would be,
    // and a new connection per request would leave two).
    get(nginx.addr(), client, "/client", "");
    get(nginx.addr(), client, "/client", "");
    assert_eq!(
        server.counters().open_connections(),
        1,
        "{adapter}: upstream connections open after two requests"
    );

    // The client's address, a spoofed X-Forwarded-For entry ignored.
    let seen = get(
        nginx.addr(),
        client,
        "/client",
        "X-Forwarded-For: 203.0.113.9\r\n",
    );
    assert_eq!(seen, "client=127.0.0.2 proto=http", "{adapter}");

    // A streamed response arrives in pieces: "first" before "last" is
    // sent (the application waits for the test to see it).
    let mut stream = connect_from(client, nginx.addr());
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let seen = read_until(&mut stream, "first");
    assert!(!seen.contains("last"), "{adapter}: {seen}");
    gate.store(true, Ordering::SeqCst);
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("last"), "{adapter}: {rest}");

    // A 64 MiB upload, streamed through.
    let size = 64 * 1024 * 1024;
    let block: Vec<u8> = (0..=255u8).cycle().take(1024 * 1024).collect();
    let mut stream = connect_from(client, nginx.addr());
    write!(stream, "POST /upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n").unwrap();
    for _ in 0..64 {
        stream.write_all(&block).unwrap();
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let sum: u64 = 64 * block.iter().map(|&b| u64::from(b)).sum::<u64>();
    assert!(
        response.ends_with(&format!("{size} {sum}")),
        "{adapter}: {response}"
    );

    // An upgrade through nginx.
    let mut stream = connect_from(client, nginx.addr());
    stream
        .write_all(b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    let head = read_until(&mut stream, "\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "{adapter}: {head}");
    stream.write_all(b"ping through nginx").unwrap();
    read_until(&mut stream, "ping through nginx");
    drop(stream);

    drop(nginx);
    server.stop().unwrap();
    if let Some(path) = socket_path {
        assert!(
            !path.exists(),
            "{adapter}: the socket file is left after shutdown"
        );
        let _ = std::fs::remove_dir(path.parent().unwrap());
    }
}

#[test]
fn each_adapter_behind_nginx_over_tcp() {
    if nginx_installed() {
        for adapter in ADAPTERS {
            behind_nginx(adapter, false);
        }
    }
}

#[test]
fn each_adapter_behind_nginx_over_a_unix_socket() {
    if nginx_installed() {
        for adapter in ADAPTERS {
            behind_nginx(adapter, true);
        }
    }
}
