//! What one run measures: the configurations, the sizes and durations, and
//! the metrics.

use std::fmt;
use std::str::FromStr;

use albany_bench::ServerKind;

/// A configuration, applied to every server alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Config {
    /// The server pinned to CPU 0 with 1 worker thread; the load generator
    /// (and the driver's own clients) pinned to CPU 1.
    Pinned,
    /// 2 worker threads, no pinning.
    Unpinned,
}

impl Config {
    /// Both configurations, in the report's order.
    pub(crate) const ALL: [Config; 2] = [Config::Pinned, Config::Unpinned];

    /// `pinned` or `unpinned`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Config::Pinned => "pinned",
            Config::Unpinned => "unpinned",
        }
    }

    /// The server's worker threads.
    pub(crate) fn server_threads(self) -> usize {
        match self {
            Config::Pinned => 1,
            Config::Unpinned => 2,
        }
    }

    /// The CPU the server is pinned to, if any.
    pub(crate) fn server_cpu(self) -> Option<usize> {
        match self {
            Config::Pinned => Some(0),
            Config::Unpinned => None,
        }
    }

    /// The CPU the load generator and the driver are pinned to, if any.
    pub(crate) fn client_cpu(self) -> Option<usize> {
        match self {
            Config::Pinned => Some(1),
            Config::Unpinned => None,
        }
    }

    /// The threads of the load generators (`wrk -t`, `h2load -t`).
    pub(crate) fn load_threads(self) -> usize {
        match self {
            Config::Pinned => 1,
            Config::Unpinned => 2,
        }
    }

    /// A sentence for the report.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Config::Pinned => {
                "server pinned to CPU 0 with 1 worker thread; load generator and driver pinned to CPU 1 (`taskset -c`)"
            }
            Config::Unpinned => "server with 2 worker threads, nothing pinned",
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Config {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Config::ALL
            .into_iter()
            .find(|config| config.name() == name)
            .ok_or_else(|| format!("unknown configuration `{name}` (pinned or unpinned)"))
    }
}

/// The sizes and durations of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Interleaved rounds.
    pub(crate) rounds: usize,
    /// Duration of each wrk and h2load run, in seconds.
    pub(crate) load_seconds: u64,
    /// Size of the streamed download and upload, in bytes.
    pub(crate) stream_bytes: u64,
    /// Each stream measurement repeats its transfer until this many
    /// seconds have passed (and at least [`MIN_TRANSFERS`] times).
    pub(crate) stream_seconds: f64,
    /// Idle keep-alive connections opened for the memory figure.
    pub(crate) idle_connections: usize,
    /// GETs sent over one connection for the allocation figure.
    pub(crate) alloc_gets: usize,
}

impl Plan {
    /// The full plan (`quick == false`) or the CI one.
    pub(crate) fn new(quick: bool, rounds: usize) -> Plan {
        if quick {
            Plan {
                rounds,
                load_seconds: 1,
                stream_bytes: 16 << 20,
                stream_seconds: 0.2,
                idle_connections: 500,
                alloc_gets: 1_000,
            }
        } else {
            Plan {
                rounds,
                load_seconds: 10,
                stream_bytes: 256 << 20,
                stream_seconds: 3.0,
                idle_connections: 10_000,
                alloc_gets: 10_000,
            }
        }
    }
}

/// Fewest transfers in one stream measurement: its figure is their median.
pub(crate) const MIN_TRANSFERS: usize = 3;
/// Most transfers in one stream measurement, whatever `stream_seconds`.
pub(crate) const MAX_TRANSFERS: usize = 50;

/// The HTTP/1.1 load runs: `wrk` connections.
pub(crate) const H1_CONNECTIONS: [usize; 2] = [64, 256];

/// The proxy row's load run: `wrk` connections (the first HTTP/1.1 run of
/// the origin servers, with the same settings).
pub(crate) const PROXY_CONNECTIONS: usize = H1_CONNECTIONS[0];

