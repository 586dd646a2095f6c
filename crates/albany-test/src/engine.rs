//! [`Engine`]: the real engine (albany-server) serving an application over
//! in-memory connections.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use albany::rt::Handle;
use albany::shutdown::ShutdownTrigger;
use albany::upgrade::Upgraded;
use albany::{Application, Body, BoxApplication, ConnectionInfo, Request};
use albany_server::{Binding, Settings};
use albany_smol::SmolBinding;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use http::{header, HeaderValue, Method, Uri, Version};

use crate::client::{upgrades, DEFAULT_LOCAL_ADDR, DEFAULT_PEER_ADDR};
use crate::duplex::{duplex, Duplex, FromHyper, DUPLEX_CAPACITY};
use crate::request::{Backend, BoxFuture, Exchanged, TestRequest, DEFAULT_TIMEOUT};

/// Serves an application with the real engine, albany-server's connection
/// code, over in-memory connections (spec TEST-5): every request made with
/// [`get`](Engine::get) and its siblings opens a new [`duplex`](crate::duplex)
/// connection, which [`albany_server::serve_io`] serves as it serves a
/// socket (HTTP/1.1, or HTTP/2 with prior knowledge for a request whose
/// [`version`](TestRequest::version) is `HTTP_2`), and hyper's client
/// speaks HTTP on the other end. So the engine's rules apply exactly as on
/// a socket (spec TEST-6): request checks (a `400` for two `Host` fields),
/// limits (`431`, `413`), response framing (`content-length` or chunked),
/// `HEAD` bodies removed, a panic turned into a `500`, the header read
/// timeout. [`raw`](Engine::raw) sends bytes of your own.
///
/// ```
/// use albany::{from_fn, Body, Response};
/// use albany_test::Engine;
///
/// let engine = Engine::new(from_fn(|_| async { Response::new(Body::from("hi")) }));
/// let response = engine.get("/").block();
/// response.assert_ok().assert_header("content-length", "2").assert_body("hi");
/// // The engine's own answer to a malformed request:
/// let raw = engine.raw("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").block();
/// assert_eq!(raw.status(), Some(400));
/// ```
///
/// # Runtime and threads
///
/// The engine runs on the binding `B`: by default smol's global executor
/// ([`SmolBinding::global`]), whose thread (`smol-0`) runs the connections
/// and, beside them, hyper's client side; with
/// [`binding`](Engine::binding), an adapter's binding (`TokioBinding` inside
/// a tokio runtime, `AsyncStdBinding`), so that the test also runs that
/// adapter's timers and executor. Requests get the binding's
/// [`Handle`], as on a socket.
pub struct Engine<B: Binding = SmolBinding> {
    application: BoxApplication,
    binding: B,
    handle: Handle,
    settings: Settings,
    info: ConnectionInfo,
    shutdown: ShutdownTrigger,
    timeout: Duration,
}

