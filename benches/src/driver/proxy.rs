//! The proxy row: requests through the `proxy` example on each adapter
//! and through a raw hyper proxy on tokio (`proxy-hyper-tokio`), every
//! proxy forwarding to a fresh raw hyper upstream (`hyper-tokio`), and the
//! proxy's memory during a proxied stream.
//!
//! The measurements are the origin servers' ([`crate::load`],
//! [`crate::stream`]) on a proxy started with its upstream by
//! [`ServerProcess::start`]; this module adds the proxy's RSS at rest, read
//! in the same process just before its stream, and the report's "Proxy"
//! section.

use std::fmt::Write as _;

use albany_bench::{Family, ServerKind, PROXY_TIMEOUT_SECS};
use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::idle::rest_kib;
use crate::plan::{Config, Metric, Plan, PROXY_CONNECTIONS};
use crate::report::Results;
use crate::rss::mib;
use crate::server::ServerProcess;
use crate::stream::{self, Transfer};

/// The download measurement of a proxy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProxyDownload {
    /// The proxy's RSS at rest (after one `GET /` and 0.5 s of rest), in
    /// MiB, read before the transfers.
    pub(crate) rest_rss_mib: f64,
    /// The transfers of `GET /download` through the proxy, with the
    /// proxy's peak RSS.
    pub(crate) transfer: Transfer,
}

/// Reads the proxy's RSS at rest, then streams `GET /download` from the
/// upstream through it as [`stream::download`] does, sampling the proxy's
/// RSS.
pub(crate) fn download(proxy: &mut ServerProcess, plan: &Plan) -> Result<ProxyDownload> {
    let rest = rest_kib(proxy)?;
    let transfer = stream::download(proxy, plan)?;
    Ok(ProxyDownload {
        rest_rss_mib: mib(rest),
        transfer,
    })
}

/// The proxy's peak RSS during the download ÷ its RSS at rest (medians),
/// which the target bounds.
pub(crate) fn peak_to_rest(results: &Results, config: Config, server: ServerKind) -> Option<f64> {
    let peak = results.median(config, server, Metric::DownloadRss)?;
    let rest = results
        .median(config, server, Metric::RestRss)
        .filter(|&rest| rest != 0.0)?;
    Some(peak / rest)
}

/// How `config` runs the proxies and their upstream, for the report.
fn description(config: Config) -> String {
    let threads = config.server_threads();
    let plural = if threads == 1 { "" } else { "s" };
    match (config.server_cpu(), config.client_cpu()) {
        (Some(server), Some(client)) => format!(
            "proxy pinned to CPU {server} with {threads} worker thread{plural}; the upstream \
             ({threads} worker thread{plural}), the load generator and the driver pinned to CPU \
             {client}"
        ),
        _ => {
            format!("proxy and upstream with {threads} worker thread{plural} each, nothing pinned")
        }
    }
}

/// The "Proxy" section of the report: a table per configuration, a column
/// per proxy, Albany's figures with their ratio to the raw hyper proxy,
/// and the peak ÷ rest ratio of the RSS. Empty when no proxy ran.
pub(crate) fn markdown(results: &Results) -> String {
    let proxies = results.proxy_servers();
    if proxies.is_empty() {
        return String::new();
    }
    let plan = &results.plan;
    let mut out = String::from("## Proxy\n\n");
    let _ = writeln!(
        out,
        "Every request goes through a reverse proxy to a raw hyper server on tokio \
         (`bench-server --server hyper-tokio`), both started afresh for each measurement. \
         `proxy-albany-*`: `examples/proxy.rs` (Albany and `albany-client`) on each adapter, \
         its worker count set by `TOKIO_WORKER_THREADS` (tokio) and `ASYNC_STD_THREAD_COUNT` \
         (async-std); albany-smol runs one executor per CPU the process may run on. \
         `proxy-hyper-tokio`: raw hyper on tokio (hyper-util's `auto` server, its legacy pooled \
         `Client` over `HttpConnector`) doing the same work: hop-by-hop fields removed both \
         ways, `Forwarded` and `Via` added, at most 32 idle upstream connections, {PROXY_TIMEOUT_SECS} \
         s for a response head. Load: `wrk --latency` with {PROXY_CONNECTIONS} HTTP/1.1 \
         connections, {} s, on `GET /`. Stream: the upstream's {} MiB chunked `GET /download` \
         through the proxy, repeated as above; the proxy's RSS at rest (`VmRSS` after one \
         `GET /` and 0.5 s of rest) is read in the same process just before. Albany's cells read \
         `figure (ratio)`: ratio = Albany ÷ the raw hyper proxy. See `benches/README.md`.\n",
        plan.load_seconds,
        plan.stream_bytes >> 20,
    );
    let metrics = Metric::proxy();
    for &config in &results.configs {
        let _ = writeln!(out, "### {}: {}\n", config.name(), description(config));
        out.push_str(&results.table(config, &proxies, &metrics));
        out.push_str("| download: peak RSS ÷ RSS at rest |");
        for &server in &proxies {
            let cell = peak_to_rest(results, config, server)
                .map_or_else(|| "—".to_owned(), |ratio| format!("{ratio:.2}"));
            let _ = write!(out, " {cell} |");
        }
        out.push_str("\n\n");
        if let Some(spread) = results.spread(config, &proxies, &metrics) {
            let _ = writeln!(out, "{spread}\n");
        }
    }
    out
}