/// The TLS row's HTTP/1.1 keep-alive run: `wrk` connections over HTTPS
/// (the first HTTP/1.1 run of the origin servers, with the same settings).
pub(crate) const TLS_CONNECTIONS: usize = H1_CONNECTIONS[0];

/// The tokio compatibility row's HTTP/1.1 load run: `wrk` connections
/// (the first HTTP/1.1 run of the origin servers, with the same settings).
pub(crate) const COMPAT_CONNECTIONS: usize = H1_CONNECTIONS[0];

/// The TLS row's new-connection run: the driver's client threads, each
/// opening one TLS connection per request, one at a time.
pub(crate) const NEW_CONNECTION_CLIENTS: usize = 16;

/// The HTTP/2 load run: `h2load` clients, and concurrent streams per client.
pub(crate) const H2_CLIENTS: usize = 4;
/// See [`H2_CLIENTS`].
pub(crate) const H2_STREAMS: usize = 100;

/// One measurement: a fresh server is started for each, and killed after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measurement {
    /// `wrk` over HTTP/1.1 keep-alive with this many connections.
    H1(usize),
    /// `h2load` over HTTP/2 with prior knowledge (over TLS, by ALPN).
    H2,
    /// One request per new TLS connection, handshake included: the
    /// driver's own client ([`crate::tls::new_connections`]).
    NewConnections,
    /// A streamed `GET /download`.
    Download,
    /// A streamed `POST /upload`.
    Upload,
    /// Idle keep-alive connections.
    Idle,
    /// Heap allocations per `GET /`.
    Allocations,
}

impl Measurement {
    /// The measurements of `server`, in the order they run: every one for
    /// an origin server, [`Measurement::proxy`] for a proxy,
    /// [`Measurement::tls`] for a TLS server, [`Measurement::compat`] for a
    /// compat server.
    pub(crate) fn for_server(server: ServerKind) -> Vec<Measurement> {
        if server.is_proxy() {
            Measurement::proxy()
        } else if server.is_tls() {
            Measurement::tls()
        } else if server.is_compat() {
            Measurement::compat()
        } else {
            Measurement::all()
        }
    }

    /// The TLS row: HTTP/1.1 keep-alive with [`TLS_CONNECTIONS`]
    /// connections, HTTP/2, and new connections.
    pub(crate) fn tls() -> Vec<Measurement> {
        vec![
            Measurement::H1(TLS_CONNECTIONS),
            Measurement::H2,
            Measurement::NewConnections,
        ]
    }

    /// The tokio compatibility row: HTTP/1.1 with [`COMPAT_CONNECTIONS`]
    /// connections and HTTP/2 (each with the server's CPU per request), and
    /// the allocations per `GET /`: what the wrapper adds to a request.
    pub(crate) fn compat() -> Vec<Measurement> {
        vec![
            Measurement::H1(COMPAT_CONNECTIONS),
            Measurement::H2,
            Measurement::Allocations,
        ]
    }

    /// The proxy row: HTTP/1.1 with [`PROXY_CONNECTIONS`] connections, then
    /// the download (through the proxy, from the upstream), whose
    /// measurement also reads the proxy's RSS at rest before it.
    pub(crate) fn proxy() -> Vec<Measurement> {
        vec![Measurement::H1(PROXY_CONNECTIONS), Measurement::Download]
    }

    /// Every measurement of an origin server, in the order they run.
    pub(crate) fn all() -> Vec<Measurement> {
        let mut all: Vec<Measurement> =
            H1_CONNECTIONS.iter().map(|&c| Measurement::H1(c)).collect();
        all.extend([
            Measurement::H2,
            Measurement::Download,
            Measurement::Upload,
            Measurement::Idle,
            Measurement::Allocations,
        ]);
        all
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measurement::H1(connections) => write!(f, "http1-{connections}"),
            Measurement::H2 => f.write_str("http2"),
            Measurement::NewConnections => f.write_str("new-connections"),
            Measurement::Download => f.write_str("download"),
            Measurement::Upload => f.write_str("upload"),
            Measurement::Idle => f.write_str("idle"),
            Measurement::Allocations => f.write_str("allocations"),
        }
    }
}

