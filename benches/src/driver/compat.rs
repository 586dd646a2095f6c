//! The tokio compatibility row: each adapter serving Albany's application
//! wrapped in `albany_compat::compat` (`compat-albany-*`), against the same
//! adapter serving it without the wrapper (`albany-*`), in the same run.
//!
//! The measurements are the origin servers' load runs and allocation count
//! ([`crate::plan::Measurement::compat`]), with the server's CPU time per
//! request read from `/proc` around each load run: on a shared machine the
//! CPU a request costs moves less than the requests per second.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::plan::{thousands, Config, Load, Metric, COMPAT_CONNECTIONS};
use crate::report::Results;

/// The figure of `server` and the one of the same adapter without compat
/// (both medians), when both were measured.
fn pair(
    results: &Results,
    config: Config,
    server: albany_bench::ServerKind,
    metric: Metric,
) -> Option<(f64, f64)> {
    let plain = server.without_compat()?;
    Some((
        results.median(config, server, metric)?,
        results.median(config, plain, metric)?,
    ))
}

/// A cell: `figure (ratio)`, ratio = with compat ÷ without, and for the
/// CPU per request and allocations the difference too.
fn cell(
    results: &Results,
    config: Config,
    server: albany_bench::ServerKind,
    metric: Metric,
) -> String {
    let Some(value) = results.median(config, server, metric) else {
        return "—".to_owned();
    };
    let mut cell = thousands(value, metric.decimals());
    match pair(results, config, server, metric) {
        Some((_, plain)) if plain != 0.0 => {
            let ratio = value / plain;
            match metric {
                Metric::CpuPerRequest(_) => {
                    let _ = write!(cell, " ({ratio:.2}, {:+.2} µs)", value - plain);
                }
                Metric::Allocations => {
                    let _ = write!(cell, " ({ratio:.2}, {:+.1})", value - plain);
                }
                _ => {
                    let _ = write!(cell, " ({ratio:.2})");
                }
            }
        }
        _ => cell.push_str(" (–)"),
    }
    cell
}

