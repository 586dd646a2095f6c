use std::sync::Arc;
use std::time::Instant;

use albany::rt::{BoxBlocking, BoxTask, Runtime, Sleep};
use async_executor::Executor;

/// Albany's runtime service on smol: tasks on an `async_executor::Executor`
/// (smol's global executor by default), timers with `async_io::Timer`,
/// blocking work on the `blocking` crate's thread pool (smol's own).
#[derive(Debug, Clone, Default)]
pub struct SmolRuntime {
    executor: Option<Arc<Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns tasks on `executor`. Something must run it: a thread in
    /// `block_on(executor.run(..))`.
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Some(executor),
        }
    }

    /// Spawns tasks on smol's global executor (`smol::spawn`), whose
    /// threads smol starts itself (`SMOL_THREADS`, default 1).
    pub fn global() -> Self {
        SmolRuntime { executor: None }
    }

    pub(crate) fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.executor.as_ref()
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, task: BoxTask) {
        match &self.executor {
            Some(executor) => executor.spawn(task).detach(),
            None => smol::spawn(task).detach(),
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(async_io::Timer::at(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        blocking::unblock(f).detach();
    }
}
