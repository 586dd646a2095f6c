//! The header read timeout (spec LIMIT-3), owned by the connection code.
//!
//! The rule: while no request of the connection is in flight (from accept
//! to the first complete request head, and over HTTP/1.1 from the end of
//! each response to the next complete head), the connection may wait for
//! the client at most `header_read_timeout`; past it, the connection task
//! drops the connection without a response.
//!
//! The parts, all here:
//! - [`Requests`] counts the connection's requests in flight: the request
//!   code calls [`Requests::start`] when hyper hands over a complete head,
//!   and the [`InFlight`] guard it returns travels in the response body,
//!   dropped once hyper has written the body (or given up on it). Over
//!   HTTP/2, and once a connection is upgraded, [`Requests::stop`] ends the
//!   timeout. The same guard keeps the server's request counts (spec
//!   OBS-3): one reference count per request for both.
//! - [`HeadTimer`], polled by the connection task whenever hyper's
//!   connection is pending, decides that the wait is over.
//!
//! hyper's own `header_read_timeout` makes a new timer for every request
//! head: two heap allocations and a timer insert and removal per request,
//! about a tenth of the engine's instructions per request on the hello
//! route (`valgrind --tool=callgrind`, see benches/README.md). Here there
//! is one timer per connection, reset in place only when it fires before
//! the current wait's deadline: at most once per timeout period, not once
//! per request.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};

use futures_util::task::AtomicWaker;
use std::time::{Duration, Instant};

use super::keep_waker;
use crate::counters::{Counters, RequestCounts, UpgradedConnection};
use crate::observe::Observed;
use crate::rt::deadline_after;
use crate::Binding;

/// The requests of one connection, as far as the timeout needs them: how
/// many have started and finished, and whether the timeout still applies.
///
/// The counters are touched by the connection's own task (HTTP/1.x serves
/// one request at a time in it); the atomics only make the type `Sync`.
#[derive(Debug)]
pub(crate) struct Requests {
    started: AtomicU64,
    finished: AtomicU64,
    timed: AtomicBool,
    /// Over HTTP/1.x: whether bytes have been read from the connection
    /// since the last response ended (or since accept): a request head may
    /// be partly read (spec SHUT-9).
    read_since_response: AtomicBool,
    /// Over HTTP/1.x: whether graceful shutdown has begun for this
    /// connection; responses started from then on say `Connection: close`
    /// (spec SHUT-9).
    draining: AtomicBool,
    /// The server's total and in-flight request counts.
    counts: RequestCounts,
    /// Woken when a request ends once the timeout no longer applies (over
    /// HTTP/2, whose streams end in tasks of their own): the HTTP/2 idle
    /// timeout starts when the last open stream ends (spec LIMIT-11).
    stream_ended: AtomicWaker,
    /// [OBS-3] Over HTTP/1.1, the connection's place in the count of
    /// upgraded connections (spec UPG-9), once it is upgraded.
    upgrade_count: Mutex<UpgradeCount>,
}

/// Who holds an HTTP/1.1 connection's place in the upgraded count.
#[derive(Default)]
enum UpgradeCount {
    /// Not upgraded (yet).
    #[default]
    None,
    /// Counted when Albany's `OnUpgrade` resolved, before the application
    /// had the connection; the hold task takes it.
    Counted(UpgradedConnection),
    /// The hold task (connection/linger.rs) has the count.
    Held,
}

impl std::fmt::Debug for UpgradeCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UpgradeCount::None => "None",
            UpgradeCount::Counted(_) => "Counted",
            UpgradeCount::Held => "Held",
        })
    }
}

impl Requests {
    /// The requests of a new connection: none yet, timeout on; each is
    /// also counted in `counts`.
    pub(crate) fn new(counts: RequestCounts) -> Arc<Self> {
        Arc::new(Requests {
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            timed: AtomicBool::new(true),
            read_since_response: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            counts,
            stream_ended: AtomicWaker::new(),
            upgrade_count: Mutex::default(),
        })
    }

    /// Records that a request head is complete. The request counts as in
    /// flight (in the server's counts, and while the timeout applies, for
    /// it: its body and response are not timed) until the returned guard
    /// is dropped (with the response body, once written); its
    /// observation, if any, ends then too.
    pub(crate) fn start(self: &Arc<Self>, observed: Option<Box<Observed>>) -> InFlight {
        self.counts.start();
        // Counted whether timed or not: over HTTP/2 the count tells an
        // idle connection (spec LIMIT-11, LIMIT-20).
        self.started.fetch_add(1, Ordering::Release);
        InFlight {
            requests: self.clone(),
            observed: ManuallyDrop::new(observed),
        }
    }

