//! The connection pool: per target (scheme and authority), idle HTTP/1.1
//! connections (at most `max_idle_per_host`, each for at most
//! `idle_timeout`), one shared HTTP/2 connection, and the requests waiting
//! for an HTTP/1.1 connection while they make one.
//!
//! A request that finds no idle connection starts connecting and, at the
//! same time, waits for one to come back ([`Waiter`]): a connection that
//! becomes idle goes to the oldest waiter before the idle list, and
//! whichever comes first serves the request (the connect, if it loses, is
//! dropped). Without it, a client with more requests in flight than
//! `max_idle_per_host` closed and reopened about twice as many connections
//! as hyper-util's pool, which does the same (`benches`, proxy row).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use albany::rt::Handle;
use albany::Body;
use hyper::client::conn::{http1, http2};

use crate::connect::{Sender, Target};

/// The pool of one client; clones share it.
#[derive(Clone)]
pub(crate) struct Pool {
    state: Arc<Mutex<State>>,
    handle: Handle,
    max_idle_per_host: usize,
    idle_timeout: Option<Duration>,
}

#[derive(Default)]
struct State {
    targets: HashMap<Target, Connections, BuildHasherDefault<Fnv>>,
    /// A task removes expired idle connections while there are some.
    reaping: bool,
}

/// One target's connections.
#[derive(Default)]
struct Connections {
    http2: Option<http2::SendRequest<Body>>,
    idle: Vec<Idle>,
    /// Requests waiting for an HTTP/1.1 connection, oldest first.
    waiting: VecDeque<Arc<Mutex<Slot>>>,
}

/// Where a returned connection is handed to a waiting request.
#[derive(Default)]
struct Slot {
    sender: Option<http1::SendRequest<Body>>,
    waker: Option<Waker>,
    /// The request no longer waits.
    done: bool,
}

fn lock_slot(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
}

/// FNV-1a: the pool hashes its key on every request, and
/// `http::uri::Authority` hashes byte by byte (case-insensitively), which
/// costs SipHash thousands of instructions a request. The keys are the
/// application's own targets, not a client's input.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Pool {
    pub(crate) fn new(
        handle: Handle,
        max_idle_per_host: usize,
        idle_timeout: Option<Duration>,
    ) -> Self {
        Pool {
            state: Arc::default(),
            handle,
            max_idle_per_host,
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pooled connection for `target`: its HTTP/2 connection if it has
    /// one that is open, otherwise its most recently used idle HTTP/1.1
    /// connection that is still open and within the idle timeout (others
    /// found on the way are dropped, closing them).
    pub(crate) fn checkout(&self, target: &Target) -> Option<Sender> {
        let mut state = self.lock();
        let connections = state.targets.get_mut(target)?;
        if let Some(sender) = &connections.http2 {
            if !sender.is_closed() {
                return Some(Sender::Http2(sender.clone()));
            }
            connections.http2 = None;
        }
        while let Some(Idle { sender, since }) = connections.idle.pop() {
            let expired = self
                .idle_timeout
                .is_some_and(|bound| since.elapsed() >= bound);
            if !expired && !sender.is_closed() {
                return Some(Sender::Http1(sender));
            }
        }
        None
    }

    /// Shares a new HTTP/2 connection with the target's later requests.
    pub(crate) fn put_http2(&self, target: &Target, sender: &http2::SendRequest<Body>) {
        let mut state = self.lock();
        state.targets.entry(target.clone()).or_default().http2 = Some(sender.clone());
    }

    /// Registers a request that waits for an HTTP/1.1 connection to
    /// `target` to come back.
    pub(crate) fn wait(&self, target: &Target) -> Waiter {
        let slot = Arc::<Mutex<Slot>>::default();
        let mut state = self.lock();
        let waiting = &mut state.targets.entry(target.clone()).or_default().waiting;
        waiting.retain(|slot| !lock_slot(slot).done);
        waiting.push_back(slot.clone());
        Waiter {
            slot,
            pool: self.clone(),
            target: target.clone(),
        }
    }

    /// Takes back an HTTP/1.1 connection whose last response has ended:
    /// hands it to the oldest waiting request, or keeps it idle unless the
    /// target already has `max_idle_per_host` idle ones.
    pub(crate) fn put_http1(&self, target: &Target, sender: http1::SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let start_reaper = {
            let mut state = self.lock();
            let connections = state.targets.entry(target.clone()).or_default();
            while let Some(slot) = connections.waiting.pop_front() {
                let mut slot = lock_slot(&slot);
                if !slot.done {
                    slot.sender = Some(sender);
                    slot.done = true;
                    if let Some(waker) = slot.waker.take() {
                        waker.wake();
                    }
                    return;
                }
            }
            let idle = &mut connections.idle;
            if idle.len() >= self.max_idle_per_host {
                return;
            }
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
            let start = self.idle_timeout.is_some() && !state.reaping;
            state.reaping |= start;
            start
        };
        if start_reaper {
            if let Some(bound) = self.idle_timeout {
                drop(self.handle.spawn(reap(
                    Arc::downgrade(&self.state),
                    self.handle.clone(),
                    bound,
                )));
            }
        }
    }
}

/// A request waiting for an HTTP/1.1 connection to come back to the pool
/// (see the module's documentation). Dropping it withdraws the request; a
/// connection handed to it meanwhile goes back to the pool.
pub(crate) struct Waiter {
    slot: Arc<Mutex<Slot>>,
    pool: Pool,
    target: Target,
}

impl Waiter {
    /// A connection handed back for this request, once there is one.
    pub(crate) fn poll_connection(&self, cx: &mut Context<'_>) -> Poll<http1::SendRequest<Body>> {
        let mut slot = lock_slot(&self.slot);
        match slot.sender.take() {
            Some(sender) => Poll::Ready(sender),
            None => {
                match &slot.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let unused = {
            let mut slot = lock_slot(&self.slot);
            slot.done = true;
            slot.sender.take()
        };
        if let Some(sender) = unused {
            self.pool.put_http1(&self.target, sender);
        }
    }
}

/// Closes idle connections past `bound`, checking every half `bound`, and
/// forgets closed HTTP/2 connections, until no idle connection is left (or
/// the client is gone).
async fn reap(state: Weak<Mutex<State>>, handle: Handle, bound: Duration) {
    let period = (bound / 2).max(Duration::from_millis(10));
    loop {
        handle.sleep(period).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut idle_left = false;
        state.targets.retain(|_, connections| {
            connections
                .idle
                .retain(|idle| idle.since.elapsed() < bound && !idle.sender.is_closed());
            if connections.http2.as_ref().is_some_and(|s| s.is_closed()) {
                connections.http2 = None;
            }
            connections.waiting.retain(|slot| !lock_slot(slot).done);
            idle_left |= !connections.idle.is_empty();
            !connections.idle.is_empty()
                || connections.http2.is_some()
                || !connections.waiting.is_empty()
        });
        if !idle_left {
            state.reaping = false;
            return;
        }
    }
}