impl Engine<SmolBinding> {
    /// An engine for `application` on smol's global executor, with the
    /// default [`Settings`], a TCP [`ConnectionInfo`] from
    /// [`DEFAULT_PEER_ADDR`](crate::DEFAULT_PEER_ADDR) to
    /// [`DEFAULT_LOCAL_ADDR`](crate::DEFAULT_LOCAL_ADDR), and a shutdown
    /// signal that has not fired.
    pub fn new(application: impl Application) -> Self {
        let binding = SmolBinding::global();
        Engine {
            application: BoxApplication::new(application),
            handle: albany_server::handle(binding.clone()),
            binding,
            settings: Settings::default(),
            info: ConnectionInfo::new(DEFAULT_PEER_ADDR, DEFAULT_LOCAL_ADDR),
            shutdown: ShutdownTrigger::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl<B: Binding> Engine<B> {
    /// Runs the engine on `binding` instead: an adapter's, such as
    /// `albany_tokio::TokioBinding::new(tokio::runtime::Handle::current())`
    /// or `albany_async_std::AsyncStdBinding`.
    pub fn binding<C: Binding>(self, binding: C) -> Engine<C> {
        Engine {
            application: self.application,
            handle: albany_server::handle(binding.clone()),
            binding,
            settings: self.settings,
            info: self.info,
            shutdown: self.shutdown,
            timeout: self.timeout,
        }
    }

    /// The engine's settings (limits, timeouts, HTTP/2 on or off), as
    /// `Server::settings` takes them.
    ///
    /// # Panics
    ///
    /// When a setting is out of range ([`Settings::validate`]).
    pub fn settings(mut self, settings: Settings) -> Self {
        if let Err(error) = settings.validate() {
            panic!("albany-test: invalid engine settings: {error}");
        }
        self.settings = settings;
        self
    }

    /// The [`ConnectionInfo`] of every connection.
    pub fn connection_info(mut self, info: ConnectionInfo) -> Self {
        self.info = info;
        self
    }

    /// The default timeout of each request (see [`TestRequest::timeout`]),
    /// and of [`raw`](Engine::raw) exchanges.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The runtime service requests get: the binding's.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Starts graceful shutdown, as a server's trigger does (spec TEST-3):
    /// every request's shutdown signal fires, idle connections close,
    /// connections with a response in flight close after it (HTTP/2:
    /// `GOAWAY`), and connections still open after
    /// [`Settings::graceful_shutdown_timeout`] are dropped. Connections
    /// opened afterwards are closed at once.
    pub fn shutdown(&self) {
        self.shutdown.trigger();
    }

    /// The shutdown trigger, to fire from another task or thread.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.shutdown.clone()
    }

    /// Opens a new in-memory connection served by the engine and returns
    /// the client's end, to speak any protocol on it.
    pub fn connect(&self) -> Duplex {
        let (client, server) = duplex(DUPLEX_CAPACITY);
        let binding = self.binding.clone();
        let settings = self.settings.clone();
        let info = self.info.clone();
        let shutdown = self.shutdown.signal();
        let application = self.application.clone();
        self.binding.spawn(async move {
            let served =
                albany_server::serve_io(binding, &settings, info, shutdown, application, server)
                    .await;
            if let Err(error) = served {
                tracing::error!(%error, "albany-test: the engine could not serve the connection");
            }
        });
        client
    }

    /// Opens one connection for several requests: HTTP/2 with prior
    /// knowledge for `Version::HTTP_2`, HTTP/1.1 otherwise.
    ///
    /// # Panics
    ///
    /// When hyper's client cannot start on it (the engine closed it at
    /// once: after [`shutdown`](Engine::shutdown), say) within the timeout.
    ///
    /// ```
    /// # use albany::{from_fn, Body, Response};
    /// use albany::http::Version;
    /// # let engine = albany_test::Engine::new(from_fn(|_| async { Response::new(Body::from("hi")) }));
    /// albany_test::block_on(async {
    ///     let connection = engine.connection(Version::HTTP_11).await;
    ///     connection.get("/a").await.assert_body("hi");
    ///     connection.get("/b").await.assert_body("hi"); // the same connection, kept alive
    /// });
    /// ```
    pub async fn connection(&self, version: Version) -> EngineConnection {
        let timeout = self.timeout;
        let started = self
            .handle
            .timeout(timeout, handshake(self.connect(), version, &self.handle))
            .await
            .unwrap_or_else(|_| {
                panic!("albany-test: no {version:?} connection within {timeout:?}")
            });
        let sender = started.unwrap_or_else(|error| panic!("albany-test: no connection: {error}"));
        EngineConnection {
            sender: Arc::new(sender),
            handle: self.handle.clone(),
            timeout,
        }
    }

    /// Sends `bytes` on a new connection and reads what the engine answers
    /// until it closes the connection (as it does after the error
    /// responses it makes itself, or a `Connection: close` request), for
    /// requests no well-behaved client would send.
    ///
    /// ```
    /// # use albany::{from_fn, Body, Response};
    /// # let engine = albany_test::Engine::new(from_fn(|_| async { Response::new(Body::empty()) }));
    /// let raw = engine
    ///     .raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ///     .block();
    /// assert_eq!(raw.status(), Some(200));
    /// assert_eq!(raw.header("content-length"), Some("0"));
    /// ```
    pub fn raw(&self, bytes: impl AsRef<[u8]>) -> RawExchange {
        RawExchange {
            io: self.connect(),
            bytes: bytes.as_ref().to_vec(),
            handle: self.handle.clone(),
            timeout: self.timeout,
        }
    }

    fn backend(&self) -> Arc<dyn Backend> {
        Arc::new(EngineBackend {
            connect: {
                let engine = self.clone();
                Box::new(move || engine.connect())
            },
            handle: self.handle.clone(),
            timeout: self.timeout,
        })
    }
}

/// Clones share the application, the binding and the shutdown trigger.
impl<B: Binding> Clone for Engine<B> {
    fn clone(&self) -> Self {
        Engine {
            application: self.application.clone(),
            binding: self.binding.clone(),
            handle: self.handle.clone(),
            settings: self.settings.clone(),
            info: self.info.clone(),
            shutdown: self.shutdown.clone(),
            timeout: self.timeout,
        }
    }
}

impl<B: Binding> Engine<B> {
    /// A request with `method` for `uri` (a path, or an absolute URI),
    /// sent on a new connection.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest::new(self.backend(), method, uri)
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

impl<B: Binding> fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .field("connection_info", &self.info)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

type Connect = Box<dyn Fn() -> Duplex + Send + Sync>;

struct EngineBackend {
    connect: Connect,
    handle: Handle,
    timeout: Duration,
}

/// hyper's executor for the HTTP/2 client: tasks on the engine's runtime.
#[derive(Clone)]
struct Executor(Handle);

impl<F: Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for Executor {
    fn execute(&self, future: F) {
        drop(self.0.spawn(future));
    }
}

impl Backend for EngineBackend {
    fn handle(&self) -> &Handle {
        &self.handle
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn exchange(&self, request: Request) -> BoxFuture<Exchanged> {
        let io = (self.connect)();
        let handle = self.handle.clone();
        Box::pin(async move {
            let sender = handshake(io, request.version(), &handle).await?;
            send(&sender, request).await
        })
    }
}

/// hyper's client side of one connection.
enum Sender {
    /// HTTP/1.1: one request at a time.
    Http1(async_lock::Mutex<hyper::client::conn::http1::SendRequest<Body>>),
    /// HTTP/2: requests at once, each on its stream.
    Http2(hyper::client::conn::http2::SendRequest<Body>),
}

/// Starts hyper's client on `io`: HTTP/2 with prior knowledge for
/// `Version::HTTP_2`, HTTP/1.1 otherwise; its connection task runs on
/// `handle`.
async fn handshake(io: Duplex, version: Version, handle: &Handle) -> Result<Sender, String> {
    if version == Version::HTTP_2 {
        let (sender, connection) =
            hyper::client::conn::http2::handshake(Executor(handle.clone()), io)
                .await
                .map_err(|error| format!("HTTP/2 handshake: {error}"))?;
        drop(handle.spawn(connection));
        Ok(Sender::Http2(sender))
    } else {
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|error| format!("HTTP/1.1 handshake: {error}"))?;
        drop(handle.spawn(connection.with_upgrades()));
        Ok(Sender::Http1(async_lock::Mutex::new(sender)))
    }
}

/// Sends `request` on `sender`'s connection, in its protocol: an absolute
/// URI over HTTP/2 (hyper's HTTP/2 client takes one), a `Host` over
/// HTTP/1.1 unless the test set one.
async fn send(sender: &Sender, mut request: Request) -> Exchanged {
    let method = request.method().clone();
    let mut response = match sender {
        Sender::Http2(sender) => {
            *request.version_mut() = Version::HTTP_2;
            if request.uri().scheme().is_none() {
                let path = request
                    .uri()
                    .path_and_query()
                    .map_or("/", |path| path.as_str());
                *request.uri_mut() = Uri::try_from(format!("http://localhost{path}"))
                    .map_err(|error| error.to_string())?;
            }
            sender
                .clone()
                .send_request(request)
                .await
                .map_err(|error| error.to_string())?
        }
        Sender::Http1(sender) => {
            if request.version() == Version::HTTP_2 {
                *request.version_mut() = Version::HTTP_11;
            }
            if !request.headers().contains_key(header::HOST) {
                request
                    .headers_mut()
                    .insert(header::HOST, HeaderValue::from_static("localhost"));
            }
            let sent = {
                let mut sender = sender.lock().await;
                // The previous response has been read (or dropped).
                sender
                    .ready()
                    .await
                    .map_err(|error| format!("the connection is closed: {error}"))?;
                sender.send_request(request)
            };
            sent.await.map_err(|error| error.to_string())?
        }
    };
    let upgraded = if upgrades(&method, response.status()) {
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(|error| format!("upgrade: {error}"))?;
        Some(Upgraded::new(FromHyper(upgraded)))
    } else {
        None
    };
    Ok((response.map(Body::new), upgraded))
}

/// One connection to the [`Engine`] for several requests, in turn over
/// HTTP/1.1 (keep-alive: each waits until the previous response has been
/// read) or at once over HTTP/2 (one stream each). Made by
/// [`Engine::connection`]; requests take the connection's HTTP version.
/// A request after the engine closed the connection (an error response,
/// `Connection: close`, the header read timeout, shutdown) fails.
pub struct EngineConnection {
    sender: Arc<Sender>,
    handle: Handle,
    timeout: Duration,
}

impl EngineConnection {
    /// A request with `method` for `uri` on this connection.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest {
        TestRequest::new(
            Arc::new(ConnectionBackend {
                sender: self.sender.clone(),
                handle: self.handle.clone(),
                timeout: self.timeout,
            }),
            method,
            uri,
        )
    }

    /// A `GET` request on this connection.
    pub fn get(&self, uri: &str) -> TestRequest {
        self.request(Method::GET, uri)
    }

    /// A `POST` request on this connection.
    pub fn post(&self, uri: &str) -> TestRequest {
        self.request(Method::POST, uri)
    }
}

impl fmt::Debug for EngineConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match &*self.sender {
            Sender::Http1(_) => "HTTP/1.1",
            Sender::Http2(_) => "HTTP/2",
        };
        f.debug_struct("EngineConnection")
            .field("protocol", &protocol)
            .finish_non_exhaustive()
    }
}

