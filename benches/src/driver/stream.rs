//! Streaming throughput: a large response read and a large request body
//! written as fast as a plain `std::net` client can, with the server's
//! peak RSS sampled meanwhile.
//!
//! One 256 MiB transfer over loopback takes about a tenth of a second, too
//! short to measure alone on a shared machine: each measurement repeats its
//! transfer (on a new connection each time) for a few seconds and reports
//! the median rate.

use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};
use crate::http::Connection;
use crate::plan::{Plan, MAX_TRANSFERS, MIN_TRANSFERS};
use crate::report::median;
use crate::rss::{mib, Sampler};
use crate::server::ServerProcess;

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// The client's read buffer and write block, in bytes.
const BLOCK: usize = 256 * 1024;

/// A stream measurement's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    /// Throughput, in MiB/s: the median over the repeated transfers.
    pub(crate) mib_per_s: f64,
    /// The server's peak RSS during the transfers, in MiB.
    pub(crate) peak_rss_mib: f64,
}

/// `GET /download?size=BYTES`: reads the chunked body, checks its length,
/// and measures the time from the request to the last byte.
pub(crate) fn download(server: &mut ServerProcess, plan: &Plan) -> Result<Transfer> {
    let addr = server.addr();
    let bytes = plan.stream_bytes;
    measure(server, plan, "download", || {
        let mut connection = Connection::connect(addr, BLOCK)?;
        let started = Instant::now();
        connection.write_all(
            format!("GET /download?size={bytes} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
        )?;
        let head = connection.read_head()?;
        if head.status != 200 || !head.chunked {
            bail!(
                "download answered {} (chunked: {})",
                head.status,
                head.chunked
            );
        }
        let read = connection.discard_body(head)?;
        let seconds = started.elapsed().as_secs_f64();
        if read != bytes {
            bail!("download sent {read} bytes, not {bytes}");
        }
        Ok(seconds)
    })
}

/// `POST /upload` with `Content-Length: BYTES`: writes the body in 256 KiB
/// blocks, reads the answer (the byte count the server read), checks it,
/// and measures the time from the request to the answer.
pub(crate) fn upload(server: &mut ServerProcess, plan: &Plan) -> Result<Transfer> {
    let block = vec![b'u'; BLOCK];
    let addr = server.addr();
    let bytes = plan.stream_bytes;
    measure(server, plan, "upload", || {
        let mut connection = Connection::connect(addr, 4096)?;
        let started = Instant::now();
        connection.write_all(
            format!(
                "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes}\r\n\r\n"
            )
            .as_bytes(),
        )?;
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(BLOCK);
            connection.write_all(&block[..n])?;
            left -= n as u64;
        }
        let head = connection.read_head()?;
        let body = connection.read_body(head)?;
        let seconds = started.elapsed().as_secs_f64();
        let answer = String::from_utf8_lossy(&body);
        if head.status != 200 || answer.trim() != bytes.to_string() {
            bail!(
                "upload answered {} {answer:?}, expected 200 {bytes}",
                head.status
            );
        }
        Ok(seconds)
    })
}

/// Runs `transfer` (which moves `plan.stream_bytes` and returns its
/// seconds) at least [`MIN_TRANSFERS`] times and until `plan.stream_seconds`
/// have passed (at most [`MAX_TRANSFERS`]), sampling the server's RSS
/// meanwhile, then checks that the server is still alive.
fn measure(
    server: &mut ServerProcess,
    plan: &Plan,
    what: &str,
    mut transfer: impl FnMut() -> Result<f64>,
) -> Result<Transfer> {
    let sampler = Sampler::start(server.pid());
    let started = Instant::now();
    let window = Duration::from_secs_f64(plan.stream_seconds);
    let mut rates = Vec::new();
    let result = loop {
        match transfer() {
            Ok(seconds) => rates.push(plan.stream_bytes as f64 / MIB / seconds),
            Err(error) => break Err(error),
        }
        let enough = rates.len() >= MIN_TRANSFERS && started.elapsed() >= window;
        if enough || rates.len() == MAX_TRANSFERS {
            break Ok(());
        }
    };
    let peak = sampler.stop();
    result.context(|| format!("{what}, transfer {}", rates.len() + 1))?;
    server.check_alive()?;
    Ok(Transfer {
        mib_per_s: median(&mut rates).unwrap_or_default(),
        peak_rss_mib: mib(peak),
    })
}
