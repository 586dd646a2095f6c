//! [`SmolBinding`]: the engine bound to smol's executors, async-io's
//! reactor and timers, the `blocking` pool and async-process.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::thread;

use albany::process::{Child, Command};
use async_executor::Executor;

/// The engine bound to smol. [`Server`](crate::Server) is
/// `albany_server::Server<SmolBinding>`.
///
/// - tasks: `async_executor::Executor`s, smol's global executor by default;
///   with several executors ([`SmolBinding::with_executors`], as
///   [`run`](crate::run) and `Server::run` use, one per worker thread),
///   tasks are spawned on them in turn: each thread runs its own queue,
///   without the contention of one queue shared by every thread;
/// - timers and sockets: the async-io reactor, through `albany-async-io`;
/// - blocking work: the `blocking` crate's pool (smol's own);
/// - child processes: async-process, whose reaper runs as a task on the
///   binding's first executor.
#[derive(Debug, Clone, Default)]
pub struct SmolBinding {
    executors: Option<Arc<Executors>>,
}

#[derive(Debug)]
struct Executors {
    list: Vec<Arc<Executor<'static>>>,
    next: AtomicUsize,
    /// async-process's reaper has been spawned on `list[0]`.
    reaper: Once,
}

impl SmolBinding {
    /// Spawns tasks on `executor`. Something must run it: a thread in
    /// `block_on(executor.run(..))`.
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        Self::with_executors(vec![executor])
    }

    /// Spawns tasks on `executors` in turn. Something must run each of
    /// them, typically one thread each. An empty list means smol's global
    /// executor.
    pub fn with_executors(executors: Vec<Arc<Executor<'static>>>) -> Self {
        if executors.is_empty() {
            return Self::global();
        }
        SmolBinding {
            executors: Some(Arc::new(Executors {
                list: executors,
                next: AtomicUsize::new(0),
                reaper: Once::new(),
            })),
        }
    }

    /// Spawns tasks on smol's global executor (`smol::spawn`), whose
    /// threads smol starts itself (`SMOL_THREADS`, default 1), and which
    /// runs async-process's reaper itself.
    pub fn global() -> Self {
        SmolBinding { executors: None }
    }

    /// The executors tasks are spawned on; empty for smol's global one.
    fn executors(&self) -> &[Arc<Executor<'static>>] {
        self.executors.as_ref().map_or(&[], |e| &e.list)
    }
}

/// The runtime service on smol's global executor
/// ([`SmolBinding::global`]), as a request served by this adapter gets it:
/// for code that runs outside a request, such as an
/// [`Application`](albany::Application) hosted by another server.
pub fn handle() -> albany::rt::Handle {
    albany_server::handle(SmolBinding::global())
}

impl albany_server::Binding for SmolBinding {
    // Timers, connections, the listener and the transport: the async-io
    // reactor's, the same for every runtime on it.
    albany_async_io::reactor!();

    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.executors {
            Some(executors) => {
                let list = &executors.list;
                let index = if list.len() == 1 {
                    0
                } else {
                    executors.next.fetch_add(1, Ordering::Relaxed) % list.len()
                };
                list[index].spawn(task).detach();
            }
            None => smol::spawn(task).detach(),
        }
    }

    fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        blocking::unblock(f).detach();
    }

    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        if let Some(executors) = &self.executors {
            executors.reaper.call_once(|| {
                executors.list[0]
                    .spawn(albany_async_io::process_driver())
                    .detach();
            });
        }
        albany_async_io::spawn_process(command)
    }

    /// Runs `main` on the binding's own executors if it has some, each
    /// driven by a thread; otherwise on one executor per core, each driven
    /// by a thread of its own (this thread runs the first), with tasks
    /// spawned on them in turn (see [`SmolBinding::with_executors`]). Each
    /// thread runs `smol::block_on`, which drives the `async-io` reactor
    /// itself while its executor is idle, and polls it without blocking
    /// every 16 tasks while it is busy: a socket event wakes a task without
    /// a hop through async-io's fallback reactor thread.
    fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
    where
        F: Future,
    {
        let executors: Vec<Arc<Executor<'static>>> = match self.executors() {
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
        let binding = SmolBinding::with_executors(executors);
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