struct ConnectionBackend {
    sender: Arc<Sender>,
    handle: Handle,
    timeout: Duration,
}

impl Backend for ConnectionBackend {
    fn handle(&self) -> &Handle {
        &self.handle
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn exchange(&self, request: Request) -> BoxFuture<Exchanged> {
        let sender = self.sender.clone();
        Box::pin(async move { send(&sender, request).await })
    }
}

/// A raw exchange on its way: `.block()` it, or `.send().await` it.
pub struct RawExchange {
    io: Duplex,
    bytes: Vec<u8>,
    handle: Handle,
    timeout: Duration,
}

impl RawExchange {
    /// Writes the bytes and reads the answer until the engine closes the
    /// connection.
    ///
    /// # Panics
    ///
    /// When the engine does not close the connection within the timeout;
    /// the message shows what it had sent.
    pub async fn send(self) -> RawResponse {
        let RawExchange {
            mut io,
            bytes,
            handle,
            timeout,
        } = self;
        let mut received = Vec::new();
        let exchange = async {
            // The engine may answer and close before it has read it all.
            let _ = io.write_all(&bytes).await;
            let _ = io.flush().await;
            let mut buf = [0; 8192];
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
        };
        if handle.timeout(timeout, exchange).await.is_err() {
            panic!(
                "albany-test: the engine did not close the connection within {timeout:?}; it sent {:?}",
                String::from_utf8_lossy(&received)
            );
        }
        RawResponse { bytes: received }
    }

