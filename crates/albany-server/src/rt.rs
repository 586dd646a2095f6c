//! What the engine derives from a [`Binding`]: the object-safe runtime that
//! applications reach through [`Handle`], and hyper's executor and timer.
//! All private: adapters implement [`Binding`] alone.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use albany::net::{Accept, TcpListener, TcpStream};
use albany::process::{Child, Command};
use albany::rt::{BoxBlocking, BoxFuture, BoxTask, Handle, Runtime, Sleep};
use futures_util::FutureExt;

use crate::Binding;

/// The [`Handle`] of `binding`: the runtime service every request of a
/// server on it gets (spec EXT-1), for code that runs outside a request
/// (a tower bridge, a test client, a task started before serving).
pub fn handle<B: Binding>(binding: B) -> Handle {
    Handle::from_arc(Arc::new(Erased(binding)))
}

/// A binding seen through the object-safe [`Runtime`].
struct Erased<B>(B);

impl<B: Binding> Runtime for Erased<B> {
    fn spawn(&self, task: BoxTask) {
        // [RT-16] A panic ends this task only: it must not unwind into the
        // executor (smol's would lose a worker thread). Tasks from
        // `Handle::spawn` catch their own; a task given here directly may
        // not.
        self.0
            .spawn(AssertUnwindSafe(task).catch_unwind().map(|result| {
                if result.is_err() {
                    tracing::error!("a task spawned through the runtime panicked");
                }
            }));
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(self.0.sleep_until(deadline))
    }

    fn spawn_blocking(&self, f: BoxBlocking) {
        self.0.spawn_blocking(f);
    }

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(self.0.connect_tcp(addr))
    }

    fn listen_tcp(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let local_addr = listener.local_addr()?;
        let listener = self.0.listen(listener)?;
        Ok(TcpListener::new(
            Listening {
                binding: self.0.clone(),
                listener,
            },
            local_addr,
        ))
    }

    #[cfg(unix)]
    fn connect_unix(
        &self,
        path: std::path::PathBuf,
    ) -> BoxFuture<'static, io::Result<albany::net::UnixStream>> {
        Box::pin(self.0.connect_unix(path))
    }

    fn spawn_process(&self, command: Command) -> io::Result<Child> {
        self.0.spawn_process(command)
    }
}

/// A binding's listener as an application's [`TcpListener`].
struct Listening<B: Binding> {
    binding: B,
    listener: B::Listener,
}

impl<B: Binding> Accept for Listening<B> {
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.binding
            .poll_accept(&self.listener, cx)
            .map(|accepted| {
                let (connection, info) = accepted?;
                let peer = info.peer_addr().ok_or_else(|| {
                    io::Error::other("a TCP listener accepted a connection without a TCP peer")
                })?;
                Ok((B::into_tcp_stream(connection), peer))
            })
    }
}

/// hyper's [`Executor`](hyper::rt::Executor) on a binding: spawns HTTP/2
/// stream tasks unboxed, each under a [`StreamWatchdog`] when
/// `stream_timeout` (the response write timeout) is set.
#[derive(Clone)]
pub(crate) struct HyperExecutor<B> {
    pub(crate) binding: B,
    /// [LIMIT-19] How long an HTTP/2 stream's response may wait without
    /// its body being polled; `None`: not watched.
    pub(crate) stream_timeout: Option<Duration>,
}

impl<B, F> hyper::rt::Executor<F> for HyperExecutor<B>
where
    B: Binding,
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        // A panic inside hyper ends this stream's task only.
        let caught = |result: std::thread::Result<()>| {
            if result.is_err() {
                tracing::error!("an HTTP/2 stream task panicked");
            }
        };
        match self.stream_timeout {
            None => self
                .binding
                .spawn(AssertUnwindSafe(future).catch_unwind().map(caught)),
            Some(timeout) => self.binding.spawn(
                AssertUnwindSafe(StreamWatchdog {
                    inner: Some(future),
                    sleep: None,
                    binding: self.binding.clone(),
                    timeout,
                    armed: false,
                    progress: false,
                })
                .catch_unwind()
                .map(caught),
            ),
        }
    }
}

