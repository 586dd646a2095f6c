//! The event-loop service: spawn tasks, sleep, run blocking code, and reach
//! the network and child processes.
//!
//! An async application needs an event loop's services. Albany makes them
//! part of the interface: every server binds its runtime through
//! [`Runtime`] and puts a [`Handle`] in each request's extensions, so
//! application code that uses [`Handle`] runs unchanged on tokio, async-std
//! and smol.
//!
//! ```
//! use std::time::Duration;
//! use albany::{Body, Request, RequestExt, Response};
//!
//! async fn slow_hello(request: Request) -> Response {
//!     let Some(handle) = request.runtime() else {
//!         return Response::new(Body::from("no runtime"));
//!     };
//!     handle.sleep(Duration::from_millis(10)).await;
//!     let sum = handle.spawn_blocking(|| (1..=10u64).sum::<u64>()).await.unwrap();
//!     Response::new(Body::from(format!("{sum}")))
//! }
//! ```
//!
//! | need | [`Handle`] method |
//! | --- | --- |
//! | run a task in the background | [`spawn`](Handle::spawn) |
//! | wait, or bound a wait | [`sleep`](Handle::sleep), [`sleep_until`](Handle::sleep_until), [`timeout`](Handle::timeout) |
//! | blocking work (a synchronous driver, file I/O) | [`spawn_blocking`](Handle::spawn_blocking) |
//! | a TCP connection | [`connect`](Handle::connect) (by address or `host:port`), [`resolve`](Handle::resolve) |
//! | a Unix socket connection | [`connect_unix`](Handle::connect_unix) |
//! | a TCP listener | [`bind`](Handle::bind), [`listen`](Handle::listen) |
//! | a child process with pipes | [`spawn_process`](Handle::spawn_process) |
//!
//! The design follows hyper's `rt` module: a small object-safe trait that
//! binds a runtime, and typed conveniences on top of it.

mod task;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use task::{JoinError, JoinHandle};

use crate::net::{Connector, Destination, TcpListener, TcpStream};
use crate::process::{Child, Command};

/// A boxed task, as [`Runtime::spawn`] receives it.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A boxed blocking function, as [`Runtime::spawn_blocking`] receives it.
pub type BoxBlocking = Box<dyn FnOnce() + Send + 'static>;

