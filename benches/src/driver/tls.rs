//! The TLS row: Albany over HTTPS on each adapter (`tls-albany-*`) against
//! raw hyper on tokio with tokio-rustls (`tls-hyper-tokio`).
//!
//! The run makes one self-signed certificate ([`Certificate::generate`])
//! that every TLS server is started with and that the driver's client
//! trusts. HTTP/1.1 keep-alive and HTTP/2 are `wrk` and `h2load` over
//! `https://` ([`crate::load`]); the new-connection figure comes from the
//! driver's own client here ([`new_connections`]): neither tool opens a
//! full TLS handshake per request (see `benches/README.md`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use albany_bench::{Family, ServerKind, HELLO};
use rustls::client::Resumption;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Map, Value};

use crate::error::{bail, Context, Result};
use crate::http::Connection;
use crate::load::{LoadResult, LoadSpec};
use crate::plan::{Config, Load, Metric, Plan, NEW_CONNECTION_CLIENTS, TLS_CONNECTIONS};
use crate::report::Results;

/// Most requests one client thread makes in a new-connection run, whatever
/// its duration (a bound in count beside the one in time).
const MAX_REQUESTS_PER_CLIENT: usize = 1_000_000;

/// Failed requests after which a client thread stops.
const MAX_ERRORS_PER_CLIENT: usize = 100;

/// The run's certificate: its PEM files, given to every TLS server, and
/// the client configuration that trusts it.
#[derive(Debug, Clone)]
pub(crate) struct Certificate {
    /// The certificate, PEM (`--tls-cert`).
    pub(crate) cert: PathBuf,
    /// Its private key, PEM (`--tls-key`).
    pub(crate) key: PathBuf,
    /// The driver's TLS client: the certificate as its only root, no
    /// session resumption, ALPN `http/1.1`.
    client: Arc<ClientConfig>,
}

impl Certificate {
    /// Makes a self-signed ECDSA P-256 certificate for `localhost` and
    /// `127.0.0.1` with rcgen (its default key type), writes it and its key
    /// to `cert.pem` and `key.pem` in `dir`, and builds the client
    /// configuration.
    ///
    /// # Errors
    ///
    /// When rcgen, rustls or the file system fail.
    pub(crate) fn generate(dir: &Path) -> Result<Certificate> {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names)
            .context(|| "making the TLS certificate".to_owned())?;
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem())
            .context(|| format!("writing {}", cert.display()))?;
        std::fs::write(&key, certified.signing_key.serialize_pem())
            .context(|| format!("writing {}", key.display()))?;
        let client = client_config(certified.cert.der().clone())?;
        Ok(Certificate {
            cert,
            key,
            client: Arc::new(client),
        })
    }

    /// The driver's TLS client configuration.
    pub(crate) fn client(&self) -> Arc<ClientConfig> {
        self.client.clone()
    }
}

