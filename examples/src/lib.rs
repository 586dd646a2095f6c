//! What the Albany examples share: the two options every example takes,
//! logging, and a response helper. The serving call itself is in each
//! example's `main`, in plain sight:
//!
//! ```no_run
//! use albany::{from_fn, Body, Response};
//! use albany_examples::{Runtime, Serve};
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     serve: Serve,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let args = Args::parse();
//!     albany_examples::init_tracing();
//!     let app = from_fn(|_| async { Response::new(Body::from("hi")) });
//!     let served = match args.serve.runtime {
//!         Runtime::Tokio => albany_tokio::run(args.serve.addr, app),
//!         Runtime::AsyncStd => albany_async_std::run(args.serve.addr, app),
//!         Runtime::Smol => albany_smol::run(args.serve.addr, app),
//!     };
//!     albany_examples::exit(served)
//! }
//! ```
//!
//! | option | values | default |
//! | --- | --- | --- |
//! | `--runtime NAME` | `tokio`, `async-std`, `smol` | `tokio` |
//! | `--addr HOST:PORT` | an address to listen on (port 0 picks a free one) | `127.0.0.1:3000` |
//!
//! `run` logs `listening on http://ADDR` when it starts. Logging goes to
//! standard error through `tracing_subscriber`, filtered by `RUST_LOG`
//! (default [`DEFAULT_LOG_FILTER`]: `info,h2=error`).

use std::io::{self, IsTerminal};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use albany::http::{header, HeaderValue, StatusCode};
use albany::{Body, Response};
use tracing_subscriber::EnvFilter;

pub mod browser;
pub mod testing;
#[cfg(test)]
mod tests;
pub mod websocket_client;

/// The address examples listen on when `--addr` is not given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The options every example takes; flatten them into its own
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct Serve {
    /// The async runtime to serve on.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    pub runtime: Runtime,
    /// The address to listen on (HOST:PORT; port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_ADDR, value_parser = parse_addr)]
    pub addr: SocketAddr,
}

/// The async runtime an example runs on, chosen with `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// tokio's multi-threaded runtime, through `albany-tokio`.
    Tokio,
    /// async-std's global executor, through `albany-async-std`.
    AsyncStd,
    /// A multi-threaded smol executor, through `albany-smol`.
    Smol,
}

/// `HOST:PORT` resolved to its first address, so that a bad `--addr` is a
/// usage error that names it.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|error| format!("{error} (expected HOST:PORT, such as {DEFAULT_ADDR})"))?
        .next()
        .ok_or_else(|| format!("`{text}` resolved to no address"))
}

/// The examples' log filter when `RUST_LOG` is not set: INFO and above,
/// except the `h2` crate's events below ERROR. h2 logs its HTTP/2 flood
/// defences (rapid reset, too many reset streams; spec H2-13, H2-14) at
/// WARN, one line per connection it ends, so a client could fill the log
/// at will; the engine logs what clients do at DEBUG (spec OBS-4).
pub const DEFAULT_LOG_FILTER: &str = "info,h2=error";

/// Installs a `tracing` subscriber that prints to standard error, filtered
/// by `RUST_LOG` (default [`DEFAULT_LOG_FILTER`]). Does nothing if one is
/// installed already.
pub fn init_tracing() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// The exit status of an example: 0 after a graceful shutdown, 1 (with the
/// error on standard error) when the server could not listen or failed.
pub fn exit(served: io::Result<()>) -> ExitCode {
    match served {
        Ok(()) => {
            tracing::info!("server stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A `text/plain; charset=utf-8` response with `status` and `body`.
pub fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
