//! The server suite: every case, by group. Each module holds one group;
//! [`all`] lists them in report order.

use std::time::Duration;

use crate::case::{Case, Context, Failure};
use crate::{ensure, h1};

mod cancellation;
mod concurrency;
mod connection;
mod errors;
mod framing;
mod http2;
mod interface;
mod io;
mod limits;
mod semantics;
mod shutdown;
mod streaming;

/// Every case of the server suite, in report order.
pub fn all() -> Vec<Case> {
    [
        framing::CASES,
        semantics::CASES,
        connection::CASES,
        streaming::CASES,
        cancellation::CASES,
        errors::CASES,
        limits::CASES,
        concurrency::CASES,
        shutdown::CASES,
        http2::CASES,
        interface::CASES,
        io::CASES,
    ]
    .concat()
}

/// The cases whose id contains any of `filters` (all when empty).
pub fn matching(filters: &[String]) -> Vec<Case> {
    all()
        .into_iter()
        .filter(|case| filters.is_empty() || filters.iter().any(|f| case.id.contains(f.as_str())))
        .collect()
}

/// How long a case waits for the server to close a connection it must
/// close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Sends `request` on a new connection to a fresh server and checks that
/// the server rejects it without calling the application: a response with
/// one of `statuses`, then the connection closes.
fn expect_rejected(
    context: &mut Context<'_>,
    request: &[u8],
    statuses: &[u16],
) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(request)?;
    let response = connection
        .read_response(false)
        .map_err(|error| Failure::Fail(format!("no response to the rejected request: {error}")))?;
    ensure!(
        statuses.contains(&response.status()),
        "expected status {statuses:?}, got {} with body {:?}",
        response.status(),
        String::from_utf8_lossy(&response.body)
    );
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open after the rejection"
    );
    let seen = state.seen.lock().expect("the list of requests").clone();
    ensure!(seen.is_empty(), "the application was called: {seen:?}");
    server.shutdown()?;
    Ok(())
}

/// Opens a connection, sends `request` (for `/pending`), and waits until
/// the application has started it.
fn open_pending(
    server: &crate::RunningServer,
    state: &crate::app::AppState,
    request: &[u8],
) -> Result<h1::Connection, Failure> {
    use std::sync::atomic::Ordering;
    let before = state.pending.load(Ordering::SeqCst);
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(request)?;
    ensure!(
        crate::eventually(Duration::from_secs(5), || state
            .pending
            .load(Ordering::SeqCst)
            > before),
        "the application was not called"
    );
    Ok(connection)
}

/// Sends `request` on a new connection to `server`, reads one response,
/// and checks that the server then closes the connection.
fn response_then_close(
    server: &crate::RunningServer,
    request: &[u8],
) -> Result<h1::Response, Failure> {
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(request)?;
    let response = connection.read_response(false)?;
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open after a {} response",
        response.status()
    );
    Ok(response)
}

/// Sends a request with a malformed body, followed on the same connection
/// by a request for `/say/smuggled`, and checks that the body failed as the
/// application read it (or that the server answered 400 itself), that the
/// connection closed, and that the second request was never served.
fn expect_body_rejected(context: &mut Context<'_>, request: &[u8]) -> Result<(), Failure> {
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    let mut bytes = request.to_vec();
    bytes.extend_from_slice(&h1::get("/say/smuggled"));
    connection.send(&bytes)?;
    if let Ok(response) = connection.read_response(false) {
        ensure!(
            response.status() == 400,
            "expected 400 (or no response), got {} with body {:?}",
            response.status(),
            String::from_utf8_lossy(&response.body)
        );
    }
    ensure!(
        connection.is_closed_within(CLOSE_WAIT),
        "the connection stayed open after a malformed body"
    );
    ensure!(
        !state.saw("/say/smuggled"),
        "bytes after the malformed body were served as a request"
    );
    let seen = state.seen.lock().expect("the list of requests").clone();
    ensure!(
        seen.is_empty() || state.body_errors.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the application read the malformed body without an error: {seen:?}"
    );
    server.shutdown()?;
    Ok(())
}

/// One request on a fresh server; the response, and whether the
/// application was called.
fn exchange(context: &mut Context<'_>, request: &[u8]) -> Result<(h1::Response, bool), Failure> {
    let (server, state) = context.start()?;
    let response = h1::exchange(server.endpoint(), request)?;
    let called = state.calls() > 0;
    server.shutdown()?;
    Ok((response, called))
}

/// The value of the line `key: ` in an `/inspect` answer.
fn inspected<'a>(response: &'a h1::Response, key: &str) -> Option<&'a str> {
    let body = std::str::from_utf8(&response.body).ok()?;
    body.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
}

/// Every value of the lines `key: ` in an `/inspect` answer.
fn inspected_all(body: &[u8], key: &str) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|line| Some(line.strip_prefix(key)?.strip_prefix(": ")?.to_owned()))
        .collect()
}

/// Declares a case whose check is [`expect_rejected`] with these bytes.
macro_rules! rejected {
    ($name:ident, $request:expr, $statuses:expr) => {
        fn $name(context: &mut $crate::Context<'_>) -> Result<(), $crate::Failure> {
            super::expect_rejected(context, $request, $statuses)
        }
    };
}
use rejected;

/// Declares a case whose check is [`expect_body_rejected`] with these bytes.
macro_rules! body_rejected {
    ($name:ident, $request:expr) => {
        fn $name(context: &mut $crate::Context<'_>) -> Result<(), $crate::Failure> {
            super::expect_body_rejected(context, $request)
        }
    };
}
use body_rejected;

/// A case entry: `case!(id, level, [clauses], [rfc], "title", check)`.
macro_rules! case {
    ($id:literal, $level:ident, [$($clause:literal),*], [$($rfc:literal),*], $title:literal, $check:expr) => {
        $crate::Case {
            id: $id,
            level: $crate::Level::$level,
            clauses: &[$($clause),*],
            rfc: &[$($rfc),*],
            title: $title,
            serial: false,
            check: $check,
        }
    };
    (serial $id:literal, $level:ident, [$($clause:literal),*], [$($rfc:literal),*], $title:literal, $check:expr) => {
        $crate::Case {
            id: $id,
            level: $crate::Level::$level,
            clauses: &[$($clause),*],
            rfc: &[$($rfc),*],
            title: $title,
            serial: true,
            check: $check,
        }
    };
}
use case;
