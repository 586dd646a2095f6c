//! hyper on smol and on async-std, through the harness's `futures-io`
//! binding: the same accept loop as on tokio, with each runtime's
//! listener, `spawn` and global executor.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use async_io::{Async, Timer};
use hyper::service::service_fn;
use hyper_util::server::conn::auto;

use crate::futures_io::{AsyncStdExecutor, FuturesIo, SmolExecutor};
use crate::hyper_app::handle;
use crate::listener;

/// Serves on `addr` on smol's global executor (`SMOL_THREADS` threads) with
/// the accept loop in `smol::block_on`, until the process is killed.
pub(crate) fn serve_smol(addr: SocketAddr) -> io::Result<()> {
    smol::block_on(async {
        let listener = Async::new(listener::bind(addr)?)?;
        let builder = auto::Builder::new(SmolExecutor);
        loop {
            let stream: Async<TcpStream> = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept: {error}");
                    Timer::after(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.get_ref().set_nodelay(true);
            let builder = builder.clone();
            smol::spawn(async move {
                let _ = builder
                    .serve_connection(FuturesIo(stream), service_fn(handle))
                    .await;
            })
            .detach();
        }
    })
}

/// Serves on `addr` on async-std's global executor
/// (`ASYNC_STD_THREAD_COUNT` threads) with the accept loop in
/// `async_std::task::block_on`, until the process is killed.
pub(crate) fn serve_async_std(addr: SocketAddr) -> io::Result<()> {
    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::from(listener::bind(addr)?);
        let builder = auto::Builder::new(AsyncStdExecutor);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accept: {error}");
                    async_std::task::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            drop(async_std::task::spawn(async move {
                let _ = builder
                    .serve_connection(FuturesIo(stream), service_fn(handle))
                    .await;
            }));
        }
    })
}
