//! The graceful-shutdown signal that adapters hand to applications.
//!
//! When a server begins a graceful shutdown it stops accepting connections
//! and fires the signal; requests in flight may finish. Long-lived responses
//! (server-sent events, long polls, upgraded connections) should watch the
//! signal and end on their own:
//!
//! ```
//! use albany::{Body, Request, RequestExt, Response};
//!
//! async fn events(request: Request) -> Response {
//!     let (Some(handle), Some(mut shutdown)) = (request.runtime(), request.shutdown_signal())
//!     else {
//!         return Response::new(Body::empty());
//!     };
//!     let (mut sender, body) = Body::channel(1024);
//!     handle.spawn(async move {
//!         // ... send events until `shutdown` resolves, then:
//!         shutdown.await;
//!         let _ = sender.send("data: bye\n\n").await;
//!         sender.finish();
//!     });
//!     Response::new(body)
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener};

struct Inner {
    triggered: AtomicBool,
    event: Event,
}

/// The trigger side: a server holds it and calls [`trigger`](ShutdownTrigger::trigger)
/// when graceful shutdown starts.
#[derive(Clone)]
pub struct ShutdownTrigger {
    inner: Arc<Inner>,
}

impl ShutdownTrigger {
    /// Creates a trigger that has not fired.
    pub fn new() -> Self {
        ShutdownTrigger {
            inner: Arc::new(Inner {
                triggered: AtomicBool::new(false),
                event: Event::new(),
            }),
        }
    }

    /// Returns a signal that resolves when this trigger fires.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            inner: self.inner.clone(),
            listener: None,
            waker: None,
        }
    }

    /// Fires the signal: every [`ShutdownSignal`] of this trigger resolves.
    /// Firing twice is the same as firing once.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        self.inner.event.notify(usize::MAX);
    }

    /// Returns `true` once [`trigger`](ShutdownTrigger::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }
}

impl Default for ShutdownTrigger {
    fn default() -> Self {
        ShutdownTrigger::new()
    }
}

impl fmt::Debug for ShutdownTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownTrigger")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

/// A future that resolves when the server begins graceful shutdown.
///
/// Adapters insert one in every request's extensions; get it with
/// [`RequestExt::shutdown_signal`](crate::RequestExt::shutdown_signal).
/// Cheap to clone; every clone resolves. Once resolved it stays resolved.
pub struct ShutdownSignal {
    inner: Arc<Inner>,
    listener: Option<EventListener>,
    /// The waker `listener` was last polled with: polled again with one
    /// that wakes the same task, only the flag needs checking (a server
    /// polls its connections' signals on every wake-up).
    waker: Option<Waker>,
}

impl ShutdownSignal {
    /// Returns `true` if graceful shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }
}

impl Clone for ShutdownSignal {
    fn clone(&self) -> Self {
        ShutdownSignal {
            inner: self.inner.clone(),
            listener: None,
            waker: None,
        }
    }
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if this.inner.triggered.load(Ordering::SeqCst) {
                this.listener = None;
                this.waker = None;
                return Poll::Ready(());
            }
            match this.listener.as_mut() {
                // Register first, then check the flag again (loop), so a
                // trigger between the check and the registration is not lost.
                None => this.listener = Some(this.inner.event.listen()),
                Some(listener) => {
                    // The listener will wake this task: the flag, checked
                    // above, is all that can have changed.
                    if this
                        .waker
                        .as_ref()
                        .is_some_and(|waker| waker.will_wake(cx.waker()))
                    {
                        return Poll::Pending;
                    }
                    if Pin::new(listener).poll(cx).is_pending() {
                        this.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    this.listener = None;
                    this.waker = None;
                }
            }
        }
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn every_clone_resolves() {
        let trigger = ShutdownTrigger::new();
        let mut first = trigger.signal();
        let second = first.clone();
        assert!(block_on(poll_once(&mut first)).is_none());
        trigger.trigger();
        block_on(first);
        block_on(second);
        assert!(trigger.signal().is_triggered());
    }
}
