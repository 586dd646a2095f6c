//! What the suite needs from an adapter: start an application on
//! 127.0.0.1:0, report the address, shut down.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::thread;

use albany::BoxApplication;
use albany_server::{Binding, Server, Settings};

/// An adapter under test.
///
/// Implement it for your adapter to run the suite in your own CI. An adapter
/// built on `albany-server` needs no code: use [`AlbanyTarget`] with its
/// binding, as [`TOKIO`], [`ASYNC_STD`] and [`SMOL`] do.
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
}

type Stop = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// A server started by a [`Target`]. Dropping it shuts it down.
pub struct RunningServer {
    addr: SocketAddr,
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
            shutdown: Box::new(shutdown),
            join: Some(Box::new(join)),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
            .finish_non_exhaustive()
    }
}

/// The [`Target`] of an adapter built on `albany-server`, by its binding.
pub struct AlbanyTarget<B> {
    name: &'static str,
    binding: PhantomData<fn() -> B>,
}

impl<B> AlbanyTarget<B> {
    /// Names the target.
    pub const fn new(name: &'static str) -> Self {
        AlbanyTarget {
            name,
            binding: PhantomData,
        }
    }
}

impl<B> fmt::Debug for AlbanyTarget<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AlbanyTarget").field(&self.name).finish()
    }
}

impl<B: Binding + Default> Target for AlbanyTarget<B> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start(&self, application: BoxApplication, settings: Settings) -> io::Result<RunningServer> {
        let server = Server::<B>::bind("127.0.0.1:0")?.settings(settings);
        let addr = server.local_addr()?;
        let trigger = server.shutdown_trigger();
        // The listener is bound and listening: connections queue in the
        // backlog until the runtime starts accepting.
        let thread = thread::Builder::new()
            .name(format!("albany-{}-server", self.name))
            .spawn(move || server.serve_blocking(application))?;
        Ok(RunningServer::new(
            addr,
            move || trigger.trigger(),
            move || {
                thread
                    .join()
                    .map_err(|_| io::Error::other("the server thread panicked"))?
            },
        ))
    }
}

/// albany-tokio.
pub const TOKIO: AlbanyTarget<albany_tokio::TokioBinding> = AlbanyTarget::new("tokio");
/// albany-async-std.
pub const ASYNC_STD: AlbanyTarget<albany_async_std::AsyncStdBinding> =
    AlbanyTarget::new("async-std");
/// albany-smol.
pub const SMOL: AlbanyTarget<albany_smol::SmolBinding> = AlbanyTarget::new("smol");