/// Whether a larger figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// Throughput.
    Higher,
    /// Latency, memory, allocations.
    Lower,
}

/// A figure of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Metric {
    /// Requests per second of a load run.
    Rps(Load),
    /// Median latency of a load run, in milliseconds.
    P50(Load),
    /// 99th-percentile latency of a load run, in milliseconds.
    P99(Load),
    /// The server's peak RSS (`VmHWM`) at the end of a load run, in MiB.
    LoadRss(Load),
    /// The server's CPU time during a load run ÷ the requests answered, in
    /// µs: what a request cost the server, whichever side of the machine
    /// was the bottleneck. The TLS row only.
    CpuPerRequest(Load),
    /// Download throughput, in MiB/s.
    DownloadRate,
    /// The server's peak RSS during the download, in MiB.
    DownloadRss,
    /// Upload throughput, in MiB/s.
    UploadRate,
    /// The server's peak RSS during the upload, in MiB.
    UploadRss,
    /// The server's RSS at rest, after one request, in MiB: the reference
    /// for the streams' peak RSS.
    RestRss,
    /// Memory per idle keep-alive connection, in bytes.
    IdleBytes,
    /// The server's RSS with the idle connections open, in MiB.
    IdleRss,
    /// Heap allocations per `GET /`.
    Allocations,
    /// The process's threads (`Threads` in `/proc/PID/status`) at the end
    /// of its load run: what a proxy ran with. Proxies only.
    Threads,
}

/// A load run, as metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Load {
    /// HTTP/1.1 with this many connections.
    H1(usize),
    /// HTTP/2.
    H2,
    /// HTTP/1.1 over a new TLS connection per request (the TLS row).
    NewConnections,
}

impl Load {
    /// The origin servers' load runs, in the report's order: HTTP/1.1 by
    /// connections, then HTTP/2.
    pub(crate) fn all() -> Vec<Load> {
        let mut loads: Vec<Load> = H1_CONNECTIONS.iter().map(|&c| Load::H1(c)).collect();
        loads.push(Load::H2);
        loads
    }

    fn key(self) -> String {
        match self {
            Load::H1(connections) => format!("http1_{connections}"),
            Load::H2 => "http2".to_owned(),
            Load::NewConnections => "new_connections".to_owned(),
        }
    }

    fn label(self) -> String {
        match self {
            Load::H1(connections) => format!("HTTP/1.1, {connections} connections"),
            Load::H2 => format!("HTTP/2, {H2_CLIENTS} connections × {H2_STREAMS} streams"),
            Load::NewConnections => format!(
                "HTTP/1.1, a new TLS connection per request, {NEW_CONNECTION_CLIENTS} clients"
            ),
        }
    }
}

impl Metric {
    /// Every metric, in the report's row order.
    pub(crate) fn all() -> Vec<Metric> {
        let mut all = Vec::new();
        for load in Load::all() {
            all.extend(Metric::of_load(load));
        }
        all.extend(Metric::of_load(Load::NewConnections));
        all.extend(Metric::TLS_LOADS.map(Metric::CpuPerRequest));
        all.extend([
            Metric::DownloadRate,
            Metric::DownloadRss,
            Metric::UploadRate,
            Metric::UploadRss,
            Metric::RestRss,
            Metric::IdleBytes,
            Metric::IdleRss,
            Metric::Allocations,
            Metric::Threads,
        ]);
        all
    }

    /// The four figures of a load run: requests/s, p50, p99, peak RSS.
    fn of_load(load: Load) -> [Metric; 4] {
        [
            Metric::Rps(load),
            Metric::P50(load),
            Metric::P99(load),
            Metric::LoadRss(load),
        ]
    }

