//! The results of a run, and their reports: a Markdown table per
//! configuration (medians, with Albany's figures as ratios to raw hyper)
//! and the raw per-round numbers as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use albany_bench::{Family, Runtime, ServerKind};
use serde_json::{json, Map, Value};

use crate::plan::{thousands, Better, Config, Measurement, Metric, Plan, MIN_TRANSFERS};
use crate::setup::Machine;

/// One figure of one round.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// The round, from 1.
    pub(crate) round: usize,
    /// The configuration.
    pub(crate) config: Config,
    /// The server.
    pub(crate) server: ServerKind,
    /// What was measured.
    pub(crate) metric: Metric,
    /// The figure, in the metric's unit.
    pub(crate) value: f64,
}

/// A measurement that failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The round, from 1.
    pub(crate) round: usize,
    /// The configuration.
    pub(crate) config: Config,
    /// The server.
    pub(crate) server: ServerKind,
    /// The measurement.
    pub(crate) measurement: Measurement,
    /// What went wrong.
    pub(crate) message: String,
}

/// Everything a run produced.
#[derive(Debug)]
pub(crate) struct Results {
    /// The sizes and durations.
    pub(crate) plan: Plan,
    /// Whether it was a `--quick` run.
    pub(crate) quick: bool,
    /// The machine.
    pub(crate) machine: Machine,
    /// The servers, in column order.
    pub(crate) servers: Vec<ServerKind>,
    /// The configurations that ran.
    pub(crate) configs: Vec<Config>,
    /// Every figure of every round.
    pub(crate) samples: Vec<Sample>,
    /// Measurements that failed.
    pub(crate) failures: Vec<Failure>,
    /// Things worth knowing that are not failures (socket errors under
    /// load, skipped configurations).
    pub(crate) warnings: Vec<String>,
    /// How long the run took.
    pub(crate) elapsed: Duration,
}

