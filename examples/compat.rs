//! Compat: an application written against tokio's API (`tokio::time`,
//! `tokio::spawn`, `tokio::net`), served unchanged on tokio, async-std and
//! smol through `albany_compat::compat`.
//!
//! - `GET /sleep` waits 20 ms on `tokio::time::sleep`;
//! - `GET /spawn` awaits a task spawned with `tokio::spawn` and answers the
//!   name of the thread it ran on and the tokio runtime's flavor: on smol
//!   and async-std that is async-compat's own thread, `async-compat/tokio-1`
//!   (a current-thread runtime); on tokio, the adapter's worker threads;
//! - `GET /upstream` connects with `tokio::net::TcpStream` to the address
//!   given with `--upstream` and answers what it sends before closing;
//! - `GET /stream` streams three lines, each after a `tokio::time::sleep`
//!   (the server polls the body after the application returned: the body
//!   runs in tokio's context too);
//! - `GET /ticks` streams three lines fed by a task spawned with
//!   `albany_compat::spawn` (Albany's `Handle::spawn`, in tokio's context);
//! - `GET /` lists the routes; other paths answer 404.
//!
//! ```text
//! cargo run --example compat -- --runtime smol --addr 127.0.0.1:3000
//! curl -i http://127.0.0.1:3000/spawn
//! curl -N http://127.0.0.1:3000/stream
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use albany_examples::{text, Runtime, Serve};
use clap::Parser;

use albany::body::Frame;
use albany::bytes::Bytes;
use albany::http::StatusCode;
use albany::{Application, Body, Request, RequestExt, Response};
use tokio::io::AsyncReadExt;

/// How long `/sleep` and each line of `/stream` and `/ticks` wait.
const PAUSE: Duration = Duration::from_millis(20);

/// The most `/upstream` reads from the upstream, in bytes.
const UPSTREAM_LIMIT: u64 = 64 * 1024;

/// The application. It uses tokio directly and names no Albany adapter.
struct TokioApp {
    /// Where `/upstream` connects.
    upstream: Option<SocketAddr>,
}

impl Application for TokioApp {
    async fn call(&self, request: Request) -> Response {
        match request.uri().path() {
            "/" => text(
                StatusCode::OK,
                "GET /sleep, /spawn, /upstream, /stream, /ticks\n",
            ),
            "/sleep" => {
                tokio::time::sleep(PAUSE).await;
                text(StatusCode::OK, format!("slept {} ms\n", PAUSE.as_millis()))
            }
            "/spawn" => spawned().await,
            "/upstream" => match self.upstream {
                Some(addr) => upstream(addr).await,
                None => text(StatusCode::NOT_FOUND, "no --upstream\n"),
            },
            "/stream" => stream(),
            "/ticks" => ticks(&request),
            _ => text(StatusCode::NOT_FOUND, "Not Found\n"),
        }
    }
}

/// `/spawn`: a `tokio::spawn`ed task that sleeps on tokio's timer, awaited
/// through its `JoinHandle`.
async fn spawned() -> Response {
    let task = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        let flavor = tokio::runtime::Handle::current().runtime_flavor();
        format!("thread={thread} flavor={flavor:?}\n")
    });
    match task.await {
        Ok(answer) => text(StatusCode::OK, answer),
        Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")),
    }
}

/// `/upstream`: what a `tokio::net::TcpStream` to `addr` reads until the
/// upstream closes; 502 if it cannot connect or read.
async fn upstream(addr: SocketAddr) -> Response {
    let read = async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let mut received = Vec::new();
        stream
            .take(UPSTREAM_LIMIT)
            .read_to_end(&mut received)
            .await?;
        Ok::<_, std::io::Error>(received)
    };
    match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(received)) => text(StatusCode::OK, received),
        Ok(Err(error)) => text(StatusCode::BAD_GATEWAY, format!("{error}\n")),
        Err(_) => text(StatusCode::GATEWAY_TIMEOUT, "upstream timed out\n"),
    }
}

/// `/stream`: three lines, each after a `tokio::time::sleep` that runs
/// when the server polls the body.
fn stream() -> Response {
    let lines = futures_lite::stream::unfold(0, |n| async move {
        if n == 3 {
            return None;
        }
        tokio::time::sleep(PAUSE).await;
        let line = Frame::data(Bytes::from(format!("line {n}\n")));
        Some((Ok::<_, std::io::Error>(line), n + 1))
    });
    text(StatusCode::OK, Body::from_frame_stream(lines))
}

/// `/ticks`: a channel body fed by a task spawned on the adapter with
/// `albany_compat::spawn`, so that it may use tokio's timer.
fn ticks(request: &Request) -> Response {
    let Some(handle) = request.runtime() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
    };
    let (mut sender, body) = Body::channel(1024);
    albany_compat::spawn(handle, async move {
        for n in 0..3 {
            tokio::time::sleep(PAUSE).await;
            if sender.send(format!("tick {n}\n")).await.is_err() {
                return;
            }
        }
        sender.finish();
    });
    text(StatusCode::OK, body)
}

