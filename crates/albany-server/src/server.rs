//! The server: the accept loop, limits, and graceful shutdown.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
#[cfg(unix)]
use std::path::Path;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use albany::shutdown::ShutdownTrigger;
use albany::{Application, ConnectionContext};
use async_lock::Semaphore;
use futures_util::FutureExt;

use crate::accept::{self, Accept};
use crate::connection::{serve_connection, Protocols, Requests};
use crate::counters::Counters;
use crate::forwarded::Trusted;
use crate::listener::{self, Bind, Listener};
use crate::observe::Peer;
use crate::service::{ConnectionState, Shared};
use crate::tls::{self, Tls};
#[cfg(unix)]
use crate::unix_socket::UnixSocket;
use crate::{rt, Binding, MinDataRate, Settings};
use ipnet::IpNet;

/// An HTTP/1.1 and HTTP/2 server for an [`Application`], on the event loop
/// that the binding `B` ties it to.
///
/// Adapters export it with their binding, as in
/// `pub type Server = albany_server::Server<TokioBinding>`:
///
/// ```ignore
/// let server = albany_tokio::Server::bind("127.0.0.1:3000")?
///     .max_connections(1000)
///     .graceful_shutdown_timeout(Duration::from_secs(5));
/// let shutdown = server.shutdown_trigger(); // shutdown.trigger() stops it
/// server.serve(app).await?;
/// ```
///
/// What it does, per the specification in `spec/`:
/// - HTTP/1.1 (RFC 9112) with keep-alive and pipelining, and HTTP/2 with
///   prior knowledge (RFC 9113 §3.3) on the same port; upgrades (`101`),
///   HTTP/2 `CONNECT` and, with [`http2_extended_connect`](Server::http2_extended_connect),
///   extended `CONNECT` (RFC 8441, WebSockets over HTTP/2).
/// - Response framing from the body's size hint: `Content-Length` when exact,
///   chunked transfer coding otherwise.
/// - A panic in the application before the response becomes a `500` and the
///   server keeps serving; a body error or panic after the head aborts the
///   response (HTTP/1.1: the connection closes without the last chunk;
///   HTTP/2: `RST_STREAM`).
/// - The application's future is dropped when the client goes away.
/// - Graceful shutdown (see [`Server::shutdown_trigger`]).
/// - On TCP or, on Unix, on a Unix domain socket
///   ([`bind_unix`](Server::bind_unix)), plain or with TLS.
pub struct Server<B: Binding> {
    listener: Listener,
    binding: B,
    settings: Settings,
    shutdown: ShutdownTrigger,
    tls: Option<Tls>,
    counters: Counters,
}

