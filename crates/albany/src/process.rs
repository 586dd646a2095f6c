//! Child processes through the runtime: spawn a [`Command`] with
//! [`Handle::spawn_process`](crate::rt::Handle::spawn_process), read and
//! write its pipes as `futures_io` streams, wait for its exit status
//! without blocking the event loop (spec IO-6).
//!
//! ```
//! use std::process::Stdio;
//! use albany::process::Command;
//! use albany::rt::Handle;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! async fn shout(handle: &Handle, text: &str) -> std::io::Result<String> {
//!     let mut command = Command::new("tr");
//!     command.args(["a-z", "A-Z"]).stdin(Stdio::piped()).stdout(Stdio::piped());
//!     let mut child = handle.spawn_process(command)?;
//!     let mut stdin = child.stdin.take().expect("piped");
//!     stdin.write_all(text.as_bytes()).await?;
//!     drop(stdin); // end of input
//!     let mut shouted = String::new();
//!     child.stdout.take().expect("piped").read_to_string(&mut shouted).await?;
//!     let status = child.wait().await?;
//!     assert!(status.success());
//!     Ok(shouted)
//! }
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Output, Stdio};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::io_forward::{forward_read, forward_write};
use crate::rt::BoxFuture;

/// A process to spawn through the runtime: `std::process::Command`, with
/// the standard streams and [`kill_on_drop`](Command::kill_on_drop) kept
/// where every runtime binding applies them the same way.
///
/// Set the program's arguments, environment and directory with the
/// methods below (they forward to `std`), other options with
/// [`as_std_mut`](Command::as_std_mut). The standard streams must be set
/// here: each is inherited from the server unless set with
/// [`stdin`](Command::stdin), [`stdout`](Command::stdout) or
/// [`stderr`](Command::stderr), and a stream set on the inner
/// `std::process::Command` is overridden. (There is no conversion from a
/// `std::process::Command`: `std` cannot tell which streams were set, and
/// async-process, the process layer of smol and async-std, would silently
/// inherit them all.)
///
/// ```
/// use std::process::Stdio;
/// use albany::process::Command;
///
/// let mut command = Command::new("gzip");
/// command.arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).kill_on_drop(true);
/// ```
pub struct Command {
    std: std::process::Command,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    kill_on_drop: bool,
}

