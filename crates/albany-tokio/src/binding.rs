//! [`TokioBinding`]: the engine bound to tokio's scheduler, timer, blocking
//! pool, reactor and process driver.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::{Context, Poll};
use std::time::Instant;

use albany::net::TcpStream;
use albany::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Process};
use albany::rt::BoxFuture;
use albany::ConnectionInfo;
use hyper_util::rt::TokioIo;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

/// The engine bound to tokio. [`Server`](crate::Server) is
/// `albany_server::Server<TokioBinding>`.
///
/// - tasks: `tokio::runtime::Handle::spawn`, stored in tokio's own task
///   allocation;
/// - timers: `tokio::time::Sleep`, reset in place;
/// - blocking work: tokio's blocking pool;
/// - sockets: `tokio::net` on tokio's reactor; child processes:
///   `tokio::process`, reaped by tokio's `SIGCHLD` driver (no threads of
///   their own).
///
/// The default binding uses the tokio runtime that
/// [`Server::serve`](albany_server::Server::serve) is called in, and
/// [`Server::run`](albany_server::Server::run) creates a multi-threaded
/// runtime with one worker per core; [`TokioBinding::new`] names a runtime.
/// The runtime needs its I/O and time drivers (`enable_all`).
#[derive(Debug, Clone, Default)]
pub struct TokioBinding {
    handle: Option<tokio::runtime::Handle>,
}

/// The runtime service of the tokio runtime this is called in, as a
/// request served by this adapter gets it: for code that runs outside a
/// request, such as an [`Application`](albany::Application) hosted by
/// another server through tower.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::runtime::Handle::current` does.
pub fn handle() -> albany::rt::Handle {
    albany_server::handle(TokioBinding::new(tokio::runtime::Handle::current()))
}

impl TokioBinding {
    /// Binds to the runtime of `handle`; from inside a runtime,
    /// `TokioBinding::new(tokio::runtime::Handle::current())`.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        TokioBinding {
            handle: Some(handle),
        }
    }

    /// The runtime's handle: the one bound, or the current one.
    fn handle(&self) -> tokio::runtime::Handle {
        self.handle
            .clone()
            .unwrap_or_else(tokio::runtime::Handle::current)
    }

    /// Runs `f` inside the runtime's context, which tokio needs to create
    /// timers and register sockets (RT-6: the caller may be on any thread).
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.handle {
            Some(handle) => {
                let _context = handle.enter();
                f()
            }
            None => f(),
        }
    }
}

impl albany_server::Binding for TokioBinding {
    type Sleep = tokio::time::Sleep;
    type Listener = tokio::net::TcpListener;
    type Connection = TokioIo<tokio::net::TcpStream>;
    #[cfg(unix)]
    type UnixListener = tokio::net::UnixListener;
    #[cfg(unix)]
    type UnixConnection = TokioIo<tokio::net::UnixStream>;

    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.handle {
            Some(handle) => drop(handle.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        match &self.handle {
            Some(handle) => drop(handle.spawn_blocking(f)),
            None => drop(tokio::task::spawn_blocking(f)),
        }
    }

    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        self.enter(|| tokio::time::sleep_until(deadline.into()))
    }

