use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;

use albany::Application;

use crate::{AsyncStdRuntime, TcpListener};

/// The engine bound to async-std. [`Server`] is
/// `albany_server::Server<AsyncStdBinding>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdBinding;

impl albany_server::Binding for AsyncStdBinding {
    type Listener = TcpListener;
    type Runtime = AsyncStdRuntime;

    fn runtime(&self) -> io::Result<AsyncStdRuntime> {
        Ok(AsyncStdRuntime)
    }

    fn listen(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }

    /// Runs `main` with `async_std::task::block_on`; async-std's global
    /// executor runs one thread per core (`ASYNC_STD_THREAD_COUNT`).
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(async_std::task::block_on(main(self)))
    }
}

/// An Albany server on async-std: bind, configure, serve.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// # async fn example() -> std::io::Result<()> {
/// let app = from_fn(|_| async { Response::new(Body::from("Hello, world!")) });
/// let server = albany_async_std::Server::bind("127.0.0.1:3000")?;
/// let shutdown = server.shutdown_handle(); // call shutdown.shutdown() to stop
/// server.serve(app).await?;
/// # Ok(())
/// # }
/// ```
pub type Server = albany_server::Server<AsyncStdBinding>;

/// Serves `application` on `addr` on async-std until Ctrl-C, SIGTERM or SIGHUP,
/// then shuts down gracefully.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// fn main() -> std::io::Result<()> {
///     albany_async_std::run("127.0.0.1:3000", from_fn(|_| async {
///         Response::new(Body::from("Hello, world!"))
///     }))
/// }
/// ```
///
/// # Errors
///
/// The error of [`Server::bind`] or of serving.
pub fn run(addr: impl ToSocketAddrs, application: impl Application) -> io::Result<()> {
    Server::bind(addr)?.run(application)
}
