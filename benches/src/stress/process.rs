//! The server under test: a `bench-server` child process, started on a
//! free port with the scenario's options, waited for, read through
//! `/proc/PID` (descriptors, CPU time, memory), signalled and killed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use albany_bench::ServerKind;

use crate::client;
use crate::error::{self, bail, Context, Result};

/// How long a server may take to answer `GET /` after it starts.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// A running `bench-server`; killed when dropped.
pub(crate) struct Server {
    child: Child,
    addr: SocketAddr,
    label: String,
    /// The exit status, once reaped.
    exited: Option<ExitStatus>,
}

impl Server {
    /// Starts `bench-server --server KIND --threads THREADS --addr
    /// 127.0.0.1:PORT EXTRA...` and waits until it answers `GET /` with
    /// `200`.
    ///
    /// # Errors
    ///
    /// When it cannot start, exits, or does not answer within 15 s.
    pub(crate) fn start(
        binary: &Path,
        kind: ServerKind,
        threads: usize,
        extra: &[String],
    ) -> Result<Server> {
        let addr = free_port()?;
        let mut command = Command::new(binary);
        command
            .arg("--server")
            .arg(kind.name())
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--addr")
            .arg(addr.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(var) = kind.threads_env_var() {
            command.env(var, threads.to_string());
        }
        let child = command
            .spawn()
            .context(|| format!("starting {kind} ({})", binary.display()))?;
        let mut server = Server {
            child,
            addr,
            label: kind.name().to_owned(),
            exited: None,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{} exited before serving ({status})", server.label);
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "{} did not listen on {addr} within {START_DEADLINE:?}",
                    server.label
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        server.check_serves()?;
        // Let the server close the checking connection: the scenarios
        // take their baselines (fds, RSS) next.
        thread::sleep(Duration::from_millis(200));
        Ok(server)
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (false: it exited or crashed).
    pub(crate) fn alive(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exited = Some(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Checks that a fresh connection's `GET /` gets `200`.
    ///
    /// # Errors
    ///
    /// When it does not (within 10 s).
    pub(crate) fn check_serves(&self) -> Result<()> {
        let response =
            client::get_once(self.addr, "/").context(|| format!("GET / on {}", self.label))?;
        if response.status != 200 {
            bail!("{} answered GET / with {}", self.label, response.status);
        }
        Ok(())
    }

    /// Prepares to send SIGTERM: a shell waiting on its standard input,
    /// whose builtin `kill` sends the signal as soon as [`Terminator::fire`]
    /// writes a line (no process is started at that moment, so the signal
    /// leaves within a fraction of a millisecond).
    ///
    /// # Errors
    ///
    /// When `sh` cannot start.
    pub(crate) fn terminator(&self) -> Result<Terminator> {
        let child = Command::new("sh")
            .arg("-c")
            .arg("read -r line && kill -TERM \"$1\"")
            .arg("sh")
            .arg(self.pid().to_string())
            .stdin(Stdio::piped())
            .spawn()
            .context(|| "starting sh for kill -TERM".to_owned())?;
        Ok(Terminator { child })
    }

    /// Waits at most `bound` for the process to exit; its status, or
    /// `None` if it is still running.
    pub(crate) fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if !self.alive() {
                return self.exited;
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The number of open file descriptors (`/proc/PID/fd`).
    pub(crate) fn fds(&self) -> u64 {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count() as u64)
            .unwrap_or(0)
    }

    /// The CPU time used so far, user and system (`utime` + `stime` of
    /// `/proc/PID/stat`), in milliseconds.
    pub(crate) fn cpu_ms(&self) -> f64 {
        cpu_ms(self.pid()).unwrap_or(0.0)
    }

    /// The resident set size now (`VmRSS`), in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        crate::rss::status_kib(self.pid(), "VmRSS").unwrap_or(0)
    }

    /// The peak resident set size (`VmHWM`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        crate::rss::status_kib(self.pid(), "VmHWM").unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`; 100
/// when unknown).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The CPU time the calling thread has used so far, user and system
/// (`/proc/thread-self/stat`), in milliseconds; 0 when unknown.
pub(crate) fn thread_cpu_ms() -> f64 {
    stat_cpu_ms("thread-self").unwrap_or(0.0)
}

/// `utime` + `stime` of `/proc/PID/stat`, in milliseconds.
fn cpu_ms(pid: u32) -> Result<f64> {
    stat_cpu_ms(&pid.to_string())
}

/// `utime` + `stime` of `/proc/WHO/stat`, in milliseconds.
fn stat_cpu_ms(who: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted after its closing one (field 3 is the state).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("no command in /proc/{who}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15: indexes 11 and 12 from field 3.
    let ticks: f64 = fields
        .get(11..13)
        .ok_or_else(|| format!("short /proc/{who}/stat"))?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    Ok(ticks * 1000.0 / clock_ticks())
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .context(|| "finding a free port".to_owned())?;
    Ok(listener.local_addr()?)
}

/// A shell ready to send SIGTERM to the server ([`Server::terminator`]).
pub(crate) struct Terminator {
    child: Child,
}

impl Terminator {
    /// Sends the signal, and waits (at most 5 s) for the shell to have
    /// sent it.
    ///
    /// # Errors
    ///
    /// When the shell cannot be written to, or its `kill` fails.
    pub(crate) fn fire(mut self) -> Result<()> {
        use std::io::Write;
        let mut stdin = self
            .child
            .stdin
            .take()
            .ok_or_else(|| error::Error("no stdin for sh".into()))?;
        stdin.write_all(b"go\n")?;
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                bail!("kill -TERM failed ({status})");
            }
            thread::sleep(Duration::from_micros(200));
        }
        let _ = self.child.kill();
        bail!("kill -TERM did not return within 5 s")
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
