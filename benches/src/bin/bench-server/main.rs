//! `bench-server`: one of the servers the harness measures, chosen by name.
//!
//! ```text
//! bench-server --server albany-tokio --threads 2 --addr 127.0.0.1:8080
//! ```
//!
//! Every server answers `GET /` (`Hello, world!`), `GET /download?size=N`
//! (N bytes, chunked, in 64 KiB chunks), `POST /upload` (the body's length,
//! read chunk by chunk and discarded); Albany and the hyper baselines also
//! answer `GET /alloc` (the process's allocation count, from the counting
//! global allocator below). It serves until it is killed.

mod albany;
mod alloc;
mod app;
mod axum;
mod futures_io;
mod hyper_app;
mod hyper_futures_io;
mod hyper_tokio;
mod listener;
mod trillium;

use std::net::SocketAddr;
use std::process::ExitCode;

use albany_bench::{Family, Runtime, ServerKind};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "Usage: bench-server --server NAME --threads N --addr 127.0.0.1:PORT";

struct Args {
    server: ServerKind,
    threads: usize,
    addr: SocketAddr,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut threads = None;
    let mut addr = None;
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
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Args {
        server: server.ok_or("--server is required")?,
        threads: threads.unwrap_or(1),
        addr: addr.ok_or("--addr is required")?,
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

    let result = match args.server.family() {
        Family::Albany => albany::serve(args.server.runtime(), args.threads, args.addr),
        Family::Hyper => match args.server.runtime() {
            Runtime::Tokio => hyper_tokio::serve(args.threads, args.addr),
            Runtime::AsyncStd => hyper_futures_io::serve_async_std(args.addr),
            Runtime::Smol => hyper_futures_io::serve_smol(args.addr),
        },
        Family::Peer => match args.server {
            ServerKind::AxumTokio => axum::serve(args.threads, args.addr),
            _ => trillium::serve(args.server.runtime(), args.threads, args.addr),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {} on {}: {error}", args.server, args.addr);
            ExitCode::FAILURE
        }
    }
}
