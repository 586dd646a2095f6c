//! Child processes through `async-process` (spec IO-6).

use std::io;

use std::process::ExitStatus;
use std::task::{Context, Waker};

use albany::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Process};
use albany::rt::BoxFuture;

/// Spawns `command` with the standard streams it sets (inherited
/// otherwise), its pipes on the reactor.
///
/// The process is reaped when it exits, also after the [`Child`] is
/// dropped, by async-process's reaper (pidfd on Linux, `SIGCHLD`
/// elsewhere). The reaper runs in [`process_driver`] when an adapter has
/// spawned it, and otherwise on a thread of async-process's own.
///
/// # Errors
///
/// The operating system's error, such as `NotFound` for a program that
/// does not exist.
pub fn spawn_process(command: Command) -> io::Result<Child> {
    let parts = command.into_parts();
    // The streams are set here: async-process ignores those of the `std`
    // command it is made from.
    let mut child = async_process::Command::from(parts.command)
        .stdin(parts.stdin)
        .stdout(parts.stdout)
        .stderr(parts.stderr)
        .spawn()?;
    let stdin = child.stdin.take().map(ChildStdin::new);
    let stdout = child.stdout.take().map(ChildStdout::new);
    let stderr = child.stderr.take().map(ChildStderr::new);
    Ok(Child::new(AsyncProcess(child), stdin, stdout, stderr))
}

struct AsyncProcess(async_process::Child);

impl Process for AsyncProcess {
    fn id(&self) -> Option<u32> {
        Some(self.0.id())
    }

    fn wait(&mut self) -> BoxFuture<'_, io::Result<ExitStatus>> {
        Box::pin(self.0.status())
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.0.try_status()
    }

    fn start_kill(&mut self) -> io::Result<()> {
        match self.0.kill() {
            // Already exited (and reaped): nothing to kill.
            Err(error) if error.kind() == io::ErrorKind::InvalidInput => Ok(()),
            result => result,
        }
    }
}

/// async-process's reaper as a task for the adapter's executor, so that no
/// thread of async-process's own is started (spec IO-1).
///
/// The future never completes; spawn it (detached) on an executor that
/// runs as long as the runtime. It has been polled once already, so
/// async-process counts it as a driver before the first child is spawned:
/// a child spawned before the executor first polled the task would
/// otherwise start async-process's thread. Several drivers may run; one
/// drives, the others wait.
pub fn process_driver() -> BoxFuture<'static, ()> {
    let mut driver: BoxFuture<'static, ()> = Box::pin(async {
        let _never = async_process::driver().await;
    });
    // A no-op waker: the executor polls it again, with its own, at once.
    let _ = driver
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    driver
}
