//! [`Timer`]: `async_io::Timer` as the engine's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// A timer on the `async-io` reactor that completes at a deadline: the
/// `Sleep` of the smol and async-std bindings.
///
/// `async_io::Timer` resolves to the `Instant` it fired at; this one to
/// `()`, as the engine and hyper expect. [`reset`](Timer::reset) moves the
/// deadline and keeps the registered waker.
#[derive(Debug)]
pub struct Timer {
    inner: async_io::Timer,
}

impl Timer {
    /// A timer that completes at `deadline` (at once if it has passed).
    pub fn at(deadline: Instant) -> Self {
        Timer {
            inner: async_io::Timer::at(deadline),
        }
    }

    /// Sets the timer to complete at `deadline` instead.
    pub fn reset(&mut self, deadline: Instant) {
        self.inner.set_at(deadline);
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx).map(drop)
    }
}
