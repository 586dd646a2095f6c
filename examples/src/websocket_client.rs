//! For the examples' tests: a blocking WebSocket client (tungstenite) over
//! a std `TcpStream`, independent of every adapter's runtime, with bounded
//! reads.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::Response;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// How long one read may wait.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected client.
pub type Client = WebSocket<TcpStream>;

/// Opens a WebSocket to `ws://ADDR{path}` over HTTP/1.1, offering the
/// subprotocols `protocols` (none when empty); returns it and the
/// handshake's response.
///
/// # Panics
///
/// If the connection or the handshake fails (a test failure).
pub fn connect(addr: SocketAddr, path: &str, protocols: &[&str]) -> (Client, Response) {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if !protocols.is_empty() {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&protocols.join(", ")).unwrap(),
        );
    }
    tungstenite::client(request, stream)
        .unwrap_or_else(|e| panic!("WebSocket handshake with {addr}{path}: {e}"))
}

/// Reads the next text message, answering pings on the way.
///
/// # Panics
///
/// If the next data message is not text, or none comes within
/// [`READ_TIMEOUT`] (a test failure).
pub fn read_text(client: &mut Client) -> String {
    loop {
        match client.read() {
            Ok(Message::Text(text)) => return text.as_str().to_owned(),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server's close frame; returns its code (`None` for a
/// close frame without one).
///
/// # Panics
///
/// If a read fails or the connection ends before a close frame (a test
/// failure).
pub fn read_close(client: &mut Client) -> Option<u16> {
    for _ in 0..1000 {
        match client.read() {
            Ok(Message::Close(frame)) => return frame.map(|frame| frame.code.into()),
            Ok(_) => {}
            Err(error) => panic!("no close frame: {error}"),
        }
    }
    panic!("no close frame in 1000 messages")
}
