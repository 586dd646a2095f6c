//! The client inside Albany applications on each adapter (tokio,
//! async-std, smol), against an upstream of raw hyper on a tokio runtime of
//! its own, over loopback: HTTP/1.1, h2c, TLS with ALPN h2 and http/1.1,
//! streamed bodies, pool reuse, timeouts, errors, and cancellation.
//!
//! Each check is an application (`from_fn`) that uses the client through
//! the request's `Handle` and answers what it saw; the test calls it with a
//! raw `std::net` HTTP/1.1 request.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use albany::http::StatusCode;
use albany::{from_fn, Body, BoxApplication, Request, RequestExt, Response};
use albany_client::{rustls, Client};
use albany_conformance::{RunningServer, Target, ASYNC_STD, SMOL, TOKIO};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

const TARGETS: [&dyn Target; 3] = [&TOKIO, &ASYNC_STD, &SMOL];

// ---------------------------------------------------------------------------
// The upstream: raw hyper (HTTP/1.1 and h2c auto-detected, or TLS with ALPN)
// on a current-thread tokio runtime in a thread of its own.

struct Upstream {
    addr: SocketAddr,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Connections open now.
    open: Arc<AtomicUsize>,
    /// Requests whose handler started.
    requests: Arc<AtomicUsize>,
}

type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

fn full(text: String) -> UpstreamBody {
    Full::new(Bytes::from(text))
        .map_err(|never: Infallible| match never {})
        .boxed()
}

async fn upstream_route(
    request: http::Request<Incoming>,
    requests: Arc<AtomicUsize>,
) -> Result<http::Response<UpstreamBody>, Infallible> {
    requests.fetch_add(1, Ordering::SeqCst);
    let version = format!("{:?}", request.version());
    let response = match request.uri().path() {
        "/hello" => http::Response::new(full(format!("hello over {version}"))),
        // The request body, streamed back as it arrives.
        "/echo" => http::Response::new(request.into_body().boxed()),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(2_000)).await;
            http::Response::new(full("slow".to_owned()))
        }
        "/hold" => std::future::pending().await,
        _ => {
            let mut response = http::Response::new(full("not found".to_owned()));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

impl Upstream {
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (a, o, r) = (accepted.clone(), open.clone(), requests.clone());
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    a.fetch_add(1, Ordering::SeqCst);
                    o.fetch_add(1, Ordering::SeqCst);
                    let (open, requests, acceptor) = (o.clone(), r.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            upstream_route(request, requests.clone())
                        });
                        let builder = hyper_util::server::conn::auto::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        );
                        let _ = match acceptor {
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(tls) => {
                                    builder
                                        .serve_connection(
                                            hyper_util::rt::TokioIo::new(tls),
                                            service,
                                        )
                                        .await
                                }
                                Err(_) => Ok(()),
                            },
                            None => {
                                builder
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await
                            }
                        };
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            });
        });
        Upstream {
            addr,
            accepted,
            open,
            requests,
        }
    }

    fn url(&self, scheme: &str, host: &str, path: &str) -> String {
        format!("{scheme}://{host}:{}{path}", self.addr.port())
    }
}

/// A certificate for `localhost`, made now: the upstream's TLS
/// configuration (ALPN `h2`, `http/1.1`) and the client's trust anchors.
fn test_certificate() -> (Arc<rustls::ServerConfig>, rustls::RootCertStore) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)
    .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    (Arc::new(server), roots)
}

// ---------------------------------------------------------------------------
// The applications under test, and how the test calls them.

/// An application that runs `check` with the request's runtime handle and
/// answers its text (`500` with the error's chain when it fails).
fn check_app<F, Fut>(check: F) -> BoxApplication
where
    F: Fn(albany::rt::Handle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    let check = Arc::new(check);
    BoxApplication::new(from_fn(move |request: Request| {
        let check = check.clone();
        async move {
            let Some(handle) = request.runtime().cloned() else {
                return status(StatusCode::INTERNAL_SERVER_ERROR, "no runtime".into());
            };
            match check(handle).await {
                Ok(text) => status(StatusCode::OK, text),
                Err(text) => status(StatusCode::INTERNAL_SERVER_ERROR, text),
            }
        }
    }))
}

fn status(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

fn start(target: &dyn Target, app: BoxApplication) -> RunningServer {
    target
        .start(app, albany_server::Settings::default())
        .expect("the server starts")
}

/// `GET /` on a new connection; the status and body of the response (the
/// application answers with `Content-Length` and closes nothing, so the
/// body is read by its length).
fn call(server: &RunningServer) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (code, body.to_owned())
}

