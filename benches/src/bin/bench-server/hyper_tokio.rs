//! hyper on tokio, the canonical way: `TokioIo`, hyper-util's `auto`
//! builder (HTTP/1.1 and HTTP/2 with prior knowledge), and
//! `loop { accept; spawn(serve_connection) }`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use crate::hyper_app::handle;
use crate::listener;

/// Serves on `addr` on a multi-threaded tokio runtime with `threads`
/// workers until the process is killed.
pub(crate) fn serve(threads: usize, addr: SocketAddr) -> io::Result<()> {
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
