//! The per-connection request cap, `Settings::max_requests_per_connection`
//! (spec LIMIT-26).
//!
//! Requests are counted where hyper hands them to the service, inside the
//! connection task's poll. Over HTTP/1.x the last one is marked like a
//! response during graceful shutdown (`Connection: close`, after which
//! hyper closes the connection); over HTTP/2, [`Capped`] starts hyper's
//! graceful shutdown (`GOAWAY`) as soon as the poll that accepted the last
//! stream returns, so no waker is needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// The requests a connection has received, against its cap.
#[derive(Debug)]
pub(crate) struct RequestCap {
    limit: u64,
    received: AtomicU64,
}

impl RequestCap {
    /// A cap of `limit` requests (at least 1, checked by
    /// `Settings::validate`).
    pub(crate) fn new(limit: u64) -> Self {
        RequestCap {
            limit,
            received: AtomicU64::new(0),
        }
    }

    /// Counts one request; `true` when it is the last one the connection
    /// serves.
    pub(crate) fn count(&self) -> bool {
        self.received.fetch_add(1, Ordering::Relaxed) + 1 >= self.limit
    }

    /// Whether the last request has been received.
    pub(crate) fn reached(&self) -> bool {
        self.received.load(Ordering::Relaxed) >= self.limit
    }
}

pin_project_lite::pin_project! {
    /// An HTTP/2 connection that starts its graceful shutdown (`GOAWAY`)
    /// once `cap` is reached.
    pub(crate) struct Capped<'a, C> {
        #[pin]
        connection: C,
        cap: Option<&'a RequestCap>,
        graceful_shutdown: fn(Pin<&mut C>),
        closing: bool,
    }
}

impl<'a, C> Capped<'a, C> {
    /// `connection`, closed gracefully with `graceful_shutdown` once `cap`
    /// is reached (never without a cap).
    pub(crate) fn new(
        connection: C,
        cap: Option<&'a RequestCap>,
        graceful_shutdown: fn(Pin<&mut C>),
    ) -> Self {
        Capped {
            connection,
            cap,
            graceful_shutdown,
            closing: false,
        }
    }

    /// Starts the connection's graceful shutdown (graceful shutdown of the
    /// server); hyper's HTTP/2 connection sends its `GOAWAY` once only.
    pub(crate) fn graceful_shutdown(self: Pin<&mut Self>) {
        let this = self.project();
        *this.closing = true;
        (this.graceful_shutdown)(this.connection);
    }
}

impl<C: Future> Future for Capped<'_, C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        let polled = this.connection.as_mut().poll(cx);
        if polled.is_pending() && !*this.closing && this.cap.is_some_and(RequestCap::reached) {
            *this.closing = true;
            (this.graceful_shutdown)(this.connection.as_mut());
            return this.connection.poll(cx);
        }
        polled
    }
}
