//! The benchmark's targets, checked against a run's medians: what each
//! Albany figure must reach, and whether it did. The report prints them
//! after the tables (benches/README.md, "Targets").

use std::fmt::Write as _;

use albany_bench::{Runtime, ServerKind};

use crate::plan::{Config, Load, Metric, PROXY_CONNECTIONS, TLS_CONNECTIONS};
use crate::report::Results;

/// The Albany servers.
const ALBANY: [ServerKind; 3] = [
    ServerKind::AlbanyTokio,
    ServerKind::AlbanyAsyncStd,
    ServerKind::AlbanySmol,
];

/// The Albany servers on async-io.
const ALBANY_ASYNC_IO: [ServerKind; 2] = [ServerKind::AlbanyAsyncStd, ServerKind::AlbanySmol];

/// The `proxy` example on each adapter.
const ALBANY_PROXIES: [ServerKind; 3] = [
    ServerKind::ProxyAlbanyTokio,
    ServerKind::ProxyAlbanyAsyncStd,
    ServerKind::ProxyAlbanySmol,
];

/// Albany over HTTPS on each adapter.
const ALBANY_TLS: [ServerKind; 3] = [
    ServerKind::TlsAlbanyTokio,
    ServerKind::TlsAlbanyAsyncStd,
    ServerKind::TlsAlbanySmol,
];

/// The server an Albany figure is compared with.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// Raw hyper on the Albany server's runtime.
    Hyper,
    /// Raw hyper on tokio.
    HyperTokio,
    /// Trillium on the Albany server's runtime.
    Trillium,
    /// The raw hyper proxy on tokio, for the Albany proxies.
    HyperProxy,
    /// Raw hyper on tokio with tokio-rustls, for Albany over HTTPS.
    HyperTls,
}

impl Reference {
    fn server(self, albany: ServerKind) -> ServerKind {
        match self {
            Reference::Hyper => albany.hyper_baseline(),
            Reference::HyperTokio => ServerKind::HyperTokio,
            Reference::Trillium => match albany.runtime() {
                Runtime::Tokio => ServerKind::TrilliumTokio,
                Runtime::AsyncStd => ServerKind::TrilliumAsyncStd,
                Runtime::Smol => ServerKind::TrilliumSmol,
            },
            Reference::HyperProxy => ServerKind::ProxyHyperTokio,
            Reference::HyperTls => ServerKind::TlsHyperTokio,
        }
    }
}

/// How a target compares.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Albany's figure ÷ the reference's ≥ the factor.
    RatioAtLeast(Reference, f64),
    /// Albany's figure > the reference's.
    Above(Reference),
    /// Albany's figure ÷ its own figure of another metric < the factor.
    OwnRatioBelow(Metric, f64),
    /// Albany's figure − the reference's ≤ the margin.
    AtMostMore(Reference, f64),
}

/// One target: a rule, the servers and the metrics it applies to.
struct Target {
    /// The target in words.
    text: &'static str,
    servers: &'static [ServerKind],
    metrics: Vec<Metric>,
    rule: Rule,
}

fn targets() -> Vec<Target> {
    let rps: Vec<Metric> = Load::all().into_iter().map(Metric::Rps).collect();
    let streams = vec![Metric::DownloadRate, Metric::UploadRate];
    vec![
        Target {
            text: "requests/s ≥ 0.97 × raw hyper on tokio",
            servers: &[ServerKind::AlbanyTokio],
            metrics: rps.clone(),
            rule: Rule::RatioAtLeast(Reference::Hyper, 0.97),
        },
        Target {
            text: "requests/s ≥ 0.95 × raw hyper on the same runtime",
            servers: &ALBANY_ASYNC_IO,
            metrics: rps.clone(),
            rule: Rule::RatioAtLeast(Reference::Hyper, 0.95),
        },
        Target {
            text: "requests/s above trillium on the same runtime",
            servers: &ALBANY_ASYNC_IO,
            metrics: rps.clone(),
            rule: Rule::Above(Reference::Trillium),
        },
        Target {
            text: "requests/s ≥ 0.90 × raw hyper on tokio",
            servers: &ALBANY_ASYNC_IO,
            metrics: rps,
            rule: Rule::RatioAtLeast(Reference::HyperTokio, 0.90),
        },
        Target {
            text: "stream MiB/s ≥ 0.95 × raw hyper on the same runtime",
            servers: &ALBANY,
            metrics: streams,
            rule: Rule::RatioAtLeast(Reference::Hyper, 0.95),
        },
        Target {
            text: "peak RSS during a stream < 2 × RSS at rest",
            servers: &ALBANY,
            metrics: vec![Metric::DownloadRss, Metric::UploadRss],
            rule: Rule::OwnRatioBelow(Metric::RestRss, 2.0),
        },
        Target {
            text: "heap allocations per GET ≤ raw hyper's + 1",
            servers: &ALBANY,
            metrics: vec![Metric::Allocations],
            rule: Rule::AtMostMore(Reference::Hyper, 1.0),
        },
        Target {
            text: "proxy requests/s ≥ 0.90 × the raw hyper-on-tokio proxy",
            servers: &ALBANY_PROXIES,
            metrics: vec![Metric::Rps(Load::H1(PROXY_CONNECTIONS))],
            rule: Rule::RatioAtLeast(Reference::HyperProxy, 0.90),
        },
        Target {
            text: "peak RSS during a proxied stream < 2 × RSS at rest",
            servers: &ALBANY_PROXIES,
            metrics: vec![Metric::DownloadRss],
            rule: Rule::OwnRatioBelow(Metric::RestRss, 2.0),
        },
        Target {
            text: "TLS requests/s ≥ 0.95 × raw hyper with tokio-rustls",
            servers: &ALBANY_TLS,
            metrics: vec![
                Metric::Rps(Load::H1(TLS_CONNECTIONS)),
                Metric::Rps(Load::H2),
                Metric::Rps(Load::NewConnections),
            ],
            rule: Rule::RatioAtLeast(Reference::HyperTls, 0.95),
        },
    ]
}

