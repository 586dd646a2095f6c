//! `bench-server`: one of the servers the harness measures, chosen by name.
//!
//! ```text
//! bench-server --server albany-tokio --threads 2 --addr 127.0.0.1:8080
//! bench-server --server proxy-hyper-tokio --threads 2 --addr 127.0.0.1:8081 --upstream http://127.0.0.1:8080
//! ```
//!
//! Every server answers `GET /` (`Hello, world!`), `GET /download?size=N`
//! (N bytes, chunked, in 64 KiB chunks), `POST /upload` (the body's length,
//! read chunk by chunk and discarded); Albany and the hyper baselines also
//! answer `GET /alloc` (the process's allocation count, from the counting
//! global allocator below). `proxy-hyper-tokio`, the proxy row's baseline,
//! forwards every request to `--upstream` instead. It serves until it is
//! killed.

mod albany;
mod alloc;
mod app;
mod axum;
mod futures_io;
mod hyper_app;
mod hyper_futures_io;
mod hyper_proxy;
mod hyper_tokio;
mod listener;
mod trillium;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use albany_bench::{Family, Runtime, ServerKind};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "Usage: bench-server --server NAME --threads N --addr 127.0.0.1:PORT [--upstream http://HOST:PORT]";

struct Args {
    server: ServerKind,
    threads: usize,
    addr: SocketAddr,
    /// The upstream of `proxy-hyper-tokio`.
    upstream: Option<hyper::Uri>,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut threads = None;
    let mut addr = None;
    let mut upstream = None;
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
    Ok(Args {
        server,
        threads: threads.unwrap_or(1),
        addr: addr.ok_or("--addr is required")?,
        upstream,
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
    // 10,000 idle connections need more descriptors than the usual 1024.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let result = match args.upstream {
        Some(upstream) => hyper_proxy::serve(args.threads, args.addr, upstream),
        None => serve(args.server, args.threads, args.addr),
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
        Family::Albany => albany::serve(server.runtime(), threads, addr),
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
