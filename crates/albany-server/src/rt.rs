//! hyper's executor, on the binding's [`Spawn`], and hyper's timer, on an Albany
//! runtime [`Handle`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use albany::rt::{Handle, Sleep};
use futures_util::FutureExt;

use crate::Spawn;

/// hyper's [`Executor`](hyper::rt::Executor) on an Albany runtime: spawns
/// HTTP/2 stream tasks with the binding's [`Spawn`], unboxed.
#[derive(Clone, Debug)]
pub struct HyperExecutor<S> {
    spawn: S,
}

impl<S: Spawn> HyperExecutor<S> {
    /// Wraps a binding's runtime.
    pub fn new(spawn: S) -> Self {
        HyperExecutor { spawn }
    }
}

impl<S, F> hyper::rt::Executor<F> for HyperExecutor<S>
where
    S: Spawn,
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        // A panic inside hyper ends this stream's task only; it must not
        // unwind into the executor (smol's would lose a worker thread).
        self.spawn
            .spawn(AssertUnwindSafe(future).catch_unwind().map(|result| {
                if result.is_err() {
                    tracing::error!("an HTTP/2 stream task panicked");
                }
            }));
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on an Albany runtime.
#[derive(Clone, Debug)]
pub struct HyperTimer {
    handle: Handle,
}

impl HyperTimer {
    /// Wraps a runtime handle.
    pub fn new(handle: Handle) -> Self {
        HyperTimer { handle }
    }
}

struct HyperSleep {
    inner: Sleep,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: self.handle.sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: self.handle.sleep_until(deadline),
        })
    }
}