/// A metric's name in a target's row.
fn short(metric: Metric) -> String {
    match metric {
        Metric::Rps(Load::H1(connections)) => format!("HTTP/1.1 {connections}"),
        Metric::Rps(Load::H2) => "HTTP/2".to_owned(),
        Metric::Rps(Load::NewConnections) => "new connections".to_owned(),
        Metric::DownloadRate | Metric::DownloadRss => "download".to_owned(),
        Metric::UploadRate | Metric::UploadRss => "upload".to_owned(),
        Metric::Allocations => "allocations".to_owned(),
        other => other.key(),
    }
}

/// The figure a rule compares, as shown, and whether the target is met;
/// `None` when a figure is missing.
fn check(
    results: &Results,
    config: Config,
    server: ServerKind,
    metric: Metric,
    rule: Rule,
) -> Option<(String, bool)> {
    let value = results.median(config, server, metric)?;
    let reference = |reference: Reference| results.median(config, reference.server(server), metric);
    match rule {
        Rule::RatioAtLeast(to, factor) => {
            let ratio = value / reference(to).filter(|&r| r != 0.0)?;
            Some((format!("{ratio:.2}"), ratio >= factor))
        }
        Rule::Above(to) => {
            let reference = reference(to).filter(|&r| r != 0.0)?;
            Some((format!("{:.2}", value / reference), value > reference))
        }
        Rule::OwnRatioBelow(of, factor) => {
            let ratio = value / results.median(config, server, of).filter(|&r| r != 0.0)?;
            Some((format!("{ratio:.2}"), ratio < factor))
        }
        Rule::AtMostMore(to, margin) => {
            let more = value - reference(to)?;
            Some((format!("{more:+.1}"), more <= margin))
        }
    }
}

