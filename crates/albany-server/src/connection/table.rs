//! The connection table: what lets a full server close an idle connection
//! to make room for a new one (spec LIMIT-5, LIMIT-20).
//!
//! The rule: when `max_connections` connections are open and another
//! arrives, the accept loop accepts it anyway (one beyond the limit: the
//! file descriptors stay bounded by `max_connections + 1`), holds it, and
//! asks the idle connection accepted earliest to close. With none idle, the
//! first connection that becomes idle closes itself instead. The held
//! connection is served once a connection has closed; meanwhile the accept
//! loop accepts nothing more (the backlog holds further clients).
//!
//! The parts:
//! - [`Table`]: the open connections in accept order, each a [`Slot`], and
//!   whether a connection waits for room ([`Table::wanted`]).
//! - [`Registered`]: a connection's place in the table, removed when the
//!   connection task ends.
//! - The connection task (`drive`) registers its waker in its slot while it
//!   is idle, closes when asked, or, becoming idle while room is wanted,
//!   takes the request itself ([`Slot::poll_asked`]).
//!
//! Idle means (see [`Requests::idle`]): over HTTP/1.x (and before the
//! protocol is known), no request in flight, not upgraded and nothing read
//! since the last response; over HTTP/2, no open stream. Closing is the
//! careful close of graceful shutdown (spec SHUT-9): an HTTP/1.x
//! connection reads what the client already sent first, and answers it
//! (with `Connection: close`); an HTTP/2 connection gets `GOAWAY`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Context;

use event_listener::{Event, EventListener};
use futures_util::task::AtomicWaker;

use super::Requests;

/// The server's connections, in accept order.
#[derive(Default)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
    next: AtomicU64,
    /// A new connection waits for room and no connection has been asked to
    /// close for it yet.
    wanted: AtomicBool,
    /// Notified when a connection asked to close declines (it was busy by
    /// the time it looked): the accept loop asks another.
    declined: Event,
}

#[derive(Default)]
struct Inner {
    slots: BTreeMap<u64, Arc<Slot>>,
    /// A new connection waits for room (between [`Table::make_room`] and
    /// [`Table::room_made`]); `wanted` is set again on a decline only
    /// then, under this lock.
    waiting: bool,
}

/// One connection in the [`Table`].
pub(crate) struct Slot {
    requests: Arc<Requests>,
    /// Whether the connection speaks HTTP/2 (its idleness is its streams').
    http2: AtomicBool,
    /// The connection has been asked to close.
    asked: AtomicBool,
    /// The connection's task, registered while it is idle.
    waker: AtomicWaker,
}

/// A connection's place in the [`Table`]; dropping it removes it.
pub(crate) struct Registered {
    table: Arc<Table>,
    id: u64,
    slot: Arc<Slot>,
}

impl Table {
    /// Adds a connection whose requests are `requests`.
    pub(crate) fn register(self: &Arc<Self>, requests: Arc<Requests>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            requests,
            http2: AtomicBool::new(false),
            asked: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        lock(&self.inner).slots.insert(id, slot.clone());
        Registered {
            table: self.clone(),
            id,
            slot,
        }
    }

    /// A new connection waits for room: asks the idle connection accepted
    /// earliest to close, or, with none idle now, the first to become idle
    /// (see the module's documentation).
    pub(crate) fn make_room(&self) {
        let mut inner = lock(&self.inner);
        inner.waiting = true;
        self.wanted.store(true, Ordering::SeqCst);
        for slot in inner.slots.values() {
            if slot.asked.load(Ordering::Relaxed)
                || !slot.requests.idle(slot.http2.load(Ordering::Relaxed))
            {
                continue;
            }
            if self.claim() {
                slot.ask();
            }
            return;
        }
    }

    /// Room is no longer wanted (a connection closed, or the server shuts
    /// down).
    pub(crate) fn room_made(&self) {
        let mut inner = lock(&self.inner);
        inner.waiting = false;
        self.wanted.store(false, Ordering::SeqCst);
    }

    /// A connection that was to close for room will not, or not soon:
    /// while a new connection still waits, room is wanted again and the
    /// accept loop asks another.
    fn want_again(&self) {
        let inner = lock(&self.inner);
        if inner.waiting {
            self.wanted.store(true, Ordering::SeqCst);
            self.declined.notify(1);
        }
    }

