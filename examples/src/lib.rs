//! Shared code of the Albany examples: the command line and the runtime
//! switch.
//!
//! Every example builds one [`Application`] value and hands it to [`run`].
//! The application code is the same on every runtime; only the adapter that
//! serves it changes, picked on the command line:
//!
//! ```text
//! cargo run --example hello -- --runtime smol --addr 127.0.0.1:8080
//! ```
//!
//! | option | values | default |
//! | --- | --- | --- |
//! | `--runtime NAME` | `tokio`, `async-std`, `smol` | `tokio` |
//! | `--addr HOST:PORT` | an address to listen on (port 0 picks a free one) | `127.0.0.1:3000` |
//! | `--help` | prints the usage | |
//!
//! Logging goes to standard error through `tracing_subscriber`, filtered by
//! `RUST_LOG` (default `info`).

use std::fmt;
use std::io::{self, IsTerminal};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::str::FromStr;

use albany::http::{header, HeaderValue, StatusCode};
use albany::{Application, Body, Response};
use albany_server::{Binding, Server};
use tracing_subscriber::EnvFilter;

/// The address examples listen on when `--addr` is not given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The async runtime an example runs on, chosen with `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// tokio's multi-threaded runtime, through `albany-tokio`.
    #[default]
    Tokio,
    /// async-std's global executor, through `albany-async-std`.
    AsyncStd,
    /// A multi-threaded smol executor, through `albany-smol`.
    Smol,
}

impl Runtime {
    /// Every runtime, in the order the usage lists them.
    pub const ALL: [Runtime; 3] = [Runtime::Tokio, Runtime::AsyncStd, Runtime::Smol];

    /// The name used on the command line: `tokio`, `async-std` or `smol`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::Smol => "smol",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runtime {
    type Err = UsageError;

    fn from_str(name: &str) -> Result<Self, UsageError> {
        Runtime::ALL
            .into_iter()
            .find(|runtime| runtime.name() == name)
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown runtime `{name}` (expected one of: tokio, async-std, smol)"
                ))
            })
    }
}

/// The options of an example's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The runtime to serve on (`--runtime`).
    pub runtime: Runtime,
    /// The address to listen on, as given (`--addr`).
    pub addr: String,
    /// What `addr` resolved to; the server binds the first of these that
    /// it can.
    pub addrs: Vec<SocketAddr>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve with these options.
    Serve(Options),
    /// Print the usage and exit (`--help` or `-h`).
    Help,
}

/// A command line that cannot be understood; its message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns the usage text of the example called `program`.
pub fn usage(program: &str) -> String {
    format!(
        "Usage: {program} [--runtime tokio|async-std|smol] [--addr HOST:PORT]\n\
         \n\
         Options:\n\
         \x20 --runtime NAME    the async runtime to serve on: tokio, async-std or smol\n\
         \x20                   (default: tokio)\n\
         \x20 --addr HOST:PORT  the address to listen on; port 0 picks a free port\n\
         \x20                   (default: {DEFAULT_ADDR})\n\
         \x20 -h, --help        print this help\n\
         \n\
         Logging goes to standard error; set RUST_LOG to filter it (default: info).\n"
    )
}

