//! [`TestClient`]: an application driven in memory, with no server.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use albany::rt::Handle;
use albany::shutdown::ShutdownTrigger;
use albany::upgrade::{OnUpgrade, UpgradeError, Upgraded};
use albany::{Application, BoxApplication, ConnectionContext, ConnectionInfo, Request};
use http::{header, Method, StatusCode};

use crate::duplex::{duplex, DUPLEX_CAPACITY};
use crate::request::{Backend, BoxFuture, Exchanged, TestRequest, DEFAULT_TIMEOUT};

/// The peer address of the default [`ConnectionInfo`]: `127.0.0.1:49152`.
pub const DEFAULT_PEER_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 49152);

/// The local address of the default [`ConnectionInfo`]: `127.0.0.1:80`.
pub const DEFAULT_LOCAL_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 80);

/// Calls an [`Application`] in memory: no socket, no port, no server (spec
/// TEST-1).
///
/// Each request is built fluently ([`get`](TestClient::get),
/// [`post`](TestClient::post), [`request`](TestClient::request)...),
/// given what a server gives every request (spec TEST-2): a
/// [`ConnectionContext`] with the client's runtime [`Handle`], its
/// [`ConnectionInfo`] and the signal of its [`ShutdownTrigger`], and, when
/// it asks for an upgrade, an [`OnUpgrade`] (spec TEST-4). Then
/// `app.call(request)` runs on the calling task, and the response comes
/// back exactly as the application made it: no server rules (framing,
/// `HEAD`, limits) apply; [`Engine`](crate::Engine) applies them.
///
/// ```
/// use albany::{from_fn, Body, Request, RequestExt, Response};
/// use albany_test::TestClient;
///
/// let app = from_fn(|request: Request| async move {
///     let peer = request.connection_info().unwrap().peer_addr().unwrap();
///     Response::new(Body::from(format!("hello {}", peer.ip())))
/// });
/// let client = TestClient::new(app);
/// client.get("/").block().assert_ok().assert_body("hello 127.0.0.1");
/// ```
///
/// # Runtime and threads
///
/// The [`Handle`] is smol's global executor ([`albany_smol::handle`]) unless
/// [`with_handle`](TestClient::with_handle) gives another, such as
/// `albany_tokio::handle()` inside a tokio test. With the default, tasks
/// the application spawns run on smol's executor thread (`smol-0`; more
/// with `SMOL_THREADS`), blocking work on the `blocking` crate's pool, and
/// timers on async-io's reactor (its `async-io` thread, or the thread in
/// [`block_on`](crate::block_on)); the application's own future runs on
/// the thread that awaits or blocks on the request.
///
/// A client is cheap to clone; clones share the application, the handle
/// and the shutdown trigger.
#[derive(Clone)]
pub struct TestClient {
    application: BoxApplication,
    handle: Handle,
    info: ConnectionInfo,
    shutdown: ShutdownTrigger,
    timeout: Duration,
}

impl TestClient {
    /// A client for `application`, with smol's global executor as the
    /// runtime, a TCP [`ConnectionInfo`] from [`DEFAULT_PEER_ADDR`] to
    /// [`DEFAULT_LOCAL_ADDR`] and a shutdown signal that has not fired.
    pub fn new(application: impl Application) -> Self {
        TestClient {
            application: BoxApplication::new(application),
            handle: albany_smol::handle(),
            info: ConnectionInfo::new(DEFAULT_PEER_ADDR, DEFAULT_LOCAL_ADDR),
            shutdown: ShutdownTrigger::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Uses `handle` as the requests' runtime service (and for the
    /// client's timeouts): `albany_tokio::handle()` inside a tokio runtime,
    /// `albany_async_std::handle()`, any adapter's.
    pub fn with_handle(mut self, handle: Handle) -> Self {
        self.handle = handle;
        self
    }

    /// The [`ConnectionInfo`] every request gets: a Unix domain socket, TLS
    /// parameters, other addresses.
    pub fn connection_info(mut self, info: ConnectionInfo) -> Self {
        self.info = info;
        self
    }

    /// The default timeout of each request (see [`TestRequest::timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The runtime service requests get.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Fires the shutdown signal of every request, past and future, as a
    /// server does when graceful shutdown starts (spec TEST-3).
    pub fn shutdown(&self) {
        self.shutdown.trigger();
    }

    /// The trigger of the requests' shutdown signal, to fire from another
    /// task or thread.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.shutdown.clone()
    }

    /// Calls the application with a request built elsewhere (as axum's
    /// `oneshot`), after inserting what every request of this client gets
    /// (spec TEST-2), and returns its response as it is, body unread. The
    /// request keeps extensions it has (a `Handle` or `ConnectionInfo` of
    /// its own take precedence). Not bounded by the client's timeout; for an
    /// upgrade use [`TestRequest`], which keeps the client's end.
    ///
    /// ```
    /// use albany::{from_fn, Body, Request, Response};
    ///
    /// let client = albany_test::TestClient::new(from_fn(|request: Request| async move {
    ///     Response::new(Body::from(request.uri().path().to_owned()))
    /// }));
    /// let request = Request::get("/direct").body(Body::empty()).unwrap();
    /// let response = albany_test::block_on(client.call(request));
    /// let body = albany_test::block_on(response.into_body().to_bytes(1024)).unwrap();
    /// assert_eq!(body, "/direct");
    /// ```
    pub async fn call(&self, request: Request) -> http::Response<albany::Body> {
        match self.exchange(request).await {
            Ok((response, _)) => response,
            Err(error) => unreachable!("calls in memory do not fail: {error}"),
        }
    }

    /// A request with `method` for `uri` (a path such as `/items?page=2`,
    /// or an absolute URI).
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest::new(Arc::new(self.clone()), method, uri)
    }

