//! The nine scenarios. Each starts a fresh server, attacks it from the
//! driver's own threads over 127.0.0.1, checks it is still up, and returns
//! its figures and targets. Every loop is bounded in count and in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use albany_bench::{ServerKind, HELLO};

use crate::client::{self, quantile, Read1};
use crate::error::{bail, Result};
use crate::h2::{self, Flood};
use crate::outcome::{mib, ms, secs, Outcome};
use crate::process::Server;
use crate::trickle::{self, Attack};
use crate::Plan;

/// The header read timeout of the slowloris scenario's servers, in
/// seconds (`bench-server --header-read-timeout`).
pub(crate) const SLOWLORIS_TIMEOUT_SECS: u64 = 2;

/// Slow request bodies are to be closed within this (Albany's coming
/// `request_body_min_rate`: 240 B/s after a 5 s grace period, and
/// `request_body_timeout`: 60 s; the bound allows the grace period and
/// the checks' granularity).
pub(crate) const SLOW_BODY_BOUND: Duration = Duration::from_secs(10);

/// Clients that never read are to be closed within this (Albany's coming
/// `response_write_timeout`, default 60 s, and the time to fill the
/// socket buffers).
pub(crate) const SLOW_READER_BOUND: Duration = Duration::from_secs(65);

/// The bound on memory per connection of the "bounded RSS" targets: peak
/// RSS above the idle server's, per connection, in KiB.
pub(crate) const RSS_PER_CONNECTION_KIB: u64 = 64;

/// Open file descriptors allowed beyond the connections themselves.
const FD_SLACK: u64 = 64;

/// The scenarios, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// 1. Many concurrent connections, all served.
    Connections,
    /// 2. Slowloris against the header read timeout.
    Slowloris,
    /// 3. Slow request bodies.
    SlowBodies,
    /// 4. Clients that never read their response.
    SlowReaders,
    /// 5. HTTP/2 floods.
    H2Floods,
    /// 6. Resets in the middle of transfers.
    Resets,
    /// 7. Panics under load.
    Panics,
    /// 8. Graceful shutdown under load.
    Shutdown,
    /// 9. Memory under adversarial load.
    Memory,
}

impl Scenario {
    /// Every scenario, in order.
    pub(crate) const ALL: [Scenario; 9] = [
        Scenario::Connections,
        Scenario::Slowloris,
        Scenario::SlowBodies,
        Scenario::SlowReaders,
        Scenario::H2Floods,
        Scenario::Resets,
        Scenario::Panics,
        Scenario::Shutdown,
        Scenario::Memory,
    ];

    /// Its name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Connections => "connections",
            Scenario::Slowloris => "slowloris",
            Scenario::SlowBodies => "slow-bodies",
            Scenario::SlowReaders => "slow-readers",
            Scenario::H2Floods => "h2-floods",
            Scenario::Resets => "resets",
            Scenario::Panics => "panics",
            Scenario::Shutdown => "shutdown",
            Scenario::Memory => "memory",
        }
    }

    /// Its title in the report, with this run's sizes.
    pub(crate) fn title(self, plan: &Plan) -> String {
        let q = plan.quick;
        match self {
            Scenario::Connections => format!(
                "{} concurrent connections, each then sends GET /",
                pick(q, 1_000, 10_000)
            ),
            Scenario::Slowloris => format!(
                "slowloris: {} attackers trickling a request head (a byte per 200 ms, replaced when closed) for {}, header read timeout {SLOWLORIS_TIMEOUT_SECS} s; a good client's GET / latency against a run without attackers",
                pick(q, 200, 500),
                secs(slowloris_duration(q))
            ),
            Scenario::SlowBodies => format!(
                "slow bodies: 200 clients declaring a 1 MiB body and sending 1 byte/s, for {}",
                secs(slow_body_duration(q))
            ),
            Scenario::SlowReaders => format!(
                "slow readers: {} clients asking for a 1 GiB response and never reading (4 KiB receive buffer), for {}",
                pick(q, 50, 200),
                secs(slow_reader_duration(q))
            ),
            Scenario::H2Floods => format!(
                "HTTP/2 floods (h2c): {} attacking threads per flood for {}, each opening a new connection when the server closes one; at most {} frames per connection",
                pick(q, 2, 4),
                secs(flood_duration(q)),
                flood_frames(q)
            ),
            Scenario::Resets => format!(
                "resets mid-transfer: {} clients reset (SO_LINGER 0) after 256 KiB of a 64 MiB download or upload",
                pick(q, 100, 400)
            ),
            Scenario::Panics => format!(
                "panics under load: 64 connections for {} on GET /panic/N, which panics for one N in ten",
                secs(panic_duration(q))
            ),
            Scenario::Shutdown => format!(
                "shutdown under load: 64 keep-alive connections sending GET / in a loop, SIGTERM after {}",
                secs(shutdown_after(q))
            ),
            Scenario::Memory => format!(
                "memory under adversarial load: {} connections each trickling a 1 MiB body (1 byte/s) for {}",
                pick(q, 500, 5_000),
                secs(memory_duration(q))
            ),
        }
    }

    /// Runs the scenario on `kind`.
    ///
    /// # Errors
    ///
    /// When the harness itself fails (a server does not start, a client
    /// thread panics).
    pub(crate) fn run(self, plan: &Plan, kind: ServerKind) -> Result<Outcome> {
        match self {
            Scenario::Connections => connections(plan, kind),
            Scenario::Slowloris => slowloris(plan, kind),
            Scenario::SlowBodies => slow_bodies(plan, kind),
            Scenario::SlowReaders => slow_readers(plan, kind),
            Scenario::H2Floods => h2_floods(plan, kind),
            Scenario::Resets => resets(plan, kind),
            Scenario::Panics => panics(plan, kind),
            Scenario::Shutdown => shutdown(plan, kind),
            Scenario::Memory => memory(plan, kind),
        }
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario `{name}` (one of {})", names.join(", "))
            })
    }
}