    /// The TLS row's load runs, in the report's order.
    pub(crate) const TLS_LOADS: [Load; 3] =
        [Load::H1(TLS_CONNECTIONS), Load::H2, Load::NewConnections];

    /// The rows of the origin servers' tables: every metric but the
    /// proxies' and the TLS row's own.
    pub(crate) fn origin() -> Vec<Metric> {
        Metric::all()
            .into_iter()
            .filter(|&metric| {
                metric != Metric::Threads
                    && !matches!(metric, Metric::CpuPerRequest(_))
                    && metric.load() != Some(Load::NewConnections)
            })
            .collect()
    }

    /// The rows of the tokio compatibility tables, in order: what
    /// [`Measurement::compat`] measures.
    pub(crate) fn compat() -> Vec<Metric> {
        let mut rows = Vec::new();
        for load in [Load::H1(COMPAT_CONNECTIONS), Load::H2] {
            rows.extend([
                Metric::Rps(load),
                Metric::P50(load),
                Metric::P99(load),
                Metric::CpuPerRequest(load),
            ]);
        }
        rows.push(Metric::Allocations);
        rows
    }

    /// The rows of the TLS tables, in order: what [`Measurement::tls`]
    /// measures, each load run's figures followed by the server's CPU per
    /// request.
    pub(crate) fn tls() -> Vec<Metric> {
        Metric::TLS_LOADS
            .into_iter()
            .flat_map(|load| {
                let mut rows = Metric::of_load(load).to_vec();
                rows.push(Metric::CpuPerRequest(load));
                rows
            })
            .collect()
    }

    /// The load run a metric comes from, if it does.
    pub(crate) fn load(self) -> Option<Load> {
        match self {
            Metric::Rps(load)
            | Metric::P50(load)
            | Metric::P99(load)
            | Metric::LoadRss(load)
            | Metric::CpuPerRequest(load) => Some(load),
            _ => None,
        }
    }

    /// The rows of the proxy tables, in order: what
    /// [`Measurement::proxy`] measures.
    pub(crate) fn proxy() -> Vec<Metric> {
        let load = Load::H1(PROXY_CONNECTIONS);
        vec![
            Metric::Rps(load),
            Metric::P50(load),
            Metric::P99(load),
            Metric::LoadRss(load),
            Metric::DownloadRate,
            Metric::DownloadRss,
            Metric::RestRss,
            Metric::Threads,
        ]
    }

    /// The key in `results.json`, such as `http1_64_rps`.
    pub(crate) fn key(self) -> String {
        match self {
            Metric::Rps(load) => format!("{}_rps", load.key()),
            Metric::P50(load) => format!("{}_p50_ms", load.key()),
            Metric::P99(load) => format!("{}_p99_ms", load.key()),
            Metric::LoadRss(load) => format!("{}_peak_rss_mib", load.key()),
            Metric::CpuPerRequest(load) => format!("{}_server_cpu_us_per_request", load.key()),
            Metric::DownloadRate => "download_mib_per_s".to_owned(),
            Metric::DownloadRss => "download_peak_rss_mib".to_owned(),
            Metric::UploadRate => "upload_mib_per_s".to_owned(),
            Metric::UploadRss => "upload_peak_rss_mib".to_owned(),
            Metric::RestRss => "rest_rss_mib".to_owned(),
            Metric::IdleBytes => "idle_bytes_per_connection".to_owned(),
            Metric::IdleRss => "idle_rss_mib".to_owned(),
            Metric::Allocations => "allocations_per_get".to_owned(),
            Metric::Threads => "threads".to_owned(),
        }
    }

