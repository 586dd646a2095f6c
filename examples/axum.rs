//! axum on any runtime: one `axum::Router`, served by any Albany adapter
//! through [`albany::from_tower`] and [`albany_compat::compat`].
//!
//! The router is ordinary axum code, written for `axum::serve`:
//!
//! | route | shows | answers |
//! | --- | --- | --- |
//! | `GET /hello/{name}?greeting=Hi` | `Path` and `Query` extractors | `Hi, NAME!` (default greeting `Hello`) |
//! | `POST /shout` | `Json` in and out | `{"text": "...", "loud": "..."}` for `{"text": "..."}`; 400/415/422 from axum for bad input |
//! | `POST /count` | `State` shared by every request | `{"count": N}`, one more each time |
//! | `GET /whoami` | `ConnectInfo<SocketAddr>` | `{"client": "IP:PORT"}`, the client's address |
//! | `GET /albany` | Albany's `ConnectionContext` through axum's `Extension` | `{"local_addr": ..., "blocking_thread": ...}`: the server's address, and a name from the adapter's blocking pool |
//! | `GET /lorem` | tower-http's `CompressionLayer` | a long text, gzip-compressed for `Accept-Encoding: gzip` |
//! | `GET /slow?ms=N` | tower-http's `TimeoutLayer` (tokio's timer) | `slept N ms`, or `408 Request Timeout` after 1 s |
//! | `GET /ws` | axum's `WebSocketUpgrade` | a WebSocket that echoes text and binary messages (over HTTP/2 too, RFC 8441's extended `CONNECT`, when the server's `http2_extended_connect` is on) |
//!
//! tower-http's `TraceLayer` logs every request (its `request` span and
//! `finished processing request` event, at DEBUG: `RUST_LOG=tower_http=debug`).
//!
//! Moving it between runtimes changes the serve line only:
//!
//! ```text
//! albany_tokio::run(addr, albany_compat::compat(albany::from_tower(router)))
//! albany_async_std::run(addr, albany_compat::compat(albany::from_tower(router)))
//! albany_smol::run(addr, albany_compat::compat(albany::from_tower(router)))
//! ```
//!
//! - `albany::from_tower` makes the router an `Albany` application. Each
//!   request reaches axum with all of Albany's extensions, hyper's upgrade
//!   handle among them, which `WebSocketUpgrade` takes.
//! - `albany_compat::compat` runs each request, and its response body,
//!   inside a tokio context: axum's `WebSocketUpgrade` calls
//!   `tokio::spawn`, tower-http's `TimeoutLayer` and `/slow` use
//!   `tokio::time`. On `albany-tokio` the request already runs on tokio and
//!   compat only checks that; the example wraps the router on every runtime
//!   so that the application value is the same on all three.
//! - axum's `ConnectInfo<SocketAddr>` is an extension that `axum::serve`
//!   inserts; under Albany a small `map_request` middleware
//!   ([`connect_info`]) inserts it from Albany's [`ConnectionInfo`]
//!   (`RequestExt::connection_info`), which every adapter provides. Routes
//!   may also read Albany's extensions directly
//!   (`/albany` takes `Extension<albany::ConnectionContext>`: the runtime
//!   `Handle`, `ConnectionInfo` and shutdown signal of the adapter serving
//!   it).
//!
//! ```text
//! cargo run --example axum -- --runtime smol --addr 127.0.0.1:3000
//! curl 'http://127.0.0.1:3000/hello/world?greeting=Hi'
//! curl -H 'Content-Type: application/json' -d '{"text":"hello"}' http://127.0.0.1:3000/shout
//! curl -X POST http://127.0.0.1:3000/count
//! curl http://127.0.0.1:3000/whoami
//! curl -s --compressed -i http://127.0.0.1:3000/lorem
//! curl -i 'http://127.0.0.1:3000/slow?ms=2000'
//! ```
//!
//! [`ConnectionInfo`]: albany::ConnectionInfo

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use albany::{ConnectionContext, RequestExt};
use albany_examples::{Runtime, Serve};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use clap::Parser;
use serde::{Deserialize, Serialize};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// How long a request may take before `TimeoutLayer` answers 408.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(1);

/// What every request shares: a counter of `POST /count` requests.
#[derive(Clone, Default)]
struct AppState {
    count: Arc<AtomicU64>,
}

