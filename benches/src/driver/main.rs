//! `albany-bench`: the benchmark driver. It builds `bench-server`, starts
//! each server as a child process for each measurement, drives it with
//! `wrk`, `h2load` and its own `std::net` clients, interleaving servers
//! round by round, and writes `RESULTS.md` and `results.json`.
//!
//! ```text
//! cargo run --release -p albany-bench -- [--quick] [--servers a,b,...] [--rounds 3] [--out benches/RESULTS.md]
//! ```
//!
//! `benches/run.sh` installs the tools first; see `benches/README.md`.

mod allocs;
mod cli;
mod command;
mod compat;
mod error;
mod http;
mod idle;
mod load;
mod plan;
mod proxy;
mod report;
mod rss;
mod server;
mod setup;
mod stream;
mod targets;
mod tls;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use albany_bench::ServerKind;

use crate::error::{Context, Result};
use crate::load::LoadSpec;
use crate::plan::{Config, Load, Measurement, Metric, Plan};
use crate::report::{Failure, Results, Sample};
use crate::server::{Binaries, ServerProcess};

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            if error.is_empty() {
                print!("{}", cli::USAGE);
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: some measurements failed (listed in the report)");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark; `Ok(false)` when some measurement failed.
fn run(options: &cli::Options) -> Result<bool> {
    let started = Instant::now();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build of the driver measures debug servers; use --release");
    }
    setup::check_tools()?;
    let plan = Plan::new(options.quick, options.rounds);
    // The driver's connections, the server's, and some to spare.
    setup::raise_file_limit(plan.idle_connections as u64 + 512)?;
    let proxy_example = options.servers.iter().any(|s| s.is_proxy_example());
    if !options.no_build {
        setup::build(proxy_example)?;
    }
    let mut binaries = setup::binaries(proxy_example)?;
    if options.servers.iter().any(|s| s.is_tls()) {
        let dir = command::scratch_dir().join("tls");
        binaries.certificate = Some(tls::Certificate::generate(&dir)?);
    }
    let (out, json_out) = output_paths(options);
    let machine = setup::Machine::describe();
    let all_cpus = setup::allowed_cpus()?;

    let mut results = Results {
        plan,
        quick: options.quick,
        machine,
        servers: options.servers.clone(),
        configs: options.configs.clone(),
        samples: Vec::new(),
        failures: Vec::new(),
        warnings: Vec::new(),
        elapsed: started.elapsed(),
    };
    if results.machine.cores < 2 && results.configs.contains(&Config::Pinned) {
        results.configs.retain(|&c| c != Config::Pinned);
        results
            .warnings
            .push("pinned configuration skipped: it needs 2 CPUs".to_owned());
    }
    let unpinned_threads = Config::Unpinned.server_threads();
    if results.servers.contains(&ServerKind::ProxyAlbanySmol)
        && results.configs.contains(&Config::Unpinned)
        && results.machine.cores != unpinned_threads
    {
        results.warnings.push(format!(
            "proxy-albany-smol, unpinned: the `proxy` example runs one executor per CPU ({}), \
             not {unpinned_threads} (albany-smol's `run` reads no thread count)",
            results.machine.cores
        ));
    }
    eprintln!(
        "measuring {} servers × {} configurations × {} rounds",
        results.servers.len(),
        results.configs.len(),
        plan.rounds
    );
    for round in 1..=plan.rounds {
        for config in results.configs.clone() {
            let cpus = config
                .client_cpu()
                .map_or_else(|| all_cpus.clone(), |cpu| cpu.to_string());
            setup::set_affinity(&cpus).context(|| format!("pinning the driver to CPUs {cpus}"))?;
            for server in results.servers.clone() {
                for measurement in Measurement::for_server(server) {
                    let subject = Subject {
                        binaries: &binaries,
                        plan: &plan,
                        round,
                        config,
                        server,
                    };
                    let outcome = measure(&subject, measurement);
                    record(&mut results, &subject, measurement, outcome);
                }
            }
        }
    }
    setup::set_affinity(&all_cpus)?;
    let _ = std::fs::remove_dir_all(command::scratch_dir());
    results.elapsed = started.elapsed();

    let markdown = results.markdown();
    write(&out, &markdown)?;
    let json = serde_json::to_string_pretty(&results.json()).map_err(|e| e.to_string())?;
    write(&json_out, &(json + "\n"))?;
    println!("{markdown}");
    eprintln!(
        "wrote {} and {} in {}",
        out.display(),
        json_out.display(),
        report::minutes(results.elapsed)
    );
    Ok(results.failures.is_empty())
}