/// Serves `app` on `target`, calls it, expects `200`, shuts the server
/// down, and returns the body.
fn answer(target: &dyn Target, app: BoxApplication) -> String {
    let server = start(target, app);
    let (code, body) = call(&server);
    assert_eq!(code, 200, "{}: {body}", target.name());
    server.shutdown().unwrap();
    body
}

/// The error and its sources, joined.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn get_text(client: &Client, url: &str) -> Result<(StatusCode, String), String> {
    let response = client.get(url).await.map_err(|error| chain(&error))?;
    let status = response.status();
    let body = response
        .into_body()
        .to_bytes(1 << 20)
        .await
        .map_err(|error| error.to_string())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

// ---------------------------------------------------------------------------
// The checks.

#[test]
fn http1_get_with_pool_reuse() {
    for target in TARGETS {
        let upstream = Upstream::start(None);
        let url = upstream.url("http", "127.0.0.1", "/hello");
        let body = answer(
            target,
            check_app(move |handle| {
                let url = url.clone();
                async move {
                    let client = Client::new(handle);
                    let mut answers = Vec::new();
                    for _ in 0..3 {
                        let (status, body) = get_text(&client, &url).await?;
                        answers.push(format!("{} {body}", status.as_u16()));
                    }
                    Ok(answers.join("\n"))
                }
            }),
        );
        assert_eq!(
            body,
            ["200 hello over HTTP/1.1"; 3].join("\n"),
            "{}",
            target.name()
        );
        assert_eq!(
            upstream.accepted.load(Ordering::SeqCst),
            1,
            "{}: three sequential requests on one pooled connection",
            target.name()
        );
    }
}

#[test]
fn h2c_with_prior_knowledge_multiplexes_on_one_connection() {
    for target in TARGETS {
        let upstream = Upstream::start(None);
        let url = upstream.url("http", "localhost", "/hello");
        let body = answer(
            target,
            check_app(move |handle| {
                let url = url.clone();
                async move {
                    let client = Client::builder()
                        .http2_prior_knowledge(true)
                        .build(handle.clone());
                    // Two requests at once, in two tasks of the runtime.
                    let first = handle.spawn({
                        let (client, url) = (client.clone(), url.clone());
                        async move { get_text(&client, &url).await }
                    });
                    let second = get_text(&client, &url).await?;
                    let first = first.await.map_err(|error| error.to_string())??;
                    Ok(format!("{}\n{}", first.1, second.1))
                }
            }),
        );
        assert_eq!(
            body,
            "hello over HTTP/2.0\nhello over HTTP/2.0",
            "{}",
            target.name()
        );
        assert!(
            upstream.accepted.load(Ordering::SeqCst) <= 2,
            "{}: {} connections",
            target.name(),
            upstream.accepted.load(Ordering::SeqCst)
        );
    }
}

#[test]
fn tls_negotiates_h2_by_alpn_and_http1_when_asked() {
    let (server_config, roots) = test_certificate();
    for target in TARGETS {
        let upstream = Upstream::start(Some(server_config.clone()));
        let url = upstream.url("https", "localhost", "/hello");
        let roots = roots.clone();
        let body = answer(
            target,
            check_app(move |handle| {
                let (url, roots) = (url.clone(), roots.clone());
                async move {
                    let h2 = Client::builder()
                        .tls_roots(roots.clone())
                        .build(handle.clone());
                    let h1 = Client::builder()
                        .tls_roots(roots)
                        .http1_only(true)
                        .build(handle);
                    let over_h2 = get_text(&h2, &url).await?.1;
                    let over_h1 = get_text(&h1, &url).await?.1;
                    Ok(format!("{over_h2}\n{over_h1}"))
                }
            }),
        );
        assert_eq!(
            body,
            "hello over HTTP/2.0\nhello over HTTP/1.1",
            "{}",
            target.name()
        );
    }
}

#[test]
fn tls_rejects_an_untrusted_certificate() {
    let (server_config, _roots) = test_certificate();
    for target in TARGETS {
        let upstream = Upstream::start(Some(server_config.clone()));
        let url = upstream.url("https", "localhost", "/hello");
        let body = answer(
            target,
            check_app(move |handle| {
                let url = url.clone();
                async move {
                    // The default roots (webpki-roots) do not trust it.
                    match Client::new(handle).get(&url).await {
                        Ok(response) => Err(format!("answered {}", response.status())),
                        Err(error) => {
                            Ok(format!("connect={} {}", error.is_connect(), chain(&error)))
                        }
                    }
                }
            }),
        );
        assert!(
            body.starts_with("connect=true"),
            "{}: {body}",
            target.name()
        );
        assert!(body.contains("certificate"), "{}: {body}", target.name());
    }
}