/// The axum router: plain axum, nothing of Albany but [`connect_info`].
pub(crate) fn router() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/shout", post(shout))
        .route("/count", post(count))
        .route("/whoami", get(whoami))
        .route("/albany", get(albany_context))
        .route("/lorem", get(lorem))
        .route("/slow", get(slow))
        // `any`: over HTTP/2 a WebSocket opens with `CONNECT` (RFC 8441);
        // `WebSocketUpgrade` refuses every other method but `GET`.
        .route("/ws", any(ws))
        .with_state(AppState::default())
        // The last layer added runs first: trace, compress, time out, then
        // give `ConnectInfo` to the handlers.
        .layer(axum::middleware::map_request(connect_info))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            TIMEOUT,
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// The application an adapter serves: the router as an Albany application
/// inside a tokio context. The same value on every runtime.
pub(crate) fn app() -> impl albany::Application {
    albany_compat::compat(albany::from_tower(router()))
}

/// Inserts axum's `ConnectInfo<SocketAddr>` (what `axum::serve` would have
/// inserted) from Albany's `ConnectionInfo`: the TCP peer's address. A
/// request on a Unix domain socket has none, and a handler that extracts
/// `ConnectInfo` answers 500, as under `axum::serve` without
/// `into_make_service_with_connect_info`.
async fn connect_info(mut request: Request) -> Request {
    if let Some(peer) = request.connection_info().and_then(|info| info.peer_addr()) {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

#[derive(Deserialize)]
struct Greeting {
    greeting: Option<String>,
}

async fn hello(Path(name): Path<String>, Query(query): Query<Greeting>) -> String {
    let greeting = query.greeting.as_deref().unwrap_or("Hello");
    format!("{greeting}, {name}!")
}

#[derive(Deserialize)]
struct Shout {
    text: String,
}

#[derive(Serialize)]
struct Shouted {
    text: String,
    loud: String,
}

async fn shout(Json(shout): Json<Shout>) -> Json<Shouted> {
    let loud = shout.text.to_uppercase();
    Json(Shouted {
        text: shout.text,
        loud,
    })
}

async fn count(State(state): State<AppState>) -> Json<serde_json::Value> {
    let count = state.count.fetch_add(1, Ordering::Relaxed) + 1;
    Json(serde_json::json!({ "count": count }))
}

async fn whoami(ConnectInfo(client): ConnectInfo<SocketAddr>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "client": client.to_string() }))
}

/// Albany's own extension, reached from axum: the connection's
/// information and the adapter's runtime service (here its blocking pool,
/// which runs the closure on a thread of the adapter's, not tokio's).
async fn albany_context(
    Extension(context): Extension<ConnectionContext>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let local_addr = context.connection_info().local_addr();
    let blocking_thread = context
        .runtime()
        .spawn_blocking(|| std::thread::current().name().map(str::to_owned))
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(serde_json::json!({
        "local_addr": local_addr.map(|addr| addr.to_string()),
        "blocking_thread": blocking_thread,
        "shutting_down": context.shutdown_signal().is_triggered(),
    })))
}

/// A text long enough for `CompressionLayer` (it leaves bodies under 32
/// bytes alone).
pub(crate) fn lorem_text() -> String {
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n".repeat(40)
}

async fn lorem() -> String {
    lorem_text()
}

#[derive(Deserialize)]
struct Sleep {
    ms: u64,
}

/// Sleeps on tokio's timer: tokio-only code, which `compat` makes work on
/// every adapter.
async fn slow(Query(sleep): Query<Sleep>) -> String {
    tokio::time::sleep(Duration::from_millis(sleep.ms)).await;
    format!("slept {} ms", sleep.ms)
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo)
}

/// Echoes text and binary messages until the client closes. After a Close
/// frame, the next `recv` sends tungstenite's Close reply and then ends.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.send(message).await.is_err()
        {
            return;
        }
    }
}

/// axum on any runtime: one Router through albany::from_tower.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let addr = args.serve.addr;
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(addr, app()),
        Runtime::AsyncStd => albany_async_std::run(addr, app()),
        Runtime::Smol => albany_smol::run(addr, app()),
    };
    albany_examples::exit(served)
}
