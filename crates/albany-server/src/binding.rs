//! [`Binding`]: the one trait an adapter implements to bind the engine to
//! its runtime.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use albany::net::TcpStream;
use albany::process::{Child, Command};
use albany::ConnectionInfo;

/// How an adapter binds the engine to one runtime: tasks, timers, the
/// blocking pool, network I/O, the server's listener and transport, and
/// starting the runtime. Generic, so that the engine's own tasks and
/// timers cost no boxing.
///
/// An adapter implements it once, on one type (`TokioBinding`,
/// `SmolBinding`, `AsyncStdBinding`), and the engine derives from it:
/// - the object-safe [`albany::rt::Runtime`] that applications reach
///   through the [`albany::rt::Handle`] in every request (spec EXT-1);
/// - hyper's executor (HTTP/2 stream tasks, spawned unboxed) and hyper's
///   timer (with an in-place [`reset`](Binding::reset));
/// - the accept loop, the header read timeout and graceful shutdown of
///   [`Server`](crate::Server).
///
/// The contract of each method is that of the matching method of
/// [`albany::rt::Runtime`] (callable from any thread, never blocking; spec
/// §10 and §11), plus what each method's documentation adds.
pub trait Binding: Clone + Send + Sync + 'static {
    /// The runtime's timer future, which the engine polls, resets and hands
    /// to hyper.
    type Sleep: Future<Output = ()> + Send + Sync + 'static;

    /// The runtime's TCP listener, registered with its reactor.
    type Listener: Send + Sync + 'static;

    /// An accepted connection as hyper reads and writes it: the adapter's
    /// transport.
    type Connection: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// The runtime's Unix domain socket listener (spec ADAPT-15). Unix only.
    #[cfg(unix)]
    type UnixListener: Send + Sync + 'static;

    /// A connection accepted on a Unix domain socket, as hyper reads and
    /// writes it. Unix only.
    #[cfg(unix)]
    type UnixConnection: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// Runs `task` to completion in the background, detached, stored in the
    /// runtime's own task allocation (no extra box). `task` does not panic:
    /// the engine catches panics in its tasks itself, and the erased
    /// `Runtime::spawn` catches them for applications' tasks.
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Runs `f` on the runtime's blocking thread pool.
    fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static;

    /// A timer that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Sets `sleep` to complete at `deadline` instead, reusing its timer
    /// entry.
    fn reset(sleep: Pin<&mut Self::Sleep>, deadline: Instant);

    /// One TCP connection attempt to `addr` (spec IO-1); see
    /// [`albany::rt::Runtime::connect_tcp`].
    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static;

    /// A connection to the Unix domain socket at `path` (spec IO-2); see
    /// [`albany::rt::Runtime::connect_unix`]. Unix only.
    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> impl Future<Output = io::Result<albany::net::UnixStream>> + Send + 'static;

    /// Spawns a child process (spec IO-6); see
    /// [`albany::rt::Runtime::spawn_process`].
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotFound`.
    fn spawn_process(&self, command: Command) -> io::Result<Child>;

    /// Registers `listener` (bound, listening, non-blocking) with the
    /// runtime's reactor: the server's listener, and applications' (spec
    /// IO-5).
    ///
    /// # Errors
    ///
    /// The reactor's error if it cannot register the socket.
    fn listen(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// Accepts the next connection on `listener`, with `TCP_NODELAY` set
    /// and its [`ConnectionInfo`] (spec ADAPT-4). Wakes the task of the most
    /// recent call when a connection is ready.
    ///
    /// # Errors
    ///
    /// The operating system's error for `accept(2)`. The engine skips those
    /// that concern one connection and pauses 100 ms after others (spec
    /// ADAPT-7).
    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Connection, ConnectionInfo)>>;

    /// Registers a bound, listening Unix domain socket `listener`
    /// (non-blocking) with the runtime's reactor (spec ADAPT-15). Unix only.
    ///
    /// # Errors
    ///
    /// The reactor's error if it cannot register the socket.
    #[cfg(unix)]
    fn listen_unix(
        &self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Self::UnixListener>;

    /// Accepts the next connection on the Unix domain socket `listener`,
    /// with its [`ConnectionInfo`] ([`ConnectionInfo::unix`]: the peer's
    /// socket path, usually none, and the listener's). Wakes the task of the
    /// most recent call when a connection is ready. Unix only.
    ///
    /// # Errors
    ///
    /// As [`poll_accept`](Binding::poll_accept).
    #[cfg(unix)]
    fn poll_accept_unix(
        &self,
        listener: &Self::UnixListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::UnixConnection, ConnectionInfo)>>;

    /// An accepted connection as applications read and write it, for the
    /// listeners applications open ([`albany::rt::Handle::bind`]).
    fn into_tcp_stream(connection: Self::Connection) -> TcpStream;

    /// Creates the runtime, with one worker thread per core, and runs
    /// `main` on it to completion, handing it the binding to use inside
    /// that runtime (for smol: the executors just created). Used by
    /// [`Server::run`](crate::Server::run) and
    /// [`Server::serve_blocking`](crate::Server::serve_blocking).
    ///
    /// # Errors
    ///
    /// The error if the runtime or its threads cannot be created.
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future;

    /// The binding as [`Server::serve`](crate::Server::serve) uses it,
    /// called from inside the runtime when serving starts: for a binding
    /// that finds its runtime where it is called (tokio's default), the one
    /// found there. By default, a clone of `self`.
    ///
    /// # Errors
    ///
    /// An error if there is no runtime to bind to (tokio: `serve` is not
    /// running inside a tokio runtime).
    fn current(&self) -> io::Result<Self> {
        Ok(self.clone())
    }
}
