//! A server under test: a `bench-server` child process (or the `proxy`
//! example, with its upstream), started, waited for, and killed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use albany_bench::{ServerKind, HELLO, PROXY_TIMEOUT_SECS};

use crate::error::{bail, Context, Error, Result};
use crate::http::Connection;
use crate::plan::Config;
use crate::tls::Certificate;

/// How long a server may take to accept connections and answer `GET /`.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// The programs the driver starts.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    /// `bench-server`, next to the driver.
    pub(crate) bench_server: PathBuf,
    /// The `proxy` example (`target/release/examples/proxy`), when a proxy
    /// of it is measured.
    pub(crate) proxy: Option<PathBuf>,
    /// The run's certificate, when a TLS server is measured: the TLS
    /// servers are started with it and the driver's TLS client trusts it.
    pub(crate) certificate: Option<Certificate>,
}

/// A running server; killed when dropped. A proxy holds its upstream.
pub(crate) struct ServerProcess {
    child: Child,
    /// The server's name in messages.
    label: String,
    addr: SocketAddr,
    /// Whether it serves HTTPS.
    tls: bool,
    killed: bool,
    /// The `hyper-tokio` server a proxy forwards to; killed after it.
    upstream: Option<Box<ServerProcess>>,
}

impl ServerProcess {
    /// Starts `kind` as `config` runs servers, on a free port, and waits
    /// until it answers `GET /` with `Hello, world!`.
    ///
    /// An origin server is `bench-server --server KIND --threads N --addr
    /// 127.0.0.1:PORT`, pinned to the configuration's server CPU if any. A
    /// proxy gets a fresh upstream first: `bench-server --server
    /// hyper-tokio` with the same thread count, on the client's CPU when
    /// pinned (with the load generator, leaving CPU 0 to the proxy), then
    /// the proxy on the server CPU: `bench-server --server
    /// proxy-hyper-tokio ... --upstream URL` or the `proxy` example
    /// (`proxy --runtime R --addr A --upstream URL --timeout S`, its
    /// worker count set through [`ServerKind::threads_env_var`], logging
    /// errors only). Its `GET /` goes through to the upstream. A TLS
    /// server gets `--tls-cert` and `--tls-key` (the run's certificate),
    /// and its `GET /` is checked over TLS (HTTP/1.1 by ALPN) with the
    /// driver's client, which trusts that certificate.
    ///
    /// # Errors
    ///
    /// When a process cannot start, exits, or does not answer in time.
    pub(crate) fn start(
        binaries: &Binaries,
        kind: ServerKind,
        config: Config,
    ) -> Result<ServerProcess> {
        let threads = config.server_threads();
        if !kind.is_proxy() {
            return ServerProcess::spawn(binaries, kind, threads, config.server_cpu(), None);
        }
        let mut upstream = ServerProcess::spawn(
            binaries,
            ServerKind::HyperTokio,
            threads,
            config.client_cpu(),
            None,
        )
        .context(|| format!("starting the upstream of {kind}"))?;
        upstream.label = format!("the upstream of {kind} (hyper-tokio)");
        // Dropping `upstream` on an error kills it.
        let mut proxy = ServerProcess::spawn(
            binaries,
            kind,
            threads,
            config.server_cpu(),
            Some(&upstream),
        )?;
        proxy.upstream = Some(Box::new(upstream));
        Ok(proxy)
    }

    /// Starts one process and waits until it answers.
    fn spawn(
        binaries: &Binaries,
        kind: ServerKind,
        threads: usize,
        cpu: Option<usize>,
        upstream: Option<&ServerProcess>,
    ) -> Result<ServerProcess> {
        let addr = free_port()?;
        let binary = if kind.is_proxy_example() {
            binaries.proxy.as_deref().ok_or_else(|| {
                Error(format!(
                    "{kind}: the path of the `proxy` example is unknown"
                ))
            })?
        } else {
            binaries.bench_server.as_path()
        };
        let mut command = match cpu {
            Some(cpu) => {
                // taskset execs the server: the child's pid is the server's.
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        if kind.is_proxy_example() {
            command
                .arg("--runtime")
                .arg(kind.runtime().name())
                .arg("--addr")
                .arg(addr.to_string())
                .arg("--timeout")
                .arg(PROXY_TIMEOUT_SECS.to_string())
                // Its "listening on" and the Ctrl-C handler's warning are
                // noise here; errors are not.
                .env("RUST_LOG", "error");
        } else {
            command
                .arg("--server")
                .arg(kind.name())
                .arg("--threads")
                .arg(threads.to_string())
                .arg("--addr")
                .arg(addr.to_string());
        }
        if let Some(upstream) = upstream {
            command
                .arg("--upstream")
                .arg(format!("http://{}", upstream.addr));
        }
        let certificate = if kind.is_tls() {
            let certificate = binaries
                .certificate
                .as_ref()
                .ok_or_else(|| Error(format!("{kind}: the run has no TLS certificate")))?;
            command
                .arg("--tls-cert")
                .arg(&certificate.cert)
                .arg("--tls-key")
                .arg(&certificate.key);
            Some(certificate)
        } else {
            None
        };
        command.stdin(Stdio::null()).stdout(Stdio::null());
        if let Some(var) = kind.threads_env_var() {
            command.env(var, threads.to_string());
        }
        let label = kind.name().to_owned();
        let child = command
            .spawn()
            .context(|| format!("starting {} ({})", kind, binary.display()))?;
        let mut server = ServerProcess {
            child,
            label,
            addr,
            tls: certificate.is_some(),
            killed: false,
            upstream: None,
        };
        server.wait_ready(certificate)?;
        Ok(server)
    }

    fn wait_ready(&mut self, certificate: Option<&Certificate>) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited before serving ({status})", self.label);
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "{} did not listen on {} within {:?}",
                    self.label,
                    self.addr,
                    START_DEADLINE
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        let mut connection = match certificate {
            Some(certificate) => Connection::connect_tls(self.addr, certificate.client(), 4096),
            None => Connection::connect(self.addr, 4096),
        }
        .context(|| format!("connecting to {}", self.label))?;
        let (status, body) = connection
            .get("/")
            .context(|| format!("GET / on {}", self.label))?;
        if certificate.is_some() && connection.alpn_protocol().as_deref() != Some(b"http/1.1") {
            bail!(
                "{}: the TLS handshake did not agree on http/1.1 by ALPN ({:?})",
                self.label,
                connection
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(&p).into_owned())
            );
        }
        if status != 200 || body != HELLO.as_bytes() {
            bail!(
                "{} answered GET / with {status} {:?}",
                self.label,
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    /// The server's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of its `GET /`: `http://ADDR/`, or `https://ADDR/` for a
    /// TLS server.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// The server's process id (for `/proc/PID/status`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Checks that the server (and a proxy's upstream) is still running.
    ///
    /// # Errors
    ///
    /// When it has exited (crashed).
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited during the measurement ({status})", self.label);
        }
        if let Some(upstream) = &mut self.upstream {
            upstream.check_alive()?;
        }
        Ok(())
    }

    /// Kills the server (SIGKILL), then a proxy's upstream, and reaps them.
    /// Calling it again does nothing.
    pub(crate) fn kill(&mut self) {
        if !self.killed {
            self.killed = true;
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(upstream) = &mut self.upstream {
            upstream.kill();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .context(|| "finding a free port".to_owned())?;
    Ok(listener.local_addr()?)
}