/// The proxy row in `results.json` (its figures are also among the
/// medians, under the proxies' names): the baseline, the upstream, and
/// for each configuration and Albany proxy the ratio of its requests/s to
/// the baseline's and its peak ÷ rest RSS.
pub(crate) fn json(results: &Results) -> Value {
    let rps = Metric::Rps(crate::plan::Load::H1(PROXY_CONNECTIONS));
    let mut configs = Map::new();
    for &config in &results.configs {
        let mut by_server = Map::new();
        for server in results.proxy_servers() {
            let mut figures = Map::new();
            if server.family() == Family::Albany {
                let ratio = results.median(config, server, rps).and_then(|value| {
                    let baseline = results.median(config, server.hyper_baseline(), rps)?;
                    (baseline != 0.0).then(|| value / baseline)
                });
                figures.insert(format!("{}_to_baseline", rps.key()), json!(ratio));
            }
            figures.insert(
                "download_peak_rss_to_rest".to_owned(),
                json!(peak_to_rest(results, config, server)),
            );
            by_server.insert(server.name().to_owned(), Value::Object(figures));
        }
        configs.insert(config.name().to_owned(), Value::Object(by_server));
    }
    json!({
        "baseline": ServerKind::ProxyHyperTokio.name(),
        "upstream": ServerKind::HyperTokio.name(),
        "connections": PROXY_CONNECTIONS,
        "configs": configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::Load;
    use crate::report::tests::results_with;

    #[test]
    fn section_with_ratios_and_peak_to_rest() {
        let rps = Metric::Rps(Load::H1(64));
        let results = results_with(vec![
            (ServerKind::ProxyAlbanySmol, rps, 9_000.0),
            (ServerKind::ProxyHyperTokio, rps, 10_000.0),
            (ServerKind::ProxyAlbanySmol, Metric::DownloadRss, 6.0),
            (ServerKind::ProxyAlbanySmol, Metric::RestRss, 4.0),
            (ServerKind::ProxyAlbanySmol, Metric::Threads, 2.0),
            (ServerKind::AlbanySmol, rps, 50_000.0),
        ]);
        let markdown = markdown(&results);
        assert!(
            markdown.contains("| figure | proxy-albany-smol | proxy-hyper-tokio |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| HTTP/1.1, 64 connections: requests/s | 9,000 (0.90) | 10,000 |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| threads in the process, after the load run | 2 | — |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| download: peak RSS ÷ RSS at rest | 1.50 | — |"),
            "{markdown}"
        );
        assert!(markdown.contains("### pinned: proxy pinned to CPU 0"));
        let json = json(&results);
        let smol = &json["configs"]["pinned"]["proxy-albany-smol"];
        assert_eq!(smol["http1_64_rps_to_baseline"], 0.9);
        assert_eq!(smol["download_peak_rss_to_rest"], 1.5);
        assert!(json["configs"]["pinned"]["proxy-hyper-tokio"]
            .get("http1_64_rps_to_baseline")
            .is_none());
        // The origin servers keep their own table, without the proxies.
        let report = results.markdown();
        assert!(report.contains("| figure | albany-smol |\n"), "{report}");
        assert!(!report.contains("threads in the process | n/a"), "{report}");
    }

    #[test]
    fn no_section_without_proxies() {
        let results = results_with(vec![(ServerKind::AlbanySmol, Metric::RestRss, 4.0)]);
        assert_eq!(markdown(&results), "");
    }
}