    /// Takes the request for room, if there is one: only one connection
    /// closes for it.
    fn claim(&self) -> bool {
        self.wanted
            .compare_exchange(true, false, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    }

    /// Notified when a connection asked to close declined; see
    /// [`Table::make_room`].
    pub(crate) fn declined(&self) -> EventListener {
        self.declined.listen()
    }
}

impl Slot {
    fn ask(&self) {
        self.asked.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

impl Registered {
    /// Marks the connection as HTTP/2: it is idle when no stream is open.
    pub(crate) fn http2(&self) {
        self.slot.http2.store(true, Ordering::Relaxed);
    }

    /// Whether the connection should close to make room: it was asked, or
    /// it is idle (`idle`) while room is wanted. Called by the connection's
    /// task whenever hyper's connection is pending; while `idle`, `cx` is
    /// woken when the accept loop asks. A connection asked while busy
    /// declines: the accept loop asks another.
    pub(crate) fn poll_asked(&self, idle: bool, cx: &mut Context<'_>) -> bool {
        let slot = &*self.slot;
        if !idle {
            // A load first: no atomic write on a busy connection's polls.
            if slot.asked.load(Ordering::Relaxed) && slot.asked.swap(false, Ordering::SeqCst) {
                self.table.want_again();
            }
            return false;
        }
        slot.waker.register(cx.waker());
        slot.asked.load(Ordering::SeqCst)
            || (self.table.wanted.load(Ordering::Relaxed) && self.table.claim())
    }
}

impl Registered {
    /// The connection, closing for room, has a request to answer first (one
    /// that arrived as the close began): another connection is asked.
    /// Called once per close.
    pub(crate) fn busy_after_all(&self) {
        self.table.want_again();
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.table.inner).slots.remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::task::Context;

    use futures_util::task::noop_waker_ref;

    use super::*;
    use crate::counters::Counters;

    fn connection(table: &Arc<Table>) -> (Arc<Requests>, Registered) {
        let requests = Requests::new(Counters::default().requests());
        let registered = table.register(requests.clone());
        (requests, registered)
    }

    fn asked(registered: &Registered, requests: &Requests) -> bool {
        let mut cx = Context::from_waker(noop_waker_ref());
        registered.poll_asked(requests.idle(false), &mut cx)
    }

    /// [LIMIT-20] The idle connection served longest is asked, busy ones
    /// are skipped, and one connection only closes for one new one.
    #[test]
    fn the_oldest_idle_connection_is_asked() {
        let table = Arc::new(Table::default());
        let (busy_requests, busy) = connection(&table);
        let (old_requests, old) = connection(&table);
        let (new_requests, new) = connection(&table);
        let in_flight = busy_requests.start(None);
        table.make_room();
        assert!(!asked(&busy, &busy_requests));
        assert!(asked(&old, &old_requests));
        assert!(!asked(&new, &new_requests));
        table.room_made();
        drop(in_flight);
    }

    /// [LIMIT-20, LIMIT-22] With none idle, the first connection to become
    /// idle takes the request; one that turns busy as it closes, or that
    /// was asked and is busy by the time it looks, wants room again, but
    /// only while a connection waits.
    #[test]
    fn the_first_to_become_idle_closes_and_a_busy_one_declines() {
        let table = Arc::new(Table::default());
        let (first_requests, first) = connection(&table);
        let (second_requests, second) = connection(&table);
        let first_request = first_requests.start(None);
        let second_request = second_requests.start(None);
        table.make_room();
        assert!(!asked(&first, &first_requests));
        drop(second_request);
        assert!(asked(&second, &second_requests));
        assert!(!table.wanted.load(Ordering::SeqCst));
        // A request arrived as it began to close: room is wanted again.
        second.busy_after_all();
        assert!(table.wanted.load(Ordering::SeqCst));

        // Asked (idle when the accept loop looked), busy when it looks.
        drop(first_request);
        table.make_room();
        assert!(first.slot.asked.load(Ordering::SeqCst));
        let busy = first_requests.start(None);
        table.wanted.store(false, Ordering::SeqCst);
        assert!(!asked(&first, &first_requests));
        assert!(table.wanted.load(Ordering::SeqCst), "it declined");

        // Once no connection waits, a decline wants nothing.
        table.room_made();
        first.slot.asked.store(true, Ordering::SeqCst);
        assert!(!asked(&first, &first_requests));
        assert!(!table.wanted.load(Ordering::SeqCst));
        drop(busy);
    }
}
