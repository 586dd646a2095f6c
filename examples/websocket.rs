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
async fn app(mut request: Request) -> Response {
    let shutdown = request.shutdown_signal();
    let runtime = request.runtime().cloned();
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
        .on_upgrade(move |socket| echo(socket, shutdown, runtime))
}

/// Echoes until the client closes, or graceful shutdown starts: then sends
/// close 1001 and waits (at most 5 seconds) for the client's close.
async fn echo(
    mut socket: WebSocket,
    shutdown: Option<albany::ShutdownSignal>,
    runtime: Option<albany::rt::Handle>,
) {
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
    if let Some(runtime) = runtime {
        let _ = runtime.timeout(Duration::from_secs(5), drain).await;
    }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use albany::{from_fn, Request, Response};
    use albany_conformance::h2::{connect_tunnel, extended_connect, Tunnel};
    use albany_examples::testing::{exchange, serve_with, ADAPTERS};
    use albany_examples::websocket_client::{connect, read_close, read_text};
    use albany_server::Settings;
    use albany_websocket::WebSocketUpgrade;
    use futures_lite::StreamExt;

    const WAIT: Duration = Duration::from_secs(10);

    fn with_extended_connect() -> Settings {
        let mut settings = Settings::default();
        settings.http2_extended_connect = true;
        settings
    }

    /// A masked client frame (RFC 6455 §5.2) with a payload under 126
    /// bytes.
    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    /// The next server frame on `tunnel` (unmasked, RFC 6455 §5.1): its
    /// first byte (FIN and opcode) and payload.
    fn server_frame(tunnel: &mut Tunnel) -> (u8, Vec<u8>) {
        let head = tunnel.read_exact(2, WAIT).expect("a frame head");
        assert_eq!(head[1] & 0x80, 0, "a server frame is not masked");
        let length = match head[1] & 0x7f {
            126 => {
                let bytes = tunnel.read_exact(2, WAIT).unwrap();
                usize::from(u16::from_be_bytes([bytes[0], bytes[1]]))
            }
            127 => panic!("an unexpectedly long frame"),
            length => usize::from(length),
        };
        (head[0], tunnel.read_exact(length, WAIT).unwrap())
    }

    fn h2_handshake(addr: std::net::SocketAddr, fields: &[(&str, &str)]) -> Tunnel {
        connect_tunnel(addr, extended_connect(addr, "/", "websocket", fields))
            .expect("an answer to the extended CONNECT")
    }

    #[test]
    fn echoes_over_http1_with_a_subprotocol_on_every_runtime() {
        for adapter in ADAPTERS {
            let server = serve_with(adapter, from_fn(super::app), Settings::default());
            let (mut client, response) = connect(server.addr(), "/", &["other", "echo"]);
            assert_eq!(response.status(), 101, "{adapter}");
            assert_eq!(
                response.headers()["sec-websocket-protocol"],
                "echo",
                "{adapter}"
            );
            client
                .send(tungstenite::Message::text("hello over HTTP/1.1"))
                .unwrap();
            assert_eq!(read_text(&mut client), "hello over HTTP/1.1", "{adapter}");
            client
                .send(tungstenite::Message::binary(vec![0, 1, 2, 255]))
                .unwrap();
            assert_eq!(
                client.read().unwrap(),
                tungstenite::Message::binary(vec![0, 1, 2, 255]),
                "{adapter}"
            );
            assert_eq!(server.counters().upgraded_connections(), 1, "{adapter}");
            // No subprotocol in common: none chosen (tungstenite's client
            // would refuse that answer, so raw bytes).
            let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
            raw.set_read_timeout(Some(WAIT)).unwrap();
            std::io::Write::write_all(
                &mut raw,
                b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                  Sec-WebSocket-Protocol: mqtt\r\n\r\n",
            )
            .unwrap();
            let head = albany_examples::testing::read_until(&mut raw, "\r\n\r\n").to_lowercase();
            assert!(head.starts_with("http/1.1 101"), "{adapter}: {head}");
            assert!(
                head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
                "{adapter}: {head}"
            );
            assert!(
                !head.contains("sec-websocket-protocol"),
                "{adapter}: {head}"
            );
            client.close(None).unwrap();
            drop((client, raw));
            server.stop().unwrap();
        }
    }

    #[test]
    fn refuses_bad_handshakes_on_every_runtime() {
        let handshake = |method: &str, version: &str, fields: &str| {
            format!(
                "{method} / HTTP/{version}\r\nHost: localhost\r\n{fields}\r\n",
                fields = fields
            )
        };
        let good = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        for adapter in ADAPTERS {
            let server = serve_with(adapter, from_fn(super::app), Settings::default());
            let addr = server.addr();
            let version_8 = exchange(
                addr,
                handshake("GET", "1.1", &format!("{good}Sec-WebSocket-Version: 8\r\n")).as_bytes(),
            );
            assert_eq!(version_8.status(), 426, "{adapter}");
            assert_eq!(
                version_8.header("sec-websocket-version"),
                Some("13"),
                "{adapter}"
            );
            let post = exchange(
                addr,
                handshake(
                    "POST",
                    "1.1",
                    &format!("{good}Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n"),
                )
                .as_bytes(),
            );
            assert_eq!(post.status(), 405, "{adapter}");
            assert_eq!(post.header("allow"), Some("GET"), "{adapter}");
            let http10 = exchange(
                addr,
                handshake(
                    "GET",
                    "1.0",
                    &format!("{good}Sec-WebSocket-Version: 13\r\n"),
                )
                .as_bytes(),
            );
            assert_eq!(http10.status(), 400, "{adapter}");
            let plain = exchange(addr, handshake("GET", "1.1", "").as_bytes());
            assert_eq!(plain.status(), 426, "{adapter}");
            assert_eq!(plain.header("upgrade"), Some("websocket"), "{adapter}");
            let bad_key = exchange(
                addr,
                handshake(
                    "GET",
                    "1.1",
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n",
                )
                .as_bytes(),
            );
            assert_eq!(bad_key.status(), 400, "{adapter}");
            server.stop().unwrap();
        }
    }

    #[test]
    fn echoes_over_http2_extended_connect_on_every_runtime() {
        for adapter in ADAPTERS {
            let server = serve_with(adapter, from_fn(super::app), with_extended_connect());
            let addr = server.addr();
            let mut tunnel = h2_handshake(
                addr,
                &[
                    ("sec-websocket-version", "13"),
                    ("sec-websocket-protocol", "chat, echo"),
                ],
            );
            assert!(tunnel.extended_connect_enabled, "{adapter}");
            assert_eq!(tunnel.status, 200, "{adapter}");
            assert_eq!(
                tunnel.headers["sec-websocket-protocol"], "echo",
                "{adapter}"
            );
            assert!(
                tunnel.headers.get("sec-websocket-accept").is_none(),
                "{adapter}"
            );
            tunnel
                .write_all(&client_frame(0x1, b"hello over HTTP/2"))
                .unwrap();
            assert_eq!(
                server_frame(&mut tunnel),
                (0x81, b"hello over HTTP/2".to_vec()),
                "{adapter}"
            );
            // Version 8 over HTTP/2: 426 as over HTTP/1.1.
            let version_8 = h2_handshake(addr, &[("sec-websocket-version", "8")]);
            assert_eq!(version_8.status, 426, "{adapter}");
            assert_eq!(
                version_8.headers["sec-websocket-version"], "13",
                "{adapter}"
            );
            drop((tunnel, version_8));
            server.stop().unwrap();
        }
    }

    #[test]
    fn http2_websocket_refused_while_the_setting_is_off_on_every_runtime() {
        for adapter in ADAPTERS {
            let server = serve_with(adapter, from_fn(super::app), Settings::default());
            let addr = server.addr();
            let refused = connect_tunnel(
                addr,
                extended_connect(addr, "/", "websocket", &[("sec-websocket-version", "13")]),
            );
            let error = refused.expect_err("an extended CONNECT while the setting is off");
            assert!(
                error.to_string().to_lowercase().contains("protocol error"),
                "{adapter}: {error}"
            );
            server.stop().unwrap();
        }
    }

    /// Stops `server` in a thread; returns when `serve` has returned, and
    /// how long after the call.
    fn stop_in_background(
        server: albany_examples::testing::ServerThread,
    ) -> std::thread::JoinHandle<(std::io::Result<()>, Duration)> {
        std::thread::spawn(move || {
            let start = Instant::now();
            let stopped = server.stop();
            (stopped, start.elapsed())
        })
    }

    #[test]
    fn shutdown_closes_websockets_with_1001_on_every_runtime() {
        for adapter in ADAPTERS {
            let mut settings = with_extended_connect();
            settings.graceful_shutdown_timeout = Duration::from_secs(20);
            let server = serve_with(adapter, from_fn(super::app), settings);
            let addr = server.addr();
            let (mut client, _) = connect(addr, "/", &[]);
            client.send(tungstenite::Message::text("before")).unwrap();
            assert_eq!(read_text(&mut client), "before", "{adapter}");
            let mut tunnel = h2_handshake(addr, &[("sec-websocket-version", "13")]);
            assert_eq!(tunnel.status, 200, "{adapter}");
            let stopping = stop_in_background(server);
            assert_eq!(read_close(&mut client), Some(1001), "{adapter}: HTTP/1.1");
            // tungstenite queued the close answer; send it.
            let _ = client.flush();
            let (head, payload) = server_frame(&mut tunnel);
            assert_eq!(head, 0x88, "{adapter}: a close frame over HTTP/2");
            assert_eq!(payload[..2], 1001u16.to_be_bytes(), "{adapter}");
            tunnel
                .write_all(&client_frame(0x8, &1001u16.to_be_bytes()))
                .unwrap();
            let (stopped, took) = stopping.join().unwrap();
            stopped.unwrap();
            // Well before the 20 s deadline: the WebSockets ended.
            assert!(took < Duration::from_secs(10), "{adapter}: {took:?}");
        }
    }

    /// Ignores the shutdown signal: `/hold` keeps the WebSocket without
    /// ever reading it, any other path echoes forever.
    async fn ignoring(mut request: Request) -> Response {
        let hold = request.uri().path() == "/hold";
        match WebSocketUpgrade::from_request(&mut request) {
            Ok(upgrade) => upgrade.on_upgrade(move |mut socket| async move {
                if hold {
                    std::future::pending::<()>().await;
                }
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() && socket.send(message).await.is_err() {
                        break;
                    }
                }
            }),
            Err(rejection) => rejection.into_response(),
        }
    }

    #[test]
    fn shutdown_deadline_closes_websockets_that_ignore_it_on_every_runtime() {
        for adapter in ADAPTERS {
            let mut settings = with_extended_connect();
            settings.graceful_shutdown_timeout = Duration::from_secs(1);
            let server = serve_with(adapter, from_fn(ignoring), settings);
            let addr = server.addr();
            let (mut held, _) = connect(addr, "/hold", &[]);
            let (mut echoed, _) = connect(addr, "/echo", &[]);
            echoed.send(tungstenite::Message::text("ping")).unwrap();
            assert_eq!(read_text(&mut echoed), "ping", "{adapter}");
            let mut tunnel = h2_handshake(addr, &[("sec-websocket-version", "13")]);
            assert_eq!(tunnel.status, 200, "{adapter}");
            // The HTTP/2 stream is handed over just after its 200 is sent.
            let counted = Instant::now();
            while server.counters().upgraded_connections() < 3 && counted.elapsed() < WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(server.counters().upgraded_connections(), 3, "{adapter}");
            let counters = server.counters().clone();
            let start = Instant::now();
            let stopping = stop_in_background(server);
            // Each connection ends at the deadline, not before.
            for (name, client) in [("held", &mut held), ("echoed", &mut echoed)] {
                let ended = client.read();
                assert!(
                    !matches!(ended, Ok(tungstenite::Message::Text(_))),
                    "{adapter}: {name}: {ended:?}"
                );
                assert!(
                    start.elapsed() >= Duration::from_millis(900),
                    "{adapter}: {name} closed before the deadline"
                );
            }
            assert!(tunnel.wait_closed(WAIT).unwrap(), "{adapter}: HTTP/2");
            let (stopped, took) = stopping.join().unwrap();
            stopped.unwrap();
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(6),
                "{adapter}: serve returned after {took:?}"
            );
            assert_eq!(counters.upgraded_connections(), 0, "{adapter}");
            assert_eq!(counters.open_connections(), 0, "{adapter}");
        }
    }
}
