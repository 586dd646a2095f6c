//! Graceful shutdown (spec §15).

use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{case, CLOSE_WAIT};
use crate::h2_frames::{RawConnection, StreamOutcome};
use crate::{ensure, ensure_eq, eventually, h1, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "shutdown.in-flight-completes",
        Must,
        ["SHUT-4", "SHUT-1"],
        [],
        "a request in flight when shutdown starts completes",
        in_flight_completes
    ),
    case!(
        "shutdown.listener-closes",
        Must,
        ["SHUT-2"],
        [],
        "new connections are refused once shutdown starts",
        listener_closes
    ),
    case!(
        "shutdown.idle-connections-close",
        Must,
        ["SHUT-4"],
        ["RFC 9112 §9.6"],
        "idle keep-alive connections are closed",
        idle_connections_close
    ),
    case!(
        "shutdown.signal",
        Must,
        ["SHUT-3", "EXT-3", "EXT-5", "SHUT-7"],
        [],
        "the shutdown signal reaches a long-lived response, which then ends",
        signal
    ),
    case!(
        "shutdown.deadline",
        Must,
        ["SHUT-5", "LIMIT-7"],
        [],
        "after graceful_shutdown_timeout open connections close and futures drop",
        deadline
    ),
    case!(
        "shutdown.http2-goaway",
        Must,
        ["SHUT-4"],
        ["RFC 9113 §6.8"],
        "HTTP/2 connections get GOAWAY",
        http2_goaway
    ),
    case!(
        "shutdown.serve-returns",
        Must,
        ["SHUT-6", "SHUT-1", "ADAPT-5", "ADAPT-6"],
        [],
        "serve returns Ok once shutdown completes; a second shutdown does nothing",
        serve_returns
    ),
    case!(
        "shutdown.upgraded-deadline",
        Must,
        ["SHUT-8", "UPG-9"],
        [],
        "upgraded connections leave the connection limit, work during graceful shutdown, and close at its deadline, before serve returns",
        upgraded_deadline
    ),
];

fn in_flight_completes(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut slow = h1::Connection::open(server.endpoint())?;
    slow.send(&h1::get("/slow?ms=1000"))?;
    ensure!(
        eventually(Duration::from_secs(5), || state.calls() == 1),
        "the application was not called"
    );
    server.begin_shutdown();
    let response = slow.read_response(false)?;
    ensure_eq!(response.body, b"slow".to_vec(), "the request in flight");
    server.shutdown()?;
    Ok(())
}

fn listener_closes(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let addr = server.endpoint();
    let mut slow = h1::Connection::open(addr)?;
    slow.send(&h1::get("/slow?ms=1000"))?;
    ensure!(
        eventually(Duration::from_secs(5), || state.calls() == 1),
        "the application was not called"
    );
    server.begin_shutdown();
    ensure!(
        eventually(Duration::from_secs(2), || TcpStream::connect(addr.addr())
            .is_err()),
        "new connections are still accepted during graceful shutdown"
    );
    let _ = slow.read_response(false)?;
    server.shutdown()?;
    Ok(())
}

fn idle_connections_close(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut idle = h1::Connection::open(server.endpoint())?;
    idle.send(&h1::get("/hello"))?;
    ensure_eq!(idle.read_response(false)?.status(), 200, "status");
    let mut slow = h1::Connection::open(server.endpoint())?;
    slow.send(&h1::get("/slow?ms=2000"))?;
    ensure!(
        eventually(Duration::from_secs(5), || state.calls() == 2),
        "the application was not called"
    );
    let started = Instant::now();
    server.begin_shutdown();
    ensure!(
        idle.is_closed_within(CLOSE_WAIT),
        "the idle connection stayed open"
    );
    ensure!(
        started.elapsed() < Duration::from_millis(1500),
        "the idle connection closed only after {:?}",
        started.elapsed()
    );
    let _ = slow.read_response(false)?;
    server.shutdown()?;
    Ok(())
}