/// A tokio application, served on any runtime through albany-compat.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
    /// Where `GET /upstream` connects (HOST:PORT).
    #[arg(long)]
    upstream: Option<SocketAddr>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let app = albany_compat::compat(TokioApp {
        upstream: args.upstream,
    });
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, app),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, app),
        Runtime::Smol => albany_smol::run(args.serve.addr, app),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{SocketAddr, TcpListener};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use albany_examples::testing::{get, h1, serve_with, ADAPTERS};
    use albany_server::Settings;

    use super::TokioApp;

    /// A `std` upstream on 127.0.0.1 that writes `hello from std` to each of
    /// `connections` connections and closes them.
    fn upstream(connections: usize) -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            for _ in 0..connections {
                let (mut stream, _) = listener.accept().unwrap();
                stream.write_all(b"hello from std").unwrap();
            }
        });
        (addr, thread)
    }

    #[test]
    fn tokio_apis_work_on_every_adapter_with_compat() {
        for adapter in ADAPTERS {
            let (upstream_addr, upstream) = upstream(1);
            let app = albany_compat::compat(TokioApp {
                upstream: Some(upstream_addr),
            });
            let server = serve_with(adapter, app, Settings::default());
            let addr = server.addr();

            let started = Instant::now();
            let slept = get(addr, "/sleep");
            assert_eq!(slept.status(), 200, "{adapter}");
            assert_eq!(slept.body, b"slept 20 ms\n", "{adapter}");
            assert!(started.elapsed() >= Duration::from_millis(20), "{adapter}");

            let spawned = get(addr, "/spawn");
            assert_eq!(spawned.status(), 200, "{adapter}");
            let spawned = String::from_utf8(spawned.body).unwrap();
            if adapter == "tokio" {
                // The adapter's own runtime: async-compat starts nothing.
                assert!(
                    spawned.contains("flavor=MultiThread"),
                    "{adapter}: {spawned}"
                );
                assert!(!spawned.contains("async-compat"), "{adapter}: {spawned}");
            } else {
                // async-compat's fallback runtime on its own thread.
                assert_eq!(
                    spawned, "thread=async-compat/tokio-1 flavor=CurrentThread\n",
                    "{adapter}"
                );
            }

            let upstreamed = get(addr, "/upstream");
            assert_eq!(upstreamed.status(), 200, "{adapter}");
            assert_eq!(upstreamed.body, b"hello from std", "{adapter}");
            upstream.join().unwrap();

            for (path, expected) in [
                ("/stream", "line 0\nline 1\nline 2\n"),
                ("/ticks", "tick 0\ntick 1\ntick 2\n"),
            ] {
                let started = Instant::now();
                let streamed = get(addr, path);
                assert_eq!(streamed.status(), 200, "{adapter} {path}");
                assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
                assert!(streamed.complete, "{adapter} {path}");
                assert_eq!(streamed.body, expected.as_bytes(), "{adapter} {path}");
                assert!(
                    started.elapsed() >= Duration::from_millis(60),
                    "{adapter} {path}: three pauses of 20 ms"
                );
            }
            server.stop().unwrap();
        }
    }

    /// The same application without compat: on smol and async-std tokio
    /// panics ("there is no reactor running"), the server answers 500 and
    /// keeps serving; a body that needs tokio aborts its response (the
    /// connection closes before the response is complete). On tokio it works without compat.
    #[test]
    fn without_compat_tokio_apis_fail_cleanly_off_tokio() {
        for adapter in ADAPTERS {
            let server = serve_with(adapter, TokioApp { upstream: None }, Settings::default());
            let addr = server.addr();
            let slept = get(addr, "/sleep");
            let spawned = get(addr, "/spawn");
            let streamed = h1::exchange(addr, &h1::get("/stream"));
            if adapter == "tokio" {
                assert_eq!(slept.status(), 200, "{adapter}");
                assert_eq!(spawned.status(), 200, "{adapter}");
                assert!(streamed.unwrap().complete, "{adapter}");
            } else {
                assert_eq!(slept.status(), 500, "{adapter}");
                assert_eq!(spawned.status(), 500, "{adapter}");
                // The body's first poll panics, before hyper wrote the head
                // (it writes the head with the first frame): the connection
                // closes, visibly short of a complete response.
                match streamed {
                    Err(_) => {}
                    Ok(response) => assert!(!response.complete, "{adapter}: {response:?}"),
                }
            }
            // Still serving.
            assert_eq!(get(addr, "/").status(), 200, "{adapter}");
            server.stop().unwrap();
        }
    }
}
