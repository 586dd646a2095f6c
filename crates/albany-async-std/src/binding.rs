//! [`AsyncStdBinding`]: the engine bound to async-std's executor and
//! blocking pool, and async-io's reactor and timers (async-std's own).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};
use std::time::Instant;

use albany::net::TcpStream;
use albany::process::{Child, Command};
use albany::ConnectionInfo;
use albany_async_io::{AsyncIoStream, Timer};
use async_io::Async;

/// The engine bound to async-std. [`Server`](crate::Server) is
/// `albany_server::Server<AsyncStdBinding>`.
///
/// - tasks: `async_std::task::spawn`, on async-std's global executor (one
///   thread per core, `ASYNC_STD_THREAD_COUNT`);
/// - timers and sockets: the async-io reactor, through `albany-async-io`;
/// - blocking work: `async_std::task::spawn_blocking`;
/// - child processes: async-process, whose reaper runs as a task on
///   async-std's executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdBinding;

/// async-process's reaper has been spawned on async-std's global executor,
/// which lives as long as the process.
static REAPER: Once = Once::new();

impl albany_server::Binding for AsyncStdBinding {
    type Sleep = Timer;
    type Listener = Async<std::net::TcpListener>;
    type Connection = AsyncIoStream;

    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(async_std::task::spawn(task));
    }

    fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        drop(async_std::task::spawn_blocking(f));
    }

    fn sleep_until(&self, deadline: Instant) -> Timer {
        Timer::at(deadline)
    }

    fn reset(sleep: Pin<&mut Timer>, deadline: Instant) {
        sleep.get_mut().reset(deadline);
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static {
        albany_async_io::connect_tcp(addr)
    }

    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> impl Future<Output = io::Result<albany::net::UnixStream>> + Send + 'static {
        albany_async_io::connect_unix(path)
    }

    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        REAPER.call_once(|| drop(async_std::task::spawn(albany_async_io::process_driver())));
        albany_async_io::spawn_process(command)
    }

    fn listen(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener> {
        albany_async_io::listen(listener)
    }

    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(AsyncIoStream, ConnectionInfo)>> {
        albany_async_io::poll_accept(listener, cx)
    }

    fn into_tcp_stream(connection: AsyncIoStream) -> TcpStream {
        TcpStream::new(connection.into_inner())
    }

    /// Runs `main` with `async_std::task::block_on`; async-std's global
    /// executor runs one thread per core (`ASYNC_STD_THREAD_COUNT`).
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future,
    {
        Ok(async_std::task::block_on(main(self)))
    }
}