    /// A `GET` request.
    pub fn get(&self, uri: &str) -> TestRequest {
        self.request(Method::GET, uri)
    }

    /// A `HEAD` request.
    pub fn head(&self, uri: &str) -> TestRequest {
        self.request(Method::HEAD, uri)
    }

    /// A `POST` request.
    pub fn post(&self, uri: &str) -> TestRequest {
        self.request(Method::POST, uri)
    }

    /// A `PUT` request.
    pub fn put(&self, uri: &str) -> TestRequest {
        self.request(Method::PUT, uri)
    }

    /// A `PATCH` request.
    pub fn patch(&self, uri: &str) -> TestRequest {
        self.request(Method::PATCH, uri)
    }

    /// A `DELETE` request.
    pub fn delete(&self, uri: &str) -> TestRequest {
        self.request(Method::DELETE, uri)
    }

    /// An `OPTIONS` request.
    pub fn options(&self, uri: &str) -> TestRequest {
        self.request(Method::OPTIONS, uri)
    }
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("connection_info", &self.info)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// Whether `request` asks for an upgrade: `CONNECT`, or `Upgrade` with
/// the `upgrade` token in `Connection` (RFC 9110 §7.8).
pub(crate) fn asks_upgrade<B>(request: &http::Request<B>) -> bool {
    if request.method() == Method::CONNECT {
        return true;
    }
    let headers = request.headers();
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Whether `response` to a request with `method` accepts the upgrade.
pub(crate) fn upgrades(method: &Method, status: StatusCode) -> bool {
    status == StatusCode::SWITCHING_PROTOCOLS || (method == Method::CONNECT && status.is_success())
}

impl Backend for TestClient {
    fn handle(&self) -> &Handle {
        &self.handle
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn exchange(&self, mut request: Request) -> BoxFuture<Exchanged> {
        let application = self.application.clone();
        request.extensions_mut().insert(ConnectionContext::new(
            self.handle.clone(),
            self.info.clone(),
            self.shutdown.signal(),
        ));
        // [TEST-4] The application's end of the connection goes through
        // the channel once its response accepts the upgrade.
        let upgrade = asks_upgrade(&request).then(|| {
            let (sender, receiver) = async_channel::bounded(1);
            request.extensions_mut().insert(OnUpgrade::new(async move {
                receiver.recv().await.map(Upgraded::new).map_err(|_| {
                    UpgradeError::new("the response did not accept the upgrade (not 101)")
                })
            }));
            sender
        });
        let method = request.method().clone();
        Box::pin(async move {
            let response = application.call(request).await;
            let mut upgraded = None;
            if let Some(sender) = upgrade {
                if upgrades(&method, response.status()) {
                    let (ours, theirs) = duplex(DUPLEX_CAPACITY);
                    // The application may have dropped its `OnUpgrade`.
                    let _ = sender.try_send(theirs);
                    upgraded = Some(Upgraded::new(ours));
                }
            }
            Ok((response, upgraded))
        })
    }
}
