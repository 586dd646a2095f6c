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
        stage: Stage::Running { future },
        shared: shared.clone(),
    };
    (task, JoinHandle { shared })
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        Running { #[pin] future: F },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// The spawned future, inline (the runtime boxes the task once), and
    /// the state it reports to.
    struct Task<F: Future> {
        #[pin]
        stage: Stage<F>,
        shared: Arc<Shared<F::Output>>,
    }

    impl<F: Future> PinnedDrop for Task<F> {
        fn drop(this: Pin<&mut Self>) {
            // A runtime that drops the task unfinished (it is shutting down)
            // resolves the handle as cancelled instead of leaving it pending.
            let this = this.project();
            if matches!(this.stage.as_ref().get_ref(), Stage::Running { .. }) {
                this.shared.complete(Err(JoinError {
                    kind: Kind::Cancelled,
                }));
            }
        }
    }
}

impl<F: Future> Future for Task<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let StageProj::Running { future } = this.stage.as_mut().project() else {
            return Poll::Ready(());
        };
        let aborted = {
            let mut state = this.shared.lock();
            if !state.aborted {
                match &state.task_waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => state.task_waker = Some(cx.waker().clone()),
                }
            }
            state.aborted
        };
        let result = if aborted {
            Err(JoinError {
                kind: Kind::Cancelled,
            })
        } else {
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(output)) => Ok(output),
                Err(payload) => Err(JoinError {
                    kind: Kind::Panic(Mutex::new(payload)),
                }),
            }
        };
        // Drop the future before the handle sees the result.
        this.stage.set(Stage::Done);
        this.shared.complete(result);
        Poll::Ready(())
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

    /// A runtime that keeps spawned tasks until the test runs or drops them.
    #[derive(Default)]
    struct Deferred {
        tasks: std::sync::Mutex<Vec<BoxTask>>,
    }

    impl Runtime for std::sync::Arc<Deferred> {
        fn spawn(&self, task: BoxTask) {
            self.tasks.lock().unwrap().push(task);
        }
        fn sleep_until(&self, _deadline: Instant) -> Sleep {
            Sleep::new(std::future::ready(()))
        }
        fn spawn_blocking(&self, f: BoxBlocking) {
            f();
        }
    }

    #[test]
    fn aborted_and_dropped_tasks_resolve_as_cancelled() {
        let runtime = std::sync::Arc::new(Deferred::default());
        let handle = Handle::new(runtime.clone());
        let aborted = handle.spawn(std::future::pending::<()>());
        let dropped = handle.spawn(std::future::pending::<()>());
        aborted.abort();
        let mut tasks = std::mem::take(&mut *runtime.tasks.lock().unwrap());
        futures_lite::future::block_on(tasks.remove(0));
        assert!(futures_lite::future::block_on(aborted)
            .unwrap_err()
            .is_cancelled());
        drop(tasks);
        assert!(futures_lite::future::block_on(dropped)
            .unwrap_err()
            .is_cancelled());
    }
}