    /// Counts an HTTP/2 `CONNECT` stream as open until it ends, so that
    /// the connection is not idle meanwhile (spec LIMIT-11). Only over
    /// HTTP/2 (where the timeout no longer applies).
    ///
    /// The stream ends when the [`StreamHeld`] (which rides in Albany's
    /// `OnUpgrade`, then with the application's upgraded connection) is
    /// dropped, unless the request was answered with a tunnel (a `2xx`,
    /// told through the [`StreamAnswer`]) while Albany's `OnUpgrade` was
    /// dropped unresolved: then the tunnel was taken through hyper's own
    /// `OnUpgrade` (TOWER-6: axum's `WebSocketUpgrade`), whose end the
    /// engine cannot see, and the stream stays counted as open for as long
    /// as the connection lasts (its liveness is still checked by the
    /// keep-alive PINGs, LIMIT-21).
    pub(crate) fn hold_stream(self: &Arc<Self>) -> (StreamHeld, StreamAnswer) {
        self.started.fetch_add(1, Ordering::Release);
        let tunnel = Arc::new(Tunnel {
            requests: self.clone(),
            known: AtomicU8::new(0),
        });
        (
            StreamHeld {
                tunnel: tunnel.clone(),
                resolved: false,
            },
            StreamAnswer {
                tunnel: Some(tunnel),
            },
        )
    }

    /// Whether a stream (or request) is open, whether timed or not: over
    /// HTTP/2, an idle connection has none (spec LIMIT-11). Streams start
    /// and end in tasks of their own: `finished` is read first (acquiring
    /// the starts that came before those ends), so a stream ended is never
    /// seen as open; one just started may be missed, which the idle timer
    /// checks again when it fires.
    pub(crate) fn streams_open(&self) -> bool {
        let finished = self.finished.load(Ordering::Acquire);
        self.started.load(Ordering::Acquire) != finished
    }

    /// How many streams (or requests) have ended: a change tells the idle
    /// timer that the connection was busy meanwhile.
    pub(crate) fn streams_ended(&self) -> u64 {
        self.finished.load(Ordering::Acquire)
    }

    /// Whether the connection is idle: over HTTP/1.x (or before the
    /// protocol is known), not upgraded, no request in flight and nothing
    /// read since the last response; over HTTP/2, no stream open (spec
    /// LIMIT-20). Racy when read by another task than the connection's,
    /// which checks again before it acts.
    pub(crate) fn idle(&self, http2: bool) -> bool {
        if http2 {
            !self.streams_open()
        } else {
            self.timed.load(Ordering::Relaxed)
                && !self.in_flight()
                && !self.read_since_response.load(Ordering::Relaxed)
        }
    }

    /// Whether a stream is open; if one is, `cx` is woken when a stream
    /// ends (over HTTP/2: see [`Requests::stream_ended`]).
    pub(crate) fn poll_streams_open(&self, cx: &mut Context<'_>) -> bool {
        if !self.streams_open() {
            return false;
        }
        self.stream_ended.register(cx.waker());
        self.streams_open()
    }

    /// Ends the timeout for the rest of the connection: over HTTP/2 (whose
    /// streams are not request heads on the connection) and once the
    /// connection is upgraded.
    pub(crate) fn stop(&self) {
        self.timed.store(false, Ordering::Relaxed);
    }

    /// Records that the connection's I/O has read bytes (or seen its end).
    #[inline]
    pub(crate) fn note_read(&self) {
        // Only the connection's task writes it: a load spares the store
        // (and its cache line) on every read but the first of a request.
        if !self.read_since_response.load(Ordering::Relaxed) {
            self.read_since_response.store(true, Ordering::Relaxed);
        }
    }

    /// Whether an HTTP/1.x connection can be closed for graceful shutdown
    /// without losing a request (spec SHUT-9): no request is in flight and
    /// nothing has been read since the last response ended (no head has
    /// begun), or the timeout no longer applies (an upgraded connection).
    /// A request in flight may have started its response before shutdown
    /// began, without `Connection: close`: the client may already have
    /// sent the next request, which is read and answered (with `Connection:
    /// close`) once this one ends. While bytes have been read since the
    /// last response, a request head is partly read: closing would lose
    /// it.
    pub(crate) fn may_close(&self) -> bool {
        !self.timed.load(Ordering::Relaxed)
            || !(self.in_flight() || self.read_since_response.load(Ordering::Relaxed))
    }