    /// The row label in the report.
    pub(crate) fn label(self, plan: &Plan) -> String {
        let stream = format!("{} MiB", plan.stream_bytes >> 20);
        let idle = thousands(plan.idle_connections as f64, 0);
        match self {
            Metric::Rps(load) => format!("{}: requests/s", load.label()),
            Metric::P50(load) => format!("{}: p50 latency (ms)", load.label()),
            Metric::P99(load) => format!("{}: p99 latency (ms)", load.label()),
            Metric::LoadRss(load) => format!("{}: peak RSS (MiB)", load.label()),
            Metric::CpuPerRequest(load) => {
                format!("{}: server CPU per request (µs)", load.label())
            }
            Metric::DownloadRate => format!("download {stream}: MiB/s"),
            Metric::DownloadRss => format!("download {stream}: peak RSS (MiB)"),
            Metric::UploadRate => format!("upload {stream}: MiB/s"),
            Metric::UploadRss => format!("upload {stream}: peak RSS (MiB)"),
            Metric::RestRss => "RSS at rest, after one request (MiB)".to_owned(),
            Metric::IdleBytes => format!("{idle} idle connections: bytes per connection"),
            Metric::IdleRss => format!("{idle} idle connections: RSS (MiB)"),
            Metric::Allocations => "heap allocations per GET /".to_owned(),
            Metric::Threads => "threads in the process, after the load run".to_owned(),
        }
    }

    /// Whether a larger figure is better.
    pub(crate) fn better(self) -> Better {
        match self {
            Metric::Rps(_) | Metric::DownloadRate | Metric::UploadRate => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// Decimal places shown in the report.
    pub(crate) fn decimals(self) -> usize {
        match self {
            Metric::P50(_) | Metric::P99(_) => 2,
            Metric::LoadRss(_)
            | Metric::CpuPerRequest(_)
            | Metric::DownloadRss
            | Metric::UploadRss
            | Metric::RestRss
            | Metric::IdleRss
            | Metric::Allocations => 1,
            _ => 0,
        }
    }
}

/// Formats `value` with `decimals` places and thin groups of thousands
/// (`123,456.7`).
pub(crate) fn thousands(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int.to_owned(), Some(frac.to_owned())),
        None => (text, None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(digits) => ("-", digits),
        None => ("", int.as_str()),
    };
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(1234567.891, 1), "1,234,567.9");
        assert_eq!(thousands(999.0, 0), "999");
        assert_eq!(thousands(-1000.0, 0), "-1,000");
        assert_eq!(thousands(0.126, 2), "0.13");
    }

    #[test]
    fn metric_keys_are_unique() {
        let mut keys: Vec<String> = Metric::all().into_iter().map(Metric::key).collect();
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }

    #[test]
    fn proxy_rows_are_what_the_proxy_measurements_give() {
        assert_eq!(
            Measurement::for_server(ServerKind::ProxyAlbanySmol),
            vec![Measurement::H1(64), Measurement::Download]
        );
        assert_eq!(
            Measurement::for_server(ServerKind::AlbanySmol),
            Measurement::all()
        );
        assert!(Metric::proxy().contains(&Metric::RestRss));
        assert!(!Metric::origin().contains(&Metric::Threads));
    }

    #[test]
    fn tls_rows_are_what_the_tls_measurements_give() {
        assert_eq!(
            Measurement::for_server(ServerKind::TlsHyperTokio),
            vec![
                Measurement::H1(64),
                Measurement::H2,
                Measurement::NewConnections
            ]
        );
        let rows = Metric::tls();
        assert_eq!(rows.len(), 15);
        assert_eq!(rows[4], Metric::CpuPerRequest(Load::H1(64)));
        assert!(!Metric::origin().contains(&Metric::CpuPerRequest(Load::H2)));
        assert!(rows.contains(&Metric::Rps(Load::NewConnections)));
        assert!(!rows.contains(&Metric::Rps(Load::H1(256))));
        assert!(!Metric::origin().contains(&Metric::Rps(Load::NewConnections)));
        assert!(Metric::all().contains(&Metric::P99(Load::NewConnections)));
        assert_eq!(
            Metric::Rps(Load::NewConnections).key(),
            "new_connections_rps"
        );
    }
}
