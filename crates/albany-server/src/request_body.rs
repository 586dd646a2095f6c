//! An HTTP/1.x request body read ahead of the application, so that a client
//! that leaves is seen while the application is not reading (spec
//! CANCEL-5).
//!
//! hyper reads an HTTP/1.x connection only while someone polls the request
//! body; an application that waits on something else before reading it
//! would never learn that the client closed the connection. The server
//! therefore polls the body itself, beside the application's future, until
//! the application polls it first, buffering at most [`LOOKAHEAD`] bytes.
//! When that read fails because the connection ended, the server drops the
//! application's future (CANCEL-1). Other errors, such as a malformed
//! chunk, are kept for the application to read (REQ-12).
//!
//! Here too: [`TimedBody`], the request body under the request body
//! timeouts (spec LIMIT-14, LIMIT-15), over HTTP/1.x and HTTP/2 alike.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use albany::body::TimeoutError;
use albany::rt::{Handle, Sleep};
use albany::BoxError;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;

use crate::rt::deadline_after;
use crate::MinDataRate;

/// The most data, in bytes, read ahead of the application.
pub(crate) const LOOKAHEAD: usize = 64 * 1024;

struct State {
    incoming: Incoming,
    buffered: VecDeque<Frame<Bytes>>,
    buffered_bytes: usize,
    error: Option<hyper::Error>,
    ended: bool,
    /// The application polled the body: from then on only it reads.
    application_reads: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Splits `incoming` into the body the application reads and the watcher
/// that reads ahead and resolves when the client has gone.
pub(crate) fn read_ahead(incoming: Incoming) -> (RequestBody, ClientGone) {
    let state = Arc::new(Mutex::new(State {
        incoming,
        buffered: VecDeque::new(),
        buffered_bytes: 0,
        error: None,
        ended: false,
        application_reads: false,
    }));
    (
        RequestBody {
            state: state.clone(),
        },
        ClientGone { state },
    )
}

/// The request body as the application reads it: first what was read
/// ahead, then the rest from the connection.
pub(crate) struct RequestBody {
    state: Arc<Mutex<State>>,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut state = lock(&self.state);
        state.application_reads = true;
        if let Some(frame) = state.buffered.pop_front() {
            state.buffered_bytes -= frame.data_ref().map_or(0, Bytes::len);
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = state.error.take() {
            state.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut state.incoming).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            state.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let state = lock(&self.state);
        state.buffered.is_empty()
            && state.error.is_none()
            && (state.ended || state.incoming.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let state = lock(&self.state);
        if state.ended {
            return SizeHint::with_exact(state.buffered_bytes as u64);
        }
        let rest = state.incoming.size_hint();
        let buffered = state.buffered_bytes as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(buffered));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(buffered));
        }
        hint
    }
}

/// Resolves when reading ahead finds that the connection ended before the
/// body did; stays pending once the application reads the body itself, the
/// body ends, or [`LOOKAHEAD`] bytes wait in the buffer.
pub(crate) struct ClientGone {
    state: Arc<Mutex<State>>,
}

impl Future for ClientGone {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        // Only one reader registers for wake-ups: once the application
        // reads, this future is never woken again, which is what it wants.
        while !state.application_reads
            && !state.ended
            && state.error.is_none()
            && state.buffered_bytes < LOOKAHEAD
        {
            match Pin::new(&mut state.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    state.buffered_bytes += frame.data_ref().map_or(0, Bytes::len);
                    state.buffered.push_back(frame);
                }
                Poll::Ready(Some(Err(error))) => {
                    let gone = connection_ended(&error);
                    state.error = Some(error);
                    if gone {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(None) => state.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Pending
    }
}

/// Whether a body error means that the connection ended (end of file, a
/// reset), rather than a malformed body.
fn connection_ended(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}

/// The request body timeouts of a server (spec LIMIT-14, LIMIT-15): at
/// least one of them is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyTimeouts {
    idle: Option<Duration>,
    min_rate: Option<MinDataRate>,
}

impl BodyTimeouts {
    /// The timeouts, `None` when both are off.
    pub(crate) fn new(idle: Option<Duration>, min_rate: Option<MinDataRate>) -> Option<Self> {
        (idle.is_some() || min_rate.is_some()).then_some(BodyTimeouts { idle, min_rate })
    }
}

/// What a timed request body shares with its request's response: whether
/// the body timed out, and the response body's task to wake when it does
/// (a response already started is then aborted, spec LIMIT-16).
#[derive(Debug, Default)]
pub(crate) struct BodyTimedOut {
    fired: AtomicBool,
    response: AtomicWaker,
}

impl BodyTimedOut {
    /// Whether the request body has timed out.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Whether the request body has timed out; if not, `cx` is woken when
    /// it does.
    pub(crate) fn poll_fired(&self, cx: &mut Context<'_>) -> bool {
        if self.fired() {
            return true;
        }
        self.response.register(cx.waker());
        self.fired()
    }

    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        self.response.wake();
    }
}