fn pick<T>(quick: bool, quick_value: T, full: T) -> T {
    if quick {
        quick_value
    } else {
        full
    }
}

fn slowloris_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 4, 8))
}
fn slow_body_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 4, 15))
}
fn slow_reader_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 4, 70))
}
fn flood_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 1, 3))
}
fn flood_frames(quick: bool) -> u64 {
    pick(quick, 200_000, 1_000_000)
}
fn panic_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 2, 10))
}
fn shutdown_after(quick: bool) -> Duration {
    Duration::from_millis(pick(quick, 1_000, 3_000))
}
fn memory_duration(quick: bool) -> Duration {
    Duration::from_secs(pick(quick, 4, 10))
}

/// Adds the crash target: the server process is still running and serves
/// `GET /` on a fresh connection.
fn check_up(outcome: &mut Outcome, server: &mut Server) {
    let up = server.alive() && server.check_serves().is_ok();
    outcome.hard(
        "0 crashes",
        up,
        if up {
            "up, serving"
        } else {
            "down or not serving"
        },
    );
}

/// Joins a client thread.
fn join<T>(handle: thread::JoinHandle<T>) -> Result<T> {
    match handle.join() {
        Ok(value) => Ok(value),
        Err(_) => bail!("a client thread panicked"),
    }
}

/// Samples the server's peak fd count and RSS on a thread of its own until
/// stopped; returns (peak fds, peak RSS KiB).
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<(u64, u64)>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = thread::spawn(move || {
            let (mut fds, mut rss) = (0u64, 0u64);
            let started = Instant::now();
            // Bounded: an hour at most, whatever happens.
            while !stopped.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(3600)
            {
                fds = fds.max(count_fds(pid));
                rss = rss.max(crate::rss::status_kib(pid, "VmRSS").unwrap_or(0));
                thread::sleep(Duration::from_millis(50));
            }
            (fds, rss)
        });
        Sampler { stop, handle }
    }

    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or((0, 0))
    }
}

fn count_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count() as u64)
        .unwrap_or(0)
}