    /// Whether the connection has been upgraded (or is HTTP/2): the timeout
    /// no longer applies.
    pub(crate) fn upgraded(&self) -> bool {
        !self.timed.load(Ordering::Relaxed)
    }

    /// Whether a request is in flight (while the timeout applies).
    pub(crate) fn in_flight(&self) -> bool {
        self.started.load(Ordering::Relaxed) != self.finished.load(Ordering::Relaxed)
    }

    /// Marks the connection as shutting down: see [`Requests::draining`].
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether graceful shutdown has begun for this HTTP/1.x connection: a
    /// response started now is its last and says `Connection: close`
    /// (spec SHUT-9).
    #[inline]
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// A request in flight, from its complete head to the end of its response;
/// see [`Requests::start`].
pub(crate) struct InFlight {
    requests: Arc<Requests>,
    /// The request's span, size and access log line (spec OBS-1, OBS-2),
    /// ended first; `None` when neither is on. Taken by `drop`:
    /// `ManuallyDrop` adds no drop glue, not even a call that finds `None`.
    observed: ManuallyDrop<Option<Box<Observed>>>,
}

impl InFlight {
    /// The request's observation, if any.
    #[inline]
    pub(crate) fn observed(&self) -> Option<&Observed> {
        self.observed.as_deref()
    }

    /// The request's observation, if any.
    #[inline]
    pub(crate) fn observed_mut(&mut self) -> Option<&mut Observed> {
        self.observed.as_deref_mut()
    }

    /// Ends the observation, out of line.
    #[inline(never)]
    fn end_observed(&mut self) {
        drop(self.observed.take());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.observed.is_some() {
            self.end_observed();
        }
        let requests = &*self.requests;
        requests.counts.end();
        if requests.timed.load(Ordering::Relaxed) {
            requests.finished.fetch_add(1, Ordering::Relaxed);
            // [SHUT-9] A new wait for a request head begins. (Bytes of a
            // pipelined request read before this point are forgotten: see
            // `Requests::may_close`.)
            requests.read_since_response.store(false, Ordering::Relaxed);
        } else {
            requests.end_stream();
        }
    }
}

impl Requests {
    /// [OBS-3, UPG-9] Over HTTP/1.1, counts the connection as upgraded
    /// when Albany's `OnUpgrade` hands it to the application, so that the
    /// count is right before the application uses it; nothing if the hold
    /// task already counts it.
    pub(crate) fn count_upgrade(&self, counters: &Counters) {
        let mut count = self
            .upgrade_count
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if matches!(*count, UpgradeCount::None) {
            *count = UpgradeCount::Counted(counters.upgrade());
        }
    }

    /// [OBS-3, UPG-9] The count for the task that holds the upgraded
    /// connection: the one made by [`count_upgrade`](Self::count_upgrade),
    /// or a new one (an upgrade taken through hyper's `OnUpgrade`).
    pub(crate) fn hold_upgrade_count(&self, counters: &Counters) -> UpgradedConnection {
        let mut count = self
            .upgrade_count
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *count, UpgradeCount::Held) {
            UpgradeCount::Counted(counted) => counted,
            UpgradeCount::None | UpgradeCount::Held => counters.upgrade(),
        }
    }

    /// A stream (or request) ended after the timeout stopped applying:
    /// over HTTP/2, in the stream's task; the connection's task is woken
    /// to start its idle timeout (spec LIMIT-11).
    #[inline(never)]
    fn end_stream(&self) {
        self.finished.fetch_add(1, Ordering::Release);
        self.stream_ended.wake();
    }
}

/// An HTTP/2 `CONNECT` stream as its [`StreamHeld`] and [`StreamAnswer`]
/// share it (see [`Requests::hold_stream`]).
struct Tunnel {
    requests: Arc<Requests>,
    /// What is known of the stream: bits of [`tunnel`].
    known: AtomicU8,
}

/// The bits of [`Tunnel::known`].
mod tunnel {
    /// Albany's `OnUpgrade` was dropped without resolving.
    pub(super) const DROPPED: u8 = 1;
    /// The response head is known.
    pub(super) const ANSWERED: u8 = 2;
    /// The response was a `2xx`: hyper made a tunnel of the stream.
    pub(super) const TUNNEL: u8 = 4;
}

/// An HTTP/2 `CONNECT` stream counted as open; see
/// [`Requests::hold_stream`].
pub(crate) struct StreamHeld {
    tunnel: Arc<Tunnel>,
    /// Albany's `OnUpgrade` has resolved: the stream ends with this guard.
    resolved: bool,
}

