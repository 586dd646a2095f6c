use std::future::Future;
use std::time::Instant;

use albany::rt::{BoxBlocking, BoxTask, Runtime, Sleep};
use albany_server::Spawn;

/// Albany's runtime service on async-std: tasks with
/// `async_std::task::spawn`, timers with `async_io::Timer` (async-std's own
/// reactor), blocking work with `async_std::task::spawn_blocking`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, task: BoxTask) {
        Spawn::spawn(self, task);
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(async_io::Timer::at(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        drop(async_std::task::spawn_blocking(f));
    }
}

impl Spawn for AsyncStdRuntime {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(async_std::task::spawn(task));
    }
}
