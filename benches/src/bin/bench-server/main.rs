//! `bench-server`: one of the servers the harness measures, chosen by name.
//!
//! ```text
//! bench-server --server albany-tokio --threads 2 --addr 127.0.0.1:8080
//! bench-server --server proxy-hyper-tokio --threads 2 --addr 127.0.0.1:8081 --upstream http://127.0.0.1:8080
//! bench-server --server tls-albany-smol --threads 2 --addr 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem
//! ```
//!
//! Every server answers `GET /` (`Hello, world!`), `GET /download?size=N`
//! (N bytes, chunked, in 64 KiB chunks), `POST /upload` (the body's length,
//! read chunk by chunk and discarded); Albany and the hyper baselines also
//! answer `GET /alloc` (the process's allocation count, from the counting
//! global allocator below). `proxy-hyper-tokio`, the proxy row's baseline,
//! forwards every request to `--upstream` instead. The `tls-*` servers
//! serve the same routes over HTTPS with the PEM certificate and key of
//! `--tls-cert` and `--tls-key` (ALPN `h2` and `http/1.1`). It serves until
//! it is killed.
//!
//! The stress harness (`albany-stress`) adds `GET /panic/N` (a panic for
//! one N in ten) and three options, for Albany's servers and
//! `hyper-tokio`: `--max-connections N` (Albany's `max_connections`;
//! default 1,000,000, far above any run; raw hyper has no limit),
//! `--header-read-timeout SECS` (Albany's `header_read_timeout`, hyper's
//! HTTP/1.1 `header_read_timeout`; default: each server's own, 30 s for
//! Albany, none for raw hyper without a timer) and `--graceful` (graceful
//! shutdown on SIGTERM, then exit 0: Albany's `shutdown_on_signal`, hyper-util's
//! `GracefulShutdown`; without it SIGTERM kills the process).

mod albany;
mod alloc;
mod app;
mod axum;
mod futures_io;
mod hyper_app;
mod hyper_futures_io;
mod hyper_proxy;
mod hyper_tokio;
mod hyper_tokio_tls;
mod listener;
mod trillium;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use albany_bench::{Family, Runtime, ServerKind};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "Usage: bench-server --server NAME --threads N --addr 127.0.0.1:PORT [--upstream http://HOST:PORT] [--tls-cert PEM --tls-key PEM] [--max-connections N] [--header-read-timeout SECS] [--graceful]";

/// The stress harness's settings (`--max-connections`,
/// `--header-read-timeout`, `--graceful`), set once by `main`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StressOptions {
    /// Albany's `max_connections`; `None`: [`albany_bench::MAX_CONNECTIONS`].
    pub(crate) max_connections: Option<usize>,
    /// The header read timeout; `None`: the server's default.
    pub(crate) header_read_timeout: Option<std::time::Duration>,
    /// Graceful shutdown on SIGTERM.
    pub(crate) graceful: bool,
}

static OPTIONS: std::sync::OnceLock<StressOptions> = std::sync::OnceLock::new();

/// The stress options of this run (all unset unless given).
pub(crate) fn options() -> StressOptions {
    OPTIONS.get().copied().unwrap_or_default()
}

struct Args {
    server: ServerKind,
    threads: usize,
    addr: SocketAddr,
    /// The upstream of `proxy-hyper-tokio`.
    upstream: Option<hyper::Uri>,
    /// The certificate and key files of the `tls-*` servers.
    tls: Option<TlsFiles>,
    /// The stress harness's options.
    stress: StressOptions,
}

