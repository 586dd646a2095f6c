//! For the examples' tests: an application served on each adapter, on
//! 127.0.0.1 port 0, and plain HTTP/1.1 exchanges with it from `std`
//! sockets (no client shares the server's runtime).

use std::net::SocketAddr;

use albany::{Application, BoxApplication};
pub use albany_conformance::h1::{self, Response};
pub use albany_conformance::{RunningServer, Target, ASYNC_STD, SMOL, TOKIO};

/// The three adapters.
pub const TARGETS: [&dyn Target; 3] = [&TOKIO, &ASYNC_STD, &SMOL];

/// Serves `application` on `target` with the default settings.
///
/// # Panics
///
/// If the server cannot start (a test failure).
pub fn serve(target: &dyn Target, application: impl Application) -> RunningServer {
    target
        .start(
            BoxApplication::new(application),
            albany_server::Settings::default(),
        )
        .unwrap_or_else(|error| panic!("{}: the server did not start: {error}", target.name()))
}

/// Sends `request` (raw HTTP/1.1 bytes) on a new connection to `addr` and
/// reads one response.
///
/// # Panics
///
/// If the exchange fails (a test failure).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    h1::exchange(addr, request).unwrap_or_else(|error| panic!("no response from {addr}: {error}"))
}

/// `GET target` with `Host: localhost`.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    exchange(addr, &h1::get(target))
}

/// `POST target` with `body` and its `Content-Length`.
pub fn post(addr: SocketAddr, target: &str, body: &[u8]) -> Response {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    exchange(addr, &request)
}