/// A boxed `Send` future, as [`Runtime`]'s I/O methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An event loop, as a server binds it for applications: tasks, timers, a
/// blocking pool, and network I/O on its reactor. Object safe.
///
/// Applications use it through [`Handle`]. Servers built on
/// `albany-server` get it derived from their binding (they implement
/// `albany_server::Binding`, a generic trait, and never this one); a server
/// of another design implements it directly, as the example below does.
///
/// # Contract
///
/// What every implementation guarantees (spec §10 "Runtime service" and §11
/// "I/O"):
///
/// - **Any thread** (RT-6): every method works when called from any
///   thread, inside the runtime's worker threads or outside them (a thread
///   of the blocking pool, a thread the application started), and every
///   future it returns may be polled on any thread.
/// - **No blocking** (RT-5): no method blocks the caller; what waits,
///   waits in a returned future.
/// - [`spawn`](Runtime::spawn) runs the task to completion in the
///   background, detached (RT-2); a panic in the task ends that task only,
///   never the runtime or its other tasks (RT-16): catch it around each poll
///   if the executor does not.
/// - [`sleep_until`](Runtime::sleep_until) completes at the deadline, or at
///   once if it has passed, never before (RT-3).
/// - [`spawn_blocking`](Runtime::spawn_blocking) runs the function on a
///   thread where blocking is allowed, not on a thread that runs tasks
///   (RT-4).
/// - The I/O methods register sockets and processes with the runtime's own
///   reactor, starting no threads beyond the runtime's (IO-1); errors are
///   the operating system's, with their [`io::ErrorKind`]
///   (`ConnectionRefused`, `NotFound`, ...) (IO-3); dropping a returned
///   future or stream closes its socket (IO-7); a process is reaped when it
///   exits, also after its [`Child`] is dropped, without blocking the event
///   loop (IO-6).
///
/// The I/O methods have default implementations that fail with
/// [`io::ErrorKind::Unsupported`], for runtimes made for tests; a server's
/// runtime implements them all (IO-1).
///
/// # Example
///
/// A complete runtime on smol's pieces: an `async_executor::Executor` for
/// tasks (run by threads of its own), `async-io` for timers and sockets,
/// `blocking` for the pool, `async-process` for children.
///
/// ```
/// use std::io;
/// use std::net::SocketAddr;
/// use std::panic::AssertUnwindSafe;
/// use std::path::PathBuf;
/// use std::process::ExitStatus;
/// use std::sync::Arc;
/// use std::task::{ready, Context, Poll};
/// use std::time::Instant;
///
/// use albany::net::{Accept, TcpListener, TcpStream, UnixStream};
/// use albany::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Process};
/// use albany::rt::{BoxBlocking, BoxFuture, BoxTask, Handle, Runtime, Sleep};
/// use async_io::Async;
/// use futures_lite::FutureExt;
///
/// struct Smol {
///     executor: Arc<async_executor::Executor<'static>>,
/// }
///
/// impl Runtime for Smol {
///     fn spawn(&self, task: BoxTask) {
///         // async-executor lets a panic unwind into the thread running it.
///         let task = AssertUnwindSafe(task).catch_unwind();
///         self.executor.spawn(async move { drop(task.await) }).detach();
///     }
///
///     fn sleep_until(&self, deadline: Instant) -> Sleep {
///         Sleep::new(async_io::Timer::at(deadline))
///     }
///
///     fn spawn_blocking(&self, f: BoxBlocking) {
///         blocking::unblock(f).detach();
///     }
///
///     fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
///         Box::pin(async move { Ok(TcpStream::new(Async::<std::net::TcpStream>::connect(addr).await?)) })
///     }
///
///     fn listen_tcp(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
///         let local_addr = listener.local_addr()?;
///         Ok(TcpListener::new(Listener(Async::new(listener)?), local_addr))
///     }
///
///     fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<UnixStream>> {
///         Box::pin(async move {
///             let stream = Async::<std::os::unix::net::UnixStream>::connect(path).await?;
///             Ok(UnixStream::new(stream))
///         })
///     }
///
///     fn spawn_process(&self, command: Command) -> io::Result<Child> {
///         let parts = command.into_parts();
///         let mut child = async_process::Command::from(parts.command)
///             .stdin(parts.stdin)
///             .stdout(parts.stdout)
///             .stderr(parts.stderr)
///             .spawn()?;
///         let stdin = child.stdin.take().map(ChildStdin::new);
///         let stdout = child.stdout.take().map(ChildStdout::new);
///         let stderr = child.stderr.take().map(ChildStderr::new);
///         Ok(Child::new(ProcessOf(child), stdin, stdout, stderr))
///     }
/// }
///
/// struct Listener(Async<std::net::TcpListener>);
///
/// impl Accept for Listener {
///     fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
///         loop {
///             match self.0.get_ref().accept() {
///                 Ok((stream, peer)) => return Poll::Ready(Ok((TcpStream::new(Async::new(stream)?), peer))),
///                 Err(error) if error.kind() == io::ErrorKind::WouldBlock => ready!(self.0.poll_readable(cx))?,
///                 Err(error) => return Poll::Ready(Err(error)),
///             }
///         }
///     }
/// }
///
/// struct ProcessOf(async_process::Child);
///
/// impl Process for ProcessOf {
///     fn id(&self) -> Option<u32> {
///         Some(self.0.id())
///     }
///     fn wait(&mut self) -> BoxFuture<'_, io::Result<ExitStatus>> {
///         Box::pin(self.0.status())
///     }
///     fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
///         self.0.try_status()
///     }
///     fn start_kill(&mut self) -> io::Result<()> {
///         self.0.kill()
///     }
/// }
///
/// let executor = Arc::new(async_executor::Executor::new());
/// let handle = Handle::new(Smol { executor: executor.clone() });
/// let answer = async_io::block_on(executor.run(async {
///     let mut listener = handle.bind("127.0.0.1:0".parse().unwrap())?;
///     let addr = listener.local_addr();
///     let connect = handle.spawn(handle.connect(addr));
///     let (_server_side, _peer) = listener.accept().await?;
///     let client_side = connect.await??;
///     io::Result::Ok(client_side.peer_addr()? == addr)
/// }));
/// assert!(answer.unwrap());
/// ```
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` to completion in the background, concurrently with the
    /// caller. The task is detached: nothing waits for it. A panic in it
    /// ends it alone (RT-16).
    fn spawn(&self, task: BoxTask);

    /// Returns a future that completes at `deadline` (or at once if the
    /// deadline has passed).
    fn sleep_until(&self, deadline: Instant) -> Sleep;

    /// Runs `f` on a thread where blocking is allowed (a thread pool
    /// separate from the event loop's workers).
    fn spawn_blocking(&self, f: BoxBlocking);

    /// Makes one TCP connection attempt to `addr` on the runtime's reactor.
    /// Unbounded: [`Connector`] adds the bounds. Dropping the future closes
    /// the socket.
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `ConnectionRefused`; by
    /// default `Unsupported`.
    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        let _ = addr;
        Box::pin(std::future::ready(Err(unsupported("TCP connections"))))
    }

    /// Registers `listener` (bound, listening and non-blocking) with the
    /// runtime's reactor.
    ///
    /// # Errors
    ///
    /// The reactor's error if it cannot register the socket; by default
    /// `Unsupported`.
    fn listen_tcp(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        drop(listener);
        Err(unsupported("TCP listeners"))
    }

    /// Connects to the Unix domain socket at `path` on the runtime's
    /// reactor; unbounded, as [`connect_tcp`](Runtime::connect_tcp). Unix
    /// only.
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotFound` or
    /// `ConnectionRefused`; by default `Unsupported`.
    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> BoxFuture<'static, io::Result<crate::net::UnixStream>> {
        let _ = path;
        Box::pin(std::future::ready(Err(unsupported("Unix sockets"))))
    }

    /// Spawns `command` as a child process with the standard streams of
    /// [`Command::into_parts`], its pipes (those set to `Stdio::piped()`)
    /// registered with the runtime's reactor, and reaps it when it exits
    /// without blocking the event loop. [`Handle::spawn_process`] applies
    /// `kill_on_drop` to the [`Child`].
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotFound` for a program that
    /// does not exist; by default `Unsupported`.
    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        drop(command);
        Err(unsupported("child processes"))
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this runtime offers no {what}"),
    )
}

/// A future that completes at a deadline, from [`Runtime::sleep_until`].
///
/// `Send`, `Sync` and `Unpin`.
pub struct Sleep {
    inner: Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>,
}

impl Sleep {
    /// Wraps a runtime's timer future; its output (an `Instant`, for
    /// `async_io::Timer`) is discarded.
    pub fn new<F>(timer: F) -> Self
    where
        F: Future + Send + Sync + 'static,
    {
        Sleep {
            inner: Box::pin(Discard { future: timer }),
        }
    }
}

pin_project_lite::pin_project! {
    struct Discard<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Discard<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().future.poll(cx).map(drop)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}

/// A handle to the runtime serving the request: a cheap clone (one
/// reference count) of an `Arc<dyn Runtime>`, usable from any thread.
///
/// Adapters insert one in every request's extensions; get it with
/// [`RequestExt::runtime`](crate::RequestExt::runtime).
#[derive(Clone)]
pub struct Handle {
    runtime: Arc<dyn Runtime>,
}

impl Handle {
    /// Wraps a runtime binding.
    pub fn new(runtime: impl Runtime) -> Self {
        Handle {
            runtime: Arc::new(runtime),
        }
    }

    /// Wraps a shared runtime binding.
    pub fn from_arc(runtime: Arc<dyn Runtime>) -> Self {
        Handle { runtime }
    }

    /// Returns the runtime binding.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Runs `future` in the background. The returned [`JoinHandle`] resolves
    /// to its output; dropping the handle detaches the task, and
    /// [`JoinHandle::abort`] cancels it. A panic in the task is caught and
    /// returned as a [`JoinError`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, handle) = task::future_task(future);
        self.runtime.spawn(Box::pin(task));
        handle
    }

    /// Runs the blocking function `f` on the runtime's blocking thread pool
    /// and resolves to its return value, so that synchronous work (a
    /// synchronous database driver, file I/O, hashing) does not stall the
    /// event loop. A panic in `f` is returned as a [`JoinError`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = task::blocking_task(f);
        self.runtime.spawn_blocking(Box::new(job));
        handle
    }

    /// Waits for `duration`.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.runtime.sleep_until(deadline_after(duration))
    }

    /// Waits until `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        self.runtime.sleep_until(deadline)
    }

    /// Runs `future` for at most `duration`: resolves to its output, or to
    /// [`Elapsed`] (and drops the future) when the time is up.
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: self.sleep(duration),
        }
    }

    /// Connects over TCP to `destination` (a [`SocketAddr`] or `"host:port"`,
    /// see [`Destination`]) with the default bounds of [`Connector::new`]:
    /// 10 seconds for the name lookup and for each address tried.
    ///
    /// # Errors
    ///
    /// As [`Connector::connect`]: `InvalidInput`, `NotFound` (the name does
    /// not resolve), `TimedOut`, or the last attempt's error
    /// (`ConnectionRefused`, ...).
    pub fn connect(
        &self,
        destination: impl Into<Destination>,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static {
        let handle = self.clone();
        let destination = destination.into();
        async move { Connector::new().connect(&handle, destination).await }
    }

    /// Looks up `host` and returns its addresses with `port`, in the order
    /// the system's resolver gives them. An IP literal is returned at once;
    /// a name is looked up with `getaddrinfo(3)` on the blocking pool.
    /// Unbounded: [`Connector`] bounds the lookups it makes.
    ///
    /// # Errors
    ///
    /// `NotFound` when the name does not resolve (or resolves to nothing),
    /// with the resolver's message.
    pub fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        let lookup = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => Err(SocketAddr::new(ip, port)),
            Err(_) => {
                let host = host.to_owned();
                Ok(self.spawn_blocking(move || crate::net::lookup_blocking(&host, port)))
            }
        };
        async move {
            match lookup {
                Err(literal) => Ok(vec![literal]),
                Ok(lookup) => lookup.await?,
            }
        }
    }

    /// Connects to the Unix domain socket at `path`, bounded by the default
    /// attempt timeout of [`Connector::new`] (10 seconds). Unix only.
    ///
    /// # Errors
    ///
    /// As [`Connector::connect_unix`]: `NotFound`, `ConnectionRefused`,
    /// `TimedOut`, or the operating system's error.
    #[cfg(unix)]
    pub fn connect_unix(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> impl Future<Output = io::Result<crate::net::UnixStream>> + Send + 'static {
        let handle = self.clone();
        let path = path.as_ref().to_path_buf();
        async move { Connector::new().connect_unix(&handle, path).await }
    }

    /// Binds a TCP listener on `addr` (port 0 picks a free port) and
    /// registers it with the runtime.
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `AddrInUse`.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        self.listen(std::net::TcpListener::bind(addr)?)
    }

    /// Registers a listener bound elsewhere with the runtime, switching it
    /// to non-blocking mode first.
    ///
    /// # Errors
    ///
    /// The operating system's error if the mode cannot be set, or the
    /// runtime's if it cannot register the socket.
    pub fn listen(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        self.runtime.listen_tcp(listener)
    }

    /// Spawns `command` as a child process on the runtime: streams set to `Stdio::piped()` become [`Child`]'s
    /// `futures_io` streams, and the process is reaped without blocking the
    /// event loop (spec IO-6).
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotFound` for a program that
    /// does not exist.
    pub fn spawn_process(&self, command: Command) -> io::Result<Child> {
        let kill_on_drop = command.get_kill_on_drop();
        let mut child = self.runtime.spawn_process(command)?;
        child.kill_on_drop(kill_on_drop);
        Ok(child)
    }
}

/// `now + duration`, or a deadline about 30 years away if that overflows.
fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// A future with a time limit, from [`Handle::timeout`].
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(this.sleep).poll(cx).map(|()| Err(Elapsed(())))
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

/// The error of a [`Timeout`] whose time ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}