fn signal(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get("/until-shutdown"))?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "status");
    let first = connection.read_some(64)?;
    ensure!(
        String::from_utf8_lossy(&first).contains("waiting"),
        "first chunk {:?}",
        String::from_utf8_lossy(&first)
    );
    server.begin_shutdown();
    let rest = connection.read_body(&head, false)?;
    ensure!(rest.complete, "the response did not end normally");
    ensure!(
        rest.body.ends_with(b"bye\n"),
        "rest of the body {:?}",
        String::from_utf8_lossy(&rest.body)
    );
    server.shutdown()?;
    Ok(())
}

fn deadline(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) =
        context.start_with(|s| s.graceful_shutdown_timeout = Duration::from_millis(300))?;
    let mut connection = super::open_pending(&server, &state, &h1::get("/pending"))?;
    let started = Instant::now();
    server.shutdown()?;
    let elapsed = started.elapsed();
    ensure!(
        elapsed >= Duration::from_millis(250),
        "shutdown returned after {elapsed:?}, before the deadline"
    );
    ensure!(
        elapsed < Duration::from_secs(5),
        "shutdown took {elapsed:?}"
    );
    ensure_eq!(state.dropped.load(Ordering::SeqCst), 1, "futures dropped");
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open"
    );
    Ok(())
}

fn http2_goaway(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut raw = RawConnection::open(server.endpoint())?;
    let authority = server.endpoint().to_string();
    raw.send_get(1, &authority, "/hello", &[])?;
    ensure_eq!(
        raw.outcome(1, Duration::from_secs(10))?,
        StreamOutcome::Response(Some(200)),
        "first stream"
    );
    server.begin_shutdown();
    let outcome = raw.outcome(3, Duration::from_secs(10))?;
    ensure_eq!(outcome, StreamOutcome::GoAway(0), "after shutdown");
    server.shutdown()?;
    Ok(())
}

fn serve_returns(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "status"
    );
    server.begin_shutdown();
    server.begin_shutdown();
    let started = Instant::now();
    server.shutdown()?;
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    Ok(())
}

fn upgraded_deadline(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, state) = context.start_with(|s| {
        s.max_connections = 2;
        s.graceful_shutdown_timeout = Duration::from_secs(2);
    })?;
    let mut upgraded = h1::Connection::open(server.endpoint())?;
    upgraded.send(
        b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )?;
    ensure_eq!(upgraded.read_head()?.status, 101, "status");
    // The upgraded connection no longer counts against max_connections = 2.
    let mut slow = h1::Connection::open(server.endpoint())?;
    slow.send(&h1::get("/slow?ms=1000"))?;
    ensure!(
        eventually(Duration::from_secs(5), || state.calls() == 2),
        "the second connection was not served"
    );
    ensure_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))?.status(),
        200,
        "a third connection"
    );
    // During graceful shutdown, before its deadline, the upgraded
    // connection still works (the suite's echo ignores the signal).
    let started = Instant::now();
    server.begin_shutdown();
    std::thread::sleep(Duration::from_millis(200));
    upgraded.send(b"still here")?;
    let echoed = upgraded.read_exactly(10).map_err(|e| {
        Failure::Fail(format!(
            "graceful shutdown closed the upgraded connection before its deadline: {e}"
        ))
    })?;
    ensure_eq!(echoed, b"still here".to_vec(), "echo during shutdown");
    ensure_eq!(
        slow.read_response(false)?.body,
        b"slow".to_vec(),
        "the request in flight"
    );
    // At the deadline the server closes it, and serve returns after.
    ensure!(
        upgraded.is_closed_within(Duration::from_secs(5)),
        "the upgraded connection stayed open past the deadline"
    );
    let closed = started.elapsed();
    ensure!(
        closed >= Duration::from_millis(1800),
        "the upgraded connection closed after {closed:?}, before the 2 s deadline"
    );
    server.shutdown()?;
    ensure!(
        started.elapsed() < Duration::from_secs(6),
        "shutdown took {:?}",
        started.elapsed()
    );
    Ok(())
}
