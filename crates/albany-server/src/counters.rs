//! Live counters of one server, read from
//! [`Server::counters`](crate::Server::counters) (spec OBS-3).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::tracker::Tracker;

/// What a server is doing now, and has done: a handle to its counters,
/// clonable and readable from any thread while it serves (taken with
/// [`Server::counters`](crate::Server::counters) before
/// [`serve`](crate::Server::serve) consumes the server). Each read is one
/// atomic load: figures read one after the other may be a moment apart.
#[derive(Clone, Default)]
pub struct Counters {
    inner: Arc<Inner>,
    tracker: Tracker,
}

#[derive(Debug, Default)]
struct Inner {
    in_flight: AtomicUsize,
    upgraded: AtomicUsize,
    total: AtomicU64,
}

impl Counters {
    /// Connections open now, upgraded ones included: accepted and not yet
    /// closed (a TLS connection counts from accept, before its handshake).
    /// An HTTP/2 stream handed to the application by a `CONNECT` counts as
    /// one more, beside its connection, until it closes.
    pub fn open_connections(&self) -> usize {
        self.tracker.active()
    }

    /// Requests whose response has not been sent completely: from the
    /// request head until the response body ends or is given up.
    pub fn requests_in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Connections handed to the application by an upgrade (`101`, or a
    /// successful `CONNECT`) whose upgraded stream is still open: from the
    /// moment the application's `OnUpgrade` resolves until it drops the
    /// `Upgraded`, or the shutdown deadline closes it (spec UPG-9). An
    /// HTTP/1.1 connection taken through hyper's own `OnUpgrade` (TOWER-6)
    /// is counted a moment later, when the connection's task sees hyper
    /// hand it over.
    pub fn upgraded_connections(&self) -> usize {
        self.inner.upgraded.load(Ordering::Relaxed)
    }

    /// Requests received since the server started, answered by the
    /// application or by the server itself (`400`, `413`, ...). Requests
    /// whose head hyper refuses before the engine sees it (`431`, bad
    /// syntax) are not counted.
    pub fn requests_total(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    /// The tracker of the server's connections.
    pub(crate) fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The request counts, for a connection's requests to update: each
    /// connection holds one (in its `Requests`), so that a request costs
    /// no reference count of its own.
    pub(crate) fn requests(&self) -> RequestCounts {
        RequestCounts {
            inner: self.inner.clone(),
        }
    }

    /// Counts an upgraded connection, open until the guard is dropped.
    pub(crate) fn upgrade(&self) -> UpgradedConnection {
        self.inner.upgraded.fetch_add(1, Ordering::Relaxed);
        UpgradedConnection {
            inner: self.inner.clone(),
        }
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("open_connections", &self.open_connections())
            .field("requests_in_flight", &self.requests_in_flight())
            .field("upgraded_connections", &self.upgraded_connections())
            .field("requests_total", &self.requests_total())
            .finish()
    }
}

/// The total and in-flight request counts, held by each connection: the
/// connection's in-flight guard (`connection::InFlight`) calls
/// [`start`](Self::start) and [`end`](Self::end) once per request.
#[derive(Debug)]
pub(crate) struct RequestCounts {
    inner: Arc<Inner>,
}

impl RequestCounts {
    /// Counts a request, in flight until [`end`](Self::end).
    pub(crate) fn start(&self) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a request counted by [`start`](Self::start).
    pub(crate) fn end(&self) {
        self.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An upgraded connection; dropping it closes it in the count.
pub(crate) struct UpgradedConnection {
    inner: Arc<Inner>,
}

impl Drop for UpgradedConnection {
    fn drop(&mut self) {
        self.inner.upgraded.fetch_sub(1, Ordering::Relaxed);
    }
}