/// Parses the arguments that follow the program name.
///
/// Both `--name value` and `--name=value` are accepted. The address is
/// resolved here, so that a malformed one is a usage error.
///
/// # Errors
///
/// A [`UsageError`] for an unknown option, a missing or bad value.
pub fn parse_args<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut runtime = Runtime::default();
    let mut addr = DEFAULT_ADDR.to_owned();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("missing value for `{name}`")))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--runtime" => runtime = value("--runtime")?.parse()?,
            "--addr" => addr = value("--addr")?,
            other => return Err(UsageError(format!("unexpected argument `{other}`"))),
        }
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|error| {
            UsageError(format!(
                "invalid address `{addr}`: {error} (expected HOST:PORT, such as {DEFAULT_ADDR})"
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(UsageError(format!(
            "the address `{addr}` resolved to nothing"
        )));
    }
    Ok(Command::Serve(Options {
        runtime,
        addr,
        addrs,
    }))
}

/// Installs a `tracing` subscriber that prints to standard error, filtered
/// by `RUST_LOG` (default `info`). Does nothing if one is installed already.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// Runs an example: parses the command line, binds the chosen adapter's
/// server, prints `Listening on http://ADDR (runtime: NAME)` and serves
/// `application` until Ctrl-C or SIGTERM, then shuts down gracefully.
///
/// Call it from `main` and return what it returns:
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// fn main() -> std::process::ExitCode {
///     albany_examples::run(from_fn(|_| async { Response::new(Body::from("hi")) }))
/// }
/// ```
///
/// The exit status is 0 after a graceful shutdown (or `--help`), 2 for a
/// bad command line and 1 when the server cannot listen or fails.
pub fn run(application: impl Application) -> ExitCode {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "example".to_owned());
    let options = match parse_args(args) {
        Ok(Command::Serve(options)) => options,
        Ok(Command::Help) => {
            print!("{}", usage(&program));
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{}", usage(&program));
            return ExitCode::from(2);
        }
    };
    init_tracing();
    match serve(&options, application) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Binds the server of the runtime in `options` and serves `application`
/// on it; see [`run`].
///
/// # Errors
///
/// The error of binding (address in use, not permitted) or of serving.
pub fn serve(options: &Options, application: impl Application) -> io::Result<()> {
    let addrs = options.addrs.as_slice();
    let bind_error = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("cannot listen on {}: {error}", options.addr),
        )
    };
    // The one place where the runtime matters: which adapter's server to
    // bind. The application is the same value whichever it is.
    match options.runtime {
        Runtime::Tokio => announce_and_run(
            albany_tokio::Server::bind(addrs).map_err(bind_error)?,
            options.runtime,
            application,
        ),
        Runtime::AsyncStd => announce_and_run(
            albany_async_std::Server::bind(addrs).map_err(bind_error)?,
            options.runtime,
            application,
        ),
        Runtime::Smol => announce_and_run(
            albany_smol::Server::bind(addrs).map_err(bind_error)?,
            options.runtime,
            application,
        ),
    }
}

/// Prints where `server` listens, then runs it (creating its runtime and
/// handling Ctrl-C/SIGTERM) until it has shut down.
fn announce_and_run<B: Binding>(
    server: Server<B>,
    runtime: Runtime,
    application: impl Application,
) -> io::Result<()> {
    let local_addr = server.local_addr()?;
    println!("Listening on http://{local_addr} (runtime: {runtime})");
    server.run(application)?;
    tracing::info!("server stopped");
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        parse_args(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn defaults() {
        let Command::Serve(options) = parse(&[]).unwrap() else {
            panic!("expected Serve");
        };
        assert_eq!(options.runtime, Runtime::Tokio);
        assert_eq!(options.addr, DEFAULT_ADDR);
        assert_eq!(options.addrs, vec!["127.0.0.1:3000".parse().unwrap()]);
    }

    #[test]
    fn options_in_both_forms() {
        let Command::Serve(options) =
            parse(&["--runtime", "async-std", "--addr=127.0.0.1:0"]).unwrap()
        else {
            panic!("expected Serve");
        };
        assert_eq!(options.runtime, Runtime::AsyncStd);
        assert_eq!(options.addrs, vec!["127.0.0.1:0".parse().unwrap()]);
        let Command::Serve(options) = parse(&["--runtime=smol"]).unwrap() else {
            panic!("expected Serve");
        };
        assert_eq!(options.runtime, Runtime::Smol);
    }

    #[test]
    fn help_and_errors() {
        assert_eq!(parse(&["--help"]).unwrap(), Command::Help);
        assert_eq!(parse(&["-h"]).unwrap(), Command::Help);
        assert!(parse(&["--runtime", "glommio"])
            .unwrap_err()
            .0
            .contains("glommio"));
        assert!(parse(&["--runtime"])
            .unwrap_err()
            .0
            .contains("missing value"));
        assert!(parse(&["--addr", "nonsense"])
            .unwrap_err()
            .0
            .contains("nonsense"));
        assert!(parse(&["--addr", "127.0.0.1:99999"]).is_err());
        assert!(parse(&["--port", "1"]).unwrap_err().0.contains("--port"));
    }
}
