//! [`Client`], its [`Builder`], and [`LazyClient`] for applications built
//! before a runtime exists.

use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use albany::net::Connector;
use albany::rt::Handle;
use albany::{Body, Request, Response};
use http::uri::PathAndQuery;
use http::{header, HeaderValue, Uri, Version};
use hyper::client::conn::TrySendError;

use crate::body::PooledBody;
use crate::connect::{Connect, Sender, Target};
use crate::pool::Pool;
use crate::Error;

/// An HTTP/1.1 and HTTP/2 client, with a connection pool, on the runtime of
/// the [`Handle`] it was built with.
///
/// Connections (TCP through [`Handle::connect`], TLS with rustls), hyper's
/// connection tasks and the pool's timer all run on that runtime, so the
/// same code works on every Albany adapter. Cheap to clone: clones share
/// the pool. See the [crate documentation](crate) for an example.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    connect: Connect,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    pool: Pool,
}

impl Client {
    /// A client with the default settings ([`Builder`]) on `handle`'s
    /// runtime.
    pub fn new(handle: Handle) -> Self {
        Builder::new().build(handle)
    }

    /// Starts configuring a client.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Sends `request` (an absolute `http://` or `https://` URI) and waits for
    /// the response head; the response body streams as it arrives (an
    /// [`albany::Body`]), and the request body is streamed as it is
    /// produced.
    ///
    /// Over HTTP/1.1 the request is sent in origin form with a `Host` field
    /// (added from the URI when absent, RFC 9112 §3.2); over HTTP/2 with
    /// `:authority` from the URI (RFC 9113 §8.3.1). The request's version
    /// is set to the connection's. An idle pooled connection is used first;
    /// a request that a pooled connection closed before it could be sent is
    /// sent again on a new one.
    ///
    /// # Errors
    ///
    /// An [`Error`]: [`is_invalid_uri`](Error::is_invalid_uri) for a URI that
    /// cannot be sent, [`is_connect`](Error::is_connect) when no connection
    /// could be made, [`is_timeout`](Error::is_timeout) past the connect or
    /// request timeout, otherwise hyper's error for the exchange.
    pub async fn request(&self, request: Request) -> Result<Response, Error> {
        let target = Target::of(request.uri())?;
        // Boxed: the exchange (with its connect and TLS handshake) is a
        // large future, which the caller's future would otherwise hold and
        // move inline.
        let exchange = Box::pin(self.exchange(target, request));
        match self.inner.request_timeout {
            Some(bound) => self
                .inner
                .handle
                .timeout(bound, exchange)
                .await
                .unwrap_or_else(|_| Err(Error::request_timeout(bound))),
            None => exchange.await,
        }
    }

    /// `GET uri`, with an empty body.
    ///
    /// # Errors
    ///
    /// As [`request`](Client::request); an unparsable `uri` is
    /// [`is_invalid_uri`](Error::is_invalid_uri).
    pub async fn get(&self, uri: &str) -> Result<Response, Error> {
        let uri: Uri = uri
            .parse()
            .map_err(|error| Error::invalid_uri(format!("`{uri}`: {error}")))?;
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = uri;
        self.request(request).await
    }

    async fn exchange(&self, target: Target, mut request: Request) -> Result<Response, Error> {
        let pool = &self.inner.pool;
        loop {
            // Pooled connections first; a request they return unsent goes
            // to the next one.
            while let Some(sender) = pool.checkout(&target) {
                match self.send(&target, sender, request).await {
                    Ok(response) => return Ok(response),
                    Err(Unsent::Again(returned)) => request = *returned,
                    Err(Unsent::Failed(error)) => return Err(error),
                }
            }
            let (sender, fresh) = self.connect_or_wait(&target).await?;
            match self.send(&target, sender, request).await {
                Ok(response) => return Ok(response),
                Err(Unsent::Failed(error)) => return Err(error),
                // A new connection that cannot take its first request is
                // gone.
                Err(Unsent::Again(_)) if fresh => {
                    return Err(Error::connect(
                        &target,
                        "the connection closed before the request could be sent",
                    ))
                }
                Err(Unsent::Again(returned)) => request = *returned,
            }
        }
    }

