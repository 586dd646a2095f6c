//! A server under test: a `bench-server` child process, started, waited
//! for, and killed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use albany_bench::{ServerKind, HELLO};

use crate::error::{bail, Context, Result};
use crate::http::Connection;

/// How long a server may take to accept connections and answer `GET /`.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// A running `bench-server`; killed when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    kind: ServerKind,
    addr: SocketAddr,
    killed: bool,
}

impl ServerProcess {
    /// Starts `binary --server KIND --threads N --addr 127.0.0.1:PORT` on a
    /// free port, pinned to `cpu` with `taskset` if given, and waits until
    /// it answers `GET /` with `Hello, world!`.
    ///
    /// # Errors
    ///
    /// When the process cannot start, exits, or does not answer in time.
    pub(crate) fn start(
        binary: &Path,
        kind: ServerKind,
        threads: usize,
        cpu: Option<usize>,
    ) -> Result<ServerProcess> {
        let addr = free_port()?;
        let mut command = match cpu {
            Some(cpu) => {
                // taskset execs the server: the child's pid is the server's.
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .arg("--server")
            .arg(kind.name())
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--addr")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(var) = kind.threads_env_var() {
            command.env(var, threads.to_string());
        }
        let child = command
            .spawn()
            .context(|| format!("starting {} ({})", kind, binary.display()))?;
        let mut server = ServerProcess {
            child,
            kind,
            addr,
            killed: false,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited before serving ({status})", self.kind);
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "{} did not listen on {} within {:?}",
                    self.kind,
                    self.addr,
                    START_DEADLINE
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        let mut connection = Connection::connect(self.addr, 4096)
            .context(|| format!("connecting to {}", self.kind))?;
        let (status, body) = connection
            .get("/")
            .context(|| format!("GET / on {}", self.kind))?;
        if status != 200 || body != HELLO.as_bytes() {
            bail!(
                "{} answered GET / with {status} {:?}",
                self.kind,
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    /// The server's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id (for `/proc/PID/status`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Checks that the server is still running.
    ///
    /// # Errors
    ///
    /// When it has exited (crashed).
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited during the measurement ({status})", self.kind);
        }
        Ok(())
    }

    /// Kills the server (SIGKILL) and reaps it. Calling it again does
    /// nothing.
    pub(crate) fn kill(&mut self) {
        if !self.killed {
            self.killed = true;
            let _ = self.child.kill();
            let _ = self.child.wait();
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