/// A [`Command`] taken apart, for runtime bindings: the `std` command and
/// the standard streams to give the process (`Stdio::inherit()` where none
/// was set).
#[derive(Debug)]
#[non_exhaustive]
pub struct CommandParts {
    /// The program, arguments, environment, directory and other options.
    pub command: std::process::Command,
    /// The child's standard input.
    pub stdin: Stdio,
    /// The child's standard output.
    pub stdout: Stdio,
    /// The child's standard error.
    pub stderr: Stdio,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` when it has no
    /// slash), with the server's environment and directory, and every
    /// standard stream inherited.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            std: std::process::Command::new(program),
            stdin: None,
            stdout: None,
            stderr: None,
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.std.env_remove(key);
        self
    }

    /// Clears the environment.
    pub fn env_clear(&mut self) -> &mut Self {
        self.std.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: `Stdio::piped()` gives
    /// [`Child::stdin`]. Default: inherited.
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdin = Some(stdio.into());
        self
    }

    /// Sets the child's standard output: `Stdio::piped()` gives
    /// [`Child::stdout`]. Default: inherited.
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdout = Some(stdio.into());
        self
    }

    /// Sets the child's standard error: `Stdio::piped()` gives
    /// [`Child::stderr`]. Default: inherited.
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stderr = Some(stdio.into());
        self
    }

    /// Whether dropping the [`Child`] kills the process (`SIGKILL`), as a
    /// request handler wants when its future is dropped because the client
    /// went away (spec IO-7). Default: `false`, as with `std` and tokio.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Self {
        self.kill_on_drop = kill;
        self
    }

    /// Whether [`kill_on_drop`](Command::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The inner `std::process::Command`.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The inner `std::process::Command`, for options without a method
    /// here (`process_group`, `uid`, ...); its standard streams are
    /// overridden (see [`Command`]).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Takes the command apart; for runtime bindings.
    pub fn into_parts(self) -> CommandParts {
        CommandParts {
            command: self.std,
            stdin: self.stdin.unwrap_or_else(Stdio::inherit),
            stdout: self.stdout.unwrap_or_else(Stdio::inherit),
            stderr: self.stderr.unwrap_or_else(Stdio::inherit),
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

/// A running child process, as a runtime binding hands it to
/// [`Child::new`]. Object safe.
///
/// The runtime reaps the process when it exits, also after the `Process`
/// is dropped, without blocking a thread of the event loop (tokio's
/// `SIGCHLD` driver, async-process's pidfd or `SIGCHLD` reaper).
pub trait Process: Send + Sync + 'static {
    /// The operating system's process id; `None` once the exit status has
    /// been collected.
    fn id(&self) -> Option<u32>;

    /// Waits for the process to exit and returns its exit status; once it
    /// has, returns the same status again.
    ///
    /// # Errors
    ///
    /// The operating system's error for `waitpid(2)`.
    fn wait(&mut self) -> BoxFuture<'_, io::Result<ExitStatus>>;

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    ///
    /// The operating system's error for `waitpid(2)`.
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>>;

    /// Sends `SIGKILL` (on Windows, `TerminateProcess`) without waiting for
    /// the exit; does nothing once the process has exited.
    ///
    /// # Errors
    ///
    /// The operating system's error for `kill(2)`.
    fn start_kill(&mut self) -> io::Result<()>;
}

/// A child process spawned through the runtime, from
/// [`Handle::spawn_process`](crate::rt::Handle::spawn_process).
///
/// The pipes the [`Command`] asked for (`Stdio::piped()`) are in
/// [`stdin`](Child::stdin), [`stdout`](Child::stdout) and
/// [`stderr`](Child::stderr); take them out to use them. Dropping the
/// `Child` leaves the process running (it is reaped when it exits), as with
/// `std` and tokio, unless [`Command::kill_on_drop`] (or
/// [`Child::kill_on_drop`]) is set: then dropping it kills the process,
/// which is what a request handler wants when its future is dropped because
/// the client went away.
pub struct Child {
    /// The write end of the child's standard input, when piped.
    pub stdin: Option<ChildStdin>,
    /// The read end of the child's standard output, when piped.
    pub stdout: Option<ChildStdout>,
    /// The read end of the child's standard error, when piped.
    pub stderr: Option<ChildStderr>,
    process: Box<dyn Process>,
    kill_on_drop: bool,
}

impl Child {
    /// Wraps a runtime's process and its pipes; for runtime bindings.
    pub fn new(
        process: impl Process,
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
        stderr: Option<ChildStderr>,
    ) -> Self {
        Child {
            stdin,
            stdout,
            stderr,
            process: Box::new(process),
            kill_on_drop: false,
        }
    }

    /// The operating system's process id; `None` once the exit status has
    /// been collected.
    pub fn id(&self) -> Option<u32> {
        self.process.id()
    }

    /// Whether dropping this `Child` kills the process (`SIGKILL`).
    /// Default: [`Command::kill_on_drop`]'s, `false` unless set.
    pub fn kill_on_drop(&mut self, kill: bool) {
        self.kill_on_drop = kill;
    }

    /// Closes standard input (so that a child reading it sees the end),
    /// then waits for the process to exit and returns its exit status.
    ///
    /// # Errors
    ///
    /// The operating system's error for `waitpid(2)`.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        self.process.wait().await
    }

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    ///
    /// The operating system's error for `waitpid(2)`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process.try_wait()
    }

    /// Sends `SIGKILL` without waiting for the process to exit.
    ///
    /// # Errors
    ///
    /// The operating system's error for `kill(2)`.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.process.start_kill()
    }

    /// Kills the process and waits for it to exit.
    ///
    /// # Errors
    ///
    /// The operating system's error for `kill(2)` or `waitpid(2)`.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.process.start_kill()?;
        self.process.wait().await.map(drop)
    }

    /// Closes standard input, reads standard output and standard error to
    /// their ends (those that are piped; the others are empty) while the
    /// process runs, and waits for it to exit.
    ///
    /// # Errors
    ///
    /// A read error on a pipe, or the error of [`wait`](Child::wait).
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout = Drain::new(self.stdout.take().map(|s| s.io));
        let mut stderr = Drain::new(self.stderr.take().map(|s| s.io));
        poll_fn(|cx| {
            let out = stdout.poll(cx)?;
            let err = stderr.poll(cx)?;
            if out.is_ready() && err.is_ready() {
                Poll::Ready(Ok::<(), io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: stdout.bytes,
            stderr: stderr.bytes,
        })
    }
}

/// A pipe read to its end, for [`Child::wait_with_output`].
struct Drain {
    pipe: Option<Box<dyn AsyncRead + Send + Sync + Unpin>>,
    bytes: Vec<u8>,
}

impl Drain {
    fn new(pipe: Option<Box<dyn AsyncRead + Send + Sync + Unpin>>) -> Self {
        Drain {
            pipe,
            bytes: Vec::new(),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut chunk = [0u8; 8192];
        loop {
            match Pin::new(&mut *pipe).poll_read(cx, &mut chunk) {
                Poll::Ready(Ok(0)) => {
                    self.pipe = None;
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(n)) => self.bytes.extend_from_slice(&chunk[..n]),
                Poll::Ready(Err(error)) if error.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.kill_on_drop {
            // The runtime reaps it once it has exited.
            let _ = self.process.start_kill();
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

/// The write end of a child's standard input: [`AsyncWrite`]; dropping it
/// (or `poll_close`) closes the pipe, and the child reads end of file.
pub struct ChildStdin {
    io: Box<dyn AsyncWrite + Send + Sync + Unpin>,
}

impl ChildStdin {
    /// Wraps a runtime's pipe; for runtime bindings.
    pub fn new(io: impl AsyncWrite + Send + Sync + Unpin + 'static) -> Self {
        ChildStdin { io: Box::new(io) }
    }
}

forward_write!(ChildStdin);

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin").finish_non_exhaustive()
    }
}

/// Implements a pipe type that reads: `new` and [`AsyncRead`], forwarded
/// to its boxed reader.
macro_rules! read_pipe {
    ($(#[$doc:meta])* $pipe:ident) => {
        $(#[$doc])*
        pub struct $pipe {
            io: Box<dyn AsyncRead + Send + Sync + Unpin>,
        }

        impl $pipe {
            /// Wraps a runtime's pipe; for runtime bindings.
            pub fn new(io: impl AsyncRead + Send + Sync + Unpin + 'static) -> Self {
                $pipe { io: Box::new(io) }
            }
        }

        forward_read!($pipe);

        impl fmt::Debug for $pipe {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($pipe)).finish_non_exhaustive()
            }
        }
    };
}

read_pipe!(
    /// The read end of a child's standard output: [`AsyncRead`], which
    /// reads 0 (end of file) once the child has closed it (usually, on
    /// exit).
    ChildStdout
);

read_pipe!(
    /// The read end of a child's standard error: [`AsyncRead`], as
    /// [`ChildStdout`].
    ChildStderr
);