impl StreamHeld {
    /// Albany's `OnUpgrade` has resolved (with the upgraded stream, or an
    /// error): the stream ends when this guard is dropped.
    pub(crate) fn resolved(mut self) -> Self {
        self.resolved = true;
        self
    }
}

impl Drop for StreamHeld {
    fn drop(&mut self) {
        let tunnel = &*self.tunnel;
        if self.resolved {
            return tunnel.requests.end_stream();
        }
        let known = tunnel.known.fetch_or(tunnel::DROPPED, Ordering::AcqRel);
        // Answered without a tunnel: the stream is over. Answered with a
        // tunnel: hyper's `OnUpgrade` has it, counted as open from now on.
        // Not answered yet: the answer decides.
        if known & tunnel::ANSWERED != 0 && known & tunnel::TUNNEL == 0 {
            tunnel.requests.end_stream();
        }
    }
}

/// Tells an HTTP/2 `CONNECT` stream's response; see
/// [`Requests::hold_stream`]. Dropped untold, the stream had no tunnel.
pub(crate) struct StreamAnswer {
    /// `None` once told.
    tunnel: Option<Arc<Tunnel>>,
}

impl StreamAnswer {
    /// The response head: `made` when it is a `2xx`, a tunnel.
    pub(crate) fn answer(mut self, made: bool) {
        self.settle(made);
    }

    fn settle(&mut self, made: bool) {
        let Some(tunnel) = self.tunnel.take() else {
            return;
        };
        let bits = tunnel::ANSWERED | if made { tunnel::TUNNEL } else { 0 };
        let known = tunnel.known.fetch_or(bits, Ordering::AcqRel);
        // Albany's `OnUpgrade` was dropped unresolved before the answer:
        // without a tunnel, the stream is over.
        if known & tunnel::DROPPED != 0 && !made {
            tunnel.requests.end_stream();
        }
    }
}

impl Drop for StreamAnswer {
    fn drop(&mut self) {
        self.settle(false);
    }
}

pin_project_lite::pin_project! {
    /// Decides when the wait for a request head is over; polled by the
    /// connection task (see the module's documentation).
    pub(crate) struct HeadTimer<B: Binding> {
        requests: Arc<Requests>,
        timeout: Duration,
        // When the current wait for a request head times out.
        at: Instant,
        // The number of finished requests when `at` was set: a change means
        // a response has ended and a new wait has begun.
        finished: u64,
        // The timer, and the instant it is set to, never after `at`.
        #[pin]
        sleep: B::Sleep,
        fires_at: Instant,
        // The waker the timer was last polled with, which it wakes when it
        // fires; `None` before the first poll.
        waker: Option<Waker>,
    }
}

impl<B: Binding> HeadTimer<B> {
    /// The timer of a newly accepted connection: the first wait (for the
    /// first bytes, and over HTTP/1.x for the first complete head) starts
    /// now.
    pub(crate) fn new(binding: &B, timeout: Duration, requests: Arc<Requests>) -> Self {
        let at = deadline_after(Instant::now(), timeout);
        HeadTimer {
            requests,
            timeout,
            at,
            finished: 0,
            sleep: binding.sleep_until(at),
            fires_at: at,
            waker: None,
        }
    }

    /// Whether the wait for a request head has timed out; otherwise
    /// arranges for `cx` to be woken when it would.
    pub(crate) fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let mut this = self.project();
        let requests = &**this.requests;
        if !requests.timed.load(Ordering::Relaxed) {
            return false;
        }
        let finished = requests.finished.load(Ordering::Relaxed);
        if requests.started.load(Ordering::Relaxed) != finished {
            // A request is in flight: its body and response are not timed.
            return false;
        }
        if finished != *this.finished {
            *this.finished = finished;
            let now = Instant::now();
            *this.at = deadline_after(now, *this.timeout);
            // The usual case on a keep-alive connection: the timer of an
            // earlier wait has not fired yet (timers never fire early), and
            // it will wake this task when it does, which polls it then and
            // sets it for this wait. Polling it now would only register the
            // same waker again.
            if now < *this.fires_at
                && this
                    .waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                return false;
            }
        }
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                keep_waker(this.waker, cx);
                return false;
            }
            if *this.fires_at >= *this.at {
                return true;
            }
            // The timer was set for an earlier wait: set it for this one.
            B::reset(this.sleep.as_mut(), *this.at);
            *this.fires_at = *this.at;
        }
    }
}