impl<B: Binding + Default> Server<B> {
    /// Binds a TCP listener on `addr` (the first address it resolves to
    /// that binds), with the default settings.
    ///
    /// Port 0 picks a free port; [`local_addr`](Server::local_addr) tells
    /// which. Binding happens now; accepting starts with
    /// [`serve`](Server::serve).
    ///
    /// # Errors
    ///
    /// The operating system's error if no address binds (in use, not
    /// permitted) or `addr` does not resolve.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Server::bind_with(addr, false)
    }

    /// As [`bind`](Server::bind), with `SO_REUSEPORT` set, so that several
    /// processes (or several servers of one process) can listen on the same
    /// port, each binding it this way; the kernel spreads new connections
    /// among them (Linux, the BSDs, macOS; spec ADAPT-12). A port bound
    /// without it cannot be shared.
    ///
    /// # Errors
    ///
    /// As [`bind`](Server::bind); `Unsupported` where the platform has no
    /// `SO_REUSEPORT`.
    pub fn bind_reuse_port(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Server::bind_with(addr, true)
    }

    fn bind_with(addr: impl ToSocketAddrs, reuse_port: bool) -> io::Result<Self> {
        let options = Bind {
            backlog: Settings::default().backlog,
            reuse_port,
        };
        let listener = listener::bind_first(addr, options)?;
        Ok(Server::with_binding(listener, B::default()))
    }

    /// Binds a Unix domain socket at `path`, with the default settings
    /// (spec ADAPT-15), for a front server on the same machine (nginx's
    /// `proxy_pass http://unix:/run/app.sock;`).
    ///
    /// A socket file left at `path` by a server that is gone (nothing
    /// accepts on it) is removed first. The file is created with the mode
    /// the process's umask allows; [`unix_socket_mode`](Server::unix_socket_mode)
    /// sets another. When the server stops accepting (graceful shutdown),
    /// it removes the file, unless another server has bound `path` since.
    /// Requests have a [`ConnectionInfo`](albany::ConnectionInfo) with
    /// [`Transport::Unix`](albany::Transport::Unix) and no peer address.
    ///
    /// # Errors
    ///
    /// Each naming `path`: `AddrInUse` if a server listens on the socket
    /// there, `AlreadyExists` if the file there is not a socket (it is left
    /// alone), otherwise the operating system's error (a missing directory,
    /// no permission, a path longer than the platform allows).
    #[cfg(unix)]
    pub fn bind_unix(path: impl AsRef<Path>) -> io::Result<Self> {
        let socket = UnixSocket::bind(path.as_ref())?;
        Ok(Server::with_listener(Listener::Unix(socket), B::default()))
    }

    /// Serves on a Unix domain socket listener bound elsewhere (inherited
    /// from a supervisor, say), with the default settings, switched to
    /// non-blocking mode. Its file is left in place when the server stops.
    ///
    /// # Errors
    ///
    /// The operating system's error if the mode cannot be set or the
    /// socket's address cannot be read.
    #[cfg(unix)]
    pub fn from_unix_listener(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let socket = UnixSocket::inherited(listener)?;
        Ok(Server::with_listener(Listener::Unix(socket), B::default()))
    }

    /// The listener a deployment gives, in this order (spec ADAPT-11):
    /// 1. the first listener inherited from a service manager (systemd
    ///    socket activation: `LISTEN_FDS`, with `LISTEN_PID` naming this
    ///    process; also `systemfd`), TCP or a Unix domain socket, switched
    ///    to non-blocking mode;
    /// 2. otherwise `default_addr` bound, with its host replaced by the
    ///    `HOST` environment variable and its port by `PORT` when they are
    ///    set (the twelve-factor convention, as trillium's).
    ///
    /// The adapters' `run` functions start this way; [`bind`](Server::bind)
    /// reads no environment. Logs (INFO) where the listener came from.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the variable for a `PORT` that is not a port
    /// number or a `HOST` that does not resolve, or for an inherited
    /// descriptor that is not a stream listener (TCP, or Unix domain on
    /// Unix); otherwise as [`bind`](Server::bind).
    pub fn from_env(default_addr: impl ToSocketAddrs) -> io::Result<Self> {
        if let Some(listener) = listener::inherited()? {
            tracing::info!(
                "serving on the listener inherited from the service manager (LISTEN_FDS)"
            );
            listener.set_nonblocking()?;
            return Ok(Server::with_listener(listener, B::default()));
        }
        let addrs = listener::from_env(default_addr)?;
        Server::bind(&addrs[..])
    }

    /// Serves on a listener bound elsewhere (inherited from a supervisor,
    /// say), with the default settings. It is switched to non-blocking mode
    /// here, so that a listener inherited in blocking mode cannot stall the
    /// runtime.
    ///
    /// # Errors
    ///
    /// The operating system's error if the mode cannot be set.
    pub fn from_listener(listener: TcpListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        Ok(Server::with_binding(listener, B::default()))
    }
}

impl<B: Binding> Server<B> {
    /// Serves on `listener` with a given binding (an adapter's binding with
    /// non-default options, such as particular executors). The listener is
    /// switched to non-blocking mode when serving starts.
    pub fn with_binding(listener: TcpListener, binding: B) -> Self {
        Server::with_listener(Listener::Tcp(listener), binding)
    }

    fn with_listener(listener: Listener, binding: B) -> Self {
        Server {
            listener,
            binding,
            settings: Settings::default(),
            shutdown: ShutdownTrigger::new(),
            tls: None,
            counters: Counters::default(),
        }
    }

