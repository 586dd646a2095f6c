//! axum 0.8 on tokio: a `Router` with the benchmark routes, served by
//! `axum::serve` (hyper-util's `auto` builder: HTTP/1.1 and h2c).

use std::io;
use std::net::SocketAddr;

use albany_bench::HELLO;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use http_body_util::BodyExt;

use crate::app::{Chunks, Route, OCTET_STREAM};
use crate::listener;

async fn hello() -> &'static str {
    // `&'static str` answers `text/plain; charset=utf-8`.
    HELLO
}

async fn download(RawQuery(query): RawQuery) -> Response {
    match Route::of("GET", "/download", query.as_deref()) {
        Route::Download(size) => (
            [(header::CONTENT_TYPE, OCTET_STREAM)],
            Body::from_stream(Chunks::new(size)),
        )
            .into_response(),
        _ => (StatusCode::BAD_REQUEST, "Bad Request\n").into_response(),
    }
}

/// Reads the request body frame by frame, keeping nothing, and answers
/// the number of bytes read.
async fn upload(mut body: Body) -> Response {
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                }
            }
            Err(_) => return (StatusCode::BAD_REQUEST, "Bad Request\n").into_response(),
        }
    }
    read.to_string().into_response()
}

/// Serves on `addr` on a multi-threaded tokio runtime with `threads`
/// workers until the process is killed.
pub(crate) fn serve(threads: usize, addr: SocketAddr) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener::bind(addr)?)?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let router = Router::new()
            .route("/", get(hello))
            .route("/download", get(download))
            .route("/upload", post(upload));
        axum::serve(listener, router).await
    })
}
