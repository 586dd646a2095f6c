//! Load runs with `wrk` (HTTP/1.1 keep-alive) and `h2load` (HTTP/2 with
//! prior knowledge, or by ALPN over TLS), and the parsing of what they
//! print.

use std::process::Command;
use std::time::Duration;

use crate::command::{self, scratch_file};
use crate::error::{bail, Context, Result};
use crate::plan::{H2_CLIENTS, H2_STREAMS};

/// What a load run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadResult {
    /// Requests per second.
    pub(crate) rps: f64,
    /// Median latency, in milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th-percentile latency, in milliseconds.
    pub(crate) p99_ms: f64,
    /// Socket errors (wrk) or failed requests (h2load); a warning, not a
    /// failure, unless nothing succeeded.
    pub(crate) errors: u64,
    /// The requests answered: wrk's `N requests in`, h2load's succeeded.
    pub(crate) requests: u64,
}

/// How a load generator is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadSpec {
    /// Duration, in seconds.
    pub(crate) seconds: u64,
    /// The generator's threads.
    pub(crate) threads: usize,
    /// The CPU it is pinned to, if any.
    pub(crate) cpu: Option<usize>,
}

impl LoadSpec {
    fn command(&self, tool: &str) -> Command {
        match self.cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(tool);
                command
            }
            None => Command::new(tool),
        }
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(self.seconds + 60)
    }
}

/// Runs `wrk --latency` with `connections` keep-alive connections on
/// `GET url` (`http://127.0.0.1:PORT/`, or `https://` for the TLS servers:
/// wrk's TLS, without ALPN, so HTTP/1.1).
///
/// # Errors
///
/// When wrk fails, prints what cannot be parsed, or a response is not
/// 2xx.
pub(crate) fn wrk(url: &str, connections: usize, spec: LoadSpec) -> Result<LoadResult> {
    let output = command::run(
        spec.command("wrk")
            .arg(format!("-t{}", spec.threads.min(connections)))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", spec.seconds))
            .arg("--timeout")
            .arg("10s")
            .arg("--latency")
            .arg(url),
        spec.deadline(),
    )?;
    parse_wrk(&output).context(|| format!("reading wrk's output:\n{output}"))
}

fn parse_wrk(output: &str) -> Result<LoadResult> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    let mut requests = 0;
    for line in output.lines().map(str::trim) {
        if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("Requests/sec:") {
            rps = value.trim().parse::<f64>().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50 = Some(duration_ms(value.trim())?);
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = Some(duration_ms(value.trim())?);
        } else if let Some(value) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in value.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    errors += n.parse::<u64>().unwrap_or(0);
                }
            }
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            bail!("{} responses were not 2xx or 3xx", value.trim());
        }
    }
    match (rps, p50, p99) {
        (Some(rps), Some(p50_ms), Some(p99_ms)) if rps > 0.0 => Ok(LoadResult {
            rps,
            p50_ms,
            p99_ms,
            errors,
            requests,
        }),
        _ => bail!("no requests/s or latency distribution"),
    }
}

/// Parses wrk's durations: `325.00us`, `1.09ms`, `2.00s`, `1.00m`.
fn duration_ms(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("a duration without a unit: `{text}`"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().context(|| format!("duration `{text}`"))?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => bail!("unknown duration unit in `{text}`"),
    };
    Ok(number * scale)
}

/// Runs `h2load` with 4 connections of 100 concurrent streams each on
/// `GET url` over HTTP/2: with prior knowledge for `http://`, chosen by
/// ALPN for `https://` (h2load offers `h2` first); the latencies come from
/// its per-request log.
///
/// # Errors
///
/// When h2load fails, prints what cannot be parsed, a request failed, or
/// over TLS the handshake did not agree on `h2`.
pub(crate) fn h2load(url: &str, spec: LoadSpec) -> Result<LoadResult> {
    let log = scratch_file("h2load.log");
    let result = (|| {
        let output = command::run(
            spec.command("h2load")
                .arg(format!("--clients={H2_CLIENTS}"))
                .arg(format!("--max-concurrent-streams={H2_STREAMS}"))
                .arg(format!("--threads={}", spec.threads.min(H2_CLIENTS)))
                .arg(format!("--duration={}", spec.seconds))
                .arg(format!("--log-file={}", log.display()))
                .arg(url),
            spec.deadline(),
        )?;
        if url.starts_with("https:") {
            check_h2_negotiated(&output)?;
        }
        let (rps, errors, requests) =
            parse_h2load(&output).context(|| format!("reading h2load's output:\n{output}"))?;
        let log_text =
            std::fs::read_to_string(&log).context(|| "reading h2load's log".to_owned())?;
        let (p50_ms, p99_ms) = log_percentiles(&log_text)?;
        Ok(LoadResult {
            rps,
            p50_ms,
            p99_ms,
            errors,
            requests,
        })
    })();
    let _ = std::fs::remove_file(&log);
    result
}

