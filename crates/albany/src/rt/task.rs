//! Runtime-neutral join handles for spawned tasks and blocking functions.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Waits for a task spawned with [`Handle::spawn`](super::Handle::spawn) or
/// [`Handle::spawn_blocking`](super::Handle::spawn_blocking).
///
/// A future that resolves to the task's output, or to a [`JoinError`] if
/// the task panicked or was aborted. Dropping it detaches the task, which
/// keeps running.
pub struct JoinHandle<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    result: Option<Result<T, JoinError>>,
    /// The task has finished and `result` was set (or taken).
    finished: bool,
    aborted: bool,
    join_waker: Option<Waker>,
    task_waker: Option<Waker>,
}

impl<T> Shared<T> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                result: None,
                finished: false,
                aborted: false,
                join_waker: None,
                task_waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, result: Result<T, JoinError>) {
        let mut state = self.lock();
        state.result = Some(result);
        state.finished = true;
        state.task_waker = None;
        if let Some(waker) = state.join_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task: a spawned future is dropped at its next wake-up and
    /// the handle resolves to a cancelled [`JoinError`]. A blocking function
    /// that has already started runs to its end (threads cannot be
    /// interrupted); one that has not started never runs.
    pub fn abort(&self) {
        let mut state = self.shared.lock();
        if state.finished {
            return;
        }
        state.aborted = true;
        if let Some(waker) = state.task_waker.take() {
            drop(state);
            waker.wake();
        }
    }

    /// Returns `true` if the task has finished (completed, panicked or been
    /// cancelled).
    pub fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.shared.lock();
        if let Some(result) = state.result.take() {
            return Poll::Ready(result);
        }
        if state.finished {
            return Poll::Ready(Err(JoinError {
                kind: Kind::Cancelled,
            }));
        }
        match &state.join_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.join_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task gave no output: it panicked or was cancelled.
pub struct JoinError {
    kind: Kind,
}

enum Kind {
    /// In a `Mutex` so that `JoinError` is `Sync` (an error type can then be
    /// boxed into `BoxError`).
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
    Cancelled,
}

impl JoinError {
    /// Returns `true` if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panic(_))
    }

    /// Returns `true` if the task was cancelled with [`JoinHandle::abort`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// Returns the panic's payload, to resume it with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Errors
    ///
    /// Gives `self` back if the task was cancelled, not panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.kind {
            Kind::Panic(payload) => {
                Ok(payload.into_inner().unwrap_or_else(PoisonError::into_inner))
            }
            Kind::Cancelled => Err(self),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Panic(_) => f.write_str("JoinError::Panic(..)"),
            Kind::Cancelled => f.write_str("JoinError::Cancelled"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Panic(payload) => {
                let payload = payload.lock().unwrap_or_else(PoisonError::into_inner);
                let message = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a non-string payload");
                write!(f, "the task panicked: {message}")
            }
            Kind::Cancelled => f.write_str("the task was cancelled"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> Self {
        std::io::Error::other(error)
    }
}

/// Wraps `future` into a task that reports to the returned handle.
pub(super) fn future_task<F>(future: F) -> (impl Future<Output = ()> + Send, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = Shared::new();
    let task = Task {
        future: Some(Box::pin(future)),
        shared: shared.clone(),
    };
    (task, JoinHandle { shared })
}

struct Task<F: Future> {
    future: Option<Pin<Box<F>>>,
    shared: Arc<Shared<F::Output>>,
}

impl<F: Future> Future for Task<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(());
        };
        {
            let mut state = this.shared.lock();
            if state.aborted {
                drop(state);
                this.future = None;
                this.shared.complete(Err(JoinError {
                    kind: Kind::Cancelled,
                }));
                return Poll::Ready(());
            }
            match &state.task_waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => state.task_waker = Some(cx.waker().clone()),
            }
        }
        let result = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(JoinError {
                kind: Kind::Panic(Mutex::new(payload)),
            }),
        };
        this.future = None;
        this.shared.complete(result);
        Poll::Ready(())
    }
}

impl<F: Future> Drop for Task<F> {
    fn drop(&mut self) {
        // A runtime that drops the task unfinished (it is shutting down)
        // resolves the handle as cancelled instead of leaving it pending.
        if self.future.take().is_some() {
            self.shared.complete(Err(JoinError {
                kind: Kind::Cancelled,
            }));
        }
    }
}

/// Wraps `f` into a job that reports to the returned handle.
pub(super) fn blocking_task<F, R>(f: F) -> (impl FnOnce() + Send + 'static, JoinHandle<R>)
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let shared = Shared::new();
    let job_shared = shared.clone();
    let job = move || {
        if job_shared.lock().aborted {
            job_shared.complete(Err(JoinError {
                kind: Kind::Cancelled,
            }));
            return;
        }
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|payload| JoinError {
            kind: Kind::Panic(Mutex::new(payload)),
        });
        job_shared.complete(result);
    };
    (job, JoinHandle { shared })
}

#[cfg(test)]
mod tests {
    use super::super::{BoxBlocking, BoxTask, Handle, Runtime, Sleep};
    use std::time::Instant;

    /// A runtime that runs everything inline: enough to test the handles.
    struct Inline;

    impl Runtime for Inline {
        fn spawn(&self, task: BoxTask) {
            futures_lite::future::block_on(task);
        }
        fn sleep_until(&self, _deadline: Instant) -> Sleep {
            Sleep::new(std::future::ready(()))
        }
        fn spawn_blocking(&self, f: BoxBlocking) {
            f();
        }
    }

    #[test]
    fn join_handles_carry_values_and_panics() {
        let handle = Handle::new(Inline);
        let value = futures_lite::future::block_on(handle.spawn(async { 7 })).unwrap();
        assert_eq!(value, 7);
        let value = futures_lite::future::block_on(handle.spawn_blocking(|| 8)).unwrap();
        assert_eq!(value, 8);
        let error =
            futures_lite::future::block_on(handle.spawn_blocking(|| -> u8 { panic!("boom") }))
                .unwrap_err();
        assert!(error.is_panic());
        assert_eq!(error.to_string(), "the task panicked: boom");
    }
}
