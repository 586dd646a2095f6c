//! What the suite needs from an adapter: start an application on
//! 127.0.0.1:0, report the address, shut down.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::thread;

use albany::BoxApplication;
use albany_server::{Binding, Server, Settings, Tls};

use crate::transport::{self, Endpoint, TlsClient};

/// An adapter under test.
///
/// Implement it for your adapter to run the suite in your own CI. An adapter
/// built on `albany-server` needs no code: use [`AlbanyTarget`] with its
/// binding, as [`TOKIO`], [`ASYNC_STD`] and [`SMOL`] do (and, over TLS,
/// [`TOKIO_TLS`], [`ASYNC_STD_TLS`] and [`SMOL_TLS`]).
///
/// A target served over TLS returns its [`RunningServer`] with
/// [`RunningServer::with_tls`]: the suite's clients then speak TLS to it.
pub trait Target: Send + Sync + 'static {
    /// A short name for reports, such as `"tokio"`.
    fn name(&self) -> &'static str;

    /// Starts `application` on 127.0.0.1 port 0 with `settings`, on a
    /// runtime of the target's own (typically on a thread of its own), and
    /// returns once the server accepts connections.
    ///
    /// # Errors
    ///
    /// The error if the server cannot start.
    fn start(&self, application: BoxApplication, settings: Settings) -> io::Result<RunningServer>;

    /// The cases this target is known to fail, each with the reason: for a
    /// *reference* target, a server that is not Albany's engine (such as
    /// [`HYPER_UTIL_TOWER`](crate::HYPER_UTIL_TOWER)), run beside Albany's
    /// adapters to show what they guarantee and it does not. Such a failure
    /// is reported as [`Verdict::ExpectedFail`](crate::Verdict::ExpectedFail)
    /// and does not fail the run; a failure not listed does. Default: none,
    /// as for every adapter that claims conformance.
    fn expected_failures(&self) -> &'static [crate::ExpectedFailure] {
        &[]
    }

    /// Whether this is a reference target: a server that is not Albany's
    /// engine, compared in the differential run with Albany's targets
    /// without its differences failing the run. Default: `false`.
    fn is_reference(&self) -> bool {
        false
    }
}

type Stop = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// A server started by a [`Target`]. Dropping it shuts it down.
pub struct RunningServer {
    addr: SocketAddr,
    tls: Option<&'static TlsClient>,
    shutdown: Box<dyn Fn() + Send + Sync>,
    join: Option<Stop>,
}

impl RunningServer {
    /// Describes a started server: its address, a function that starts its
    /// graceful shutdown, and one that waits until it has stopped.
    pub fn new(
        addr: SocketAddr,
        shutdown: impl Fn() + Send + Sync + 'static,
        join: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> Self {
        RunningServer {
            addr,
            tls: None,
            shutdown: Box::new(shutdown),
            join: Some(Box::new(join)),
        }
    }

    /// Marks the server as served over TLS: the suite's clients speak TLS
    /// to it and trust what `client` trusts (for Albany's targets, the
    /// [`test_certificate`](transport::test_certificate)'s client).
    pub fn with_tls(mut self, client: &'static TlsClient) -> Self {
        self.tls = Some(client);
        self
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address and the transport: what the suite's clients connect to.
    pub fn endpoint(&self) -> Endpoint {
        match self.tls {
            Some(client) => Endpoint::tls(self.addr, client),
            None => Endpoint::plain(self.addr),
        }
    }

    /// Whether the server is served over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Starts graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        (self.shutdown)();
    }

    /// Starts graceful shutdown and waits until the server has stopped.
    ///
    /// # Errors
    ///
    /// The server's own error, if serving failed.
    pub fn shutdown(mut self) -> io::Result<()> {
        (self.shutdown)();
        match self.join.take() {
            Some(join) => join(),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        (self.shutdown)();
        if let Some(join) = self.join.take() {
            let _ = join();
        }
    }
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The [`Target`] of an adapter built on `albany-server`, by its binding:
/// over plain TCP ([`new`](AlbanyTarget::new)) or over TLS
/// ([`tls`](AlbanyTarget::tls)).
pub struct AlbanyTarget<B> {
    name: &'static str,
    tls: bool,
    binding: PhantomData<fn() -> B>,
}

impl<B> AlbanyTarget<B> {
    /// Names the target, served over plain TCP.
    pub const fn new(name: &'static str) -> Self {
        AlbanyTarget {
            name,
            tls: false,
            binding: PhantomData,
        }
    }

    /// Names the target, served over TLS (`Server::tls`) with the process's
    /// [`test_certificate`](transport::test_certificate): a self-signed
    /// certificate for `localhost` made with rcgen at the first start, which
    /// the suite's clients, and only they, trust. ALPN offers `h2` and
    /// `http/1.1` (only `http/1.1` when `Settings::http2` is off).
    pub const fn tls(name: &'static str) -> Self {
        AlbanyTarget {
            name,
            tls: true,
            binding: PhantomData,
        }
    }

    /// Whether the target serves over TLS.
    pub const fn is_tls(&self) -> bool {
        self.tls
    }
}

impl<B> fmt::Debug for AlbanyTarget<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlbanyTarget")
            .field("name", &self.name)
            .field("tls", &self.tls)
            .finish()
    }
}

impl<B: Binding + Default> Target for AlbanyTarget<B> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start(&self, application: BoxApplication, settings: Settings) -> io::Result<RunningServer> {
        let mut server = Server::<B>::bind("127.0.0.1:0")?.settings(settings);
        let mut client = None;
        if self.tls {
            let certificate = transport::test_certificate()?;
            let tls = Tls::from_pem(
                certificate.certificate_pem.as_bytes(),
                certificate.key_pem.as_bytes(),
            )
            .map_err(io::Error::other)?;
            server = server.tls(tls);
            client = Some(&certificate.client);
        }
        let addr = server.local_addr()?;
        let trigger = server.shutdown_trigger();
        // The listener is bound and listening: connections queue in the
        // backlog until the runtime starts accepting.
        let thread = thread::Builder::new()
            .name(format!("albany-{}-server", self.name))
            .spawn(move || server.serve_blocking(application))?;
        let running = RunningServer::new(
            addr,
            move || trigger.trigger(),
            move || {
                thread
                    .join()
                    .map_err(|_| io::Error::other("the server thread panicked"))?
            },
        );
        Ok(match client {
            Some(client) => running.with_tls(client),
            None => running,
        })
    }
}

/// albany-tokio.
pub const TOKIO: AlbanyTarget<albany_tokio::TokioBinding> = AlbanyTarget::new("tokio");
/// albany-async-std.
pub const ASYNC_STD: AlbanyTarget<albany_async_std::AsyncStdBinding> =
    AlbanyTarget::new("async-std");
/// albany-smol.
pub const SMOL: AlbanyTarget<albany_smol::SmolBinding> = AlbanyTarget::new("smol");
/// albany-tokio over TLS.
pub const TOKIO_TLS: AlbanyTarget<albany_tokio::TokioBinding> = AlbanyTarget::tls("tokio-tls");
/// albany-async-std over TLS.
pub const ASYNC_STD_TLS: AlbanyTarget<albany_async_std::AsyncStdBinding> =
    AlbanyTarget::tls("async-std-tls");
/// albany-smol over TLS.
pub const SMOL_TLS: AlbanyTarget<albany_smol::SmolBinding> = AlbanyTarget::tls("smol-tls");
