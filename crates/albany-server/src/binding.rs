use std::future::Future;
use std::io;

use albany::rt::Runtime;
use albany::ConnectionInfo;

/// How an adapter binds the engine to one event loop.
///
/// An adapter implements it once, with a [`Listener`] for the runtime's TCP
/// listener, and a [`Runtime`](Binding::Runtime) that the engine uses for
/// its tasks, hyper's executor and hyper's timer, and hands to applications
/// in an [`albany::rt::Handle`].
pub trait Binding: Send + Sync + 'static {
    /// The runtime's TCP listener.
    type Listener: Listener;

    /// The runtime service: [`Runtime`] for applications, [`Spawn`] for the
    /// engine's own tasks.
    type Runtime: Runtime + Spawn;

    /// The runtime service, for the engine and for applications.
    ///
    /// Called from inside the runtime, by [`Server::serve`](crate::Server::serve).
    ///
    /// # Errors
    ///
    /// An error if the binding has no runtime to use (for tokio: `serve` is
    /// not running inside a tokio runtime).
    fn runtime(&self) -> io::Result<Self::Runtime>;

    /// Registers a bound, non-blocking standard listener with the runtime.
    ///
    /// Called from inside the runtime, by [`Server::serve`](crate::Server::serve).
    ///
    /// # Errors
    ///
    /// The runtime's error if it cannot register the listener.
    fn listen(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// Creates a runtime suited to serving (one worker thread per core) and
    /// runs `main` on it to completion, passing the binding on. Used by
    /// [`Server::run`](crate::Server::run).
    ///
    /// # Errors
    ///
    /// The error if the runtime or its threads cannot be created.
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        Self: Sized,
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// A listener that accepts connections ready for hyper.
pub trait Listener: Send + 'static {
    /// A connection, as hyper reads and writes it.
    type Io: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// Accepts the next connection, with its peer and local addresses.
    /// Implementations set `TCP_NODELAY` on the connection.
    ///
    /// # Errors
    ///
    /// The operating system's accept error. The engine skips errors that
    /// concern one connection (reset or aborted before accept) and pauses
    /// 100 ms after others (such as running out of file descriptors).
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, ConnectionInfo)>> + Send;
}

/// Spawns a task without boxing it: how the engine spawns its own tasks, one
/// per connection and one per HTTP/2 stream.
///
/// [`Runtime::spawn`] is object safe, so it takes a boxed task: a heap
/// allocation per task on top of the runtime's own. Through `Spawn` the
/// runtime stores the task's future in its own task allocation, as
/// `tokio::spawn` does for raw hyper.
pub trait Spawn: Clone + Send + Sync + 'static {
    /// Runs `task` to completion in the background, concurrently with the
    /// caller; nothing waits for it (detached), as [`Runtime::spawn`].
    /// `task` must not panic: the engine catches panics in its tasks itself.
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;
}
