//! trillium on tokio, async-std and smol: one handler, served by each
//! runtime adapter's `config()` (HTTP/1.1 and h2c on the same port).

use std::io;
use std::net::SocketAddr;

use albany_bench::{Runtime, HELLO, MAX_CONNECTIONS};
use futures_lite::AsyncReadExt;
use trillium::{Body, Conn, KnownHeaderName, Status};

use crate::app::{Chunks, Route, OCTET_STREAM, TEXT_PLAIN};
use crate::listener;

async fn handler(mut conn: Conn) -> Conn {
    let query = conn.querystring();
    let query = (!query.is_empty()).then_some(query);
    match Route::of(conn.method().as_ref(), conn.path(), query) {
        Route::Hello => text(conn, Status::Ok, HELLO),
        Route::Download(size) => conn
            .with_response_header(KnownHeaderName::ContentType, OCTET_STREAM)
            .ok(Body::new_streaming(Chunks::new(size), None)),
        Route::Upload => match upload(&mut conn).await {
            Ok(read) => text(conn, Status::Ok, read.to_string()),
            Err(_) => text(conn, Status::BadRequest, "Bad Request\n"),
        },
        Route::Alloc | Route::Panic(_) | Route::NotFound => {
            text(conn, Status::NotFound, "Not Found\n")
        }
        Route::MethodNotAllowed => text(conn, Status::MethodNotAllowed, "Method Not Allowed\n"),
        Route::BadRequest => text(conn, Status::BadRequest, "Bad Request\n"),
    }
}

/// Reads the request body 64 KiB at a time, keeping nothing, and returns
/// the number of bytes read.
async fn upload(conn: &mut Conn) -> io::Result<u64> {
    // trillium bounds request bodies to 10 MB by default.
    let mut body = conn.request_body().with_max_len(u64::MAX);
    let mut buf = vec![0; albany_bench::CHUNK_SIZE];
    let mut read = 0u64;
    loop {
        match body.read(&mut buf).await? {
            0 => return Ok(read),
            n => read += n as u64,
        }
    }
}

fn text(conn: Conn, status: Status, body: impl Into<Body>) -> Conn {
    conn.with_response_header(KnownHeaderName::ContentType, TEXT_PLAIN)
        .with_status(status)
        .with_body(body)
        .halt()
}

/// Serves on `addr` until the process is killed: on tokio with a runtime of
/// `threads` workers built here; on async-std and smol with their global
/// executors, sized by `ASYNC_STD_THREAD_COUNT` and
/// `ASYNC_GLOBAL_EXECUTOR_THREADS` (set by `main`).
///
/// The listener is bound by the harness, as for the hyper baselines
/// (trillium's own binding has the standard library's backlog of 128).
pub(crate) fn serve(runtime: Runtime, threads: usize, addr: SocketAddr) -> io::Result<()> {
    let listener = listener::bind(addr)?;
    macro_rules! config {
        ($adapter:ident, $listener:expr) => {
            $adapter::config()
                .with_prebound_server($listener)
                .without_signals()
                .with_nodelay()
                .with_max_connections(Some(MAX_CONNECTIONS))
        };
    }
    match runtime {
        Runtime::Tokio => {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?;
            let listener = {
                let _context = tokio.enter();
                tokio::net::TcpListener::from_std(listener)?
            };
            tokio.block_on(config!(trillium_tokio, listener).run_async(handler));
        }
        Runtime::AsyncStd => config!(trillium_async_std, listener).run(handler),
        Runtime::Smol => {
            let listener = trillium_smol::async_net::TcpListener::try_from(listener)?;
            config!(trillium_smol, listener).run(handler);
        }
    }
    Ok(())
}
