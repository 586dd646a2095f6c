//! WebSocket echo: every text and binary message comes back as it was sent,
//! written once, served on any runtime, over HTTP/1.1 (`101`) and HTTP/2
//! extended CONNECT (RFC 8441, turned on here with
//! `http2_extended_connect(true)`).
//!
//! - `GET /` (any path) with a WebSocket handshake opens the echo; the
//!   subprotocol `echo` is chosen when the client offers it;
//! - a request that is not a handshake gets `426 Upgrade Required`, a bad
//!   handshake its `400`, `405` or `426` (see `albany-websocket`);
//! - on graceful shutdown (SIGTERM, Ctrl-C) every WebSocket is closed with
//!   code 1001 "going away".
//!
//! It is the server the Autobahn fuzzing client runs against
//! (`scripts/autobahn.sh`).
//!
//! ```text
//! cargo run --example websocket -- --runtime smol --addr 127.0.0.1:9001
//! python3 -m websockets ws://127.0.0.1:9001/
//! ```

use std::process::ExitCode;
use std::time::Duration;

use albany::{from_fn, Request, RequestExt, Response};
use albany_examples::{Runtime, Serve};
use albany_websocket::{going_away, Message, WebSocket, WebSocketConfig, WebSocketUpgrade};
use clap::Parser;
use futures_lite::StreamExt;

/// The application: the handshake, then [`echo`] on the request's runtime.
pub async fn app(mut request: Request) -> Response {
    let shutdown = request.shutdown_signal();
    let upgrade = match WebSocketUpgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Autobahn sends messages of up to 16 MiB in one frame (cases 9.*).
    let mut config = WebSocketConfig::default();
    config.max_frame_size = Some(64 << 20);
    upgrade
        .protocols(["echo"])
        .config(config)
        .on_upgrade(move |socket| echo(socket, shutdown))
}

/// Echoes until the client closes, or graceful shutdown starts: then sends
/// close 1001 and waits (at most 5 seconds) for the client's close.
async fn echo(mut socket: WebSocket, shutdown: Option<albany::ShutdownSignal>) {
    let mut shutdown = std::pin::pin!(async move {
        match shutdown {
            Some(signal) => signal.await,
            None => std::future::pending().await,
        }
    });
    loop {
        let next = futures_lite::future::or(async { Some(socket.next().await) }, async {
            shutdown.as_mut().await;
            None
        })
        .await;
        match next {
            Some(Some(Ok(message))) => {
                if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err()
                {
                    return;
                }
            }
            // The client closed (tungstenite answered its close) or broke
            // the protocol (tungstenite sent the close code for it).
            Some(Some(Err(_)) | None) => return,
            None => break,
        }
    }
    if socket.send(going_away()).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    };
    let _ = futures_lite::future::or(drain, async {
        futures_lite::future::yield_now().await;
        async_io_sleep(Duration::from_secs(5)).await;
    })
    .await;
}

/// A runtime-neutral sleep: a timer thread (the runtime's own sleep is in
/// the request's `Handle`, which this helper does not keep).
async fn async_io_sleep(duration: Duration) {
    let (sender, receiver) = async_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let _ = sender.send_blocking(());
    });
    let _ = receiver.recv().await;
}

/// WebSocket echo over HTTP/1.1 and HTTP/2, on any runtime.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let app = from_fn(app);
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::Server::from_env(args.serve.addr)
            .and_then(|server| server.http2_extended_connect(true).run(app)),
        Runtime::AsyncStd => albany_async_std::Server::from_env(args.serve.addr)
            .and_then(|server| server.http2_extended_connect(true).run(app)),
        Runtime::Smol => albany_smol::Server::from_env(args.serve.addr)
            .and_then(|server| server.http2_extended_connect(true).run(app)),
    };
    albany_examples::exit(served)
}
