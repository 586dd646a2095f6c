use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use albany::rt::{BoxBlocking, BoxTask, Runtime, Sleep};
use albany_server::Spawn;
use async_executor::Executor;

/// Albany's runtime service on smol: tasks on `async_executor::Executor`s
/// (smol's global executor by default), timers with `async_io::Timer`,
/// blocking work on the `blocking` crate's thread pool (smol's own).
///
/// With several executors ([`SmolRuntime::with_executors`], as
/// [`run`](crate::run) and `Server::run` use, one per worker thread), tasks
/// are spawned on them in turn: each thread runs its own queue, without the
/// contention of one queue shared by every thread.
#[derive(Debug, Clone, Default)]
pub struct SmolRuntime {
    executors: Option<Arc<Executors>>,
}

#[derive(Debug)]
struct Executors {
    list: Vec<Arc<Executor<'static>>>,
    next: AtomicUsize,
}

impl SmolRuntime {
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
        SmolRuntime {
            executors: Some(Arc::new(Executors {
                list: executors,
                next: AtomicUsize::new(0),
            })),
        }
    }

    /// Spawns tasks on smol's global executor (`smol::spawn`), whose
    /// threads smol starts itself (`SMOL_THREADS`, default 1).
    pub fn global() -> Self {
        SmolRuntime { executors: None }
    }

    /// The executors tasks are spawned on; empty for smol's global one.
    pub(crate) fn executors(&self) -> &[Arc<Executor<'static>>] {
        self.executors.as_ref().map_or(&[], |e| &e.list)
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, task: BoxTask) {
        Spawn::spawn(self, task);
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(async_io::Timer::at(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        blocking::unblock(f).detach();
    }
}

impl Spawn for SmolRuntime {
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
}
