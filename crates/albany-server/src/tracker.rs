//! Counts the connections being served, so that graceful shutdown can wait
//! for them to finish.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use event_listener::Event;

#[derive(Clone, Default)]
pub(crate) struct Tracker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    active: AtomicUsize,
    idle: Event,
}

/// Held by a connection task; dropping it marks the connection finished.
pub(crate) struct Tracked {
    inner: Arc<Inner>,
}

impl Tracker {
    pub(crate) fn track(&self) -> Tracked {
        self.inner.active.fetch_add(1, Ordering::SeqCst);
        Tracked {
            inner: self.inner.clone(),
        }
    }

    pub(crate) fn active(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }

    /// Waits until no connection is tracked.
    pub(crate) async fn wait_idle(&self) {
        loop {
            if self.active() == 0 {
                return;
            }
            let listener = self.inner.idle.listen();
            if self.active() == 0 {
                return;
            }
            listener.await;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.inner.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify(usize::MAX);
        }
    }
}
