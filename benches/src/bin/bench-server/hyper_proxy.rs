//! The proxy row's baseline: a raw hyper reverse proxy on tokio. hyper-util's
//! `auto` server builder accepts as [`crate::hyper_tokio`] does; each
//! request goes to the upstream through hyper-util's legacy pooled
//! `Client` over `HttpConnector`, its body streamed up and the response's
//! body streamed back, both as hyper's `Incoming`.
//!
//! It does the work of `examples/proxy.rs` on the same settings, so that
//! the row compares the two implementations: the upstream URI built from
//! the base and the request's path and query, the hop-by-hop fields
//! removed both ways (`Connection` and the fields it names, `Keep-Alive`,
//! `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade`), `Host`
//! removed (the client sets it from the URI), `Forwarded` and `Via` added
//! to the request, `Via` to the response; the pool keeps at most 32 idle
//! connections for 90 s, connects within 10 s, and waits at most
//! [`PROXY_TIMEOUT_SECS`] for a response head (`504`; `502` when the
//! upstream fails), as `albany-client`'s defaults do.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use albany_bench::PROXY_TIMEOUT_SECS;
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;

use crate::listener;

/// The value the proxy adds to `Via` (the Albany proxy adds
/// `albany-proxy`: the same length).
const PSEUDONYM: &str = "hyper-proxy";

/// A response body: the upstream's, streamed, or a short error text.
type ProxyBody = Either<Incoming, Full<Bytes>>;

/// The proxy: the upstream's base URI and the pooled client.
struct Proxy {
    upstream: Uri,
    client: Client<HttpConnector, Incoming>,
}

/// Serves on `addr` on a multi-threaded tokio runtime with `threads`
/// workers, forwarding to `upstream` (`http://HOST:PORT`), until the
/// process is killed.
pub(crate) fn serve(threads: usize, addr: SocketAddr, upstream: Uri) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(32)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        let proxy = Arc::new(Proxy { upstream, client });
        let listener = tokio::net::TcpListener::from_std(listener::bind(addr)?)?;
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("accept: {error}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            let proxy = proxy.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, std::convert::Infallible>(proxy.forward(request, peer).await) }
                });
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

impl Proxy {
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

    /// Forwards one request and returns the upstream's response, or `502`
    /// or `504`.
    async fn forward(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let uri = match self.upstream_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(error) => return text(StatusCode::BAD_REQUEST, format!("bad target: {error}\n")),
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(ToString::to_string));
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::HOST);
        let mut forwarded = format!("for=\"{peer}\";");
        if let Some(host) = host {
            let _ = write!(forwarded, "host=\"{host}\";");
        }
        forwarded.push_str("proto=http");
        append(&mut parts.headers, header::FORWARDED, &forwarded);
        append(&mut parts.headers, header::VIA, &via(parts.version));
        parts.extensions = Default::default();
        parts.uri = uri;
        parts.version = Version::default();
        let upstream_request = Request::from_parts(parts, body);

        let bound = Duration::from_secs(PROXY_TIMEOUT_SECS);
        match tokio::time::timeout(bound, self.client.request(upstream_request)).await {
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                let via = via(parts.version);
                remove_hop_by_hop(&mut parts.headers);
                append(&mut parts.headers, header::VIA, &via);
                parts.version = Version::default();
                Response::from_parts(parts, Either::Left(body))
            }
            Ok(Err(error)) => text(StatusCode::BAD_GATEWAY, format!("{error}\n")),
            Err(_) => text(
                StatusCode::GATEWAY_TIMEOUT,
                format!("no response head within {bound:?}\n"),
            ),
        }
    }
}

/// `Via`'s entry for a message received in `version` (RFC 9110 §7.6.3).
fn via(version: Version) -> String {
    let protocol = match version {
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    };
    format!("{protocol} {PSEUDONYM}")
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

/// A `text/plain` error response.
fn text(status: StatusCode, body: String) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