    /// The TCP address the server listens on.
    ///
    /// # Errors
    ///
    /// The operating system's error for `getsockname`; `InvalidInput` for a
    /// server on a Unix domain socket (see [`local_path`](Server::local_path)).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Listener::Tcp(listener) => listener.local_addr(),
            #[cfg(unix)]
            Listener::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the server listens on a Unix domain socket, which has no TCP address",
            )),
        }
    }

    /// The path of the Unix domain socket the server listens on; `None` for
    /// a TCP server (or an unnamed socket).
    #[cfg(unix)]
    pub fn local_path(&self) -> Option<&Path> {
        match &self.listener {
            Listener::Unix(socket) => socket.file.path.as_deref(),
            Listener::Tcp(_) => None,
        }
    }

    /// Sets the permission bits of the Unix domain socket's file, such as
    /// `0o660` to let the server's group (a front server's user, say)
    /// connect: connecting needs write permission (`chmod(2)`; only the low
    /// 12 bits of `mode` count). Takes effect at once.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a TCP server or a socket without a path; the
    /// operating system's error naming the file otherwise.
    #[cfg(unix)]
    pub fn unix_socket_mode(self, mode: u32) -> io::Result<Self> {
        match &self.listener {
            Listener::Unix(socket) => socket.file.set_mode(mode)?,
            Listener::Tcp(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "unix_socket_mode: the server listens on TCP, not on a Unix domain socket",
                ))
            }
        }
        Ok(self)
    }

    /// Where the server listens, as its start-up line says it:
    /// `http://127.0.0.1:3000`, `https://[::1]:443`,
    /// `http+unix:/run/app.sock` (the Unix socket's path).
    fn location(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match &self.listener {
            Listener::Tcp(listener) => match listener.local_addr() {
                Ok(addr) => format!("{scheme}://{addr}"),
                Err(_) => format!("{scheme} (address unknown)"),
            },
            #[cfg(unix)]
            Listener::Unix(socket) => match &socket.file.path {
                Some(path) => format!("{scheme}+unix:{}", path.display()),
                None => format!("{scheme}+unix (an unnamed socket)"),
            },
        }
    }

    /// Replaces all the settings. [`serve`](Server::serve) checks them
    /// ([`Settings::validate`]), as it checks those set one by one.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// See [`Settings::max_header_size`] (bytes; default 64 KiB; at least 8192).
    pub fn max_header_size(mut self, bytes: u64) -> Self {
        self.settings.max_header_size = bytes;
        self
    }

    /// See [`Settings::header_read_timeout`] (default 30 seconds).
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.header_read_timeout = timeout;
        self
    }

    /// See [`Settings::request_body_timeout`] (default 60 seconds).
    pub fn request_body_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.request_body_timeout = timeout;
        self
    }

    /// See [`Settings::request_body_min_rate`] (default 240 bytes per
    /// second after a 5 second grace period).
    pub fn request_body_min_rate(mut self, rate: Option<MinDataRate>) -> Self {
        self.settings.request_body_min_rate = rate;
        self
    }

    /// See [`Settings::response_write_timeout`] (default 60 seconds).
    pub fn response_write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.response_write_timeout = timeout;
        self
    }

    /// See [`Settings::keep_alive`] (default `true`).
    pub fn keep_alive(mut self, enabled: bool) -> Self {
        self.settings.keep_alive = enabled;
        self
    }

    /// See [`Settings::max_connections`] (default 10000; at least 1).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.settings.max_connections = connections;
        self
    }

    /// See [`Settings::max_request_body_size`] (bytes; default no limit).
    pub fn max_request_body_size(mut self, bytes: Option<u64>) -> Self {
        self.settings.max_request_body_size = bytes;
        self
    }

    /// See [`Settings::graceful_shutdown_timeout`] (default 30 seconds).
    pub fn graceful_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.graceful_shutdown_timeout = timeout;
        self
    }

    /// See [`Settings::http2`] (default `true`).
    pub fn http2(mut self, enabled: bool) -> Self {
        self.settings.http2 = enabled;
        self
    }

    /// See [`Settings::http2_extended_connect`] (default `false`): HTTP/2
    /// extended `CONNECT` (RFC 8441), for WebSockets over HTTP/2.
    pub fn http2_extended_connect(mut self, enabled: bool) -> Self {
        self.settings.http2_extended_connect = enabled;
        self
    }

    /// See [`Settings::http2_idle_timeout`] (default 60 seconds; `None`
    /// disables it): an HTTP/2 connection with no open stream this long
    /// gets `GOAWAY` and is closed.
    pub fn http2_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.http2_idle_timeout = timeout;
        self
    }

    /// See [`Settings::http2_keep_alive_interval`] (default 20 seconds;
    /// `None` disables the pings): an HTTP/2 connection that has read
    /// nothing this long is sent a `PING`.
    pub fn http2_keep_alive_interval(mut self, interval: Option<Duration>) -> Self {
        self.settings.http2_keep_alive_interval = interval;
        self
    }

    /// See [`Settings::http2_keep_alive_timeout`] (default 20 seconds): a
    /// peer that does not answer a keep-alive `PING` this long is closed.
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.settings.http2_keep_alive_timeout = timeout;
        self
    }

    /// Serves HTTPS: every connection starts with a TLS handshake with
    /// `tls`, bounded by [`Settings::tls_handshake_timeout`], and HTTP/2 or
    /// HTTP/1.1 follows as ALPN agreed (spec TLS-1 to TLS-8). Each
    /// request's `ConnectionInfo::tls` tells what the handshake agreed. A
    /// failed handshake closes that connection only.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// See [`Settings::access_log`] (default `false`): one line per
    /// response, in the Common Log Format, as a `tracing` event at INFO
    /// (target `albany::access`).
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.settings.access_log = enabled;
        self
    }

    /// See [`Settings::trusted_proxies`] (default none): the networks
    /// (`"10.0.0.0/8".parse()?`, `IpNet::from(ip)`) whose forwarding
    /// fields are believed.
    pub fn trusted_proxies(mut self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.settings.trusted_proxies = networks.into_iter().collect();
        self
    }

    /// See [`Settings::trust_unix_peers`] (default `false`): whether a
    /// peer on a Unix domain socket is a trusted front server.
    pub fn trust_unix_peers(mut self, trusted: bool) -> Self {
        self.settings.trust_unix_peers = trusted;
        self
    }

    /// See [`Settings::http2_initial_stream_window_size`] (bytes; default
    /// 1 MiB; 65535 to 2^31 − 1).
    pub fn http2_initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.settings.http2_initial_stream_window_size = bytes;
        self
    }

    /// See [`Settings::http2_initial_connection_window_size`] (bytes;
    /// default 1 MiB; 65535 to 2^31 − 1).
    pub fn http2_initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.settings.http2_initial_connection_window_size = bytes;
        self
    }

    /// See [`Settings::max_requests_per_connection`] (default `None`: no
    /// limit; at least 1).
    pub fn max_requests_per_connection(mut self, requests: Option<u64>) -> Self {
        self.settings.max_requests_per_connection = requests;
        self
    }

    /// Returns a handle to this server's live counters: open connections,
    /// requests in flight, upgraded connections, requests served (spec
    /// OBS-3). Take it before [`serve`](Server::serve), as the shutdown
    /// trigger; it stays readable from any thread while the server runs.
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// See [`Settings::tls_handshake_timeout`] (default 10 seconds).
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.tls_handshake_timeout = timeout;
        self
    }

    /// Returns the trigger of this server's graceful shutdown: clonable,
    /// usable from any thread; [`ShutdownTrigger::trigger`] starts it
    /// (spec SHUT-1). Graceful shutdown:
    /// 1. the server stops accepting: the listener closes, new connections
    ///    are refused;
    /// 2. the [`ShutdownSignal`](albany::ShutdownSignal) in every request
    ///    resolves, so long-lived responses can end;
    /// 3. idle connections close, HTTP/2 connections get `GOAWAY`, requests
    ///    in flight run to completion, upgraded connections (WebSockets)
    ///    keep working: their applications end them on the signal of step 2
    ///    (spec SHUT-7);
    /// 4. after [`Settings::graceful_shutdown_timeout`], connections still
    ///    open, upgraded ones included, are closed and their applications'
    ///    futures dropped (spec SHUT-5, SHUT-8);
    /// 5. [`Server::serve`] returns.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.shutdown.clone()
    }

    /// Creates the binding's runtime, serves `application` on it, and shuts
    /// down gracefully on SIGTERM, and on Ctrl-C (SIGINT) and SIGHUP unless
    /// the process started with them ignored; a signal during graceful
    /// shutdown exits at once (see [`shutdown_on_signal`](crate::shutdown_on_signal),
    /// spec ADAPT-8 to ADAPT-10). Logs `listening on http://ADDR` (or
    /// `https://ADDR` with [`tls`](Server::tls), `http+unix:PATH` on a Unix
    /// domain socket; `tracing`, level INFO) when it starts.
    ///
    /// Blocks the calling thread until the server has shut down. If the
    /// operating system refuses the signal handlers, the server runs
    /// without them (a warning is logged); use
    /// [`shutdown_trigger`](Server::shutdown_trigger) instead.
    ///
    /// # Errors
    ///
    /// As [`serve`](Server::serve).
    pub fn run<A: Application>(self, application: A) -> io::Result<()> {
        if let Err(error) = crate::shutdown_on_signal(self.shutdown_trigger()) {
            tracing::warn!(%error, "no signal handler installed; the server ignores SIGTERM and Ctrl-C");
        }
        tracing::info!("listening on {}", self.location());
        self.serve_blocking(application)
    }

    /// Creates the binding's runtime and serves `application` on it,
    /// blocking the calling thread until graceful shutdown completes; unlike
    /// [`run`](Server::run), installs no signal handler. Stop it with the
    /// [`shutdown_trigger`](Server::shutdown_trigger) taken before.
    ///
    /// # Errors
    ///
    /// As [`serve`](Server::serve), and the error if the runtime cannot be
    /// created.
    pub fn serve_blocking<A: Application>(mut self, application: A) -> io::Result<()> {
        self.binding.clone().block_on(move |binding| {
            self.binding = binding;
            self.serve(application)
        })?
    }

    /// Serves `application` until graceful shutdown completes.
    ///
    /// Must be awaited on the binding's runtime. Returns `Ok(())` after
    /// [`ShutdownTrigger::trigger`] once every connection has finished or
    /// been closed at the deadline.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, wrapping an [`InvalidSetting`](crate::InvalidSetting)
    /// that names it, when a setting is out of range; the binding's error
    /// when it has no runtime here (tokio: not called inside a runtime) or
    /// cannot register the listener. Errors while accepting or serving a
    /// connection are logged (`tracing`) and do not stop the server.
    pub async fn serve<A: Application>(self, application: A) -> io::Result<()> {
        self.settings
            .validate()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        self.listener.set_nonblocking()?;
        self.listener.set_backlog(self.settings.backlog)?;
        let serving = Serving {
            binding: self.binding.current()?,
            settings: self.settings,
            shutdown: self.shutdown,
            tls: self.tls,
            counters: self.counters,
        };
        match self.listener {
            Listener::Tcp(listener) => {
                let listener = accept::Tcp(serving.binding.listen(listener)?);
                serving.accept_loop(listener, || {}, application).await
            }
            #[cfg(unix)]
            Listener::Unix(UnixSocket { listener, file }) => {
                let listener = accept::Unix(serving.binding.listen_unix(listener)?);
                serving
                    .accept_loop(listener, move || file.remove(), application)
                    .await
            }
        }
    }
}