/// The Markdown report's path and the JSON file's, beside it.
fn output_paths(options: &cli::Options) -> (PathBuf, PathBuf) {
    let out = match &options.out {
        Some(out) => out.clone(),
        None if options.quick => std::env::temp_dir()
            .join("albany-bench-quick")
            .join("RESULTS.md"),
        None => setup::package_dir().join("RESULTS.md"),
    };
    let json = out.with_file_name("results.json");
    (out, json)
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).context(|| format!("writing {}", path.display()))
}

/// What one measurement needs to know.
struct Subject<'a> {
    binaries: &'a Binaries,
    plan: &'a Plan,
    round: usize,
    config: Config,
    server: ServerKind,
}

/// Adds a measurement's figures (or its failure) to the results, and
/// prints them.
fn record(
    results: &mut Results,
    subject: &Subject<'_>,
    measurement: Measurement,
    outcome: Result<Vec<(Metric, Figure)>>,
) {
    let Subject {
        round,
        config,
        server,
        ..
    } = *subject;
    let figures = match outcome {
        Ok(figures) => figures,
        Err(error) => {
            eprintln!("round {round} {config} {server} {measurement}: FAILED: {error}");
            results.failures.push(Failure {
                round,
                config,
                server,
                measurement,
                message: error.to_string(),
            });
            return;
        }
    };
    if figures.is_empty() {
        return;
    }
    let summary: Vec<String> = figures
        .iter()
        .map(|(metric, figure)| format!("{} {:.2}", metric.key(), figure.value))
        .collect();
    eprintln!(
        "round {round} {config} {server} {measurement}: {}",
        summary.join(", ")
    );
    for (metric, figure) in figures {
        if let Some(warning) = figure.warning {
            results.warnings.push(format!(
                "round {round}, {config}, {server}, {measurement}: {warning}"
            ));
        }
        results.samples.push(Sample {
            round,
            config,
            server,
            metric,
            value: figure.value,
        });
    }
}

/// A figure, with a warning worth reporting.
struct Figure {
    value: f64,
    warning: Option<String>,
}

impl From<f64> for Figure {
    fn from(value: f64) -> Self {
        Figure {
            value,
            warning: None,
        }
    }
}

