//! Heap allocations per `GET /`, from the counting allocator compiled into
//! `bench-server` (`GET /alloc`), over one keep-alive connection.

use crate::error::{bail, Context, Result};
use crate::http::Connection;
use crate::server::ServerProcess;

/// Reads `/alloc`, sends `gets` requests for `GET /`, reads `/alloc`
/// again, and divides. The allocations of one `GET /alloc` (measured by
/// two in a row) are subtracted.
pub(crate) fn per_get(server: &mut ServerProcess, gets: usize) -> Result<f64> {
    let mut connection = Connection::connect(server.addr(), 4096)?;
    // Warm up: the first request on a connection builds its buffers.
    get_ok(&mut connection, "/")?;
    let first = count(&mut connection)?;
    let second = count(&mut connection)?;
    let overhead = second.saturating_sub(first);
    for _ in 0..gets {
        get_ok(&mut connection, "/")?;
    }
    let after = count(&mut connection)?;
    server.check_alive()?;
    let allocations = after.saturating_sub(second).saturating_sub(overhead);
    Ok(allocations as f64 / gets as f64)
}

fn count(connection: &mut Connection) -> Result<u64> {
    let body = get_ok(connection, "/alloc")?;
    let text = String::from_utf8_lossy(&body);
    text.trim()
        .parse()
        .context(|| format!("GET /alloc answered {text:?}"))
}

fn get_ok(connection: &mut Connection, path: &str) -> Result<Vec<u8>> {
    let (status, body) = connection.get(path).context(|| format!("GET {path}"))?;
    if status != 200 {
        bail!("GET {path} answered {status}");
    }
    Ok(body)
}