/// A server whose listener is registered: what the accept loop runs with.
struct Serving<B: Binding> {
    binding: B,
    settings: Settings,
    shutdown: ShutdownTrigger,
    tls: Option<Tls>,
    counters: Counters,
}

impl<B: Binding> Serving<B> {
    /// Accepts connections on `listener` and serves them until graceful
    /// shutdown completes; `closed` runs once the listener is closed.
    async fn accept_loop<A: Application, L: Accept<B>>(
        self,
        listener: L,
        closed: impl FnOnce(),
        application: A,
    ) -> io::Result<()> {
        let Serving {
            binding,
            settings,
            shutdown,
            tls,
            counters,
        } = self;
        let handle = rt::handle(binding.clone());
        let protocols = Arc::new(Protocols::new(&settings, &binding));
        let abort = ShutdownTrigger::new();
        let shared = Arc::new(Shared {
            application,
            max_request_body_size: settings.max_request_body_size,
            body_timeouts: crate::request_body::BodyTimeouts::new(
                settings.request_body_timeout,
                settings.request_body_min_rate,
            ),
            access_log: settings.access_log,
            access_log_or_proxies: settings.access_log || !Trusted::new(&settings).is_empty(),
            trusted_proxies: Trusted::new(&settings),
            counters: counters.clone(),
            shutdown_deadline: abort.signal(),
        });
        let tracker = counters.tracker();
        let permits = Arc::new(Semaphore::new(settings.max_connections));
        let table = protocols.table.clone();
        let mut shutdown_signal = shutdown.signal();
        crate::notify::ready();

        loop {
            let accepted = {
                let mut accept = pin!(async {
                    // [LIMIT-5, LIMIT-20] At the limit, one connection more
                    // is accepted and held while an idle one closes.
                    let permit = permits.try_acquire_arc();
                    let accepted = poll_fn(|cx| listener.poll_accept(&binding, cx)).await;
                    let permit = match permit {
                        Some(permit) => permit,
                        None if accepted.is_err() => return (None, accepted),
                        None => make_room(&permits, &table).await,
                    };
                    (Some(permit), accepted)
                });
                poll_fn(|cx| {
                    if Pin::new(&mut shutdown_signal).poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    accept.as_mut().poll(cx).map(Some)
                })
                .await
            };
            let Some((permit, accepted)) = accepted else {
                break;
            };
            let (accepted, permit) = match (accepted, permit) {
                (Ok(accepted), Some(permit)) => (accepted, permit),
                (Ok(_), None) => continue,
                (Err(error), _) if is_connection_error(&error) => continue,
                (Err(error), _) => {
                    tracing::error!(%error, "accept failed; pausing 100 ms");
                    handle.sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (io, info) = accepted;
            let tracked = tracker.track();
            let Some(tls) = &tls else {
                let state = connection_state(&shared, &handle, info, &shutdown);
                let connection = serve_connection(
                    protocols.clone(),
                    io,
                    None,
                    state,
                    shutdown.signal(),
                    abort.signal(),
                );
                spawn_connection(&binding, connection, (tracked, permit));
                continue;
            };
            let handshake = tls::accept(tls.current().get(settings.http2), io);
            let connection = serve_tls_connection(
                handshake,
                handle.sleep(settings.tls_handshake_timeout),
                protocols.clone(),
                shared.clone(),
                handle.clone(),
                info,
                shutdown.clone(),
                abort.signal(),
            );
            spawn_connection(&binding, connection, (tracked, permit));
        }

        // Stop accepting: closing the listener refuses new connections (and
        // drops a connection held for room).
        table.room_made();
        drop(listener);
        closed();
        crate::notify::stopping();
        tracing::info!(
            connections = tracker.active(),
            "graceful shutdown started; waiting for connections to finish"
        );
        let mut idle = pin!(tracker.wait_idle());
        let mut deadline = handle.sleep(settings.graceful_shutdown_timeout);
        let finished = poll_fn(|cx| {
            if idle.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            Pin::new(&mut deadline).poll(cx).map(|()| false)
        })
        .await;
        if !finished {
            tracing::warn!(
                connections = tracker.active(),
                "graceful shutdown deadline passed; closing the remaining connections"
            );
            abort.trigger();
            idle.await;
        }
        Ok(())
    }
}

impl<B: Binding> fmt::Debug for Server<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.location())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// [LIMIT-20] Waits, with a connection accepted beyond `max_connections`,
/// for a permit: asks an idle connection to close (the earliest accepted
/// among those idle, or the first to become idle), and another whenever
/// one asked declines.
async fn make_room(
    permits: &Arc<Semaphore>,
    table: &crate::connection::Table,
) -> async_lock::SemaphoreGuardArc {
    if let Some(permit) = permits.try_acquire_arc() {
        return permit;
    }
    // Listening before asking: a decline is not missed.
    let mut declined = table.declined();
    table.make_room();
    let mut acquire = pin!(permits.acquire_arc());
    let permit = poll_fn(|cx| {
        if let Poll::Ready(permit) = acquire.as_mut().poll(cx) {
            return Poll::Ready(permit);
        }
        // A listener made now is pending until the next decline.
        while Pin::new(&mut declined).poll(cx).is_ready() {
            declined = table.declined();
            table.make_room();
        }
        Poll::Pending
    })
    .await;
    table.room_made();
    permit
}

/// The state of a connection that `info` describes.
pub(crate) fn connection_state<A: Application>(
    shared: &Arc<Shared<A>>,
    handle: &albany::rt::Handle,
    info: albany::ConnectionInfo,
    shutdown: &ShutdownTrigger,
) -> Arc<ConnectionState<A>> {
    let (transport, socket_path) = match &info.transport {
        albany::Transport::Unix { local_path, .. } => ("unix", local_path.as_deref()),
        _ => ("tcp", None),
    };
    Arc::new(ConnectionState {
        shared: shared.clone(),
        requests: Requests::new(shared.counters.requests()),
        span: tracing::debug_span!(
            target: "albany::connection",
            "connection",
            "client.address" = info.peer_addr().map(|peer| tracing::field::display(peer.ip())),
            "client.port" = info.peer_addr().map(|peer| peer.port()),
            "server.port" = info.local_addr().map(|local| local.port()),
            "network.transport" = transport,
            "network.local.address" = socket_path.map(|path| tracing::field::display(path.display())),
            "tls.protocol.version" = info.tls.as_ref().and_then(|tls| tls.protocol_version.as_deref()),
        ),
        context: ConnectionContext::new(handle.clone(), info, shutdown.signal()),
    })
}

/// Runs `connection` in a task of its own; `guards` (its place in the
/// tracker and its connection permit) are released when it ends.
fn spawn_connection<B: Binding, G: Send + 'static>(
    binding: &B,
    connection: impl Future<Output = ()> + Send + 'static,
    guards: G,
) {
    // Combinators, not an `async` block: a block would keep the moved
    // connection future twice in the task (measured: 4168 bytes instead
    // of about 2100 per connection).
    let task = AssertUnwindSafe(connection)
        .catch_unwind()
        .map(move |result| {
            // A panic inside hyper closes this connection only.
            if result.is_err() {
                tracing::error!("a connection task panicked; the connection is closed");
            }
            drop(guards);
        });
    binding.spawn(task);
}