/// Waits at most `bound` for the server's fd count to come down to
/// `target`; the count at the end and the time it took.
fn wait_fds(server: &Server, target: u64, bound: Duration) -> (u64, Duration) {
    let started = Instant::now();
    loop {
        let fds = server.fds();
        if fds <= target || started.elapsed() >= bound {
            return (fds, started.elapsed());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The "bounded RSS" target: growth over `idle` per connection.
fn rss_target(outcome: &mut Outcome, idle_kib: u64, peak_kib: u64, connections: usize) {
    let per = peak_kib.saturating_sub(idle_kib) / connections.max(1) as u64;
    outcome.figure("RSS per connection", format!("{per} KiB"));
    outcome.soft(
        &format!("bounded RSS (≤ {RSS_PER_CONNECTION_KIB} KiB per connection)"),
        Some(per <= RSS_PER_CONNECTION_KIB),
        format!("{per} KiB per connection, peak {}", mib(peak_kib)),
    );
}

// ---------------------------------------------------------------- 1

fn connections(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let n: usize = pick(plan.quick, 1_000, 10_000);
    let mut server = plan.start(kind, &[])?;
    let addr = server.addr();
    let idle_rss = server.rss_kib();
    let idle_fds = server.fds();
    let sampler = Sampler::start(server.pid());
    let threads = 8;
    let opened = Arc::new(Barrier::new(threads + 1));
    let go = Arc::new(Barrier::new(threads + 1));
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let (opened, go) = (opened.clone(), go.clone());
            let count = n / threads + usize::from(t < n % threads);
            thread::spawn(move || {
                let mut streams = Vec::with_capacity(count);
                let mut failed = 0usize;
                for _ in 0..count {
                    match client::connect(addr) {
                        Ok(s) => streams.push(s),
                        Err(_) => failed += 1,
                    }
                }
                opened.wait();
                go.wait();
                // Every connection sends its request, then every response
                // is read: all of them are open and busy at once.
                let request = client::get_request("/");
                let mut written = Vec::with_capacity(streams.len());
                for stream in &mut streams {
                    written.push(stream.write_all(&request).is_ok());
                }
                let (mut served, mut lost) = (0usize, 0usize);
                let mut buf = Vec::new();
                for (stream, written) in streams.iter_mut().zip(written) {
                    if !written {
                        failed += 1;
                        continue;
                    }
                    match client::read_response(stream, &mut buf) {
                        Read1::Full(r) if r.status == 200 && r.body == HELLO.as_bytes() => {
                            served += 1
                        }
                        _ => lost += 1,
                    }
                }
                (failed, served, lost, streams)
            })
        })
        .collect();
    opened.wait();
    // Give the server a moment to accept the last ones.
    let (open_fds, _) = {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut fds = server.fds();
        while fds < idle_fds + n as u64 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
            fds = server.fds();
        }
        (fds, ())
    };
    let open_rss = server.rss_kib();
    let started = Instant::now();
    go.wait();
    let (mut failed, mut served, mut lost) = (0, 0, 0);
    let mut held = Vec::new();
    for handle in clients {
        let (f, s, l, streams) = join(handle)?;
        failed += f;
        served += s;
        lost += l;
        held.push(streams);
    }
    let took = started.elapsed();
    let (peak_fds, sampled_rss) = sampler.stop();
    let peak_rss = sampled_rss.max(server.peak_rss_kib());
    drop(held);
    let mut outcome = Outcome::default();
    outcome.figure("connections", n);
    outcome.figure("served", served);
    outcome.figure("not connected", failed);
    outcome.figure("lost", lost);
    outcome.figure("all answered in", secs(took));
    outcome.figure("fds idle / all open", format!("{idle_fds} / {open_fds}"));
    outcome.figure(
        "RSS idle / all open",
        format!("{} / {}", mib(idle_rss), mib(open_rss)),
    );
    outcome.figure("peak RSS", mib(peak_rss));
    outcome.hard("0 lost responses", lost == 0, format!("{lost} of {n}"));
    outcome.soft(
        "every connection accepted and served",
        Some(served == n),
        format!("{served} of {n}"),
    );
    outcome.soft(
        &format!("bounded fds (≤ connections + {FD_SLACK})"),
        Some(peak_fds <= n as u64 + FD_SLACK),
        format!("peak {peak_fds}"),
    );
    rss_target(&mut outcome, idle_rss, peak_rss, n);
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

// ---------------------------------------------------------------- 2

/// A good client: `GET /` on one keep-alive connection (a new one when it
/// is closed), a request every 10 ms, for `duration`; the latencies and the
/// failures.
fn good_client(addr: SocketAddr, duration: Duration) -> (Vec<Duration>, usize) {
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut stream: Option<TcpStream> = None;
    let request = client::get_request("/");
    let mut buf = Vec::new();
    while started.elapsed() < duration {
        let begin = Instant::now();
        if stream.is_none() {
            stream = client::connect(addr).ok();
        }
        let ok = match stream.as_mut() {
            Some(s) => {
                s.write_all(&request).is_ok()
                    && matches!(
                        client::read_response(s, &mut buf),
                        Read1::Full(r) if r.status == 200 && !r.close
                    )
            }
            None => false,
        };
        if ok {
            latencies.push(begin.elapsed());
        } else {
            failures += 1;
            stream = None;
        }
        thread::sleep(Duration::from_millis(10));
    }
    (latencies, failures)
}

fn slowloris(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let attackers = pick(plan.quick, 200, 500);
    let duration = slowloris_duration(plan.quick);
    let timeout = Duration::from_secs(SLOWLORIS_TIMEOUT_SECS);
    let mut server = plan.start(
        kind,
        &[
            "--header-read-timeout".into(),
            SLOWLORIS_TIMEOUT_SECS.to_string(),
        ],
    )?;
    let addr = server.addr();
    // Without attackers first.
    let baseline = pick(plan.quick, Duration::from_secs(1), Duration::from_secs(3));
    let (mut calm, calm_failures) = good_client(addr, baseline);
    let good = thread::spawn(move || good_client(addr, duration));
    let attack = Attack {
        connections: attackers,
        head: b"GET / HTTP/1.1\r\nHost: stress\r\n".to_vec(),
        trickle: b"X-Slow: 1\r\n".to_vec(),
        interval: Duration::from_millis(200),
        duration,
        reconnect: true,
    };
    let result = trickle::run(addr, &attack, |_| {});
    let (mut loaded, failures) = join(good)?;
    let (p50_calm, p99_calm) = (quantile(&mut calm, 0.5), quantile(&mut calm, 0.99));
    let (p50, p99) = (quantile(&mut loaded, 0.5), quantile(&mut loaded, 0.99));
    let bound = timeout + Duration::from_millis(500);
    let max_held = result.max_held();
    let mut outcome = Outcome::default();
    outcome.figure("attacker connections", result.opened);
    outcome.figure("closed by the server", result.held.len());
    outcome.figure(
        "held (median / max)",
        format!("{} / {}", secs(result.median_closed()), secs(max_held)),
    );
    outcome.figure("open at the end (replacements)", result.open_at_end);
    outcome.figure(
        "good p50 / p99, no attack",
        format!("{} / {}", ms(p50_calm), ms(p99_calm)),
    );
    outcome.figure(
        "good p50 / p99, under attack",
        format!("{} / {}", ms(p50), ms(p99)),
    );
    outcome.figure("good failures", calm_failures + failures);
    // Attackers opened in the last `bound` of the attack cannot have been
    // closed by its end: only those older than the bound count.
    let overdue = result.open_held.iter().filter(|h| **h > bound).count();
    outcome.soft(
        &format!("attackers closed within their timeout ({SLOWLORIS_TIMEOUT_SECS} s + 0.5 s)"),
        Some(result.held.iter().all(|h| *h <= bound) && overdue == 0),
        format!("max held {}, {overdue} open past it", secs(max_held)),
    );
    let flat = p99 <= p99_calm * 3 + Duration::from_millis(5);
    outcome.soft(
        "good client's p99 flat (≤ 3 × without attack + 5 ms)",
        Some(flat && failures == 0),
        format!("{} against {}, {failures} failures", ms(p99), ms(p99_calm)),
    );
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

// ---------------------------------------------------------------- 3

fn slow_bodies(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let duration = slow_body_duration(plan.quick);
    let mut server = plan.start(kind, &[])?;
    let attack = Attack {
        connections: 200,
        head: b"POST /upload HTTP/1.1\r\nHost: stress\r\nContent-Length: 1048576\r\n\r\n".to_vec(),
        trickle: b"x".to_vec(),
        interval: Duration::from_secs(1),
        duration,
        reconnect: false,
    };
    let result = trickle::run(server.addr(), &attack, |_| {});
    let mut outcome = Outcome::default();
    held_figures(&mut outcome, &result);
    held_target(
        &mut outcome,
        &result,
        SLOW_BODY_BOUND,
        duration,
        "slow bodies",
    );
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

fn held_figures(outcome: &mut Outcome, result: &trickle::Outcome) {
    outcome.figure("attackers", result.opened);
    outcome.figure("closed by the server", result.held.len());
    outcome.figure("answered before the close", result.answered);
    outcome.figure(
        "held (median of closed / max)",
        format!(
            "{} / {}",
            if result.held.is_empty() {
                "-".into()
            } else {
                secs(result.median_closed())
            },
            secs(result.max_held())
        ),
    );
    outcome.figure("open at the end", result.open_at_end);
}

/// "Attackers closed within their timeout", when the run lasts longer
/// than `bound` (a quick run may not).
fn held_target(
    outcome: &mut Outcome,
    result: &trickle::Outcome,
    bound: Duration,
    duration: Duration,
    what: &str,
) {
    let pass = (duration > bound)
        .then(|| result.open_at_end == 0 && result.held.iter().all(|h| *h <= bound));
    outcome.soft(
        &format!(
            "attackers closed within their timeout ({what}: {})",
            secs(bound)
        ),
        pass,
        format!(
            "max held {}{}, {} open at the end",
            secs(result.max_held()),
            if result.open_at_end > 0 {
                " (capped: the run's length)"
            } else {
                ""
            },
            result.open_at_end
        ),
    );
}

// ---------------------------------------------------------------- 4

fn slow_readers(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let n = pick(plan.quick, 50, 200);
    let duration = slow_reader_duration(plan.quick);
    let mut server = plan.start(kind, &[])?;
    let addr = server.addr();
    let idle_fds = server.fds();
    let idle_rss = server.rss_kib();
    let sampler = Sampler::start(server.pid());
    let request = client::get_request("/download?size=1073741824");
    let mut streams = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        // A small receive window: the server's writes block sooner.
        socket.set_recv_buffer_size(4096)?;
        match socket.connect_timeout(&addr.into(), client::IO_TIMEOUT) {
            Ok(()) => {
                let mut stream: TcpStream = socket.into();
                if stream.write_all(&request).is_ok() {
                    streams.push(stream);
                } else {
                    failed += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    // The attackers' connections are the server's fds above idle: held
    // while the count stays up. Sampled until they are all closed or the
    // run ends.
    let started = Instant::now();
    let mut closed_all_at = None;
    while started.elapsed() < duration {
        thread::sleep(Duration::from_millis(250));
        if server.fds() <= idle_fds && closed_all_at.is_none() {
            closed_all_at = Some(started.elapsed());
            break;
        }
    }
    let open = server.fds().saturating_sub(idle_fds);
    let (peak_fds, peak_rss) = sampler.stop();
    drop(streams);
    let mut outcome = Outcome::default();
    outcome.figure("attackers", n - failed);
    outcome.figure(
        "all closed after",
        closed_all_at.map_or(format!("not within {}", secs(duration)), secs),
    );
    outcome.figure("open at the end", open);
    outcome.figure("peak fds", peak_fds);
    outcome.figure(
        "RSS idle / peak",
        format!("{} / {}", mib(idle_rss), mib(peak_rss)),
    );
    let pass = (duration > SLOW_READER_BOUND)
        .then(|| closed_all_at.is_some_and(|at| at <= SLOW_READER_BOUND) && open == 0);
    outcome.soft(
        &format!(
            "attackers closed within their timeout (slow readers: {})",
            secs(SLOW_READER_BOUND)
        ),
        pass,
        format!(
            "{}, {open} open at the end",
            closed_all_at.map_or(
                format!("held ≥ {} (capped: the run's length)", secs(duration)),
                |at| format!("all closed after {}", secs(at))
            )
        ),
    );
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

// ---------------------------------------------------------------- 5

fn h2_floods(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let threads = pick(plan.quick, 2, 4);
    let duration = flood_duration(plan.quick);
    let max_frames = flood_frames(plan.quick);
    let mut outcome = Outcome::default();
    let mut all_served = true;
    let mut summary = Vec::new();
    for flood in Flood::ALL {
        let mut server = plan.start(kind, &[])?;
        let addr = server.addr();
        let idle_rss = server.rss_kib();
        let sampler = Sampler::start(server.pid());
        let cpu_before = server.cpu_ms();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        // The good client, on HTTP/1.1, while the flood runs.
        let good = thread::spawn(move || {
            let (mut ok, mut failed) = (0u64, 0u64);
            let started = Instant::now();
            while !stopped.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                match client::get_once(addr, "/") {
                    Ok(r) if r.status == 200 => ok += 1,
                    _ => failed += 1,
                }
                thread::sleep(Duration::from_millis(50));
            }
            (ok, failed)
        });
        let attackers: Vec<_> = (0..threads)
            .map(|_| thread::spawn(move || h2::attack_for(addr, flood, duration, max_frames)))
            .collect();
        let mut results = Vec::new();
        for a in attackers {
            results.extend(join(a)?);
        }
        let cpu = server.cpu_ms() - cpu_before;
        stop.store(true, Ordering::Relaxed);
        let (ok, failed) = join(good)?;
        let (_, peak_rss) = sampler.stop();
        let after = server.check_serves().is_ok();
        let connections = results.len().max(1);
        let frames: u64 = results.iter().map(|r| r.frames).sum();
        let goaways: Vec<String> = results
            .iter()
            .filter_map(|r| r.goaway.map(h2::error_name))
            .collect();
        let closed = results
            .iter()
            .filter(|r| r.closed || r.goaway.is_some())
            .count();
        let stalled = results.iter().filter(|r| r.stalled).count();
        let name = flood.name();
        outcome.figure(&format!("{name}: attacking connections"), results.len());
        outcome.figure(
            &format!("{name}: frames written per connection"),
            frames / connections as u64,
        );
        outcome.figure(
            &format!("{name}: server CPU per connection"),
            format!("{:.2} ms", cpu / connections as f64),
        );
        // What the server did with them: from each GOAWAY's last stream
        // identifier, the streams it processed before it ended the
        // connection (the frames above are those the attacker wrote,
        // whether or not the server parsed them).
        if flood == Flood::RapidReset {
            let mut written: Vec<u64> = results.iter().map(|r| r.frames).collect();
            if !written.is_empty() {
                let mut at = |q| quantile(&mut written, q);
                outcome.figure(
                    &format!("{name}: frames written per connection, min / median / max"),
                    format!("{} / {} / {}", at(0.0), at(0.5), at(1.0)),
                );
            }
            outcome.figure(
                &format!("{name}: connections whose GOAWAY the attacker read"),
                format!(
                    "{}/{}",
                    results.iter().filter(|r| r.goaway.is_some()).count(),
                    results.len()
                ),
            );
            let streams: Vec<u64> = results
                .iter()
                .filter_map(|r| r.last_stream.map(|id| u64::from(id).div_ceil(2)))
                .collect();
            outcome.figure(
                &format!("{name}: streams processed per connection (GOAWAY last stream)"),
                format!(
                    "{} (min {}, max {})",
                    streams.iter().sum::<u64>() / streams.len().max(1) as u64,
                    streams.iter().min().unwrap_or(&0),
                    streams.iter().max().unwrap_or(&0)
                ),
            );
        }
        let attacker_cpu: f64 = results.iter().map(|r| r.cpu_ms).sum();
        outcome.figure(
            &format!("{name}: attacker CPU per connection"),
            format!("{:.2} ms", attacker_cpu / connections as f64),
        );
        outcome.figure(
            &format!("{name}: closed by the server"),
            format!(
                "{closed}/{}{}{}",
                results.len(),
                if goaways.is_empty() {
                    String::new()
                } else {
                    format!(" (GOAWAY {})", dedup(&goaways))
                },
                if stalled > 0 {
                    format!(", {stalled} stalled (the server stopped reading)")
                } else {
                    String::new()
                }
            ),
        );
        outcome.figure(
            &format!("{name}: RSS idle / peak"),
            format!("{} / {}", mib(idle_rss), mib(peak_rss)),
        );
        outcome.figure(
            &format!("{name}: good client ok / failed"),
            format!("{ok} / {failed}"),
        );
        all_served &= failed == 0 && ok > 0 && after;
        summary.push(format!("{name} {ok}/{}", ok + failed));
        let up = server.alive() && after;
        if !up {
            outcome.hard(
                "0 crashes",
                false,
                format!("down or not serving after the {name} flood"),
            );
        }
    }
    outcome.soft(
        "a good client is served during every flood",
        Some(all_served),
        summary.join(", "),
    );
    if !outcome.checks.iter().any(|c| c.target == "0 crashes") {
        outcome.hard("0 crashes", true, "up, serving after every flood");
    }
    Ok(outcome)
}

fn dedup(names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    names.join(", ")
}

// ---------------------------------------------------------------- 6

fn resets(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let n = pick(plan.quick, 100, 400);
    let mut server = plan.start(kind, &[])?;
    let addr = server.addr();
    // The baseline: the fds of a server that has served and closed a
    // connection (the check in `start`), once that connection is gone.
    let baseline = server.fds();
    let sampler = Sampler::start(server.pid());
    let threads = 8;
    let done = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let done = done.clone();
            thread::spawn(move || {
                let mut failed = 0;
                for i in (t..n).step_by(threads) {
                    let result = (|| -> std::io::Result<()> {
                        let mut stream = client::connect(addr)?;
                        let mut chunk = vec![0u8; 64 * 1024];
                        if i % 2 == 0 {
                            stream.write_all(&client::get_request("/download?size=67108864"))?;
                            let mut read = 0;
                            while read < 256 * 1024 {
                                let got = stream.read(&mut chunk)?;
                                if got == 0 {
                                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                                }
                                read += got;
                            }
                        } else {
                            stream.write_all(
                                b"POST /upload HTTP/1.1\r\nHost: stress\r\nContent-Length: 67108864\r\n\r\n",
                            )?;
                            for _ in 0..4 {
                                stream.write_all(&chunk)?;
                            }
                        }
                        client::reset_on_close(&stream)?;
                        Ok(())
                    })();
                    if result.is_err() {
                        failed += 1;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for c in clients {
        failed += join(c)?;
    }
    let (after, took) = wait_fds(&server, baseline, Duration::from_secs(10));
    let (peak, _) = sampler.stop();
    let mut outcome = Outcome::default();
    outcome.figure("resets", done.load(Ordering::Relaxed));
    outcome.figure("client errors before the reset", failed);
    outcome.figure(
        "fds before / peak / after",
        format!("{baseline} / {peak} / {after}"),
    );
    outcome.figure(
        "back to baseline in",
        if after <= baseline {
            secs(took)
        } else {
            "not within 10 s".into()
        },
    );
    outcome.soft(
        "bounded fds: back to baseline after the resets",
        Some(after <= baseline),
        format!("{after} against {baseline}"),
    );
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

// ---------------------------------------------------------------- 7

#[derive(Default)]
struct PanicTally {
    requests: u64,
    panics: u64,
    panics_500: u64,
    ok: u64,
    wrong: u64,
    lost: u64,
}

fn panics(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let duration = panic_duration(plan.quick);
    let mut server = plan.start(kind, &[])?;
    let addr = server.addr();
    let start = Arc::new(Barrier::new(65));
    let clients: Vec<_> = (0..64u64)
        .map(|c| {
            let start = start.clone();
            thread::spawn(move || {
                let mut tally = PanicTally::default();
                let mut stream: Option<TcpStream> = None;
                let mut buf = Vec::new();
                start.wait();
                let started = Instant::now();
                let mut i = 0u64;
                // Bounded in time and in count.
                while started.elapsed() < duration && i < 10_000_000 {
                    let n = c * 100_000_000 + i;
                    i += 1;
                    if stream.is_none() {
                        stream = client::connect(addr).ok();
                    }
                    let Some(s) = stream.as_mut() else {
                        tally.lost += 1;
                        continue;
                    };
                    tally.requests += 1;
                    let panics = n % 10 == 0;
                    if panics {
                        tally.panics += 1;
                    }
                    let read = if s
                        .write_all(&client::get_request(&format!("/panic/{n}")))
                        .is_ok()
                    {
                        client::read_response(s, &mut buf)
                    } else {
                        Read1::Nothing
                    };
                    match read {
                        Read1::Full(r) => {
                            if panics && r.status == 500 {
                                tally.panics_500 += 1;
                            } else if !panics
                                && r.status == 200
                                && r.body == format!("ok {n}").as_bytes()
                            {
                                tally.ok += 1;
                            } else {
                                tally.wrong += 1;
                            }
                            if r.close {
                                stream = None;
                            }
                        }
                        _ => {
                            if !panics {
                                tally.lost += 1;
                            }
                            stream = None;
                        }
                    }
                }
                tally
            })
        })
        .collect();
    start.wait();
    let mut t = PanicTally::default();
    for c in clients {
        let x = join(c)?;
        t.requests += x.requests;
        t.panics += x.panics;
        t.panics_500 += x.panics_500;
        t.ok += x.ok;
        t.wrong += x.wrong;
        t.lost += x.lost;
    }
    let mut outcome = Outcome::default();
    outcome.figure("requests", t.requests);
    outcome.figure(
        "panics answered 500",
        format!("{} of {}", t.panics_500, t.panics),
    );
    outcome.figure(
        "others correct and complete",
        format!("{} of {}", t.ok, t.requests - t.panics),
    );
    outcome.figure("wrong", t.wrong);
    outcome.figure("lost", t.lost);
    outcome.hard(
        "every panicking request answered 500",
        t.panics > 0 && t.panics_500 == t.panics,
        format!("{} of {}", t.panics_500, t.panics),
    );
    outcome.hard(
        "0 lost responses",
        t.lost == 0 && t.wrong == 0,
        format!("{} lost, {} wrong", t.lost, t.wrong),
    );
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

// ---------------------------------------------------------------- 8

#[derive(Default)]
struct ShutdownTally {
    answered: u64,
    close: u64,
    unanswered_before: u64,
    unanswered_during: u64,
    unanswered_after: u64,
    partial: u64,
    not_written: u64,
}

fn shutdown(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let run_for = shutdown_after(plan.quick);
    let mut server = plan.start(kind, &["--graceful".into()])?;
    let addr = server.addr();
    let epoch = Instant::now();
    // The window in which the signal left, in microseconds after `epoch`:
    // from just before the shell was told to send it to just after it had
    // (0: not yet).
    let signal_at = Arc::new(AtomicU64::new(0));
    let signal_sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(65));
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (signal_at, signal_sent) = (signal_at.clone(), signal_sent.clone());
            let (stop, start) = (stop.clone(), start.clone());
            thread::spawn(move || {
                let mut tally = ShutdownTally::default();
                let Ok(mut stream) = client::connect(addr) else {
                    tally.not_written += 1;
                    start.wait();
                    return tally;
                };
                let mut buf = Vec::new();
                let request = client::get_request("/");
                start.wait();
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) && count < 10_000_000 {
                    count += 1;
                    if stream.write_all(&request).is_err() {
                        tally.not_written += 1;
                        break;
                    }
                    let written = epoch.elapsed().as_micros() as u64;
                    match client::read_response(&mut stream, &mut buf) {
                        Read1::Full(r) => {
                            tally.answered += 1;
                            if r.close {
                                tally.close += 1;
                                break;
                            }
                        }
                        Read1::Nothing | Read1::TimedOut => {
                            let at = signal_at.load(Ordering::SeqCst);
                            let sent = signal_sent.load(Ordering::SeqCst);
                            if at == 0 || written < at {
                                tally.unanswered_before += 1;
                            } else if sent == 0 || written < sent {
                                tally.unanswered_during += 1;
                            } else {
                                tally.unanswered_after += 1;
                            }
                            break;
                        }
                        Read1::Partial => {
                            tally.partial += 1;
                            break;
                        }
                    }
                }
                tally
            })
        })
        .collect();
    let terminator = server.terminator()?;
    start.wait();
    thread::sleep(run_for);
    signal_at.store(epoch.elapsed().as_micros() as u64, Ordering::SeqCst);
    let signalled = Instant::now();
    terminator.fire()?;
    signal_sent.store(epoch.elapsed().as_micros() as u64, Ordering::SeqCst);
    let window = signalled.elapsed();
    let status = server.wait_exit(Duration::from_secs(40));
    let exit_took = signalled.elapsed();
    let deadline = Instant::now() + Duration::from_secs(15);
    while clients.iter().any(|c| !c.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let mut t = ShutdownTally::default();
    for c in clients {
        let x = join(c)?;
        t.answered += x.answered;
        t.close += x.close;
        t.unanswered_before += x.unanswered_before;
        t.unanswered_during += x.unanswered_during;
        t.unanswered_after += x.unanswered_after;
        t.partial += x.partial;
        t.not_written += x.not_written;
    }
    let mut outcome = Outcome::default();
    outcome.figure("answered", t.answered);
    outcome.figure("with Connection: close", t.close);
    outcome.figure("unanswered, sent before SIGTERM", t.unanswered_before);
    outcome.figure(
        "unanswered, sent while the signal left",
        format!("{} (in {})", t.unanswered_during, ms(window)),
    );
    outcome.figure("unanswered, sent after", t.unanswered_after);
    outcome.figure("truncated", t.partial);
    outcome.figure("refused before writing", t.not_written);
    outcome.figure(
        "exit",
        match status {
            Some(s) => format!("{s} after {}", secs(exit_took)),
            None => "still running after 40 s".into(),
        },
    );
    outcome.hard(
        "0 lost responses (sent before SIGTERM, unanswered)",
        t.unanswered_before == 0 && t.partial == 0,
        format!(
            "{} unanswered, {} truncated",
            t.unanswered_before, t.partial
        ),
    );
    let clean = status.is_some_and(|s| s.success());
    outcome.hard(
        "0 crashes (exits 0 after graceful shutdown)",
        clean,
        status.map_or("still running".into(), |s| s.to_string()),
    );
    Ok(outcome)
}

// ---------------------------------------------------------------- 9

fn memory(plan: &Plan, kind: ServerKind) -> Result<Outcome> {
    let n = pick(plan.quick, 500, 5_000);
    let duration = memory_duration(plan.quick);
    let mut server = plan.start(kind, &[])?;
    let idle_rss = server.rss_kib();
    let sampler = Sampler::start(server.pid());
    let attack = Attack {
        connections: n,
        head: b"POST /upload HTTP/1.1\r\nHost: stress\r\nContent-Length: 1048576\r\n\r\n".to_vec(),
        trickle: b"x".to_vec(),
        interval: Duration::from_secs(1),
        duration,
        reconnect: false,
    };
    let result = trickle::run(server.addr(), &attack, |_| {});
    let (peak_fds, peak_rss) = sampler.stop();
    let peak_rss = peak_rss.max(server.peak_rss_kib());
    let mut outcome = Outcome::default();
    outcome.figure("connections", result.opened);
    outcome.figure("not connected", result.connect_failed);
    outcome.figure("open at the end", result.open_at_end);
    outcome.figure(
        "RSS idle / peak",
        format!("{} / {}", mib(idle_rss), mib(peak_rss)),
    );
    outcome.figure("peak fds", peak_fds);
    rss_target(&mut outcome, idle_rss, peak_rss, n);
    check_up(&mut outcome, &mut server);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        assert!("nope".parse::<Scenario>().is_err());
    }
}
