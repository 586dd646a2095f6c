use std::future::Future;
use std::time::Instant;

use albany::rt::{BoxBlocking, BoxTask, Runtime, Sleep};
use albany_server::Spawn;

/// Albany's runtime service on tokio: tasks with `Handle::spawn`, timers
/// with `tokio::time`, blocking work on tokio's blocking pool.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// Binds to the given tokio runtime.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime { handle }
    }

    /// Binds to the tokio runtime the caller runs in.
    ///
    /// # Errors
    ///
    /// When called outside a tokio runtime.
    pub fn current() -> std::io::Result<Self> {
        tokio::runtime::Handle::try_current()
            .map(TokioRuntime::new)
            .map_err(std::io::Error::other)
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxTask) {
        Spawn::spawn(self, task);
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        // Timers need the runtime's context; the caller may be on any thread.
        let _context = self.handle.enter();
        Sleep::new(tokio::time::sleep_until(deadline.into()))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        drop(self.handle.spawn_blocking(f));
    }
}

impl Spawn for TokioRuntime {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(task));
    }
}