    /// [`send`](RawExchange::send) on this thread, with
    /// [`block_on`](crate::block_on).
    ///
    /// # Panics
    ///
    /// As [`send`](RawExchange::send).
    pub fn block(self) -> RawResponse {
        crate::block_on(self.send())
    }
}

impl fmt::Debug for RawExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawExchange")
            .field("bytes", &String::from_utf8_lossy(&self.bytes))
            .finish_non_exhaustive()
    }
}

/// The bytes the engine sent on a raw connection, as they were: one or
/// more responses, not decoded (a chunked body stays chunked).
#[derive(Clone, PartialEq, Eq)]
pub struct RawResponse {
    bytes: Vec<u8>,
}

impl RawResponse {
    /// Every byte received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Every byte received, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status code of the first response: the number in its status
    /// line (`HTTP/1.1 431 ...`); `None` if nothing that looks like one
    /// came.
    pub fn status(&self) -> Option<u16> {
        let line = self.head().lines().next()?;
        let mut parts = line.split(' ');
        if !parts.next()?.starts_with("HTTP/") {
            return None;
        }
        parts.next()?.parse().ok()
    }

    /// The head of the first response (status line and header fields),
    /// without the blank line that ends it.
    pub fn head(&self) -> &str {
        let end = find(&self.bytes, b"\r\n\r\n").unwrap_or(self.bytes.len());
        std::str::from_utf8(&self.bytes[..end]).unwrap_or("")
    }

    /// The value of the first header field `name` (case-insensitive) of
    /// the first response.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head().lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// What follows the first response's head: its body as sent (and any
    /// later responses).
    pub fn body(&self) -> &[u8] {
        find(&self.bytes, b"\r\n\r\n").map_or(&[], |end| &self.bytes[end + 4..])
    }
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawResponse").field(&self.text()).finish()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
