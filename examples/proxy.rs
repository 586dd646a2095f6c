//! Proxy: a reverse proxy that forwards every request to one upstream,
//! written once, served on any runtime.
//!
//! - The request and response bodies stream through as they arrive: the
//!   request's [`Body`] becomes the upstream request's body, the upstream
//!   response's body becomes the response's (backpressure both ways, no
//!   buffering, any size in constant memory).
//! - The proxy adds `Forwarded` (RFC 7239 §4: the client's address, the
//!   `Host` it asked for, the scheme) and `Via` (RFC 9110 §7.6.3) to the
//!   request, `Via` to the response, and removes the hop-by-hop fields
//!   (`Connection` and the fields it names, `Keep-Alive`,
//!   `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade`; RFC 9110
//!   §7.6.1) both ways.
//! - `502 Bad Gateway` when the upstream cannot be reached, `504 Gateway
//!   Timeout` when it does not answer within `--timeout` seconds (RFC 9110
//!   §15.6.3, §15.6.5).
//!
//! The upstream connections come from [`albany_client`], driven by the
//! runtime that serves the request: the same code runs on tokio,
//! async-std and smol.
//!
//! ```text
//! cargo run --example hello -- --addr 127.0.0.1:8080 &
//! cargo run --example proxy -- --runtime smol --upstream http://127.0.0.1:8080
//! curl -i http://127.0.0.1:3000/json
//! ```

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use albany::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use albany::http::uri::{PathAndQuery, Uri};
use albany::http::{StatusCode, Version};
use albany::{Application, Request, RequestExt, Response};
use albany_client::{Client, LazyClient};
use albany_examples::{text, Runtime, Serve};
use clap::Parser;

/// The proxy: the upstream's base URI and a client made on first use (the
/// application exists before the runtime does).
struct Proxy {
    upstream: Uri,
    client: LazyClient,
}

impl Proxy {
    /// Forwards to `upstream` (`http://host:port`, optionally with a base
    /// path), waiting at most `timeout` for each response head.
    fn new(upstream: Uri, timeout: Duration) -> Self {
        Proxy {
            upstream,
            client: Client::builder()
                .request_timeout(Some(timeout))
                .build_lazy(),
        }
    }

    /// The upstream URI for a request target: the base, then the request's
    /// path and query.
    fn upstream_uri(&self, target: &Uri) -> Result<Uri, String> {
        let base = self.upstream.path().trim_end_matches('/');
        let path = target.path_and_query().map_or("/", PathAndQuery::as_str);
        let mut parts = self.upstream.clone().into_parts();
        parts.path_and_query = Some(
            format!("{base}{path}")
                .parse()
                .map_err(|error| format!("{error}"))?,
        );
        Uri::from_parts(parts).map_err(|error| error.to_string())
    }
}

impl Application for Proxy {
    async fn call(&self, request: Request) -> Response {
        let Some(handle) = request.runtime().cloned() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
        };
        let peer = request.connection_info().and_then(|info| info.peer_addr());
        let (mut parts, body) = request.into_parts();
        let uri = match self.upstream_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(error) => return text(StatusCode::BAD_REQUEST, format!("bad target: {error}\n")),
        };
        // The host the client asked for: `Host` over HTTP/1.1, the target's
        // authority over HTTP/2.
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(ToString::to_string));
        remove_hop_by_hop(&mut parts.headers);
        // The client sets `Host` from the upstream URI.
        parts.headers.remove(header::HOST);
        let mut forwarded = String::new();
        if let Some(peer) = peer {
            let _ = write!(forwarded, "for=\"{peer}\";");
        }
        if let Some(host) = host {
            let _ = write!(forwarded, "host=\"{host}\";");
        }
        forwarded.push_str("proto=http");
        append(&mut parts.headers, header::FORWARDED, &forwarded);
        parts.headers.append(header::VIA, via(parts.version));
        // What the server put in the extensions stays here.
        parts.extensions = Default::default();
        parts.uri = uri;
        parts.version = Version::default();
        let upstream_request = Request::from_parts(parts, body);

        match self.client.get(&handle).request(upstream_request).await {
            Ok(mut response) => {
                let via = via(response.version());
                remove_hop_by_hop(response.headers_mut());
                response.headers_mut().append(header::VIA, via);
                *response.version_mut() = Version::default();
                response
            }
            Err(error) => {
                let status = if error.is_timeout() {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                };
                tracing::warn!(%status, error = %chain(&error), "the upstream gave no response");
                text(status, format!("{}\n", chain(&error)))
            }
        }
    }
}

/// `Via`'s entry for a message received in `version` (RFC 9110 §7.6.3).
/// The proxy's pseudonym is `albany-proxy`.
fn via(version: Version) -> HeaderValue {
    HeaderValue::from_static(match version {
        Version::HTTP_10 => "1.0 albany-proxy",
        Version::HTTP_2 => "2 albany-proxy",
        Version::HTTP_3 => "3 albany-proxy",
        _ => "1.1 albany-proxy",
    })
}

/// Adds `value` to the field `name`, after the values already there.
fn append(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.append(name, value);
    }
}

/// Removes the connection-specific fields (RFC 9110 §7.6.1): `Connection`
/// and every field it names, and the fields that are hop-by-hop by
/// definition.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// An error and its sources, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(line, ": {cause}");
        source = cause.source();
    }
    line
}

/// The upstream base URL: `http://` or `https://` with a host.
fn parse_upstream(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|error| format!("{error}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err("expected http://HOST:PORT or https://HOST:PORT".to_owned()),
    }
}