/// The PEM files of a TLS server: the certificate chain and its key.
pub(crate) struct TlsFiles {
    /// The certificate chain, the server's certificate first.
    pub(crate) cert: PathBuf,
    /// The private key.
    pub(crate) key: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut threads = None;
    let mut addr = None;
    let mut upstream = None;
    let mut cert = None;
    let mut key = None;
    let mut stress = StressOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("missing value for `{arg}`"))
        };
        match arg.as_str() {
            "--server" => server = Some(value()?.parse()?),
            "--threads" => {
                let n: usize = value()?
                    .parse()
                    .map_err(|e| format!("invalid --threads: {e}"))?;
                threads = Some(n.max(1));
            }
            "--addr" => {
                addr = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("invalid --addr: {e}"))?,
                );
            }
            "--upstream" => {
                let uri: hyper::Uri = value()?
                    .parse()
                    .map_err(|e| format!("invalid --upstream: {e}"))?;
                if uri.scheme_str() != Some("http") || uri.host().is_none() {
                    return Err("--upstream must be http://HOST:PORT".to_owned());
                }
                upstream = Some(uri);
            }
            "--tls-cert" => cert = Some(PathBuf::from(value()?)),
            "--tls-key" => key = Some(PathBuf::from(value()?)),
            "--max-connections" => {
                let n: usize = value()?
                    .parse()
                    .map_err(|e| format!("invalid --max-connections: {e}"))?;
                stress.max_connections = Some(n.max(1));
            }
            "--header-read-timeout" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|e| format!("invalid --header-read-timeout: {e}"))?;
                if !(secs > 0.0 && secs < 86_400.0) {
                    return Err(
                        "--header-read-timeout must be between 0 and 86400 seconds, exclusive"
                            .to_owned(),
                    );
                }
                stress.header_read_timeout = Some(std::time::Duration::from_secs_f64(secs));
            }
            "--graceful" => stress.graceful = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let server: ServerKind = server.ok_or("--server is required")?;
    if server.is_proxy_example() {
        return Err(format!(
            "{server} is the `proxy` example (target/release/examples/proxy), not a bench-server server"
        ));
    }
    if server.is_proxy() != upstream.is_some() {
        return Err(format!(
            "--upstream is {} for {server}",
            if server.is_proxy() {
                "required"
            } else {
                "only"
            }
        ));
    }
    let albany = server.family() == Family::Albany && !server.is_proxy();
    if stress.max_connections.is_some() && !albany {
        return Err(format!(
            "--max-connections is for Albany's servers, not {server}"
        ));
    }
    if (stress.graceful || stress.header_read_timeout.is_some())
        && !albany
        && server != ServerKind::HyperTokio
    {
        return Err(format!(
            "--graceful and --header-read-timeout are for Albany's servers and hyper-tokio, not {server}"
        ));
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    if server.is_tls() != tls.is_some() {
        return Err(format!(
            "--tls-cert and --tls-key are {} for {server}",
            if server.is_tls() {
                "required"
            } else {
                "only for the tls-* servers, not"
            }
        ));
    }
    Ok(Args {
        server,
        threads: threads.unwrap_or(1),
        addr: addr.ok_or("--addr is required")?,
        upstream,
        tls,
        stress,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("error: {error}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The global executors of async-std, smol and async-global-executor read
    // their thread count from the environment when first used; set it now,
    // while this is the only thread, so that `--threads` is the authority.
    if let Some(var) = args.server.threads_env_var() {
        std::env::set_var(var, args.threads.to_string());
    }
    OPTIONS.get_or_init(|| args.stress);
    // The deliberate panics of `GET /panic/N` are expected: keep them off
    // stderr, and every other panic on it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&app::DELIBERATE_PANIC) {
            default_hook(info);
        }
    }));
    // 10,000 idle connections need more descriptors than the usual 1024.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let result = match (args.upstream, args.tls) {
        (Some(upstream), _) => hyper_proxy::serve(args.threads, args.addr, upstream),
        (None, Some(tls)) => serve_tls(args.server, args.threads, args.addr, &tls),
        (None, None) => serve(args.server, args.threads, args.addr),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {} on {}: {error}", args.server, args.addr);
            ExitCode::FAILURE
        }
    }
}

/// Serves one of the origin servers.
fn serve(server: ServerKind, threads: usize, addr: SocketAddr) -> io::Result<()> {
    match server.family() {
        Family::Albany => albany::serve(server.runtime(), threads, addr, None, server.is_compat()),
        Family::Hyper => match server.runtime() {
            Runtime::Tokio => hyper_tokio::serve(threads, addr),
            Runtime::AsyncStd => hyper_futures_io::serve_async_std(addr),
            Runtime::Smol => hyper_futures_io::serve_smol(addr),
        },
        Family::Peer => match server {
            ServerKind::AxumTokio => axum::serve(threads, addr),
            _ => trillium::serve(server.runtime(), threads, addr),
        },
    }
}

/// Serves one of the TLS servers: Albany on its adapter with
/// `Server::tls(Tls::from_pem_files(..))`, or raw hyper with tokio-rustls.
fn serve_tls(
    server: ServerKind,
    threads: usize,
    addr: SocketAddr,
    tls: &TlsFiles,
) -> io::Result<()> {
    match server.family() {
        Family::Albany => {
            let config = albany_server::Tls::from_pem_files(&tls.cert, &tls.key)?;
            albany::serve(server.runtime(), threads, addr, Some(config), false)
        }
        _ => hyper_tokio_tls::serve(threads, addr, tls),
    }
}