    /// A new connection to `target`, or an HTTP/1.1 connection that
    /// another request hands back to the pool first (then `false`: the new
    /// connection is still made, in a task of its own, and goes to the
    /// pool, as hyper-util's pool does).
    async fn connect_or_wait(&self, target: &Target) -> Result<(Sender, bool), Error> {
        let waiter = self.inner.pool.wait(target);
        // Boxed: made only for a new connection, and it may outlive this
        // request.
        let mut connect = Box::pin(self.clone().connect(target.clone()));
        let got = poll_fn(|cx| {
            if let Poll::Ready(sender) = waiter.poll_connection(cx) {
                return Poll::Ready(Ok((Sender::Http1(sender), false)));
            }
            connect
                .as_mut()
                .poll(cx)
                .map(|connected| connected.map(|sender| (sender, true)))
        })
        .await?;
        drop(waiter);
        if got.1 {
            if let Sender::Http2(sender) = &got.0 {
                self.inner.pool.put_http2(target, sender);
            }
        } else {
            let pool = self.inner.pool.clone();
            let target = target.clone();
            drop(self.inner.handle.spawn(async move {
                match connect.await {
                    Ok(Sender::Http1(sender)) => pool.put_http1(&target, sender),
                    Ok(Sender::Http2(sender)) => pool.put_http2(&target, &sender),
                    Err(error) => tracing::debug!(%error, "a connection made for the pool failed"),
                }
            }));
        }
        Ok(got)
    }

    /// A new connection to `target`, within the connect timeout.
    async fn connect(self, target: Target) -> Result<Sender, Error> {
        let inner = &*self.inner;
        let connect = inner.connect.connect(&inner.handle, &target);
        match inner.connect_timeout {
            Some(bound) => inner
                .handle
                .timeout(bound, connect)
                .await
                .unwrap_or_else(|_| Err(Error::connect_timeout(&target, bound))),
            None => connect.await,
        }
    }

    /// Sends `request` on `sender`, giving it back unsent when the
    /// connection could not take it.
    async fn send(
        &self,
        target: &Target,
        sender: Sender,
        mut request: Request,
    ) -> Result<Response, Unsent> {
        let absolute = request.uri().clone();
        match sender {
            Sender::Http1(mut sender) => {
                if sender.ready().await.is_err() {
                    return Err(Unsent::Again(Box::new(request)));
                }
                to_origin_form(&mut request);
                match sender.try_send_request(request).await {
                    Ok(response) => {
                        let pool = self.inner.pool.clone();
                        Ok(response.map(|incoming| {
                            Body::new(PooledBody::new(incoming, pool, target.clone(), sender))
                        }))
                    }
                    Err(error) => Err(unsent(error, absolute)),
                }
            }
            Sender::Http2(mut sender) => {
                if sender.ready().await.is_err() {
                    return Err(Unsent::Again(Box::new(request)));
                }
                *request.version_mut() = Version::HTTP_2;
                match sender.try_send_request(request).await {
                    Ok(response) => Ok(response.map(Body::new)),
                    Err(error) => Err(unsent(error, absolute)),
                }
            }
        }
    }
}

/// A request a connection did not take.
enum Unsent {
    /// Not sent at all: send it on another connection (boxed: this is the
    /// rare path).
    Again(Box<Request>),
    /// Sent (at least in part) and failed.
    Failed(Error),
}

fn unsent(mut error: TrySendError<Request>, absolute: Uri) -> Unsent {
    match error.take_message() {
        Some(mut request) => {
            *request.uri_mut() = absolute;
            Unsent::Again(Box::new(request))
        }
        None => Unsent::Failed(Error::http(error.into_error())),
    }
}