/// The "Targets" section of the report: a row per target, server and
/// configuration, each figure marked met (✓) or missed (✗), and a count.
pub(crate) fn markdown(results: &Results) -> String {
    let mut out = String::from("## Targets\n\n");
    out.push_str(
        "Each target checked on the medians above. Figures are Albany ÷ the reference \
         (requests/s, MiB/s), peak ÷ rest (RSS), or Albany − raw hyper (allocations); \
         ✓ met, ✗ missed, `—` a figure is missing.\n\n",
    );
    out.push_str("| target | server | configuration | figures |\n| --- | --- | --- | --- |\n");
    let (mut met, mut checked) = (0, 0);
    for target in targets() {
        for &server in target.servers {
            if !results.servers.contains(&server) {
                continue;
            }
            for &config in &results.configs {
                let mut figures = Vec::new();
                for &metric in &target.metrics {
                    let figure = match check(results, config, server, metric, target.rule) {
                        Some((shown, ok)) => {
                            checked += 1;
                            met += usize::from(ok);
                            format!("{} {shown} {}", short(metric), if ok { "✓" } else { "✗" })
                        }
                        None => format!("{} —", short(metric)),
                    };
                    figures.push(figure);
                }
                let _ = writeln!(
                    out,
                    "| {} | {server} | {} | {} |",
                    target.text,
                    config.name(),
                    figures.join(" · ")
                );
            }
        }
    }
    let _ = writeln!(out, "\nMet: {met} of {checked} checks.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::tests::results_with;

    #[test]
    fn marks_met_and_missed() {
        let results = results_with(vec![
            (ServerKind::AlbanyTokio, Metric::Rps(Load::H1(64)), 96.0),
            (ServerKind::HyperTokio, Metric::Rps(Load::H1(64)), 100.0),
            (ServerKind::AlbanyTokio, Metric::Rps(Load::H2), 98.0),
            (ServerKind::HyperTokio, Metric::Rps(Load::H2), 100.0),
            (ServerKind::AlbanyTokio, Metric::Allocations, 7.0),
            (ServerKind::HyperTokio, Metric::Allocations, 4.0),
            (ServerKind::AlbanyTokio, Metric::DownloadRss, 5.0),
            (ServerKind::AlbanyTokio, Metric::RestRss, 4.0),
        ]);
        let markdown = markdown(&results);
        assert!(markdown.contains("HTTP/1.1 64 0.96 ✗"), "{markdown}");
        assert!(markdown.contains("HTTP/1.1 256 —"), "{markdown}");
        assert!(markdown.contains("HTTP/2 0.98 ✓"), "{markdown}");
        assert!(markdown.contains("allocations +3.0 ✗"), "{markdown}");
        assert!(markdown.contains("download 1.25 ✓"), "{markdown}");
        assert!(markdown.contains("Met: 2 of 4 checks."), "{markdown}");
    }

    #[test]
    fn proxy_targets() {
        let rps = Metric::Rps(Load::H1(64));
        let results = results_with(vec![
            (ServerKind::ProxyAlbanyTokio, rps, 9_500.0),
            (ServerKind::ProxyAlbanySmol, rps, 8_500.0),
            (ServerKind::ProxyHyperTokio, rps, 10_000.0),
            (ServerKind::ProxyAlbanyTokio, Metric::DownloadRss, 7.0),
            (ServerKind::ProxyAlbanyTokio, Metric::RestRss, 4.0),
            (ServerKind::ProxyAlbanySmol, Metric::DownloadRss, 9.0),
            (ServerKind::ProxyAlbanySmol, Metric::RestRss, 4.0),
        ]);
        let markdown = markdown(&results);
        let row = |server: &str, target: &str| {
            markdown
                .lines()
                .find(|line| line.contains(target) && line.contains(&format!("| {server} |")))
                .unwrap_or_else(|| panic!("no {target} row for {server}:\n{markdown}"))
                .to_owned()
        };
        let proxy_rps = "proxy requests/s ≥ 0.90 × the raw hyper-on-tokio proxy";
        let proxy_rss = "peak RSS during a proxied stream < 2 × RSS at rest";
        assert!(row("proxy-albany-tokio", proxy_rps).contains("HTTP/1.1 64 0.95 ✓"));
        assert!(row("proxy-albany-smol", proxy_rps).contains("HTTP/1.1 64 0.85 ✗"));
        assert!(row("proxy-albany-tokio", proxy_rss).contains("download 1.75 ✓"));
        assert!(row("proxy-albany-smol", proxy_rss).contains("download 2.25 ✗"));
        // Not measured: listed only for the servers that ran.
        assert!(!markdown.contains("proxy-albany-async-std"), "{markdown}");
        // The baseline has no targets of its own.
        assert!(!markdown.contains("| proxy-hyper-tokio |"), "{markdown}");
        assert!(markdown.contains("Met: 2 of 4 checks."), "{markdown}");
    }

    #[test]
    fn tls_targets() {
        let results = results_with(vec![
            (ServerKind::TlsAlbanyTokio, Metric::Rps(Load::H1(64)), 96.0),
            (ServerKind::TlsAlbanyTokio, Metric::Rps(Load::H2), 90.0),
            (
                ServerKind::TlsAlbanyTokio,
                Metric::Rps(Load::NewConnections),
                1_000.0,
            ),
            (ServerKind::TlsHyperTokio, Metric::Rps(Load::H1(64)), 100.0),
            (ServerKind::TlsHyperTokio, Metric::Rps(Load::H2), 100.0),
            (
                ServerKind::TlsHyperTokio,
                Metric::Rps(Load::NewConnections),
                1_000.0,
            ),
            // Without TLS: not compared with the TLS baseline.
            (ServerKind::AlbanyTokio, Metric::Rps(Load::H1(64)), 50.0),
        ]);
        let markdown = markdown(&results);
        let row = markdown
            .lines()
            .find(|line| line.contains("| tls-albany-tokio |"))
            .unwrap_or_else(|| panic!("no TLS row:\n{markdown}"));
        assert!(
            row.starts_with("| TLS requests/s ≥ 0.95 × raw hyper with tokio-rustls | tls-albany-tokio | pinned |"),
            "{row}"
        );
        assert!(
            row.contains("HTTP/1.1 64 0.96 ✓ · HTTP/2 0.90 ✗ · new connections 1.00 ✓"),
            "{row}"
        );
        assert!(!markdown.contains("| tls-hyper-tokio |"), "{markdown}");
        assert!(!markdown.contains("tls-albany-smol"), "{markdown}");
    }
}
