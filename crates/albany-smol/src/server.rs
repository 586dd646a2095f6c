use std::io;
use std::net::ToSocketAddrs;

use albany::Application;

use crate::SmolBinding;

/// An Albany server on smol: bind, configure, serve.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// # fn example() -> std::io::Result<()> {
/// let app = from_fn(|_| async { Response::new(Body::from("Hello, world!")) });
/// smol::block_on(async {
///     let server = albany_smol::Server::bind("127.0.0.1:3000")?;
///     let shutdown = server.shutdown_trigger(); // call shutdown.trigger() to stop
///     server.serve(app).await
/// })
/// # }
/// ```
pub type Server = albany_server::Server<SmolBinding>;

/// Serves `application` on `addr` on a new multi-threaded smol executor
/// (one per core) until SIGTERM, Ctrl-C or SIGHUP, then shuts down
/// gracefully (the rules, for background jobs and a second signal:
/// [`albany_server::shutdown_on_signal`]). Logs `listening on http://ADDR`
/// at INFO when it starts.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// fn main() -> std::io::Result<()> {
///     albany_smol::run("127.0.0.1:3000", from_fn(|_| async {
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
