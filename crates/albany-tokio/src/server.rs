use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;

use albany::Application;

use crate::{TcpListener, TokioRuntime};

/// The engine bound to tokio. [`Server`] is `albany_server::Server<TokioBinding>`.
///
/// The default binding uses the tokio runtime that
/// [`serve`](albany_server::Server::serve) runs in; [`TokioBinding::new`]
/// names one.
#[derive(Debug, Clone, Default)]
pub struct TokioBinding {
    runtime: Option<TokioRuntime>,
}

impl TokioBinding {
    /// Binds to the given runtime.
    pub fn new(runtime: TokioRuntime) -> Self {
        TokioBinding {
            runtime: Some(runtime),
        }
    }
}

impl albany_server::Binding for TokioBinding {
    type Listener = TcpListener;
    type Runtime = TokioRuntime;

    fn runtime(&self) -> io::Result<TokioRuntime> {
        match &self.runtime {
            Some(runtime) => Ok(runtime.clone()),
            None => TokioRuntime::current(),
        }
    }

    fn listen(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }

    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(main(self)))
    }
}

/// An Albany server on tokio: bind, configure, serve.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// # async fn example() -> std::io::Result<()> {
/// let app = from_fn(|_| async { Response::new(Body::from("Hello, world!")) });
/// let server = albany_tokio::Server::bind("127.0.0.1:3000")?;
/// let shutdown = server.shutdown_handle(); // call shutdown.shutdown() to stop
/// server.serve(app).await?;
/// # Ok(())
/// # }
/// ```
pub type Server = albany_server::Server<TokioBinding>;

/// Serves `application` on `addr` on a new multi-threaded tokio runtime
/// until Ctrl-C, SIGTERM or SIGHUP, then shuts down gracefully.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// fn main() -> std::io::Result<()> {
///     albany_tokio::run("127.0.0.1:3000", from_fn(|_| async {
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
