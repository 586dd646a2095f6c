//! hyper on tokio, the canonical way: `TokioIo`, hyper-util's `auto`
//! builder (HTTP/1.1 and HTTP/2 with prior knowledge), and
//! `loop { accept; spawn(serve_connection) }`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::signal::unix::{signal, SignalKind};

use crate::hyper_app::handle;
use crate::listener;

/// Serves on `addr` on a multi-threaded tokio runtime with `threads`
/// workers until the process is killed (or, with `--graceful`, until
/// SIGTERM and graceful shutdown).
pub(crate) fn serve(threads: usize, addr: SocketAddr) -> io::Result<()> {
    let options = crate::options();
    if options.graceful || options.header_read_timeout.is_some() {
        return serve_stress(threads, addr, options);
    }
    accept_loop(threads, addr, |stream, builder| async move {
        let _ = builder
            .serve_connection(TokioIo::new(stream), service_fn(handle))
            .await;
    })
}

/// The raw hyper accept loop on a multi-threaded tokio runtime with
/// `threads` workers: accepts on `addr` until the process is killed, and
/// runs `connection` on each accepted stream (`TCP_NODELAY` set) in a task
/// of its own, with a clone of hyper-util's `auto` builder.
pub(crate) fn accept_loop<F, Fut>(threads: usize, addr: SocketAddr, connection: F) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream, auto::Builder<TokioExecutor>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener::bind(addr)?)?;
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept: {error}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, builder.clone()));
        }
    })
}

/// The stress harness's hyper-tokio: the same server with hyper's own
/// HTTP/1.1 header read timeout (`http1().timer(TokioTimer).header_read_timeout`)
/// when `--header-read-timeout` is given, and with `--graceful`, graceful
/// shutdown on SIGTERM as hyper-util documents it (`GracefulShutdown`:
/// stop accepting, `graceful_shutdown` on every connection, wait at most
/// 30 s), then return.
fn serve_stress(threads: usize, addr: SocketAddr, options: crate::StressOptions) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener::bind(addr)?)?;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        if let Some(timeout) = options.header_read_timeout {
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout);
        }
        let mut terminate = if options.graceful {
            Some(signal(SignalKind::terminate())?)
        } else {
            None
        };
        let graceful = GracefulShutdown::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = async { terminate.as_mut().expect("graceful").recv().await }, if terminate.is_some() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept: {error}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
        Ok(())
    })
}
