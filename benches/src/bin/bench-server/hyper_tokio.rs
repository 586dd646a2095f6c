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
            let builder = builder.clone();
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}
