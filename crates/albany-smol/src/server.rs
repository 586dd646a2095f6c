use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::thread;

use albany::Application;
use async_executor::Executor;

use crate::{SmolRuntime, TcpListener};

/// The engine bound to smol. [`Server`] is `albany_server::Server<SmolBinding>`.
///
/// The default binding spawns on smol's global executor; use
/// [`SmolBinding::new`] to spawn on an executor of your own.
#[derive(Debug, Clone, Default)]
pub struct SmolBinding {
    runtime: SmolRuntime,
}

impl SmolBinding {
    /// Binds to the given runtime (see [`SmolRuntime::with_executor`]).
    pub fn new(runtime: SmolRuntime) -> Self {
        SmolBinding { runtime }
    }
}

impl albany_server::Binding for SmolBinding {
    type Listener = TcpListener;
    type Runtime = SmolRuntime;

    fn runtime(&self) -> io::Result<SmolRuntime> {
        Ok(self.runtime.clone())
    }

    fn listen(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }

    /// Runs `main` on the binding's own executors if it has some, each
    /// driven by a thread; otherwise on one executor per core, each driven
    /// by a thread of its own (this thread runs the first), with tasks
    /// spawned on them in turn (see [`SmolRuntime::with_executors`]). Each
    /// thread runs `smol::block_on`, which drives the `async-io` reactor
    /// itself while its executor is idle, and polls it without blocking
    /// every 16 tasks while it is busy: a socket event wakes a task without
    /// a hop through async-io's fallback reactor thread.
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let executors: Vec<Arc<Executor<'static>>> = match self.runtime.executors() {
            [] => {
                let threads = thread::available_parallelism().map_or(1, |n| n.get());
                (0..threads).map(|_| Arc::new(Executor::new())).collect()
            }
            own => own.to_vec(),
        };
        // Dropping `stop` (also on an early return) ends the workers' loops.
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let mut workers = Vec::with_capacity(executors.len() - 1);
        for (i, executor) in executors.iter().enumerate().skip(1) {
            let executor = executor.clone();
            let stopped = stopped.clone();
            workers.push(
                thread::Builder::new()
                    .name(format!("albany-smol-{i}"))
                    .spawn(move || smol::block_on(run_executor(&executor, stopped.recv())))?,
            );
        }
        let first = executors[0].clone();
        let binding = SmolBinding::new(SmolRuntime::with_executors(executors));
        let output = smol::block_on(run_executor(&first, main(binding)));
        drop(stop);
        for worker in workers {
            let _ = worker.join();
        }
        Ok(output)
    }
}

/// Tasks a worker runs between two polls of the reactor (made without
/// blocking) while it has work; tokio's scheduler uses 61 for the same.
///
/// `async-io`'s fallback thread takes the reactor whenever nobody has polled
/// it during one of the thread's sleeps (50 µs at first, backing off to
/// 10 ms while others poll it). `Executor::run` lets `block_on` poll it only
/// every 200 tasks, which at 256 busy connections is long enough:
/// in 2 of 6 pinned runs the fallback thread took the reactor, each event
/// then crossed threads, and the run lost about a fifth of its requests.
/// With 16, none did in 16 runs, at the cost of about 0.04 extra reactor
/// polls per request (`perf stat`, benches/README.md "Syscalls").
const REACTOR_INTERVAL: usize = 16;

/// Runs `executor`'s tasks on this thread until `future` completes, letting
/// `block_on` poll the reactor every [`REACTOR_INTERVAL`] tasks while tasks
/// keep coming.
///
/// When the queue runs dry first, the next `tick` finds no task and
/// `block_on` waits in the reactor anyway; polling it without blocking just
/// before would be a second reactor turn, and each turn with a timer
/// registered (every connection has its header read timeout) costs async-io
/// a heap allocation.
async fn run_executor<T>(executor: &Executor<'static>, future: impl Future<Output = T>) -> T {
    let tasks = async {
        loop {
            // Waits (in the reactor, through `block_on`) for a task.
            executor.tick().await;
            let mut ran = 1;
            while ran < REACTOR_INTERVAL && executor.try_tick() {
                ran += 1;
            }
            if ran == REACTOR_INTERVAL {
                // Returns to `block_on`, which polls the reactor without
                // blocking before it polls this future again.
                futures_lite::future::yield_now().await;
            }
        }
    };
    futures_lite::future::or(future, tasks).await
}

/// An Albany server on smol: bind, configure, serve.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// # fn example() -> std::io::Result<()> {
/// let app = from_fn(|_| async { Response::new(Body::from("Hello, world!")) });
/// smol::block_on(async {
///     let server = albany_smol::Server::bind("127.0.0.1:3000")?;
///     let shutdown = server.shutdown_handle(); // call shutdown.shutdown() to stop
///     server.serve(app).await
/// })
/// # }
/// ```
pub type Server = albany_server::Server<SmolBinding>;

/// Serves `application` on `addr` on a new multi-threaded smol executor
/// until Ctrl-C, SIGTERM or SIGHUP, then shuts down gracefully.
///
/// ```no_run
/// use albany::{from_fn, Body, Response};
///
/// fn main() -> std::io::Result<()> {
///     albany_smol::run("127.0.0.1:3000", from_fn(|_| async {
///         Response::new(Body::from("Hello, world!"))
///     }))
/// }
/// ```
///
/// # Errors
///
/// The error of [`Server::bind`] or of serving.
pub fn run(addr: impl ToSocketAddrs, application: impl Application) -> io::Result<()> {
    Server::bind(addr)?.run(application)
}
