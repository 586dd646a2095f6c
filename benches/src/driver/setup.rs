//! What a run needs around it: the release binaries, the tools, enough
//! file descriptors, CPU affinity, and the machine's description.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::command;
use crate::error::{bail, Context, Result};
use crate::server::Binaries;

/// The workspace's root directory (the parent of `benches/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The directory of this package (`benches/`).
pub(crate) fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `bench-server` (and this driver) with the profile this driver
/// was built with: `cargo build --release -p albany-bench --bins`; with
/// `proxy`, also the `proxy` example as its README builds it: `cargo build
/// --release -p albany-examples --example proxy` (a command of its own, so
/// that the example gets its own features, not the harness's).
///
/// # Errors
///
/// When cargo cannot run or a build fails.
pub(crate) fn build(proxy: bool) -> Result<()> {
    cargo(&["build", "-p", "albany-bench", "--bins"])?;
    if proxy {
        cargo(&["build", "-p", "albany-examples", "--example", "proxy"])?;
    }
    Ok(())
}

/// Runs `cargo ARGS` (with `--release` unless this driver is a debug
/// build) in the workspace.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    eprintln!("building: {command:?}");
    let status = command
        .current_dir(workspace_root())
        .status()
        .context(|| "running cargo".to_owned())?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// The `bench-server` binary next to this driver and, with `proxy`, the
/// `proxy` example in `examples/` beside them.
///
/// # Errors
///
/// When one is not there.
pub(crate) fn binaries(proxy: bool) -> Result<Binaries> {
    let exe = std::env::current_exe()?;
    let bench_server = exe.with_file_name("bench-server");
    if !bench_server.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p albany-bench`",
            bench_server.display()
        );
    }
    let proxy = if proxy {
        let example = exe.with_file_name("examples").join("proxy");
        if !example.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release -p albany-examples --example proxy`",
                example.display()
            );
        }
        Some(example)
    } else {
        None
    };
    Ok(Binaries {
        bench_server,
        proxy,
        certificate: None,
    })
}

/// Checks that the tools the driver runs are installed.
///
/// # Errors
///
/// Names the missing ones and how to install them (`benches/run.sh` does).
pub(crate) fn check_tools() -> Result<()> {
    let missing: Vec<&str> = [
        ("wrk", "wrk"),
        ("h2load", "nghttp2-client"),
        ("taskset", "util-linux"),
    ]
    .into_iter()
    .filter(|(tool, _)| !command::on_path(tool))
    .map(|(_, package)| package)
    .collect();
    if !missing.is_empty() {
        bail!(
            "missing tools; install them with `apt-get install -y {}` (benches/run.sh does)",
            missing.join(" ")
        );
    }
    Ok(())
}

/// Raises the soft limit of open files to the hard limit (the idle test
/// opens 10,000 connections; servers inherit the limit).
///
/// # Errors
///
/// When the limit stays below `needed`.
pub(crate) fn raise_file_limit(needed: u64) -> Result<u64> {
    let limit =
        rlimit::increase_nofile_limit(u64::MAX).context(|| "raising RLIMIT_NOFILE".to_owned())?;
    if limit < needed {
        bail!(
            "RLIMIT_NOFILE is {limit}, the run needs {needed}: raise the hard limit (ulimit -Hn)"
        );
    }
    Ok(limit)
}

/// The CPUs this process may run on, as `taskset` lists them (`0-1`).
pub(crate) fn allowed_cpus() -> Result<String> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .map(|list| list.trim().to_owned())
        .ok_or_else(|| {
            "no Cpus_allowed_list in /proc/self/status"
                .to_owned()
                .into()
        })
}

/// Moves every thread of this process to `cpus` (`taskset -a -p -c`);
/// threads started later inherit it.
///
/// # Errors
///
/// When taskset fails.
pub(crate) fn set_affinity(cpus: &str) -> Result<()> {
    command::run(
        Command::new("taskset")
            .args(["-a", "-p", "-c", cpus])
            .arg(std::process::id().to_string()),
        Duration::from_secs(10),
    )
    .map(drop)
}

/// The machine a run was measured on.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// The CPU model, from `/proc/cpuinfo`.
    pub(crate) cpu: String,
    /// CPUs available to the process.
    pub(crate) cores: usize,
    /// The kernel release.
    pub(crate) kernel: String,
    /// `rustc --version`.
    pub(crate) rustc: String,
    /// The date of the run, UTC.
    pub(crate) date: String,
}

impl Machine {
    /// Describes this machine.
    pub(crate) fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| format!("Linux {}", k.trim()))
            .unwrap_or_else(|_| "unknown kernel".to_owned());
        let output = |program: &str, args: &[&str]| {
            command::run(Command::new(program).args(args), Duration::from_secs(30))
                .map(|out| out.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned())
        };
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            rustc: output("rustc", &["--version"]),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        }
    }
}