/// Checks that h2load's TLS handshakes agreed on HTTP/2 (its
/// `Application protocol: h2` line).
fn check_h2_negotiated(output: &str) -> Result<()> {
    let protocol = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Application protocol:"))
        .map(str::trim);
    match protocol {
        Some("h2") => Ok(()),
        Some(other) => bail!("h2load's TLS handshake agreed on `{other}`, not h2"),
        None => bail!("h2load printed no application protocol:\n{output}"),
    }
}

/// Requests/s, failed requests and succeeded requests from h2load's
/// summary.
fn parse_h2load(output: &str) -> Result<(f64, u64, u64)> {
    let mut rps = None;
    let mut succeeded = None;
    let mut failed = 0;
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            // "finished in 1.00s, 92857.00 req/s, 4.25MB/s"
            rps = rest
                .split(',')
                .nth(1)
                .and_then(|part| part.trim().strip_suffix(" req/s"))
                .and_then(|n| n.trim().parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("requests:") {
            // "92857 total, 93257 started, 92857 done, 92857 succeeded, 0 failed, 0 errored, 0 timeout"
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                let (Some(n), Some(what)) = (words.next(), words.next()) else {
                    continue;
                };
                let n: u64 = n.parse().unwrap_or(0);
                match what {
                    "succeeded" => succeeded = Some(n),
                    "failed" | "errored" | "timeout" => failed += n,
                    _ => {}
                }
            }
        } else if let Some(rest) = line.strip_prefix("status codes:") {
            // "92857 2xx, 0 3xx, 0 4xx, 0 5xx"
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                if let (Some(n), Some("4xx" | "5xx")) = (words.next(), words.next()) {
                    if n != "0" {
                        bail!("h2load got {n} {} responses", part.trim());
                    }
                }
            }
        }
    }
    match (rps, succeeded) {
        (Some(rps), Some(succeeded)) if succeeded > 0 && rps > 0.0 => Ok((rps, failed, succeeded)),
        (_, Some(0)) => bail!("no request succeeded over HTTP/2"),
        _ => bail!("no req/s or request counts"),
    }
}

/// The median and 99th percentile of h2load's log, whose lines are
/// `start-µs <TAB> status <TAB> duration-µs`, in milliseconds.
fn log_percentiles(log: &str) -> Result<(f64, f64)> {
    let mut durations: Vec<u64> = log
        .lines()
        .filter_map(|line| line.split('\t').nth(2))
        .filter_map(|us| us.trim().parse().ok())
        .collect();
    if durations.is_empty() {
        bail!("h2load's log has no requests");
    }
    durations.sort_unstable();
    let at = |q: f64| {
        let index = ((durations.len() as f64 * q).ceil() as usize).clamp(1, durations.len()) - 1;
        durations[index] as f64 / 1000.0
    };
    Ok((at(0.50), at(0.99)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 1s test @ http://127.0.0.1:18300/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.39ms    2.05ms  14.57ms   73.63%
    Req/Sec    19.22k     3.42k   24.48k    70.00%
  Latency Distribution
     50%  325.00us
     75%    4.14ms
     90%    6.38ms
     99%    9.79ms
  19166 requests in 1.00s, 2.38MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  19134.18
Transfer/sec:      2.37MB
";

    #[test]
    fn wrk_output() {
        let result = parse_wrk(WRK).unwrap();
        assert_eq!(result.rps, 19134.18);
        assert!((result.p50_ms - 0.325).abs() < 1e-9);
        assert!((result.p99_ms - 9.79).abs() < 1e-9);
        assert_eq!(result.errors, 3);
        assert_eq!(result.requests, 19166);
        let bad = WRK.replace("  Socket", "  Non-2xx or 3xx responses: 7\n  Socket");
        assert!(parse_wrk(&bad).is_err());
    }

    #[test]
    fn h2load_output() {
        let output = "finished in 1.00s, 16526.00 req/s, 629.88KB/s
requests: 16526 total, 16926 started, 16526 done, 16526 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 16526 2xx, 0 3xx, 0 4xx, 0 5xx
";
        assert_eq!(parse_h2load(output).unwrap(), (16526.0, 0, 16526));
        assert!(parse_h2load(&output.replace("16526 succeeded", "0 succeeded")).is_err());
        assert!(parse_h2load(&output.replace("0 5xx", "3 5xx")).is_err());
    }

    #[test]
    fn h2load_alpn() {
        let output = "TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Application protocol: h2
";
        assert!(check_h2_negotiated(output).is_ok());
        assert!(check_h2_negotiated(&output.replace(": h2", ": http/1.1")).is_err());
        assert!(check_h2_negotiated("finished in 1.00s").is_err());
    }

    #[test]
    fn percentiles() {
        let log: String = (1..=100)
            .map(|i| format!("1\t200\t{}\n", i * 1000))
            .collect();
        assert_eq!(log_percentiles(&log).unwrap(), (50.0, 99.0));
    }
}