/// A rustls client with the `ring` provider, as the servers: `root` as the
/// only trusted root, full handshakes only (resumption disabled: no session
/// cache, no tickets), ALPN `http/1.1`.
fn client_config(root: CertificateDer<'static>) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(root)
        .context(|| "trusting the TLS certificate".to_owned())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context(|| "the TLS client's protocol versions".to_owned())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// What one client thread of [`new_connections`] did.
#[derive(Debug, Default)]
struct ClientOutcome {
    /// The duration of each successful request, connect to close, in µs.
    latencies_us: Vec<u64>,
    errors: usize,
    last_error: Option<String>,
}

/// Requests/s when every request opens a new TLS connection:
/// [`NEW_CONNECTION_CLIENTS`] threads (pinned as the driver is: to the
/// client CPU, or to none), each of them, one after the other: TCP
/// connect, a full TLS handshake (no resumption) that verifies the
/// server's certificate, `GET /` with `Connection: close`, the answer
/// checked (`200`, `Hello, world!`), and the server's close (its
/// `close_notify`, then EOF). Each thread stops starting requests after
/// `spec.seconds`, after [`MAX_REQUESTS_PER_CLIENT`] requests or after
/// [`MAX_ERRORS_PER_CLIENT`] failures; every socket operation times out
/// after [`crate::http::IO_TIMEOUT`]. Latency: connect to close, per
/// request. Requests/s: the successful requests ÷ the time until the last
/// thread finished.
///
/// # Errors
///
/// When no request succeeded.
pub(crate) fn new_connections(
    addr: SocketAddr,
    certificate: &Certificate,
    spec: LoadSpec,
) -> Result<LoadResult> {
    let duration = Duration::from_secs(spec.seconds);
    let config = certificate.client();
    let started = Instant::now();
    let outcomes: Vec<ClientOutcome> = thread::scope(|scope| {
        let clients: Vec<_> = (0..NEW_CONNECTION_CLIENTS)
            .map(|_| {
                let config = config.clone();
                scope.spawn(move || client_loop(addr, &config, started, duration))
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().unwrap_or_default())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let errors: usize = outcomes.iter().map(|outcome| outcome.errors).sum();
    let mut latencies: Vec<u64> = outcomes
        .iter()
        .flat_map(|outcome| outcome.latencies_us.iter().copied())
        .collect();
    if latencies.is_empty() {
        let last = outcomes
            .iter()
            .find_map(|outcome| outcome.last_error.clone())
            .unwrap_or_else(|| "no request was made".to_owned());
        bail!("no request over a new TLS connection succeeded ({errors} failed): {last}");
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1000.0
    };
    Ok(LoadResult {
        rps: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        errors: errors as u64,
        requests: latencies.len() as u64,
    })
}

/// One client thread of [`new_connections`].
fn client_loop(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    started: Instant,
    duration: Duration,
) -> ClientOutcome {
    let mut outcome = ClientOutcome::default();
    while started.elapsed() < duration
        && outcome.latencies_us.len() < MAX_REQUESTS_PER_CLIENT
        && outcome.errors < MAX_ERRORS_PER_CLIENT
    {
        let start = Instant::now();
        match one_request(addr, config) {
            Ok(()) => outcome
                .latencies_us
                .push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)),
            Err(error) => {
                outcome.errors += 1;
                outcome.last_error = Some(error.to_string());
            }
        }
    }
    outcome
}

/// One request on a new TLS connection, checked, until the server closes.
fn one_request(addr: SocketAddr, config: &Arc<ClientConfig>) -> Result<()> {
    let mut connection = Connection::connect_tls(addr, config.clone(), 4096)?;
    let (status, body) = connection.get_and_close("/")?;
    if status != 200 || body != HELLO.as_bytes() {
        bail!(
            "GET / over a new TLS connection answered {status} {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    connection.expect_close()?;
    Ok(())
}

/// How `config` runs the TLS servers, for the report.
fn description(config: Config) -> String {
    let threads = config.server_threads();
    let plural = if threads == 1 { "" } else { "s" };
    match (config.server_cpu(), config.client_cpu()) {
        (Some(server), Some(client)) => format!(
            "server pinned to CPU {server} with {threads} worker thread{plural}; load generators \
             and the driver's TLS clients pinned to CPU {client}"
        ),
        _ => format!("server with {threads} worker thread{plural}, nothing pinned"),
    }
}

/// The "TLS" section of the report: a table per configuration, a column
/// per TLS server, Albany's figures with their ratio to raw hyper with
/// tokio-rustls. Empty when no TLS server ran.
pub(crate) fn markdown(results: &Results) -> String {
    let servers = results.tls_servers();
    if servers.is_empty() {
        return String::new();
    }
    let plan: &Plan = &results.plan;
    let mut out = String::from("## TLS\n\n");
    let _ = writeln!(
        out,
        "HTTPS with one self-signed ECDSA P-256 certificate made for the run (rcgen); rustls \
         with `ring` in the servers and in the driver's client, OpenSSL in wrk and h2load. \
         `tls-albany-*`: each adapter's `Server::tls(Tls::from_pem_files(..))`. \
         `tls-hyper-tokio`: raw hyper on tokio with tokio-rustls, the engine's rustls \
         settings (ALPN `h2`, `http/1.1`). HTTP/1.1: `wrk --latency` over `https://`, \
         {TLS_CONNECTIONS} keep-alive connections. HTTP/2: `h2load` over `https://` (ALPN \
         `h2`). New connections: the driver's rustls client, {NEW_CONNECTION_CLIENTS} threads \
         each making one request per new connection (full handshake, certificate verified, no \
         resumption, `Connection: close`); latency from connect to the server's close. {} s per \
         run. Albany's cells read `figure (ratio)`: ratio = Albany ÷ raw hyper with \
         tokio-rustls. See `benches/README.md`.\n",
        plan.load_seconds,
    );
    let metrics = Metric::tls();
    for &config in &results.configs {
        let _ = writeln!(out, "### {}: {}\n", config.name(), description(config));
        out.push_str(&results.table(config, &servers, &metrics));
        out.push('\n');
        if let Some(spread) = results.spread(config, &servers, &metrics) {
            let _ = writeln!(out, "{spread}\n");
        }
    }
    out
}

/// The TLS row in `results.json` (its figures are also among the medians,
/// under the servers' names): the baseline, and for each configuration and
/// Albany TLS server the ratio of each requests/s figure to the baseline's.
pub(crate) fn json(results: &Results) -> Value {
    let mut configs = Map::new();
    for &config in &results.configs {
        let mut by_server = Map::new();
        for server in results.tls_servers() {
            if server.family() != Family::Albany {
                continue;
            }
            let mut figures = Map::new();
            for load in [Load::H1(TLS_CONNECTIONS), Load::H2, Load::NewConnections] {
                let rps = Metric::Rps(load);
                let ratio = results.median(config, server, rps).and_then(|value| {
                    let baseline = results.median(config, server.hyper_baseline(), rps)?;
                    (baseline != 0.0).then(|| value / baseline)
                });
                figures.insert(format!("{}_to_baseline", rps.key()), json!(ratio));
            }
            by_server.insert(server.name().to_owned(), Value::Object(figures));
        }
        configs.insert(config.name().to_owned(), Value::Object(by_server));
    }
    json!({
        "baseline": ServerKind::TlsHyperTokio.name(),
        "connections": TLS_CONNECTIONS,
        "new_connection_clients": NEW_CONNECTION_CLIENTS,
        "configs": configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::tests::results_with;

    #[test]
    fn section_with_ratios() {
        let new = Metric::Rps(Load::NewConnections);
        let h1 = Metric::Rps(Load::H1(64));
        let results = results_with(vec![
            (ServerKind::TlsAlbanySmol, new, 1_900.0),
            (ServerKind::TlsHyperTokio, new, 2_000.0),
            (ServerKind::TlsAlbanySmol, h1, 30_000.0),
            (ServerKind::TlsHyperTokio, h1, 25_000.0),
            (ServerKind::AlbanySmol, h1, 50_000.0),
        ]);
        let markdown = markdown(&results);
        assert!(
            markdown.contains("| figure | tls-albany-smol | tls-hyper-tokio |"),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "| HTTP/1.1, a new TLS connection per request, 16 clients: requests/s | 1,900 (0.95) | 2,000 |"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("| HTTP/1.1, 64 connections: requests/s | 30,000 (1.20) | 25,000 |"),
            "{markdown}"
        );
        assert!(markdown.contains("### pinned: server pinned to CPU 0"));
        let json = json(&results);
        let smol = &json["configs"]["pinned"]["tls-albany-smol"];
        assert_eq!(smol["new_connections_rps_to_baseline"], 0.95);
        assert_eq!(smol["http1_64_rps_to_baseline"], 1.2);
        assert!(json["configs"]["pinned"].get("tls-hyper-tokio").is_none());
        // The origin servers keep their own table, without the TLS servers.
        let report = results.markdown();
        assert!(report.contains("| figure | albany-smol |\n"), "{report}");
        assert!(!report.contains("new TLS connection per request, 16 clients: requests/s | n/a"));
    }

    #[test]
    fn no_section_without_tls_servers() {
        let results = results_with(vec![(ServerKind::AlbanySmol, Metric::RestRss, 4.0)]);
        assert_eq!(markdown(&results), "");
    }

    #[test]
    fn certificate_and_client() {
        let dir =
            std::env::temp_dir().join(format!("albany-bench-tls-test-{}", std::process::id()));
        let certificate = Certificate::generate(&dir).unwrap();
        let cert = std::fs::read_to_string(&certificate.cert).unwrap();
        let key = std::fs::read_to_string(&certificate.key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.contains("PRIVATE KEY-----"), "{key}");
        let client = certificate.client();
        assert_eq!(client.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