/// The "tokio compatibility" section of the report: a table per
/// configuration, a column per compat server with the adapter it is
/// compared with beside it. Empty when no compat server ran.
pub(crate) fn markdown(results: &Results) -> String {
    let servers = results.compat_servers();
    if servers.is_empty() {
        return String::new();
    }
    let plan = &results.plan;
    let mut out = String::from("## tokio compatibility (albany-compat)\n\n");
    let _ = writeln!(
        out,
        "`compat-albany-*`: each adapter serving the origin servers' application wrapped in \
         `albany_compat::compat`, which polls every request's future and response body inside \
         tokio's context (async-compat: the adapter's runtime on tokio, elsewhere a \
         current-thread tokio runtime on a thread of its own). The application itself does not \
         use tokio: the figures are the wrapper's cost. Load: `wrk --latency` with \
         {COMPAT_CONNECTIONS} HTTP/1.1 connections and `h2load`, {} s, on `GET /`; CPU per \
         request: the server's user + system time during the load run ÷ the requests \
         answered. Cells read `figure (ratio)`: ratio = with compat ÷ the same adapter without \
         it (its column), in the same run; for CPU and allocations also the difference per \
         request. See `benches/README.md`.\n",
        plan.load_seconds,
    );
    let metrics = Metric::compat();
    let mut columns = Vec::new();
    for &server in &servers {
        if let Some(plain) = server.without_compat() {
            columns.push((plain, false));
        }
        columns.push((server, true));
    }
    for &config in &results.configs {
        let _ = writeln!(out, "### {}: {}\n", config.name(), config.description());
        out.push_str("| figure |");
        for (server, _) in &columns {
            let _ = write!(out, " {server} |");
        }
        out.push_str("\n| --- |");
        for _ in &columns {
            out.push_str(" ---: |");
        }
        out.push('\n');
        for &metric in &metrics {
            let _ = write!(out, "| {} |", metric.label(plan));
            for &(server, compat) in &columns {
                let text = if compat {
                    cell(results, config, server, metric)
                } else {
                    results
                        .median(config, server, metric)
                        .map_or_else(|| "—".to_owned(), |v| thousands(v, metric.decimals()))
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push('\n');
        let measured: Vec<_> = columns.iter().map(|&(server, _)| server).collect();
        if let Some(spread) = results.spread(config, &measured, &metrics) {
            let _ = writeln!(out, "{spread}\n");
        }
    }
    out
}

/// The row in `results.json` (its figures are also among the medians):
/// for each configuration and compat server, the ratios to the adapter
/// without compat and the added CPU per request (µs) and allocations.
pub(crate) fn json(results: &Results) -> Value {
    let mut configs = Map::new();
    for &config in &results.configs {
        let mut by_server = Map::new();
        for server in results.compat_servers() {
            let mut figures = Map::new();
            for load in [Load::H1(COMPAT_CONNECTIONS), Load::H2] {
                let rps = Metric::Rps(load);
                let ratio = pair(results, config, server, rps)
                    .and_then(|(value, plain)| (plain != 0.0).then(|| value / plain));
                figures.insert(format!("{}_to_without_compat", rps.key()), json!(ratio));
                let cpu = Metric::CpuPerRequest(load);
                let added = pair(results, config, server, cpu).map(|(value, plain)| value - plain);
                figures.insert(format!("{}_added", cpu.key()), json!(added));
            }
            let added = pair(results, config, server, Metric::Allocations)
                .map(|(value, plain)| value - plain);
            figures.insert("allocations_added".to_owned(), json!(added));
            figures.insert(
                "without_compat".to_owned(),
                json!(server.without_compat().map(|s| s.name())),
            );
            by_server.insert(server.name().to_owned(), Value::Object(figures));
        }
        configs.insert(config.name().to_owned(), Value::Object(by_server));
    }
    json!({ "connections": COMPAT_CONNECTIONS, "configs": configs })
}

#[cfg(test)]
mod tests {
    use albany_bench::ServerKind;

    use super::*;
    use crate::report::tests::results_with;

    #[test]
    fn section_with_ratios_to_the_adapter_without_compat() {
        let h1 = Load::H1(64);
        let results = results_with(vec![
            (ServerKind::AlbanySmol, Metric::Rps(h1), 100_000.0),
            (ServerKind::CompatAlbanySmol, Metric::Rps(h1), 90_000.0),
            (ServerKind::AlbanySmol, Metric::CpuPerRequest(h1), 10.0),
            (
                ServerKind::CompatAlbanySmol,
                Metric::CpuPerRequest(h1),
                11.5,
            ),
            (ServerKind::AlbanySmol, Metric::Allocations, 20.0),
            (ServerKind::CompatAlbanySmol, Metric::Allocations, 21.0),
        ]);
        let markdown = markdown(&results);
        assert!(
            markdown.contains("| figure | albany-smol | compat-albany-smol |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| HTTP/1.1, 64 connections: requests/s | 100,000 | 90,000 (0.90) |"),
            "{markdown}"
        );
        assert!(markdown.contains("11.5 (1.15, +1.50 µs)"), "{markdown}");
        assert!(markdown.contains("21.0 (1.05, +1.0)"), "{markdown}");
        let json = json(&results);
        let smol = &json["configs"]["pinned"]["compat-albany-smol"];
        assert_eq!(smol["http1_64_rps_to_without_compat"], 0.9);
        assert_eq!(smol["allocations_added"], 1.0);
        // The origin table has the plain adapter only.
        let report = results.markdown();
        assert!(report.contains("| figure | albany-smol |\n"), "{report}");
    }

    #[test]
    fn no_section_without_compat_servers() {
        let results = results_with(vec![(ServerKind::AlbanySmol, Metric::RestRss, 4.0)]);
        assert_eq!(markdown(&results), "");
    }
}
