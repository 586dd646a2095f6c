//! The header read timeout (spec LIMIT-3), kept by the connection's I/O
//! with one timer per connection.
//!
//! hyper's own `header_read_timeout` makes a new timer for every request
//! head: two heap allocations and a timer insert and removal per request,
//! about a tenth of the engine's instructions per request on the hello
//! route (`valgrind --tool=callgrind`, see benches/README.md). Here the
//! engine counts requests in flight ([`Activity`]); while none is (from
//! accept to the first request head, and from the end of each response to
//! the next head) the connection's reads run under a deadline. The timer is
//! made again only when it fires before the current deadline, which is at
//! most once per timeout period, not once per request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use albany::rt::{Handle, Sleep};

/// The requests of one connection, as far as the timeout needs them: how
/// many have started and finished, and whether the timeout still applies.
///
/// The counters are touched by the connection's own task (HTTP/1.x serves
/// one request at a time in it); the atomics only make the type `Sync`.
#[derive(Debug)]
pub(crate) struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
    watching: AtomicBool,
}

impl Activity {
    /// The activity of a new connection: no request yet, timeout on.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            watching: AtomicBool::new(true),
        })
    }

    /// Records that a request head is complete. The request counts as in
    /// flight, and its head, body and response as not timed, until the
    /// returned guard is dropped (with the response body, once written).
    /// `None` once the timeout no longer applies.
    pub(crate) fn start(self: &Arc<Self>) -> Option<InFlight> {
        if !self.watching.load(Ordering::Relaxed) {
            return None;
        }
        self.started.fetch_add(1, Ordering::Relaxed);
        Some(InFlight {
            activity: self.clone(),
        })
    }

    /// Ends the timeout for the rest of the connection: over HTTP/2 (whose
    /// streams are not request heads on the connection) and once a
    /// connection is upgraded.
    pub(crate) fn stop(&self) {
        self.watching.store(false, Ordering::Relaxed);
    }

    fn watching(&self) -> bool {
        self.watching.load(Ordering::Relaxed)
    }
}

/// A request in flight, from its complete head to the end of its response;
/// see [`Activity::start`].
#[derive(Debug)]
pub(crate) struct InFlight {
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection's I/O under the header read timeout: a read that would
/// wait while no request is in flight fails with `TimedOut` once the
/// timeout has passed since the wait for the next request head began.
/// hyper then closes the connection without a response.
#[derive(Debug)]
pub(crate) struct HeadTimeout<I> {
    inner: I,
    deadline: Option<Deadline>,
}

#[derive(Debug)]
struct Deadline {
    activity: Arc<Activity>,
    handle: Handle,
    timeout: Duration,
    /// When the current wait for a request head times out.
    at: Instant,
    /// The number of finished requests when `at` was set: a change means a
    /// response has ended and a new wait has begun.
    finished: u64,
    /// The timer and the instant it fires at, never after `at`.
    timer: Option<(Sleep, Instant)>,
    /// The waker the timer was last polled with, which it wakes when it
    /// fires.
    waker: Option<Waker>,
}

impl<I> HeadTimeout<I> {
    /// Wraps a newly accepted connection: the first wait (for the first
    /// bytes, and over HTTP/1.x for the first complete head) starts now.
    /// With `timeout` `None`, reads are passed through untimed.
    pub(crate) fn new(
        inner: I,
        timeout: Option<Duration>,
        activity: Arc<Activity>,
        handle: Handle,
    ) -> Self {
        let deadline = timeout.map(|timeout| Deadline {
            activity,
            handle,
            timeout,
            at: deadline_after(Instant::now(), timeout),
            finished: 0,
            timer: None,
            waker: None,
        });
        HeadTimeout { inner, deadline }
    }
}

impl Deadline {
    /// Whether the wait for a request head has timed out; otherwise
    /// arranges for `cx` to be woken when it would.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.activity.watching() {
            self.timer = None;
            self.waker = None;
            return false;
        }
        let finished = self.activity.finished.load(Ordering::Relaxed);
        if self.activity.started.load(Ordering::Relaxed) != finished {
            // A request is in flight: its body and response are not timed.
            return false;
        }
        if finished != self.finished {
            self.finished = finished;
            let now = Instant::now();
            self.at = deadline_after(now, self.timeout);
            // The usual case on a keep-alive connection: the timer of an
            // earlier wait has not fired yet (timers never fire early), and
            // it will wake this task when it does, which polls it then and
            // sets it for this wait. Polling it now would only register the
            // same waker again.
            if let (Some((_, fires_at)), Some(waker)) = (&self.timer, &self.waker) {
                if now < *fires_at && waker.will_wake(cx.waker()) {
                    return false;
                }
            }
        }
        loop {
            let (timer, fires_at) = self
                .timer
                .get_or_insert_with(|| (self.handle.sleep_until(self.at), self.at));
            if Pin::new(timer).poll(cx).is_pending() {
                if !self
                    .waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()))
                {
                    self.waker = Some(cx.waker().clone());
                }
                return false;
            }
            if *fires_at >= self.at {
                return true;
            }
            // The timer was set for an earlier wait: set it for this one.
            self.timer = None;
        }
    }
}

/// `now + timeout`, or a deadline about 30 years away if that overflows.
fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for HeadTimeout<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Poll::Ready(result) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            return Poll::Ready(result);
        }
        let expired = match this.deadline.as_mut() {
            Some(deadline) => deadline.poll_expired(cx),
            None => false,
        };
        if expired {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete request head within the header read timeout",
            )));
        }
        Poll::Pending
    }
}

forward_write!(HeadTimeout);
