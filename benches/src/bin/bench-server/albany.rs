//! Albany, through each adapter's `Server`: the hello example's
//! application plus the benchmark routes.

use std::io;
use std::net::SocketAddr;

use albany::http::{header, HeaderValue, StatusCode};
use albany::{Application, Body, Request, Response};
use albany_bench::{Runtime, HELLO, MAX_CONNECTIONS};
use albany_server::{Binding, Server, Tls};
use albany_smol::SmolBinding;

use crate::alloc::allocations;
use crate::app::{maybe_panic, panic_body, Chunks, Route, OCTET_STREAM_VALUE, TEXT_PLAIN_VALUE};

/// The application: `examples/hello.rs`'s `GET /`, and the download,
/// upload and allocation-count routes.
struct Bench;

impl Application for Bench {
    async fn call(&self, request: Request) -> Response {
        let uri = request.uri();
        match Route::of(request.method().as_str(), uri.path(), uri.query()) {
            Route::Hello => text(StatusCode::OK, HELLO),
            Route::Download(size) => with_type(
                Response::new(Body::from_stream(Chunks::new(size))),
                OCTET_STREAM_VALUE,
            ),
            Route::Upload => upload(request.into_body()).await,
            Route::Alloc => text(StatusCode::OK, allocations().to_string()),
            Route::Panic(n) => {
                maybe_panic(n);
                text(StatusCode::OK, panic_body(n))
            }
            Route::MethodNotAllowed => text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n"),
            Route::BadRequest => text(StatusCode::BAD_REQUEST, "Bad Request\n"),
            Route::NotFound => text(StatusCode::NOT_FOUND, "Not Found\n"),
        }
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
            Err(_) => return text(StatusCode::BAD_REQUEST, "Bad Request\n"),
        }
    }
    text(StatusCode::OK, read.to_string())
}

fn text(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = with_type(Response::new(body.into()), TEXT_PLAIN_VALUE);
    *response.status_mut() = status;
    response
}

fn with_type(mut response: Response, content_type: HeaderValue) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

fn configure<B: Binding>(server: Server<B>, tls: Option<Tls>) -> Server<B> {
    let options = crate::options();
    let mut server = server.max_connections(options.max_connections.unwrap_or(MAX_CONNECTIONS));
    if let Some(timeout) = options.header_read_timeout {
        server = server.header_read_timeout(Some(timeout));
    }
    match tls {
        Some(tls) => server.tls(tls),
        None => server,
    }
}

/// Serves on `addr` with `threads` worker threads until the process is
/// killed; over HTTPS with `tls` (`Server::tls`) when given; the
/// application wrapped in `albany_compat::compat` when `compat` (the
/// `compat-albany-*` servers).
///
/// - tokio: a multi-threaded runtime with `threads` workers, built here,
///   and `Server::serve` inside it (the adapter's `run` takes one worker
///   per core);
/// - async-std: `Server::serve_blocking`, its global executor sized by
///   `ASYNC_STD_THREAD_COUNT` (set by `main`);
/// - smol: `Server::serve_blocking` with a binding of `threads`
///   executors, one per thread (`SmolBinding::with_executors`), as the
///   adapter's `run` does with one per core.
pub(crate) fn serve(
    runtime: Runtime,
    threads: usize,
    addr: SocketAddr,
    tls: Option<Tls>,
    compat: bool,
) -> io::Result<()> {
    if compat {
        serve_app(runtime, threads, addr, tls, albany_compat::compat(Bench))
    } else {
        serve_app(runtime, threads, addr, tls, Bench)
    }
}

/// With `--graceful`, makes SIGTERM start `server`'s graceful shutdown.
fn on_signal<B: Binding>(server: Server<B>) -> io::Result<Server<B>> {
    if crate::options().graceful {
        albany_server::shutdown_on_signal(server.shutdown_trigger())?;
    }
    Ok(server)
}

fn serve_app(
    runtime: Runtime,
    threads: usize,
    addr: SocketAddr,
    tls: Option<Tls>,
    app: impl Application,
) -> io::Result<()> {
    match runtime {
        Runtime::Tokio => {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?;
            let server = on_signal(configure(albany_tokio::Server::bind(addr)?, tls))?;
            tokio.block_on(server.serve(app))
        }
        Runtime::AsyncStd => {
            on_signal(configure(albany_async_std::Server::bind(addr)?, tls))?.serve_blocking(app)
        }
        Runtime::Smol => {
            let executors = (0..threads.max(1))
                .map(|_| std::sync::Arc::new(async_executor::Executor::new()))
                .collect();
            let binding = SmolBinding::with_executors(executors);
            // Albany's `Server::serve` applies the backlog (1024) itself.
            let listener = std::net::TcpListener::bind(addr)?;
            on_signal(configure(
                albany_smol::Server::with_binding(listener, binding),
                tls,
            ))?
            .serve_blocking(app)
        }
    }
}
