//! Memory per idle keep-alive connection: open many connections, each
//! sends one `GET /` and reads the answer, then stays open.

use std::thread;
use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};
use crate::http::Connection;
use crate::rss::{mib, status_kib};
use crate::server::ServerProcess;

/// How long opening all the connections may take.
const DEADLINE: Duration = Duration::from_secs(180);

/// How long the server is left to settle before its RSS is read.
const SETTLE: Duration = Duration::from_millis(500);

/// The server's RSS at rest, in KiB: `VmRSS` after one `GET /` on a
/// connection of its own and 0.5 s of rest.
pub(crate) fn rest_kib(server: &mut ServerProcess) -> Result<u64> {
    let (status, _) = Connection::connect(server.addr(), 1024)?.get("/")?;
    if status != 200 {
        bail!("GET / answered {status}");
    }
    thread::sleep(SETTLE);
    status_kib(server.pid(), "VmRSS")
}

/// The idle-connection figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Idle {
    /// `(RSS after − RSS before) / connections`, in bytes.
    pub(crate) bytes_per_connection: f64,
    /// The server's RSS with the connections open, in MiB.
    pub(crate) rss_mib: f64,
    /// The server's RSS before they were opened (after one request), in
    /// MiB.
    pub(crate) rest_rss_mib: f64,
}

/// Opens `count` keep-alive connections to `server`, measures its RSS
/// before and after, then kills the server before closing them (so that
/// the client side does not pile up `TIME_WAIT` sockets).
pub(crate) fn idle(server: &mut ServerProcess, count: usize) -> Result<Idle> {
    // One connection first, so that lazily built state is counted in
    // "before", not spread over the idle connections.
    let before = rest_kib(server)?;
    let started = Instant::now();
    let mut connections = Vec::with_capacity(count);
    for i in 0..count {
        if started.elapsed() > DEADLINE {
            bail!("opened only {i} of {count} connections in {DEADLINE:?}");
        }
        let mut connection = Connection::connect(server.addr(), 1024)
            .context(|| format!("connection {} of {count}", i + 1))?;
        let (status, _) = connection
            .get("/")
            .context(|| format!("GET / on connection {} of {count}", i + 1))?;
        if status != 200 {
            bail!("GET / on connection {} answered {status}", i + 1);
        }
        connections.push(connection);
    }
    thread::sleep(SETTLE);
    server.check_alive()?;
    let after = status_kib(server.pid(), "VmRSS")?;
    server.kill();
    drop(connections);
    Ok(Idle {
        bytes_per_connection: (after as f64 - before as f64) * 1024.0 / count as f64,
        rss_mib: mib(after),
        rest_rss_mib: mib(before),
    })
}