/// Serves a TLS connection: the handshake, bounded by `timeout` and ended
/// by graceful shutdown (the connection has no request yet), then HTTP as
/// ALPN agreed (spec TLS-2, TLS-3).
#[allow(clippy::too_many_arguments)]
async fn serve_tls_connection<A, B, C>(
    handshake: impl Future<Output = io::Result<tls::Handshake<C>>>,
    mut timeout: albany::rt::Sleep,
    protocols: Arc<Protocols<B>>,
    shared: Arc<Shared<A>>,
    handle: albany::rt::Handle,
    info: albany::ConnectionInfo,
    shutdown: ShutdownTrigger,
    abort: albany::ShutdownSignal,
) where
    A: Application,
    B: Binding,
    C: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let mut handshake = pin!(handshake);
    let mut shutting_down = shutdown.signal();
    let done = poll_fn(|cx| {
        if Pin::new(&mut shutting_down).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(done) = handshake.as_mut().poll(cx) {
            return Poll::Ready(Some(done));
        }
        if Pin::new(&mut timeout).poll(cx).is_ready() {
            tracing::debug!(peer = %Peer(&info), "no TLS handshake within the handshake timeout");
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    let handshake = match done {
        Some(Ok(handshake)) => handshake,
        Some(Err(error)) => {
            tracing::debug!(peer = %Peer(&info), %error, "TLS handshake failed");
            return;
        }
        None => return,
    };
    drop(timeout);
    let state = connection_state(&shared, &handle, info.with_tls(handshake.info), &shutdown);
    serve_connection(
        protocols,
        handshake.io,
        handshake.protocol,
        state,
        shutdown.signal(),
        abort,
    )
    .await;
}

/// Errors of `accept` that concern one connection, not the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
