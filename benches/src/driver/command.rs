//! Runs an external tool (wrk, h2load, taskset, cargo) with a deadline and
//! returns what it printed.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};

/// A directory of scratch files for this run, removed at the end.
pub(crate) fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("albany-bench-{}", std::process::id()))
}

/// A fresh scratch file name with `suffix`.
pub(crate) fn scratch_file(suffix: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    scratch_dir().join(format!("{n}-{suffix}"))
}

/// Runs `command` to completion, killing it after `deadline`, and returns
/// its standard output.
///
/// # Errors
///
/// When it cannot start, runs past the deadline, or exits unsuccessfully
/// (the message has the end of its standard error).
pub(crate) fn run(command: &mut Command, deadline: Duration) -> Result<String> {
    let name = format!("{:?}", command.get_program());
    std::fs::create_dir_all(scratch_dir())?;
    let stdout_path = scratch_file("stdout");
    let stderr_path = scratch_file("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?)
        .spawn()
        .context(|| format!("starting {name}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{name} ran longer than {deadline:?} and was killed");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stdout_path);
    let _ = std::fs::remove_file(&stderr_path);
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{name} failed ({status}): {}", tail.join("\n"));
    }
    Ok(stdout)
}

/// Whether `tool` is an executable file on `PATH`.
pub(crate) fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    })
}
