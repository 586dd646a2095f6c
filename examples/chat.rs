//! Chat: a page and a WebSocket endpoint, every message broadcast to every
//! client, written once, served on any runtime.
//!
//! - `GET /` serves the page: a message list, a text field, and a few lines
//!   of JavaScript that open `ws://HOST/ws` and show what arrives;
//! - `GET /ws` is the WebSocket (`albany-websocket`): each text message a
//!   client sends goes to every client connected, itself included, as
//!   `#N: TEXT` (N numbers the clients from 1);
//! - on graceful shutdown every WebSocket is closed with code 1001.
//!
//! Each client has a queue of 64 messages; a client that lets its queue
//! fill (it does not read) is disconnected rather than slowing the others.
//!
//! ```text
//! cargo run --example chat -- --runtime async-std --addr 127.0.0.1:3000
//! # open http://127.0.0.1:3000/ in two browser tabs
//! ```

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use albany::http::{header, HeaderValue, Method, StatusCode};
use albany::{Application, Body, Request, RequestExt, Response, ShutdownSignal};
use albany_examples::{text, Runtime, Serve};
use albany_websocket::{going_away, Message, WebSocket, WebSocketUpgrade};
use clap::Parser;
use futures_lite::StreamExt;

/// The page at `/`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Albany chat</title></head>
<body data-state="connecting">
<h1>Albany chat</h1>
<ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
const log = document.getElementById("log");
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(scheme + "//" + location.host + "/ws");
function show(line) {
  const item = document.createElement("li");
  item.textContent = line;
  log.appendChild(item);
}
socket.onopen = () => { document.body.dataset.state = "open"; };
socket.onmessage = (event) => show(event.data);
socket.onclose = (event) => {
  document.body.dataset.state = "closed";
  show("(disconnected, code " + event.code + ")");
};
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (input.value) {
    socket.send(input.value);
    input.value = "";
  }
};
</script>
</body>
</html>
"#;

/// Messages queued for one client before it is disconnected.
const QUEUE: usize = 64;

/// The application: the clients connected, each by its queue.
#[derive(Clone, Default)]
struct Chat {
    clients: Arc<Mutex<HashMap<u64, async_channel::Sender<String>>>>,
    next_id: Arc<AtomicU64>,
}

impl Chat {
    /// Queues `line` for every client; drops those whose queue is full.
    fn broadcast(&self, line: &str) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|_, queue| queue.try_send(line.to_owned()).is_ok());
    }

    /// One client, from its handshake to its close.
    async fn client(self, socket: WebSocket, shutdown: Option<ShutdownSignal>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (queue, queued) = async_channel::bounded::<String>(QUEUE);
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, queue);
        let (mut sender, mut receiver) = socket.split();
        let incoming = async {
            while let Some(Ok(message)) = receiver.next().await {
                if let Message::Text(text) = message {
                    self.broadcast(&format!("#{id}: {}", text.as_str()));
                }
            }
        };
        let outgoing = async {
            // Ends when the queue is dropped (the client fell behind).
            while let Ok(line) = queued.recv().await {
                if sender.send(Message::text(line)).await.is_err() {
                    return;
                }
            }
            let _ = sender.close(None).await;
        };
        let shutting_down = async {
            match shutdown {
                Some(signal) => signal.await,
                None => std::future::pending().await,
            }
        };
        let stopped = futures_lite::future::or(
            async {
                futures_lite::future::or(incoming, outgoing).await;
                false
            },
            async {
                shutting_down.await;
                true
            },
        )
        .await;
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if stopped {
            let _ = sender.send(going_away()).await;
        }
    }
}

impl Application for Chat {
    async fn call(&self, mut request: Request) -> Response {
        match request.uri().path() {
            "/" if request.method() == Method::GET || request.method() == Method::HEAD => {
                let mut response = Response::new(Body::from(PAGE));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                response
            }
            "/" => text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n"),
            "/ws" => {
                let shutdown = request.shutdown_signal();
                match WebSocketUpgrade::from_request(&mut request) {
                    Ok(upgrade) => {
                        let chat = self.clone();
                        upgrade.on_upgrade(move |socket| chat.client(socket, shutdown))
                    }
                    Err(rejection) => rejection.into_response(),
                }
            }
            _ => text(StatusCode::NOT_FOUND, "Not Found\n"),
        }
    }
}

/// A chat page and its WebSocket, on any runtime.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let chat = Chat::default();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, chat),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, chat),
        Runtime::Smol => albany_smol::run(args.serve.addr, chat),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use albany_examples::testing::{get, serve_with, ADAPTERS};
    use albany_examples::websocket_client::{connect, read_text};
    use albany_server::Settings;

    use super::Chat;

    /// Two clients on each adapter: a message from one reaches both.
    #[test]
    fn broadcasts_between_clients_on_every_runtime() {
        for adapter in ADAPTERS {
            let server = serve_with(adapter, Chat::default(), Settings::default());
            let addr = server.addr();
            let page = get(addr, "/");
            assert_eq!(page.status(), 200, "{adapter}");
            assert!(
                String::from_utf8_lossy(&page.body).contains("new WebSocket("),
                "{adapter}"
            );
            let (mut first, _) = connect(addr, "/ws", &[]);
            let (mut second, _) = connect(addr, "/ws", &[]);
            // Both registered before the message: the second's handshake
            // answer came after the first's.
            std::thread::sleep(Duration::from_millis(100));
            first
                .send(tungstenite::Message::text("hello from the first"))
                .unwrap();
            let to_second = read_text(&mut second);
            let to_first = read_text(&mut first);
            assert!(
                to_second.ends_with(": hello from the first"),
                "{adapter}: {to_second}"
            );
            assert_eq!(to_first, to_second, "{adapter}");
            drop((first, second));
            server.stop().unwrap();
        }
    }

    /// The page in a real browser, on each adapter: two tabs of headless
    /// Chromium, a message typed in one shows in the other.
    #[test]
    fn two_browser_tabs_exchange_a_message() {
        let Some(chromium) = albany_examples::browser::find_chromium() else {
            return;
        };
        for adapter in ADAPTERS {
            let server = serve_with(adapter, Chat::default(), Settings::default());
            let url = format!("http://{}/", server.addr());
            let browser = albany_examples::browser::Browser::launch(&chromium);
            let mut first = browser.open(&url);
            let mut second = browser.open(&url);
            // `document.body` is null until the page has loaded.
            let open = "document.body ? document.body.dataset.state : 'loading'";
            first.wait_for(open, "open");
            second.wait_for(open, "open");
            first.evaluate(
                "document.getElementById('text').value = 'hello between tabs'; \
                 document.querySelector('button').click(); 'sent'",
            );
            let log =
                "Array.from(document.querySelectorAll('#log li'), li => li.textContent).join('|')";
            second.wait_until(log, |log| log.contains(": hello between tabs"));
            first.wait_until(log, |log| log.contains(": hello between tabs"));
            drop((first, second, browser));
            server.stop().unwrap();
        }
    }
}
