//! Concurrency between requests (spec "Concurrency").

use std::time::{Duration, Instant};

use super::case;
use crate::h2_frames::{RawConnection, StreamOutcome};
use crate::{ensure, ensure_eq, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(serial "concurrency.1000-connections", Must, ["CONC-2"], [],
        "1000 connections whose handlers each sleep 1 s finish together", thousand_connections),
    case!(
        "concurrency.stuck-handler",
        Must,
        ["CONC-1"],
        [],
        "a handler that never completes holds up no other connection or stream",
        stuck_handler
    ),
    case!(
        "concurrency.http2-100-streams",
        Must,
        ["H2-4", "CONC-1"],
        ["RFC 9113 §5"],
        "100 concurrent streams that each sleep 200 ms finish together",
        http2_100_streams
    ),
];

fn thousand_connections(context: &mut Context<'_>) -> Result<(), Failure> {
    const CONNECTIONS: usize = 1000;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit >= 2 * CONNECTIONS as u64 + 100 => {}
        Ok(limit) => {
            return Err(Failure::Unsupported(format!(
                "the file descriptor limit is {limit}; the case needs {}",
                2 * CONNECTIONS + 100
            )))
        }
        Err(error) => {
            return Err(Failure::Unsupported(format!(
                "cannot raise the file descriptor limit: {error}"
            )))
        }
    }
    let (server, _) = context.start()?;
    let started = Instant::now();
    let mut connections = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut connection = h1::Connection::open(server.endpoint())?;
        connection.send(&h1::get(&format!("/slow?ms=1000&i={i}")))?;
        connections.push(connection);
    }
    for (i, connection) in connections.iter_mut().enumerate() {
        let response = connection.read_response(false)?;
        ensure_eq!(response.body, b"slow".to_vec(), "response {i}");
    }
    let elapsed = started.elapsed();
    // One after another they would take 1000 s.
    ensure!(
        elapsed < Duration::from_secs(20),
        "1000 concurrent 1 s requests took {elapsed:?}"
    );
    drop(connections);
    server.shutdown()?;
    Ok(())
}

fn stuck_handler(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut stuck = h1::Connection::open(server.endpoint())?;
    stuck.send(&h1::get("/pending"))?;
    for i in 0..20 {
        let response = h1::exchange(server.endpoint(), &h1::get(&format!("/say/{i}")))?;
        ensure_eq!(response.status(), 200, "request {i} beside a stuck one");
    }
    // Over HTTP/2, on the stuck stream's own connection.
    let mut raw = RawConnection::open(server.endpoint())?;
    let authority = server.endpoint().to_string();
    raw.send_get(1, &authority, "/pending", &[])?;
    raw.send_get(3, &authority, "/hello", &[])?;
    let outcome = raw.outcome(3, Duration::from_secs(10))?;
    ensure_eq!(
        outcome,
        StreamOutcome::Response(Some(200)),
        "the stream beside a stuck one"
    );
    drop(stuck);
    server.shutdown()?;
    Ok(())
}

fn http2_100_streams(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let addr = server.endpoint();
    let requests = (0..100)
        .map(|i| h2::get(addr, &format!("/slow?ms={}", 200 + i % 3)))
        .collect();
    let started = Instant::now();
    let responses = h2::send_all(addr, requests)?;
    let elapsed = started.elapsed();
    for (i, response) in responses.iter().enumerate() {
        ensure_eq!(
            response.body.as_deref().ok(),
            Some(&b"slow"[..]),
            "stream {i}"
        );
    }
    // One after another they would take 20 s.
    ensure!(
        elapsed < Duration::from_secs(10),
        "100 concurrent streams took {elapsed:?}"
    );
    server.shutdown()?;
    Ok(())
}
