//! The connection pool: idle HTTP/1.1 connections (at most
//! `max_idle_per_host` per target, each for at most `idle_timeout`) and one
//! shared HTTP/2 connection per target.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use albany::rt::Handle;
use albany::Body;
use hyper::client::conn::{http1, http2};

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
    http1: HashMap<String, Vec<Idle>>,
    http2: HashMap<String, http2::SendRequest<Body>>,
    /// A task removes expired idle connections while there are some.
    reaping: bool,
}

struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
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

    /// The target's HTTP/2 connection, if it has one that is open.
    pub(crate) fn http2(&self, key: &str) -> Option<http2::SendRequest<Body>> {
        let mut state = self.lock();
        match state.http2.get(key) {
            Some(sender) if !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                state.http2.remove(key);
                None
            }
            None => None,
        }
    }

    /// Shares a new HTTP/2 connection with the target's later requests.
    pub(crate) fn put_http2(&self, key: &str, sender: &http2::SendRequest<Body>) {
        self.lock().http2.insert(key.to_owned(), sender.clone());
    }

    /// The target's most recently used idle HTTP/1.1 connection that is
    /// still open and within the idle timeout; others found on the way are
    /// dropped (closed).
    pub(crate) fn http1(&self, key: &str) -> Option<http1::SendRequest<Body>> {
        let mut state = self.lock();
        let idle = state.http1.get_mut(key)?;
        while let Some(Idle { sender, since }) = idle.pop() {
            let expired = self
                .idle_timeout
                .is_some_and(|bound| since.elapsed() >= bound);
            if !expired && !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps an HTTP/1.1 connection whose last response has ended, unless
    /// the target already has `max_idle_per_host` idle ones.
    pub(crate) fn put_http1(&self, key: &str, sender: http1::SendRequest<Body>) {
        if sender.is_closed() || self.max_idle_per_host == 0 {
            return;
        }
        let start_reaper = {
            let mut state = self.lock();
            let idle = state.http1.entry(key.to_owned()).or_default();
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

/// Closes idle connections past `bound`, checking every half `bound`, until
/// none is left (or the client is gone).
async fn reap(state: Weak<Mutex<State>>, handle: Handle, bound: Duration) {
    let period = (bound / 2).max(Duration::from_millis(10));
    loop {
        handle.sleep(period).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.http1.retain(|_, idle| {
            idle.retain(|idle| idle.since.elapsed() < bound && !idle.sender.is_closed());
            !idle.is_empty()
        });
        state.http2.retain(|_, sender| !sender.is_closed());
        if state.http1.is_empty() {
            state.reaping = false;
            return;
        }
    }
}
