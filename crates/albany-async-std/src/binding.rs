//! [`AsyncStdBinding`]: the engine bound to async-std's executor and
//! blocking pool, and async-io's reactor and timers (async-std's own).

use std::future::Future;
use std::io;
use std::sync::Once;

use albany::process::{Child, Command};

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

/// The runtime service on async-std's global runtime, as a request served
/// by this adapter gets it: for code that runs outside a request, such as
/// an [`Application`](albany::Application) hosted by another server.
pub fn handle() -> albany::rt::Handle {
    albany_server::handle(AsyncStdBinding)
}

impl albany_server::Binding for AsyncStdBinding {
    // Timers, connections, the listener and the transport: the async-io
    // reactor's, the same for every runtime on it.
    albany_async_io::reactor!();

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

    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        REAPER.call_once(|| drop(async_std::task::spawn(albany_async_io::process_driver())));
        albany_async_io::spawn_process(command)
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