#[test]
fn bodies_stream_both_ways() {
    for target in TARGETS {
        let upstream = Upstream::start(None);
        let url = upstream.url("http", "127.0.0.1", "/echo");
        let body = answer(
            target,
            check_app(move |handle| {
                let url = url.clone();
                async move {
                    let client = Client::new(handle.clone());
                    let (mut sender, body) = Body::channel(1024);
                    let mut request = Request::new(body);
                    *request.method_mut() = http::Method::POST;
                    *request.uri_mut() = url.parse().map_err(|e| format!("{e}"))?;
                    let response = client.request(request).await.map_err(|e| chain(&e))?;
                    let mut body = response.into_body();
                    // Each chunk comes back before the next is sent: neither
                    // side buffers the whole body.
                    let mut echoed = Vec::new();
                    for i in 0..5 {
                        let chunk = format!("chunk {i};");
                        sender
                            .send(chunk.clone())
                            .await
                            .map_err(|_| "send failed")?;
                        let frame = body
                            .frame()
                            .await
                            .ok_or("the echo ended early")?
                            .map_err(|e| e.to_string())?;
                        let data = frame.into_data().map_err(|_| "trailers")?;
                        echoed.push(String::from_utf8_lossy(&data).into_owned());
                    }
                    sender.finish();
                    Ok(echoed.join(""))
                }
            }),
        );
        assert_eq!(
            body,
            "chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;",
            "{}",
            target.name()
        );
    }
}

#[test]
fn errors_say_connect_and_timeout() {
    for target in TARGETS {
        let upstream = Upstream::start(None);
        let slow = upstream.url("http", "127.0.0.1", "/slow");
        let refused = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/", listener.local_addr().unwrap())
        };
        let body = answer(
            target,
            check_app(move |handle| {
                let (slow, refused) = (slow.clone(), refused.clone());
                async move {
                    let client = Client::builder()
                        .request_timeout(Some(Duration::from_millis(300)))
                        .build(handle);
                    let mut lines = Vec::new();
                    for url in [
                        refused.as_str(),
                        slow.as_str(),
                        "ftp://example.com/",
                        "http://albany-no-such-host.invalid/",
                    ] {
                        match client.get(url).await {
                            Ok(response) => lines.push(format!("answered {}", response.status())),
                            Err(error) => lines.push(format!(
                                "connect={} timeout={} invalid_uri={}",
                                error.is_connect(),
                                error.is_timeout(),
                                error.is_invalid_uri()
                            )),
                        }
                    }
                    Ok(lines.join("\n"))
                }
            }),
        );
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(
            lines[0],
            "connect=true timeout=false invalid_uri=false",
            "{}: refused",
            target.name()
        );
        assert_eq!(
            lines[1],
            "connect=false timeout=true invalid_uri=false",
            "{}: slow",
            target.name()
        );
        assert_eq!(
            lines[2],
            "connect=false timeout=false invalid_uri=true",
            "{}: ftp",
            target.name()
        );
        // A name that does not resolve: a connect error (or, with a slow
        // resolver, the request timeout).
        assert!(
            lines[3].starts_with("connect=true") || lines[3].contains("timeout=true"),
            "{}: unresolvable name: {}",
            target.name(),
            lines[3]
        );
    }
}

#[test]
fn dropping_the_request_closes_the_upstream_connection() {
    for target in TARGETS {
        let upstream = Upstream::start(None);
        let url = upstream.url("http", "127.0.0.1", "/hold");
        let server = start(
            target,
            check_app(move |handle| {
                let url = url.clone();
                async move {
                    let client = Client::builder().request_timeout(None).build(handle);
                    let _ = client.get(&url).await;
                    Ok("the upstream answered".to_owned())
                }
            }),
        );
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let waited = Instant::now();
        while upstream.requests.load(Ordering::SeqCst) == 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "{}: no upstream request",
                target.name()
            );
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(upstream.open.load(Ordering::SeqCst), 1);
        // The application's client goes away: the server drops its future,
        // and with it the client's request and connection.
        stream.shutdown(Shutdown::Both).unwrap();
        drop(stream);
        let left = Instant::now();
        while upstream.open.load(Ordering::SeqCst) != 0 {
            assert!(
                left.elapsed() < Duration::from_secs(1),
                "{}: the upstream connection was still open 1 s after the client left",
                target.name()
            );
            thread::sleep(Duration::from_millis(5));
        }
        server.shutdown().unwrap();
    }
}
