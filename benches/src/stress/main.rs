//! `albany-stress`: the stress harness's driver (issue 14 §5; entry point
//! `benches/stress.sh`). For each server (Albany on each adapter, raw
//! hyper on tokio as the reference) it runs nine bounded, loopback-only
//! scenarios against a fresh `bench-server` each, and writes a Markdown
//! report with every figure and a Targets table.
//!
//! ```text
//! albany-stress [--quick] [--servers a,b] [--scenarios a,b] [--threads N] [--out FILE]
//! ```
//!
//! The exit status is non-zero when the harness itself fails (a server
//! does not start, a client thread panics, the report cannot be written)
//! or when a hard target (0 crashes, 0 lost responses, every panic
//! answered 500) fails on an Albany server; the soft targets (bounded RSS
//! and fds, attackers closed within their timeout, a good client's
//! latency) are reported, pass or fail, without failing the run.

#[path = "../driver/error.rs"]
mod error;
#[allow(dead_code)] // The benchmark driver's module; the stress driver uses its /proc readers.
#[path = "../driver/rss.rs"]
mod rss;

mod client;
mod h2;
mod outcome;
mod process;
mod report;
mod scenarios;
mod trickle;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use albany_bench::{Family, ServerKind};

use crate::error::{bail, Result};
use crate::outcome::Outcome;
use crate::process::Server;
use crate::scenarios::Scenario;

const USAGE: &str = "\
Usage: albany-stress [--quick] [--servers NAME,NAME] [--scenarios NAME,NAME] [--threads N] [--out FILE]

  --quick       the CI mode: smaller counts, shorter runs (about 2 minutes)
  --servers     some of albany-tokio,albany-async-std,albany-smol,hyper-tokio (the default: all four)
  --scenarios   default: all of connections, slowloris, slow-bodies, slow-readers,
                h2-floods, resets, panics, shutdown, memory
  --threads     the servers' worker threads (default 2)
  --out         the report (default: benches/STRESS.md; with --quick, a
                temporary file)";

/// The servers measured by default: the three adapters and the reference.
const DEFAULT_SERVERS: [ServerKind; 4] = [
    ServerKind::AlbanyTokio,
    ServerKind::AlbanyAsyncStd,
    ServerKind::AlbanySmol,
    ServerKind::HyperTokio,
];

/// What this run does.
pub(crate) struct Plan {
    /// The CI mode: smaller counts, shorter runs.
    pub(crate) quick: bool,
    /// The servers' worker threads.
    pub(crate) threads: usize,
    /// `bench-server`, next to this binary.
    pub(crate) bench_server: PathBuf,
    servers: Vec<ServerKind>,
    scenarios: Vec<Scenario>,
    out: PathBuf,
}

impl Plan {
    /// Starts a fresh `kind` with `extra` options.
    ///
    /// # Errors
    ///
    /// As [`Server::start`].
    pub(crate) fn start(&self, kind: ServerKind, extra: &[String]) -> Result<Server> {
        Server::start(&self.bench_server, kind, self.threads, extra)
    }
}

/// Whether `kind` is the reference (raw hyper), whose hard targets do not
/// fail the run.
pub(crate) fn is_reference(kind: ServerKind) -> bool {
    kind.family() != Family::Albany
}

fn parse_args() -> Result<Plan, String> {
    let mut quick = false;
    let mut servers = DEFAULT_SERVERS.to_vec();
    let mut scenarios = Scenario::ALL.to_vec();
    let mut threads = 2;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("missing value for `{arg}`"))
        };
        match arg.as_str() {
            "--quick" => quick = true,
            // benches/stress.sh builds, then passes this on.
            "--no-build" => {}
            "--servers" => {
                servers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<ServerKind>, String>>()?;
                // The servers that take the scenarios' options
                // (`--header-read-timeout`, `--graceful`).
                if let Some(s) = servers.iter().find(|s| {
                    !matches!(
                        s,
                        ServerKind::AlbanyTokio
                            | ServerKind::AlbanyAsyncStd
                            | ServerKind::AlbanySmol
                            | ServerKind::HyperTokio
                    )
                }) {
                    return Err(format!(
                        "{s}: the stress harness runs albany-tokio, albany-async-std, albany-smol and hyper-tokio"
                    ));
                }
            }
            "--scenarios" => {
                scenarios = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<Scenario>, String>>()?;
            }
            "--threads" => {
                threads = value()?
                    .parse::<usize>()
                    .map_err(|e| format!("invalid --threads: {e}"))?
                    .clamp(1, 64);
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let bench_server = std::env::current_exe()
        .map_err(|e| format!("finding this binary: {e}"))?
        .with_file_name("bench-server");
    let out = out.unwrap_or_else(|| {
        if quick {
            std::env::temp_dir().join("albany-stress-quick.md")
        } else {
            PathBuf::from("benches/STRESS.md")
        }
    });
    Ok(Plan {
        quick,
        threads,
        bench_server,
        servers,
        scenarios,
        out,
    })
}

fn main() -> ExitCode {
    let plan = match parse_args() {
        Ok(plan) => plan,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("error: {error}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&plan) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every scenario on every server; writes the report; whether every
/// hard target held on the Albany servers.
fn run(plan: &Plan) -> Result<bool> {
    if !plan.bench_server.exists() {
        bail!(
            "{} is missing (benches/stress.sh builds it)",
            plan.bench_server.display()
        );
    }
    // 10,000 client connections need more descriptors than the usual 1024.
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    if limit < 11_000 && !plan.quick {
        bail!("RLIMIT_NOFILE is {limit}: 10,000 connections need at least 11,000");
    }
    let info = report::RunInfo::now(plan);
    let started = Instant::now();
    let mut results: Vec<(Scenario, Vec<(ServerKind, Outcome)>)> = Vec::new();
    for &scenario in &plan.scenarios {
        let mut row = Vec::new();
        for &kind in &plan.servers {
            eprintln!("== {} on {kind}", scenario.name());
            let began = Instant::now();
            let outcome = scenario
                .run(plan, kind)
                .map_err(|e| error::Error(format!("{} on {kind}: {e}", scenario.name())))?;
            for check in &outcome.checks {
                eprintln!(
                    "   {}: {} ({})",
                    check.target,
                    match check.pass {
                        Some(true) => "pass",
                        Some(false) => "FAIL",
                        None => "not checked",
                    },
                    check.value
                );
            }
            eprintln!("   ({:.1} s)", began.elapsed().as_secs_f64());
            row.push((kind, outcome));
        }
        results.push((scenario, row));
    }
    let info = info.finish(started.elapsed());
    let markdown = report::markdown(plan, &info, &results);
    if let Some(dir) = plan.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&plan.out, &markdown)
        .map_err(|e| error::Error(format!("writing {}: {e}", plan.out.display())))?;
    println!("{}", report::targets_table(plan, &results));
    println!("report: {}", plan.out.display());
    let failed: Vec<String> = results
        .iter()
        .flat_map(|(scenario, row)| {
            row.iter()
                .filter(|(kind, _)| !is_reference(*kind))
                .flat_map(move |(kind, outcome)| {
                    outcome
                        .checks
                        .iter()
                        .filter(|c| c.hard && c.pass == Some(false))
                        .map(move |c| {
                            format!("{} on {kind}: {} ({})", scenario.name(), c.target, c.value)
                        })
                })
        })
        .collect();
    for failure in &failed {
        eprintln!("hard target failed: {failure}");
    }
    Ok(failed.is_empty())
}