/// A request body under the request body timeouts (spec LIMIT-14,
/// LIMIT-15), timed only while the application waits on it: from a poll
/// that returns `Pending` to the next frame. One timer per body, made on
/// the first wait (on the server's runtime, through the connection's
/// [`Handle`]) and replaced only when it fires before the current wait's
/// deadline or a wait's deadline comes before it.
pub(crate) struct TimedBody<B> {
    inner: B,
    runtime: Handle,
    timeouts: BodyTimeouts,
    /// Data bytes received so far.
    received: u64,
    /// Time spent waiting before the current wait.
    waited: Duration,
    /// When the current wait began.
    waiting_since: Option<Instant>,
    /// The timer, and the deadline it was set for.
    sleep: Option<(Instant, Sleep)>,
    timed_out: Arc<BodyTimedOut>,
    /// The body timed out: it has ended.
    failed: bool,
}

impl<B> TimedBody<B> {
    /// `inner` under `timeouts`, its timers on `runtime`; the returned flag
    /// says when it timed out.
    pub(crate) fn new(
        inner: B,
        runtime: Handle,
        timeouts: BodyTimeouts,
    ) -> (Self, Arc<BodyTimedOut>) {
        let timed_out = Arc::new(BodyTimedOut::default());
        (
            TimedBody {
                inner,
                runtime,
                timeouts,
                received: 0,
                waited: Duration::ZERO,
                waiting_since: None,
                sleep: None,
                timed_out: timed_out.clone(),
                failed: false,
            },
            timed_out,
        )
    }

    /// The deadline of a wait that began at `since`, and the error it
    /// fails with: the earlier of the idle timeout and the moment the rate
    /// falls below the minimum.
    fn deadline(&self, since: Instant) -> (Instant, TimeoutError) {
        let idle = self
            .timeouts
            .idle
            .map(|idle| (deadline_after(since, idle), TimeoutError::idle(idle)));
        let rate = self.timeouts.min_rate.map(|rate| {
            let left = rate.allowed_wait(self.received).saturating_sub(self.waited);
            (
                deadline_after(since, left),
                TimeoutError::min_rate(rate.bytes_per_second()),
            )
        });
        match (idle, rate) {
            (Some(idle), Some(rate)) => {
                if rate.0 < idle.0 {
                    rate
                } else {
                    idle
                }
            }
            (Some(one), None) | (None, Some(one)) => one,
            // `BodyTimeouts::new` makes one of them `Some`.
            (None, None) => (
                deadline_after(since, Duration::MAX),
                TimeoutError::idle(Duration::MAX),
            ),
        }
    }

    /// Whether the current wait, which began at `since`, is over: polls
    /// the timer (so that `cx` is woken at the deadline), replacing it
    /// when it was set for another deadline.
    fn poll_expired(&mut self, since: Instant, cx: &mut Context<'_>) -> Option<TimeoutError> {
        let (deadline, error) = self.deadline(since);
        loop {
            match &mut self.sleep {
                Some((at, _)) if *at <= deadline => {}
                _ => self.sleep = Some((deadline, self.runtime.sleep_until(deadline))),
            }
            let (at, sleep) = self.sleep.as_mut().expect("the timer was just set");
            if Pin::new(sleep).poll(cx).is_pending() {
                return None;
            }
            let fired_at = *at;
            // A fired timer is never polled again.
            self.sleep = None;
            if fired_at >= deadline {
                return Some(error);
            }
        }
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(polled) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited = this.waited.saturating_add(since.elapsed());
                }
                if let Some(Ok(frame)) = &polled {
                    let length = frame.data_ref().map_or(0, Bytes::len);
                    this.received = this.received.saturating_add(length as u64);
                }
                Poll::Ready(polled.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let since = *this.waiting_since.get_or_insert_with(Instant::now);
                let Some(error) = this.poll_expired(since, cx) else {
                    return Poll::Pending;
                };
                // [LIMIT-14, LIMIT-15] The client's doing: DEBUG.
                tracing::debug!(%error, received = this.received, "request body timed out");
                this.failed = true;
                this.timed_out.fire();
                Poll::Ready(Some(Err(Box::new(error))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed {
            return SizeHint::with_exact(0);
        }
        self.inner.size_hint()
    }
}