thread_local! {
    /// [LIMIT-19] Set when a response makes progress (its head is handed
    /// to hyper, its body is polled) on this thread; read and cleared by
    /// the [`StreamWatchdog`] around each poll of its stream.
    static RESPONSE_PROGRESS: Cell<bool> = const { Cell::new(false) };
}

/// [LIMIT-19] Notes that a response made progress in the task being
/// polled: its head was handed to hyper, or its body was polled.
#[inline]
pub(crate) fn note_response_progress() {
    RESPONSE_PROGRESS.with(|progress| progress.set(true));
}

pin_project_lite::pin_project! {
    /// [LIMIT-19] An HTTP/2 stream's task, ended (the stream is reset) when
    /// its response has stopped: once the response head is handed to
    /// hyper, the stream's body must be polled at least once in every
    /// period of `timeout`. hyper stops polling it when the client gives
    /// the stream no flow-control window; a body that is polled and
    /// pending (the application has nothing to send yet) is not stalled.
    /// The timer is made when the stream first waits after its head, and
    /// checked when it fires: a stall is found between one and two
    /// periods after the last progress.
    struct StreamWatchdog<F, B: Binding> {
        #[pin]
        inner: Option<F>,
        #[pin]
        sleep: Option<B::Sleep>,
        binding: B,
        timeout: Duration,
        // The response head was handed to hyper.
        armed: bool,
        // Progress since the timer was last set.
        progress: bool,
    }
}

impl<F: Future<Output = ()>, B: Binding> Future for StreamWatchdog<F, B> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        RESPONSE_PROGRESS.with(|progress| progress.set(false));
        let polled = inner.poll(cx);
        if RESPONSE_PROGRESS.with(|progress| progress.replace(false)) {
            *this.armed = true;
            *this.progress = true;
        }
        if polled.is_ready() || !*this.armed {
            return polled;
        }
        loop {
            if this.sleep.is_none() {
                let deadline = deadline_after(Instant::now(), *this.timeout);
                this.sleep.set(Some(this.binding.sleep_until(deadline)));
                *this.progress = false;
            }
            let sleep = this
                .sleep
                .as_mut()
                .as_pin_mut()
                .expect("the timer was just set");
            if sleep.poll(cx).is_pending() {
                return Poll::Pending;
            }
            if !*this.progress {
                break;
            }
            // Progress in the last period: watch the next one.
            *this.progress = false;
            let deadline = deadline_after(Instant::now(), *this.timeout);
            let sleep = this.sleep.as_mut().as_pin_mut().expect("the timer is set");
            B::reset(sleep, deadline);
        }
        // The client's doing: DEBUG.
        tracing::debug!(
            timeout_ms = this.timeout.as_millis() as u64,
            "an HTTP/2 response made no progress within the response write timeout; resetting its stream"
        );
        // Dropping hyper's stream task resets the stream (CANCEL).
        this.inner.set(None);
        Poll::Ready(())
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on a binding: one box per sleep
/// (hyper's `Pin<Box<dyn Sleep>>`), and `reset` in place.
#[derive(Clone)]
pub(crate) struct HyperTimer<B>(pub(crate) B);

pin_project_lite::pin_project! {
    struct HyperSleep<S> {
        #[pin]
        inner: S,
    }
}

impl<S: Future<Output = ()>> Future for HyperSleep<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl<S: Future<Output = ()> + Send + Sync + 'static> hyper::rt::Sleep for HyperSleep<S> {}

impl<B: Binding> hyper::rt::Timer for HyperTimer<B> {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(deadline_after(Instant::now(), duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: self.0.sleep_until(deadline),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep<B::Sleep>>() {
            Some(ours) => B::reset(ours.project().inner, new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `now + duration`, or a deadline about 30 years away if that overflows.
pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}
