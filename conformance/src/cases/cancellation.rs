//! Client disconnects and cancellation (spec §9).

use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use super::{case, open_pending};
use crate::{ensure, eventually, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "cancellation.http1-disconnect",
        Must,
        ["CANCEL-1", "CANCEL-2", "CANCEL-5"],
        ["RFC 9112 §9.6"],
        "closing the connection drops the pending application future within 1 s",
        http1_disconnect
    ),
    case!(
        "cancellation.http1-disconnect-unread-body",
        Must,
        ["CANCEL-5", "REQ-12"],
        ["RFC 9112 §9.6"],
        "closing mid-upload drops a future that does not read the body",
        http1_disconnect_unread_body
    ),
    case!(
        "cancellation.http2-reset",
        Must,
        ["CANCEL-1"],
        ["RFC 9113 §8.7", "RFC 9113 §6.4"],
        "RST_STREAM drops the stream's application future; the connection goes on",
        http2_reset
    ),
    case!(
        "cancellation.producer-stops",
        Must,
        ["CANCEL-4", "BODY-17", "CANCEL-1"],
        ["RFC 9112 §9.6"],
        "a push producer's send fails once the client has gone",
        producer_stops
    ),
    case!(
        "cancellation.truncated-body",
        Must,
        ["REQ-12", "H1-6"],
        ["RFC 9112 §6.3", "RFC 9112 §7.1"],
        "a body cut short by the client ends with an error, not as complete",
        truncated_body
    ),
];

fn http1_disconnect(context: &mut Context<'_>) -> Result<(), Failure> {
    dropped_on_disconnect(context, &h1::get("/pending"))
}

fn http1_disconnect_unread_body(context: &mut Context<'_>) -> Result<(), Failure> {
    dropped_on_disconnect(
        context,
        b"POST /pending HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nonly ten!!",
    )
}

/// Sends `request` to `/pending`, closes the connection once the
/// application runs, and checks that its future is dropped within 1 s.
fn dropped_on_disconnect(context: &mut Context<'_>, request: &[u8]) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let connection = open_pending(&server, &state, request)?;
    drop(connection);
    ensure!(
        eventually(Duration::from_secs(1), || state
            .dropped
            .load(Ordering::SeqCst)
            == 1),
        "the future was not dropped within 1 s of the disconnect"
    );
    server.shutdown()?;
    Ok(())
}

fn http2_reset(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let addr = server.endpoint();
    let client = thread::spawn(move || {
        h2::send_then_reset(
            addr,
            h2::get(addr, "/pending"),
            Duration::from_millis(300),
            Duration::from_secs(2),
        )
    });
    ensure!(
        eventually(Duration::from_secs(5), || state
            .pending
            .load(Ordering::SeqCst)
            == 1),
        "the application was not called"
    );
    ensure!(
        eventually(Duration::from_millis(1500), || state
            .dropped
            .load(Ordering::SeqCst)
            == 1),
        "the future was not dropped within 1 s of RST_STREAM"
    );
    client
        .join()
        .map_err(|_| Failure::Fail("the client panicked".into()))??;
    server.shutdown()?;
    Ok(())
}

fn producer_stops(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get("/push?size=1073741824"))?;
    let head = connection.read_head()?;
    ensure!(head.status == 200, "status {}", head.status);
    let _ = connection.read_some(1024)?;
    drop(connection);
    ensure!(
        eventually(Duration::from_secs(5), || state
            .push_stopped
            .load(Ordering::SeqCst)
            == 1),
        "the producer went on after the client left ({} bytes pushed)",
        state.pushed.load(Ordering::SeqCst)
    );
    server.shutdown()?;
    Ok(())
}

fn truncated_body(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    for request in [
        &b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello"[..],
        b"POST /inspect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ] {
        let before = state.body_errors.load(Ordering::SeqCst);
        let connection = h1::Connection::open(server.endpoint())?;
        let mut connection = connection;
        connection.send(request)?;
        // Over TLS: close_notify, then the half-close.
        connection.shutdown_write()?;
        let _ = connection.read_response(false);
        ensure!(
            eventually(Duration::from_secs(5), || state.body_errors.load(Ordering::SeqCst) > before),
            "the truncated body did not fail: {}",
            String::from_utf8_lossy(request)
        );
    }
    server.shutdown()?;
    Ok(())
}
