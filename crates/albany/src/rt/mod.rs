//! The event-loop service: spawn tasks, sleep, run blocking code.
//!
//! An async application needs an event loop's services. Albany makes them
//! part of the interface: every adapter implements [`Runtime`] once and puts
//! a [`Handle`] in each request's extensions, so application code that uses
//! [`Handle`] runs unchanged on tokio, async-std and smol.
//!
//! ```
//! use std::time::Duration;
//! use albany::{Body, Request, RequestExt, Response};
//!
//! async fn slow_hello(request: Request) -> Response {
//!     let Some(handle) = request.runtime() else {
//!         return Response::new(Body::from("no runtime"));
//!     };
//!     handle.sleep(Duration::from_millis(10)).await;
//!     let sum = handle.spawn_blocking(|| (1..=10u64).sum::<u64>()).await.unwrap();
//!     Response::new(Body::from(format!("{sum}")))
//! }
//! ```
//!
//! The design follows hyper's `rt` module: a small object-safe trait that
//! binds a runtime, and typed conveniences on top of it.

mod task;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use task::{JoinError, JoinHandle};

/// A boxed task, as [`Runtime::spawn`] receives it.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A boxed blocking function, as [`Runtime::spawn_blocking`] receives it.
pub type BoxBlocking = Box<dyn FnOnce() + Send + 'static>;

/// An event loop, as an adapter binds it. Object safe.
///
/// Implement it once per runtime; applications use it through [`Handle`].
/// Implementations must not block in any method.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` to completion in the background, concurrently with the
    /// caller. The task is detached: nothing waits for it.
    fn spawn(&self, task: BoxTask);

    /// Returns a future that completes at `deadline` (or at once if the
    /// deadline has passed).
    fn sleep_until(&self, deadline: Instant) -> Sleep;

    /// Runs `f` on a thread where blocking is allowed (a thread pool
    /// separate from the event loop's workers).
    fn spawn_blocking(&self, f: BoxBlocking);
}

/// A future that completes at a deadline, from [`Runtime::sleep_until`].
///
/// `Send`, `Sync` and `Unpin`.
pub struct Sleep {
    inner: Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>,
}

impl Sleep {
    /// Wraps a runtime's timer future; its output (an `Instant`, for
    /// `async_io::Timer`) is discarded.
    pub fn new<F>(timer: F) -> Self
    where
        F: Future + Send + Sync + 'static,
    {
        Sleep {
            inner: Box::pin(Discard { future: timer }),
        }
    }
}

pin_project_lite::pin_project! {
    struct Discard<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Discard<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().future.poll(cx).map(drop)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}

/// A handle to the event loop serving the request: a cheap clone
/// (one reference count).
///
/// Adapters insert one in every request's extensions; get it with
/// [`RequestExt::runtime`](crate::RequestExt::runtime).
#[derive(Clone)]
pub struct Handle {
    runtime: Arc<dyn Runtime>,
}

impl Handle {
    /// Wraps a runtime binding.
    pub fn new(runtime: impl Runtime) -> Self {
        Handle {
            runtime: Arc::new(runtime),
        }
    }

    /// Wraps a shared runtime binding.
    pub fn from_arc(runtime: Arc<dyn Runtime>) -> Self {
        Handle { runtime }
    }

    /// Returns the runtime binding.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Runs `future` in the background. The returned [`JoinHandle`] resolves
    /// to its output; dropping the handle detaches the task, and
    /// [`JoinHandle::abort`] cancels it. A panic in the task is caught and
    /// returned as a [`JoinError`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, handle) = task::future_task(future);
        self.runtime.spawn(Box::pin(task));
        handle
    }

    /// Runs the blocking function `f` on the runtime's blocking thread pool
    /// and resolves to its return value, so that synchronous work (a
    /// synchronous database driver, file I/O, hashing) does not stall the
    /// event loop. A panic in `f` is returned as a [`JoinError`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = task::blocking_task(f);
        self.runtime.spawn_blocking(Box::new(job));
        handle
    }

    /// Waits for `duration`.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.runtime.sleep_until(deadline_after(duration))
    }

    /// Waits until `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        self.runtime.sleep_until(deadline)
    }

    /// Runs `future` for at most `duration`: resolves to its output, or to
    /// [`Elapsed`] (and drops the future) when the time is up.
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: self.sleep(duration),
        }
    }
}

/// `now + duration`, or a deadline about 30 years away if that overflows.
fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// A future with a time limit, from [`Handle::timeout`].
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(this.sleep).poll(cx).map(|()| Err(Elapsed(())))
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

/// The error of a [`Timeout`] whose time ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}