    fn reset(sleep: Pin<&mut tokio::time::Sleep>, deadline: Instant) {
        sleep.reset(deadline.into());
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static {
        InRuntime::new(self.handle(), async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            Ok(TcpStream::new(Socket(stream.compat())))
        })
    }

    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> impl Future<Output = io::Result<albany::net::UnixStream>> + Send + 'static {
        InRuntime::new(self.handle(), async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok(albany::net::UnixStream::new(Socket(stream.compat())))
        })
    }

    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        let parts = command.into_parts();
        let mut command = tokio::process::Command::from(parts.command);
        command
            .stdin(parts.stdin)
            .stdout(parts.stdout)
            .stderr(parts.stderr);
        let handle = self.handle();
        let mut child = {
            let _context = handle.enter();
            command.spawn()?
        };
        let stdin = child
            .stdin
            .take()
            .map(|s| ChildStdin::new(s.compat_write()));
        let stdout = child.stdout.take().map(|s| ChildStdout::new(s.compat()));
        let stderr = child.stderr.take().map(|s| ChildStderr::new(s.compat()));
        Ok(Child::new(
            TokioProcess { child, handle },
            stdin,
            stdout,
            stderr,
        ))
    }

    fn listen(&self, listener: std::net::TcpListener) -> io::Result<tokio::net::TcpListener> {
        self.enter(|| tokio::net::TcpListener::from_std(listener))
    }

    fn poll_accept(
        &self,
        listener: &tokio::net::TcpListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Connection, ConnectionInfo)>> {
        listener.poll_accept(cx).map(|accepted| {
            let (stream, peer_addr) = accepted?;
            stream.set_nodelay(true)?;
            let local_addr = stream.local_addr()?;
            Ok((
                TokioIo::new(stream),
                ConnectionInfo::new(peer_addr, local_addr),
            ))
        })
    }

    #[cfg(unix)]
    fn listen_unix(
        &self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<tokio::net::UnixListener> {
        self.enter(|| tokio::net::UnixListener::from_std(listener))
    }

    #[cfg(unix)]
    fn poll_accept_unix(
        &self,
        listener: &tokio::net::UnixListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::UnixConnection, ConnectionInfo)>> {
        listener.poll_accept(cx).map(|accepted| {
            let (stream, peer) = accepted?;
            let local = stream.local_addr()?;
            let info = ConnectionInfo::from_unix_addrs(&peer.into(), &local.into());
            Ok((TokioIo::new(stream), info))
        })
    }

    fn into_tcp_stream(connection: Self::Connection) -> TcpStream {
        TcpStream::new(Socket(connection.into_inner().compat()))
    }

    /// Runs `main` on the bound runtime (`Handle::block_on`), or on a new
    /// multi-threaded runtime with one worker thread per core and every
    /// driver enabled.
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future,
    {
        if let Some(handle) = self.handle.clone() {
            return Ok(handle.block_on(main(self)));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let binding = TokioBinding::new(runtime.handle().clone());
        Ok(runtime.block_on(main(binding)))
    }

    /// The bound runtime, or else the one this is called in.
    fn current(&self) -> io::Result<Self> {
        match &self.handle {
            Some(_) => Ok(self.clone()),
            None => tokio::runtime::Handle::try_current()
                .map(TokioBinding::new)
                .map_err(io::Error::other),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside the runtime's context, whatever thread polls
    /// it (RT-6): tokio registers a socket when its connect is first polled.
    struct InRuntime<F> {
        handle: tokio::runtime::Handle,
        #[pin]
        future: F,
    }
}

impl<F> InRuntime<F> {
    fn new(handle: tokio::runtime::Handle, future: F) -> Self {
        InRuntime { handle, future }
    }
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _context = this.handle.enter();
        this.future.poll(cx)
    }
}

/// A tokio socket as an [`albany::net::Socket`]: `futures_io` through
/// tokio-util's `Compat`, and its descriptor.
struct Socket<T>(Compat<T>);

impl<T: tokio::io::AsyncRead + Unpin> futures_io::AsyncRead for Socket<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> futures_io::AsyncWrite for Socket<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    /// tokio's own vectored write: tokio-util's `Compat` has none, and
    /// `futures_io`'s default writes only the first buffer (hyper writes a
    /// head and a body as two, so every response took two `writev`s).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write_vectored(Pin::new(self.0.get_mut()), cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd> std::os::fd::AsFd for Socket<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.get_ref().as_fd()
    }
}

#[cfg(windows)]
impl<T: std::os::windows::io::AsSocket> std::os::windows::io::AsSocket for Socket<T> {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.0.get_ref().as_socket()
    }
}

/// A `tokio::process::Child` as an Albany [`Process`].
struct TokioProcess {
    child: tokio::process::Child,
    handle: tokio::runtime::Handle,
}

impl Process for TokioProcess {
    fn id(&self) -> Option<u32> {
        self.child.id()
    }

    fn wait(&mut self) -> BoxFuture<'_, io::Result<ExitStatus>> {
        Box::pin(InRuntime::new(self.handle.clone(), self.child.wait()))
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    fn start_kill(&mut self) -> io::Result<()> {
        match self.child.start_kill() {
            // Already exited and reaped: nothing to kill.
            Err(error) if error.kind() == io::ErrorKind::InvalidInput => Ok(()),
            result => result,
        }
    }
}
