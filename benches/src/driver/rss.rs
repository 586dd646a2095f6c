//! The server's memory, from `/proc/PID/status`: resident set size now
//! (`VmRSS`), its peak (`VmHWM`), and a sampler for the peak during a
//! transfer; and its thread count.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};

/// How often the sampler reads `VmRSS`.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The longest a sampler runs, whatever happens.
const SAMPLE_AT_MOST: Duration = Duration::from_secs(30 * 60);

/// Reads a `kB` field of `/proc/PID/status`, such as `VmRSS` or `VmHWM`,
/// in KiB.
pub(crate) fn status_kib(pid: u32, field: &str) -> Result<u64> {
    status_number(pid, field)
}

/// The number of threads of the process (`Threads` in
/// `/proc/PID/status`).
pub(crate) fn threads(pid: u32) -> Result<u64> {
    status_number(pid, "Threads")
}

/// The CPU time the process's threads have run so far, in nanoseconds:
/// the sum of the first field of `/proc/PID/task/*/schedstat` (the
/// scheduler's own count, finer than `utime` and `stime`'s clock ticks).
/// Threads that have exited are not counted; the servers' threads live as
/// long as the process.
pub(crate) fn cpu_ns(pid: u32) -> Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0u64;
    for task in std::fs::read_dir(&dir).context(|| format!("reading {dir}"))? {
        let path = task?.path().join("schedstat");
        // A thread that has just exited has no file any more.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let ns: u64 = text
            .split_whitespace()
            .next()
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("no CPU time in {}", path.display()))?;
        total += ns;
    }
    Ok(total)
}

/// Reads a numeric field of `/proc/PID/status`, without its `kB` unit if
/// it has one.
fn status_number(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).context(|| format!("reading {path}"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return kib.parse().context(|| format!("{field} in {path}"));
        }
    }
    bail!("no {field} in {path}")
}

/// Reads `VmRSS` every 10 ms on a thread of its own and keeps the largest.
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Sampler {
    /// Starts sampling the process `pid`.
    pub(crate) fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut peak = 0;
            loop {
                if let Ok(kib) = status_kib(pid, "VmRSS") {
                    peak = peak.max(kib);
                }
                if stopped.load(Ordering::Relaxed) || started.elapsed() > SAMPLE_AT_MOST {
                    return peak;
                }
                thread::sleep(SAMPLE_EVERY);
            }
        });
        Sampler { stop, thread }
    }

    /// Stops sampling and returns the peak `VmRSS`, in KiB (0 if the
    /// process could not be read).
    pub(crate) fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// KiB to MiB.
pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