/// Starts a fresh server (a proxy with a fresh upstream), takes one
/// measurement, kills the server.
fn measure(subject: &Subject<'_>, measurement: Measurement) -> Result<Vec<(Metric, Figure)>> {
    let Subject {
        binaries,
        plan,
        config,
        server,
        ..
    } = *subject;
    if measurement == Measurement::H2 && !server.http2() {
        return Ok(Vec::new());
    }
    if measurement == Measurement::Allocations && !server.alloc_route() {
        return Ok(Vec::new());
    }
    let mut process = ServerProcess::start(binaries, server, config)?;
    let spec = LoadSpec {
        seconds: plan.load_seconds,
        threads: config.load_threads(),
        cpu: config.client_cpu(),
    };
    let figures = match measurement {
        Measurement::H1(connections) => {
            let cpu = server_cpu(&process, server)?;
            let result = load::wrk(&process.url(), connections, spec)?;
            let mut figures = load_figures(&mut process, Load::H1(connections), result)?;
            add_cpu_per_request(&process, cpu, Load::H1(connections), result, &mut figures)?;
            if server.is_proxy() {
                let threads = rss::threads(process.pid())?;
                figures.push((Metric::Threads, (threads as f64).into()));
            }
            figures
        }
        Measurement::H2 => {
            let cpu = server_cpu(&process, server)?;
            let result = load::h2load(&process.url(), spec)?;
            let mut figures = load_figures(&mut process, Load::H2, result)?;
            add_cpu_per_request(&process, cpu, Load::H2, result, &mut figures)?;
            figures
        }
        Measurement::NewConnections => {
            let certificate = binaries
                .certificate
                .as_ref()
                .ok_or_else(|| format!("{server}: the run has no TLS certificate"))?;
            let cpu = server_cpu(&process, server)?;
            let result = tls::new_connections(process.addr(), certificate, spec)?;
            let load = Load::NewConnections;
            let mut figures = load_figures(&mut process, load, result)?;
            add_cpu_per_request(&process, cpu, load, result, &mut figures)?;
            figures
        }
        Measurement::Download if server.is_proxy() => {
            let download = proxy::download(&mut process, plan)?;
            vec![
                (Metric::DownloadRate, download.transfer.mib_per_s.into()),
                (Metric::DownloadRss, download.transfer.peak_rss_mib.into()),
                (Metric::RestRss, download.rest_rss_mib.into()),
            ]
        }
        Measurement::Download => {
            let transfer = stream::download(&mut process, plan)?;
            vec![
                (Metric::DownloadRate, transfer.mib_per_s.into()),
                (Metric::DownloadRss, transfer.peak_rss_mib.into()),
            ]
        }
        Measurement::Upload => {
            let transfer = stream::upload(&mut process, plan)?;
            vec![
                (Metric::UploadRate, transfer.mib_per_s.into()),
                (Metric::UploadRss, transfer.peak_rss_mib.into()),
            ]
        }
        Measurement::Idle => {
            let idle = idle::idle(&mut process, plan.idle_connections)?;
            vec![
                (Metric::IdleBytes, idle.bytes_per_connection.into()),
                (Metric::IdleRss, idle.rss_mib.into()),
                (Metric::RestRss, idle.rest_rss_mib.into()),
            ]
        }
        Measurement::Allocations => {
            vec![(
                Metric::Allocations,
                allocs::per_get(&mut process, plan.alloc_gets)?.into(),
            )]
        }
    };
    process.kill();
    Ok(figures)
}

/// The server's CPU time so far, in ns, for a TLS server (the TLS row's
/// CPU per request) and for a compat server and the adapter it is compared
/// with (the tokio compatibility row's); `None` for the others.
fn server_cpu(process: &ServerProcess, server: ServerKind) -> Result<Option<u64>> {
    let compat_row = ServerKind::COMPAT
        .iter()
        .any(|&compat| compat == server || compat.without_compat() == Some(server));
    if !server.is_tls() && !compat_row {
        return Ok(None);
    }
    rss::cpu_ns(process.pid()).map(Some)
}

/// Adds the server's CPU time since `before` ÷ the requests of `result`,
/// in µs, when `before` was read.
fn add_cpu_per_request(
    process: &ServerProcess,
    before: Option<u64>,
    load: Load,
    result: load::LoadResult,
    figures: &mut Vec<(Metric, Figure)>,
) -> Result<()> {
    let Some(before) = before else {
        return Ok(());
    };
    if result.requests == 0 {
        return Ok(());
    }
    let used = rss::cpu_ns(process.pid())?.saturating_sub(before);
    let per_request = used as f64 / 1000.0 / result.requests as f64;
    figures.push((Metric::CpuPerRequest(load), per_request.into()));
    Ok(())
}

/// The figures of a load run, with the server's peak RSS.
fn load_figures(
    process: &mut ServerProcess,
    load: Load,
    result: load::LoadResult,
) -> Result<Vec<(Metric, Figure)>> {
    process.check_alive()?;
    let peak = rss::status_kib(process.pid(), "VmHWM")?;
    let warning =
        (result.errors > 0).then(|| format!("{} socket errors or failed requests", result.errors));
    Ok(vec![
        (
            Metric::Rps(load),
            Figure {
                value: result.rps,
                warning,
            },
        ),
        (Metric::P50(load), result.p50_ms.into()),
        (Metric::P99(load), result.p99_ms.into()),
        (Metric::LoadRss(load), rss::mib(peak).into()),
    ])
}
