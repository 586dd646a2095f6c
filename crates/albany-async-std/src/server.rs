use std::io;
use std::net::ToSocketAddrs;

use albany::Application;

use crate::AsyncStdBinding;

/// An Albany server on async-std: bind, configure, serve.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// # async fn example() -> std::io::Result<()> {
/// let app = from_fn(|_| async { Response::new(Body::from("Hello, world!")) });
/// let server = albany_async_std::Server::bind("127.0.0.1:3000")?;
/// let shutdown = server.shutdown_trigger(); // call shutdown.trigger() to stop
/// server.serve(app).await?;
/// # Ok(())
/// # }
/// ```
pub type Server = albany_server::Server<AsyncStdBinding>;

/// Serves `application` on `addr` on async-std (one worker per core) until
/// SIGTERM, Ctrl-C or SIGHUP, then shuts down gracefully (the rules, for
/// background jobs and a second signal: [`albany_server::shutdown_on_signal`]).
/// Logs `listening on http://ADDR` at INFO when it starts.
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
/// `addr` is the default: a listener inherited from a service manager
/// (systemd socket activation) is served instead, and the `HOST` and `PORT`
/// environment variables replace its host and port when set
/// ([`Server::from_env`](albany_server::Server::from_env)). Where
/// `NOTIFY_SOCKET` is set, systemd is told `READY=1` once it accepts and
/// `STOPPING=1` when graceful shutdown starts.
///
/// # Errors
///
/// The error of [`Server::from_env`](albany_server::Server::from_env) or of serving.
pub fn run(addr: impl ToSocketAddrs, application: impl Application) -> io::Result<()> {
    Server::from_env(addr)?.run(application)
}