/// Proxy: forwards every request to --upstream, streaming bodies both ways.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
    /// The upstream's base URL; the request's path and query are appended.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = parse_upstream)]
    upstream: Uri,
    /// How long to wait for the upstream's response head, in seconds; past
    /// it the client gets 504.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let proxy = Proxy::new(args.upstream, Duration::from_secs(args.timeout));
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, proxy),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, proxy),
        Runtime::Smol => albany_smol::run(args.serve.addr, proxy),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use albany::http::StatusCode;
    use albany::{from_fn, Body, Request, RequestExt, Response};
    use albany_examples::testing::{exchange, get, post, serve, RunningServer, TARGETS, TOKIO};

    use super::Proxy;

    /// The upstream, on albany-tokio, under `/base`: `/headers` answers
    /// the request's fields, `/echo` streams the body back, `/slow` answers
    /// after 2 s.
    fn upstream() -> RunningServer {
        serve(
            &TOKIO,
            from_fn(|request: Request| async move {
                match request.uri().path().trim_start_matches("/base") {
                    "/headers" => {
                        let mut fields = String::new();
                        for (name, value) in request.headers() {
                            fields
                                .push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
                        }
                        Response::new(Body::from(format!(
                            "{} {}\n{fields}",
                            request.method(),
                            request.uri()
                        )))
                    }
                    "/echo" => Response::new(request.into_body()),
                    "/slow" => {
                        if let Some(handle) = request.runtime() {
                            handle.sleep(Duration::from_secs(2)).await;
                        }
                        Response::new(Body::from("slow"))
                    }
                    _ => {
                        let mut response = Response::new(Body::from("hello from upstream"));
                        response
                            .headers_mut()
                            .insert("connection", "x-secret".parse().unwrap());
                        response
                            .headers_mut()
                            .insert("x-secret", "hop".parse().unwrap());
                        response
                    }
                }
            }),
        )
    }

    fn proxy_to(upstream: &RunningServer, timeout: Duration) -> Proxy {
        Proxy::new(
            format!("http://{}/base", upstream.addr()).parse().unwrap(),
            timeout,
        )
    }

    #[test]
    fn forwards_with_forwarded_and_via_on_every_runtime() {
        let upstream = upstream();
        for target in TARGETS {
            let proxy = serve(target, proxy_to(&upstream, Duration::from_secs(10)));
            let addr = proxy.addr();
            let hello = get(addr, "/hello");
            assert_eq!(hello.status(), 200, "{}", target.name());
            assert_eq!(hello.body, b"hello from upstream", "{}", target.name());
            assert_eq!(
                hello.header("via"),
                Some("1.1 albany-proxy"),
                "{}",
                target.name()
            );
            assert_eq!(
                hello.header("x-secret"),
                None,
                "{}: a field named by Connection",
                target.name()
            );

            let seen = exchange(
                addr,
                b"GET /headers?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: x-private\r\nX-Private: 1\r\nX-Kept: 2\r\n\r\n",
            );
            let seen = String::from_utf8(seen.body).unwrap();
            assert!(
                seen.starts_with("GET /base/headers?q=1\n"),
                "{}: {seen}",
                target.name()
            );
            assert!(
                seen.contains("forwarded: for=\"127.0.0.1:")
                    && seen.contains(";host=\"example.test\";proto=http"),
                "{}: {seen}",
                target.name()
            );
            assert!(
                seen.contains("via: 1.1 albany-proxy"),
                "{}: {seen}",
                target.name()
            );
            assert!(seen.contains("x-kept: 2"), "{}: {seen}", target.name());
            assert!(!seen.contains("x-private"), "{}: {seen}", target.name());
            assert!(!seen.contains("connection:"), "{}: {seen}", target.name());
            proxy.shutdown().unwrap();
        }
        upstream.shutdown().unwrap();
    }

    #[test]
    fn streams_a_large_body_both_ways_on_every_runtime() {
        let upstream = upstream();
        let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        for target in TARGETS {
            let proxy = serve(target, proxy_to(&upstream, Duration::from_secs(10)));
            let echoed = post(proxy.addr(), "/echo", &body);
            assert_eq!(echoed.status(), 200, "{}", target.name());
            assert!(
                echoed.body == body,
                "{}: the echoed body differs",
                target.name()
            );
            proxy.shutdown().unwrap();
        }
        upstream.shutdown().unwrap();
    }

    #[test]
    fn answers_502_when_the_upstream_is_down_and_504_when_it_is_slow() {
        let upstream = upstream();
        let down = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        for target in TARGETS {
            let proxy = serve(
                target,
                Proxy::new(
                    format!("http://{down}").parse().unwrap(),
                    Duration::from_secs(10),
                ),
            );
            let response = get(proxy.addr(), "/");
            assert_eq!(
                response.status(),
                StatusCode::BAD_GATEWAY.as_u16(),
                "{}",
                target.name()
            );
            proxy.shutdown().unwrap();

            let proxy = serve(target, proxy_to(&upstream, Duration::from_millis(300)));
            let started = Instant::now();
            let response = get(proxy.addr(), "/slow");
            assert_eq!(
                response.status(),
                StatusCode::GATEWAY_TIMEOUT.as_u16(),
                "{}",
                target.name()
            );
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{}",
                target.name()
            );
            proxy.shutdown().unwrap();
        }
        upstream.shutdown().unwrap();
    }
}