impl Results {
    /// The median of a figure over the rounds, if it was measured.
    pub(crate) fn median(&self, config: Config, server: ServerKind, metric: Metric) -> Option<f64> {
        let mut values: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.config == config && s.server == server && s.metric == metric)
            .map(|s| s.value)
            .collect();
        median(&mut values)
    }

    /// Whether `server` is expected to have `metric` (HTTP/2 rows for
    /// servers without h2c, allocations for peers: `n/a`).
    fn applies(server: ServerKind, metric: Metric) -> bool {
        match metric {
            Metric::Allocations => server.alloc_route(),
            Metric::Rps(load) | Metric::P50(load) | Metric::P99(load) | Metric::LoadRss(load) => {
                match load {
                    crate::plan::Load::H2 => server.http2(),
                    crate::plan::Load::NewConnections => server.is_tls(),
                    crate::plan::Load::H1(_) => true,
                }
            }
            Metric::Threads => server.is_proxy(),
            Metric::CpuPerRequest(_) => server.is_tls() || server.is_compat(),
            _ => true,
        }
    }

    /// The Markdown report.
    pub(crate) fn markdown(&self) -> String {
        let plan = &self.plan;
        let mut out = String::new();
        let kind = if self.quick { "quick run" } else { "full run" };
        let _ = writeln!(out, "# Albany benchmark results\n");
        let _ = writeln!(
            out,
            "Measured {} by `benches/run.sh{}` ({kind}: {} round{}, servers interleaved in each round; \
             every figure is the median over the rounds). The run took {}.\n",
            self.machine.date,
            if self.quick { " --quick" } else { "" },
            plan.rounds,
            if plan.rounds == 1 { "" } else { "s" },
            minutes(self.elapsed),
        );
        let _ = writeln!(
            out,
            "Machine: {}, {} CPUs, {}, {}.\n",
            self.machine.cpu, self.machine.cores, self.machine.kernel, self.machine.rustc
        );
        let _ = writeln!(
            out,
            "Each figure comes from a fresh server process on 127.0.0.1. Load: `wrk --latency` \
             (HTTP/1.1 keep-alive) and `h2load` (HTTP/2 prior knowledge), {} s per run, on `GET /` \
             (`Hello, world!`). Streams: a {} MiB chunked `GET /download` and a {} MiB \
             `Content-Length` `POST /upload` through a plain `std::net` client, each repeated on \
             new connections for {} s (at least {} times) and reported as the median rate. Peak \
             RSS: `VmHWM` after a load run, `VmRSS` sampled every 10 ms during the streams. Idle: \
             {} keep-alive \
             connections that each made one request; bytes per connection = RSS growth / \
             connections. Allocations: {} `GET /` over one connection, counted by a global \
             allocator in `bench-server`. See `benches/README.md`.\n",
            plan.load_seconds,
            plan.stream_bytes >> 20,
            plan.stream_bytes >> 20,
            plan.stream_seconds,
            MIN_TRANSFERS,
            thousands(plan.idle_connections as f64, 0),
            thousands(plan.alloc_gets as f64, 0),
        );
        let _ = writeln!(
            out,
            "Albany's cells read `figure (a · b)`: a = Albany ÷ raw hyper on the same runtime, \
             b = Albany ÷ raw hyper on tokio (albany-tokio has one ratio). For requests/s and \
             MiB/s above 1 is better; for latency, memory and allocations below 1 is better. \
             `n/a`: the server does not offer it; `—`: the measurement failed (see below).\n"
        );
        let origins = self.origin_servers();
        for &config in &self.configs {
            if origins.is_empty() {
                break;
            }
            let _ = writeln!(out, "## {}: {}\n", config.name(), config.description());
            out.push_str(&self.table(config, &origins, &Metric::origin()));
            out.push('\n');
            if let Some(spread) = self.spread(config, &origins, &Metric::origin()) {
                let _ = writeln!(out, "{spread}\n");
            }
        }
        out.push_str(&crate::proxy::markdown(self));
        out.push_str(&crate::tls::markdown(self));
        out.push_str(&crate::compat::markdown(self));
        out.push_str(&crate::targets::markdown(self));
        if !self.failures.is_empty() {
            let _ = writeln!(out, "## Failures\n");
            for failure in &self.failures {
                let _ = writeln!(
                    out,
                    "- round {}, {}, {}, {}: {}",
                    failure.round,
                    failure.config,
                    failure.server,
                    failure.measurement,
                    failure.message.replace('\n', " ")
                );
            }
            out.push('\n');
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "## Warnings\n");
            for warning in &self.warnings {
                let _ = writeln!(out, "- {warning}");
            }
            out.push('\n');
        }
        out
    }

    /// The origin servers measured, in column order.
    pub(crate) fn origin_servers(&self) -> Vec<ServerKind> {
        self.servers
            .iter()
            .copied()
            .filter(|server| !server.is_proxy() && !server.is_tls() && !server.is_compat())
            .collect()
    }

    /// The compat servers measured, in column order.
    pub(crate) fn compat_servers(&self) -> Vec<ServerKind> {
        self.servers
            .iter()
            .copied()
            .filter(|server| server.is_compat())
            .collect()
    }

    /// The TLS servers measured, in column order.
    pub(crate) fn tls_servers(&self) -> Vec<ServerKind> {
        self.servers
            .iter()
            .copied()
            .filter(|server| server.is_tls())
            .collect()
    }

    /// The proxies measured, in column order.
    pub(crate) fn proxy_servers(&self) -> Vec<ServerKind> {
        self.servers
            .iter()
            .copied()
            .filter(|server| server.is_proxy())
            .collect()
    }

    /// How much the figures of `config`, `servers` and `metrics` moved
    /// between rounds: the median and 90th percentile, over all figures, of
    /// (max − min) / median.
    pub(crate) fn spread(
        &self,
        config: Config,
        servers: &[ServerKind],
        metrics: &[Metric],
    ) -> Option<String> {
        let mut spreads = Vec::new();
        for &server in servers {
            for &metric in metrics {
                let mut values: Vec<f64> = self
                    .samples
                    .iter()
                    .filter(|s| s.config == config && s.server == server && s.metric == metric)
                    .map(|s| s.value)
                    .collect();
                if values.len() < 2 {
                    continue;
                }
                let (min, max) = values
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                match median(&mut values) {
                    Some(mid) if mid != 0.0 => spreads.push((max - min) / mid.abs()),
                    _ => {}
                }
            }
        }
        if spreads.is_empty() {
            return None;
        }
        spreads.sort_by(f64::total_cmp);
        let p90 =
            spreads[((spreads.len() as f64 * 0.9).ceil() as usize).clamp(1, spreads.len()) - 1];
        Some(format!(
            "Run-to-run spread of these figures, (max − min) / median over the rounds: median {:.0} %, \
             90th percentile {:.0} % (over {} figures). Differences smaller than that are noise.",
            median(&mut spreads).unwrap_or(0.0) * 100.0,
            p90 * 100.0,
            spreads.len()
        ))
    }

    /// A table of `config`: a row per metric, a column per server.
    pub(crate) fn table(
        &self,
        config: Config,
        servers: &[ServerKind],
        metrics: &[Metric],
    ) -> String {
        let mut out = String::from("| figure |");
        for server in servers {
            let _ = write!(out, " {server} |");
        }
        out.push_str("\n| --- |");
        for _ in servers {
            out.push_str(" ---: |");
        }
        out.push('\n');
        for &metric in metrics {
            let _ = write!(out, "| {} |", metric.label(&self.plan));
            for &server in servers {
                let _ = write!(out, " {} |", self.cell(config, server, metric));
            }
            out.push('\n');
        }
        out
    }

    /// A median, with Albany's ratios: to raw hyper on the same runtime and
    /// on tokio, or for a proxy to the raw hyper proxy, for a TLS server to
    /// raw hyper with tokio-rustls.
    fn cell(&self, config: Config, server: ServerKind, metric: Metric) -> String {
        if !Self::applies(server, metric) {
            return "n/a".to_owned();
        }
        let Some(value) = self.median(config, server, metric) else {
            return "—".to_owned();
        };
        let mut cell = thousands(value, metric.decimals());
        if server.family() == Family::Albany && metric != Metric::Threads {
            let ratio = |baseline: ServerKind| {
                self.median(config, baseline, metric)
                    .filter(|&b| b != 0.0)
                    .map_or_else(|| "–".to_owned(), |b| format!("{:.2}", value / b))
            };
            let same = ratio(server.hyper_baseline());
            if server.runtime() == Runtime::Tokio || server.is_proxy() || server.is_tls() {
                let _ = write!(cell, " ({same})");
            } else {
                let _ = write!(cell, " ({same} · {})", ratio(ServerKind::HyperTokio));
            }
        }
        cell
    }

    /// The JSON document: the machine, the plan, every sample, the
    /// medians, failures and warnings.
    pub(crate) fn json(&self) -> Value {
        let samples: Vec<Value> = self
            .samples
            .iter()
            .map(|s| {
                json!({
                    "round": s.round,
                    "config": s.config.name(),
                    "server": s.server.name(),
                    "metric": s.metric.key(),
                    "value": s.value,
                })
            })
            .collect();
        let mut medians = Map::new();
        for &config in &self.configs {
            let mut by_server = Map::new();
            for &server in &self.servers {
                let mut figures = Map::new();
                for metric in Metric::all() {
                    if let Some(value) = self.median(config, server, metric) {
                        figures.insert(metric.key(), json!(value));
                    }
                }
                by_server.insert(server.name().to_owned(), Value::Object(figures));
            }
            medians.insert(config.name().to_owned(), Value::Object(by_server));
        }
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| {
                json!({
                    "round": f.round,
                    "config": f.config.name(),
                    "server": f.server.name(),
                    "measurement": f.measurement.to_string(),
                    "message": f.message,
                })
            })
            .collect();
        let units: Map<String, Value> = Metric::all()
            .into_iter()
            .map(|m| {
                let better = match m.better() {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                };
                (
                    m.key(),
                    json!({ "label": m.label(&self.plan), "better": better }),
                )
            })
            .collect();
        json!({
            "date": self.machine.date,
            "machine": {
                "cpu": self.machine.cpu,
                "cores": self.machine.cores,
                "kernel": self.machine.kernel,
                "rustc": self.machine.rustc,
            },
            "quick": self.quick,
            "plan": {
                "rounds": self.plan.rounds,
                "load_seconds": self.plan.load_seconds,
                "stream_bytes": self.plan.stream_bytes,
                "idle_connections": self.plan.idle_connections,
                "alloc_gets": self.plan.alloc_gets,
            },
            "configs": self.configs.iter().map(|c| json!({
                "name": c.name(),
                "description": c.description(),
                "server_threads": c.server_threads(),
            })).collect::<Vec<_>>(),
            "servers": self.servers.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "metrics": units,
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "samples": samples,
            "medians": medians,
            "proxy": crate::proxy::json(self),
            "tls": crate::tls::json(self),
            "compat": crate::compat::json(self),
            "failures": failures,
            "warnings": self.warnings,
        })
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// `12 min 34 s`.
pub(crate) fn minutes(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-round quick-run result, pinned, with these medians.
    pub(crate) fn results_with(figures: Vec<(ServerKind, Metric, f64)>) -> Results {
        let mut servers: Vec<ServerKind> = figures.iter().map(|&(server, _, _)| server).collect();
        servers.sort_by_key(|server| server.name());
        servers.dedup();
        Results {
            plan: Plan::new(true, 1),
            quick: true,
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
                kernel: "k".into(),
                rustc: "r".into(),
                date: "d".into(),
            },
            servers,
            configs: vec![Config::Pinned],
            samples: figures
                .into_iter()
                .map(|(server, metric, value)| Sample {
                    round: 1,
                    config: Config::Pinned,
                    server,
                    metric,
                    value,
                })
                .collect(),
            failures: Vec::new(),
            warnings: Vec::new(),
            elapsed: Duration::from_secs(61),
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn ratios_in_albany_cells() {
        let results = results_with(vec![
            (ServerKind::AlbanySmol, Metric::DownloadRate, 90.0),
            (ServerKind::HyperSmol, Metric::DownloadRate, 100.0),
            (ServerKind::HyperTokio, Metric::DownloadRate, 120.0),
        ]);
        let results = Results {
            servers: vec![
                ServerKind::AlbanySmol,
                ServerKind::HyperTokio,
                ServerKind::HyperSmol,
            ],
            ..results
        };
        assert_eq!(
            results.cell(Config::Pinned, ServerKind::AlbanySmol, Metric::DownloadRate),
            "90 (0.90 · 0.75)"
        );
        assert_eq!(
            results.cell(Config::Pinned, ServerKind::AlbanySmol, Metric::UploadRate),
            "—"
        );
        let spread =
            |results: &Results| results.spread(Config::Pinned, &results.servers, &Metric::all());
        assert!(spread(&results).is_none());
        let mut two_rounds = results.samples.clone();
        two_rounds.push(Sample {
            round: 2,
            value: 110.0,
            ..results.samples[1]
        });
        let results = Results {
            samples: two_rounds,
            ..results
        };
        assert!(spread(&results)
            .unwrap()
            .contains("median 10 %, 90th percentile 10 % (over 1 figures)"));
        let markdown = results.markdown();
        assert!(markdown.contains("| figure | albany-smol | hyper-tokio | hyper-smol |"));
        assert!(markdown.contains("1 min 1 s"));
        assert_eq!(
            results.json()["medians"]["pinned"]["hyper-smol"]["download_mib_per_s"],
            105.0
        );
    }
}