/// An HTTP/1.1 request line carries the origin form (RFC 9112 §3.2.1) and
/// the authority goes in `Host`.
fn to_origin_form(request: &mut Request) {
    let uri = request.uri().clone();
    if !request.headers().contains_key(header::HOST) {
        if let Some(authority) = uri.authority() {
            if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                request.headers_mut().insert(header::HOST, value);
            }
        }
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(path);
    if request.version() != Version::HTTP_10 {
        *request.version_mut() = Version::HTTP_11;
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("request_timeout", &self.inner.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]: timeouts, the pool, HTTP/2 and TLS.
///
/// | setting | default |
/// | --- | --- |
/// | [`connect_timeout`](Builder::connect_timeout): name lookup, TCP and TLS | 10 seconds |
/// | [`request_timeout`](Builder::request_timeout): until the response head | 30 seconds |
/// | [`pool_idle_timeout`](Builder::pool_idle_timeout) | 90 seconds |
/// | [`pool_max_idle_per_host`](Builder::pool_max_idle_per_host) | 32 connections |
/// | [`http2_prior_knowledge`](Builder::http2_prior_knowledge) (h2c over `http://`) | off |
/// | [`http1_only`](Builder::http1_only) (no `h2` in TLS ALPN) | off |
/// | TLS trust anchors | the Mozilla roots of `webpki-roots` |
#[derive(Clone, Debug)]
pub struct Builder {
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    http2_prior_knowledge: bool,
    http1_only: bool,
    tls: Option<rustls::ClientConfig>,
    roots: Option<rustls::RootCertStore>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The default settings (see [`Builder`]).
    pub fn new() -> Self {
        Builder {
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(Duration::from_secs(30)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: 32,
            http2_prior_knowledge: false,
            http1_only: false,
            tls: None,
            roots: None,
        }
    }

    /// Bounds making a connection: the name lookup, the TCP connection
    /// (each address tried) and the TLS handshake together. Past it the
    /// request fails with an error that [`is_connect`](Error::is_connect)
    /// and [`is_timeout`](Error::is_timeout). `None`: no bound. Default: 10
    /// seconds.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bounds a request from its start until the response head arrives
    /// (connecting included); the body is not bounded, so that a stream can
    /// last. Past it the request fails with an error that
    /// [`is_timeout`](Error::is_timeout). `None`: no bound. Default: 30
    /// seconds.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long an idle HTTP/1.1 connection stays in the pool; `None`: until
    /// the server closes it. Default: 90 seconds.
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// The most idle HTTP/1.1 connections kept per `scheme://host:port`;
    /// 0 keeps none (every request gets a new connection). Default: 32.
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, connections: usize) -> Self {
        self.pool_max_idle_per_host = connections;
        self
    }

    /// Speaks HTTP/2 with prior knowledge over `http://` (h2c, RFC 9113
    /// §3.3) instead of HTTP/1.1. Default: off.
    #[must_use]
    pub fn http2_prior_knowledge(mut self, enabled: bool) -> Self {
        self.http2_prior_knowledge = enabled;
        self
    }

    /// Offers only `http/1.1` by ALPN over TLS. Default: off (`h2` first).
    #[must_use]
    pub fn http1_only(mut self, enabled: bool) -> Self {
        self.http1_only = enabled;
        self
    }

    /// Trusts these roots instead of `webpki-roots`' (for a private CA, or a
    /// certificate made for a test).
    #[must_use]
    pub fn tls_roots(mut self, roots: rustls::RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Uses this rustls configuration for `https://` (client certificates,
    /// other providers, ...); its ALPN protocols are replaced by `h2` and
    /// `http/1.1` (or `http/1.1` alone, see [`http1_only`](Builder::http1_only)),
    /// and [`tls_roots`](Builder::tls_roots) no longer applies.
    #[must_use]
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// The client, on `handle`'s runtime.
    pub fn build(self, handle: Handle) -> Client {
        let mut tls = self.tls.unwrap_or_else(|| {
            let roots = self.roots.unwrap_or_else(|| {
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
            });
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring's provider supports rustls' default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
        });
        tls.alpn_protocols = if self.http1_only {
            vec![b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        };
        let connector = Connector::new()
            .attempt_timeout(self.connect_timeout)
            .resolve_timeout(self.connect_timeout);
        Client {
            inner: Arc::new(Inner {
                pool: Pool::new(
                    handle.clone(),
                    self.pool_max_idle_per_host,
                    self.pool_idle_timeout,
                ),
                handle,
                connect: Connect {
                    tls: Arc::new(tls),
                    http2_prior_knowledge: self.http2_prior_knowledge,
                    connector,
                },
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
            }),
        }
    }

    /// A client made when first needed, on the runtime of the first
    /// request's [`Handle`]: for an application built before the server
    /// (and its runtime) starts. See [`LazyClient`].
    pub fn build_lazy(self) -> LazyClient {
        LazyClient {
            builder: self,
            client: OnceLock::new(),
        }
    }
}

/// A [`Client`] for an application built before its runtime exists.
///
/// An application value is made in `main`, before `albany_tokio::run` (or
/// its siblings) creates the runtime, so it has no [`Handle`] to build a
/// client with. A `LazyClient` builds it on first use, with the `Handle` of
/// the request being served; every later request of that server shares it
/// (one server runs on one runtime).
///
/// ```
/// use albany::{Application, Body, Request, RequestExt, Response};
/// use albany::http::StatusCode;
/// use albany_client::{Client, LazyClient};
///
/// struct Gateway {
///     client: LazyClient,
/// }
///
/// impl Application for Gateway {
///     async fn call(&self, request: Request) -> Response {
///         let Some(handle) = request.runtime() else {
///             return Response::new(Body::from("no runtime"));
///         };
///         match self.client.get(handle).get("http://127.0.0.1:8080/status").await {
///             Ok(upstream) => upstream,
///             Err(error) => {
///                 let mut response = Response::new(Body::from(error.to_string()));
///                 *response.status_mut() = StatusCode::BAD_GATEWAY;
///                 response
///             }
///         }
///     }
/// }
///
/// let app = Gateway { client: Client::builder().build_lazy() };
/// # fn is_app(_: impl Application) {}
/// # is_app(app);
/// ```
pub struct LazyClient {
    builder: Builder,
    client: OnceLock<Client>,
}

impl LazyClient {
    /// The client, built on `handle`'s runtime the first time.
    pub fn get(&self, handle: &Handle) -> &Client {
        self.client
            .get_or_init(|| self.builder.clone().build(handle.clone()))
    }
}

impl fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.get().is_some())
            .finish_non_exhaustive()
    }
}
