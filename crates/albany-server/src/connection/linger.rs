//! The connection's I/O as hyper sees it: an end of file held back for one
//! turn of the connection (spec H1-24), the response write timeout (spec
//! LIMIT-17), and the lingering close once hyper is done with the
//! connection (spec LIMIT-13). All are here, once, so that every adapter's
//! transport behaves the same.

use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use albany::ShutdownSignal;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

use super::{keep_waker, Requests};
use crate::rt::deadline_after;
use crate::Binding;

/// The most bytes one read asks the transport for.
const READ_CHUNK: usize = 16 * 1024;
/// The longest the lingering close lasts, in total.
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(1);
/// The longest the lingering close waits for more bytes after the last
/// ones it read.
pub(crate) const LINGER_IDLE: Duration = Duration::from_millis(100);
/// The most bytes the lingering close reads (and discards).
pub(crate) const LINGER_BYTES: usize = 4 * 1024 * 1024;
/// The most bytes the lingering close reads after an HTTP/2 connection
/// ended in an error (h2 sent `GOAWAY` with an error code, as for rapid
/// reset, H2-13): room for what a client wrote before it could read the
/// `GOAWAY` (the burst that tripped the limit), not for a client that goes
/// on writing regardless. With [`LINGER_BYTES`] such a client had the
/// server read and discard 4 MiB per connection (benches/STRESS.md,
/// rapid reset): server work per attacking connection that raw hyper,
/// which closes at once, does not do.
pub(crate) const LINGER_BYTES_AFTER_HTTP2_ERROR: usize = 64 * 1024;

struct State<I> {
    /// `None` once the graceful shutdown deadline has closed an upgraded
    /// connection.
    io: Option<I>,
    /// An end of file was read and held back once.
    eof_held: bool,
    /// Set when an upgrade holds the I/O after hyper is done with the
    /// connection (spec SHUT-8).
    upgrade: Option<UpgradeHold>,
    /// The [`ConnectionIo`] was dropped (by hyper, or by the application
    /// that held the upgraded connection).
    dropped: bool,
}

/// The tasks to wake about an upgraded connection: the closer when the
/// application drops it, the application's pending read and write when the
/// shutdown deadline closes it.
#[derive(Default)]
struct UpgradeHold {
    closer: Option<Waker>,
    read: Option<Waker>,
    write: Option<Waker>,
}

impl<I: Unpin> State<I> {
    /// Runs `op` on the I/O. Fails once the deadline has closed it; keeps
    /// the waker of a pending operation on an upgraded connection, to wake
    /// it then.
    fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: bool,
        op: impl FnOnce(Pin<&mut I>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed this upgraded connection at its graceful shutdown deadline",
            )));
        };
        let polled = op(Pin::new(io), cx);
        if let (Poll::Pending, Some(hold)) = (&polled, &mut self.upgrade) {
            keep_waker(
                if write {
                    &mut hold.write
                } else {
                    &mut hold.read
                },
                cx,
            );
        }
        polled
    }
}

fn lock<I>(state: &Mutex<State<I>>) -> MutexGuard<'_, State<I>> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Splits `io` into the I/O hyper serves, which notes its reads in
/// `requests` (spec SHUT-9) and fails a write that makes no progress for
/// `write_timeout` (spec LIMIT-17; timers on `binding`), and the handle
/// that closes it after hyper has dropped it.
pub(crate) fn split<I, B: Binding>(
    io: I,
    requests: Arc<Requests>,
    binding: &B,
    write_timeout: Option<Duration>,
) -> (ConnectionIo<I, B>, Closer<I>) {
    let state = Arc::new(Mutex::new(State {
        io: Some(io),
        eof_held: false,
        upgrade: None,
        dropped: false,
    }));
    (
        ConnectionIo {
            state: state.clone(),
            requests,
            write_timer: write_timeout.map(|timeout| WriteTimer {
                binding: binding.clone(),
                timeout,
                sleep: None,
                armed: None,
                fired: false,
            }),
        },
        Closer { state },
    )
}

/// The connection's I/O, as handed to hyper (and, after an upgrade, to the
/// application).
pub(crate) struct ConnectionIo<I, B: Binding> {
    state: Arc<Mutex<State<I>>>,
    /// Told of every read that returns (bytes, the end, an error): a
    /// request head may have begun (spec SHUT-9).
    requests: Arc<Requests>,
    /// [LIMIT-17] `None` when the response write timeout is off.
    write_timer: Option<WriteTimer<B>>,
}

// No field is ever pinned: the timer is boxed.
impl<I, B: Binding> Unpin for ConnectionIo<I, B> {}

impl<I, B: Binding> Drop for ConnectionIo<I, B> {
    fn drop(&mut self) {
        let closer = {
            let mut state = lock(&self.state);
            state.dropped = true;
            state.upgrade.as_mut().and_then(|hold| hold.closer.take())
        };
        if let Some(closer) = closer {
            closer.wake();
        }
    }
}

/// [LIMIT-17] The response write timeout: armed when a write (or a flush,
/// or the shutdown) returns `Pending`, disarmed when one makes progress;
/// when it fires, that write and every later one fails with
/// `io::ErrorKind::TimedOut`, which ends the connection. One timer per
/// connection, made on its first stalled write and reset in place after.
struct WriteTimer<B: Binding> {
    binding: B,
    timeout: Duration,
    sleep: Option<Pin<Box<B::Sleep>>>,
    /// A write (or a flush) is stalled: the timer runs.
    armed: Option<Op>,
    /// The timeout has fired: the connection is over.
    fired: bool,
}

impl<B: Binding> WriteTimer<B> {
    /// Whether the connection's writes have timed out (before a write).
    fn failed<T>(&self) -> Option<Poll<io::Result<T>>> {
        self.fired.then(|| Poll::Ready(Err(timed_out())))
    }

    /// Whether the timer, armed by a stalled operation, has run out: then
    /// the connection is over, and the next operation is not attempted.
    /// Checked before each operation, so that the timer's own wake-up
    /// cannot count as progress: a runtime that tries the write again
    /// whenever the task wakes (async-io does; tokio waits for the socket to
    /// be reported writable) would find a little room freed by the kernel
    /// (a client that does not read still takes a trickle into its receive
    /// queue) and reset the timer at every timeout.
    fn expired<T>(&mut self, cx: &mut Context<'_>) -> Option<Poll<io::Result<T>>> {
        self.armed?;
        let sleep = self.sleep.as_mut()?;
        if sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        Some(self.fire())
    }

    /// The timeout has passed: every operation fails from now on.
    fn fire<T>(&mut self) -> Poll<io::Result<T>> {
        self.armed = None;
        self.fired = true;
        // The client's doing: DEBUG.
        tracing::debug!(
            timeout_ms = self.timeout.as_millis() as u64,
            "a write to the client made no progress within the response write timeout; closing the connection"
        );
        Poll::Ready(Err(timed_out()))
    }

    /// `polled`, the outcome of `op`, seen by the timer: `Pending` arms it
    /// (if it was not) and fails once it has run for the timeout; a ready
    /// write (progress, or an error) disarms it, and so does a ready flush
    /// or shutdown when a flush or shutdown armed it. A flush that is ready
    /// while a write is stalled is no progress: on a plain socket a flush
    /// is always ready, and a runtime that wakes a stalled writer now and
    /// then (async-io does, as the kernel probes the client's zero window)
    /// would otherwise keep the timer from ever firing.
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: Op,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            if op == Op::Write || self.armed == Some(op) {
                self.armed = None;
            }
            return polled;
        }
        if self.armed.is_none() {
            self.armed = Some(op);
            let deadline = deadline_after(Instant::now(), self.timeout);
            match &mut self.sleep {
                Some(sleep) => B::reset(sleep.as_mut(), deadline),
                None => self.sleep = Some(Box::pin(self.binding.sleep_until(deadline))),
            }
        }
        let sleep = self.sleep.as_mut().expect("the timer was just armed");
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.fire()
    }
}

/// What a timed operation of a [`ConnectionIo`] is, for its [`WriteTimer`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `poll_write`, `poll_write_vectored`: bytes handed over.
    Write,
    /// `poll_flush`, `poll_shutdown`.
    Flush,
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no write progress within the response write timeout",
    )
}

/// Runs one write operation of a [`ConnectionIo`] under its write timer.
macro_rules! timed_write {
    ($this:expr, $cx:expr, $kind:expr, $op:expr) => {{
        let this = $this.get_mut();
        match &mut this.write_timer {
            None => lock(&this.state).poll($cx, true, $op),
            Some(timer) => {
                if let Some(failed) = timer.failed() {
                    return failed;
                }
                if let Some(expired) = timer.expired($cx) {
                    return expired;
                }
                let polled = lock(&this.state).poll($cx, true, $op);
                timer.check($cx, $kind, polled)
            }
        }
    }};
}

impl<I: Read + Unpin, B: Binding> Read for ConnectionIo<I, B> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let len = buf.remaining().min(READ_CHUNK);
        if len == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut state = lock(&self.state);
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut scratch[..len]);
        if let Err(error) =
            ready!(state.poll(cx, false, |io, cx| io.poll_read(cx, read.unfilled())))
        {
            self.requests.note_read();
            return Poll::Ready(Err(error));
        }
        let filled = read.filled();
        if filled.is_empty() && !state.eof_held {
            // [H1-24] hyper reads on after a request head before it polls
            // the application's future: an end of file that came with the
            // request (a client that half-closed) would close the
            // connection before the application was polled once. Held
            // back for one turn, it is read again after that poll.
            state.eof_held = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        buf.put_slice(filled);
        self.requests.note_read();
        Poll::Ready(Ok(()))
    }
}

impl<I: Write + Unpin, B: Binding> Write for ConnectionIo<I, B> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        timed_write!(self, cx, Op::Write, |io: Pin<&mut I>, cx| io
            .poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        timed_write!(self, cx, Op::Write, |io: Pin<&mut I>, cx| io
            .poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        lock(&self.state)
            .io
            .as_ref()
            .is_some_and(Write::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        timed_write!(self, cx, Op::Flush, |io: Pin<&mut I>, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        timed_write!(self, cx, Op::Flush, |io: Pin<&mut I>, cx| io
            .poll_shutdown(cx))
    }
}

/// Closes the connection once hyper has dropped its [`ConnectionIo`].
pub(crate) struct Closer<I> {
    state: Arc<Mutex<State<I>>>,
}

impl<I: Read + Write + Unpin> Closer<I> {
    /// [LIMIT-13] The lingering close: shuts down the write side (a FIN
    /// after whatever response hyper wrote), then reads and discards what
    /// the client still sends, until its end of file, [`LINGER_IDLE`]
    /// without a byte, [`LINGER_TIME`] in all, `max_bytes` (see
    /// [`LINGER_BYTES`] and [`LINGER_BYTES_AFTER_HTTP2_ERROR`]), or
    /// `abort`; then drops the connection. Closing a socket with unread
    /// bytes makes the kernel reset the connection, and a reset can destroy
    /// the response before the client reads it (RFC 9112 §9.6). Nothing
    /// when the connection is not waiting to be read (the close is a plain
    /// FIN then).
    ///
    /// [SHUT-8, UPG-9] When an upgrade still holds the connection (taken
    /// through Albany's `OnUpgrade` or hyper's, as axum's `WebSocketUpgrade`
    /// takes it), `upgraded` is given the task that holds it, to run apart
    /// from the connection's (an upgraded connection no longer counts
    /// against `max_connections`), counted and tracked by graceful shutdown:
    /// the task ends when the application drops the connection, or when
    /// `abort` (the shutdown deadline) resolves, and then closes it; the
    /// application's reads and writes fail from then on.
    pub(crate) async fn close<B: Binding>(
        self,
        binding: &B,
        mut abort: ShutdownSignal,
        max_bytes: usize,
        upgraded: impl FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>),
    ) where
        I: Send + 'static,
    {
        let state = match Arc::try_unwrap(self.state) {
            Ok(state) => state,
            Err(state) => return upgraded(Box::pin(hold(state, abort))),
        };
        let Some(mut io) = state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .io
        else {
            return;
        };
        let started = Instant::now();
        let mut sleep = pin!(binding.sleep_until(started + LINGER_TIME));
        let mut shut = false;
        let mut drained = 0usize;
        poll_fn(|cx| {
            if Pin::new(&mut abort).poll(cx).is_ready() {
                return Poll::Ready(());
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            if !shut {
                // An error (already shut down, reset) leaves nothing to do
                // but read what is there.
                ready!(Pin::new(&mut io).poll_shutdown(cx)).ok();
                shut = true;
            }
            let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            loop {
                let mut read = ReadBuf::uninit(&mut scratch);
                match Pin::new(&mut io).poll_read(cx, read.unfilled()) {
                    Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                        drained += read.filled().len();
                        if drained >= max_bytes {
                            return Poll::Ready(());
                        }
                        let deadline = (Instant::now() + LINGER_IDLE).min(started + LINGER_TIME);
                        B::reset(sleep.as_mut(), deadline);
                    }
                    // End of file or an error: the client is done.
                    Poll::Ready(_) => return Poll::Ready(()),
                    // Nothing waiting before the first byte: nothing to
                    // linger for.
                    Poll::Pending if drained == 0 => return Poll::Ready(()),
                    Poll::Pending => break,
                }
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }
}

/// Waits while an upgrade holds the connection: until the application
/// drops it, or `abort` resolves and the connection is closed (see
/// [`Closer::close`]).
async fn hold<I>(state: Arc<Mutex<State<I>>>, mut abort: ShutdownSignal) {
    lock(&state).upgrade = Some(UpgradeHold::default());
    poll_fn(|cx| {
        let aborted = Pin::new(&mut abort).poll(cx).is_ready();
        let mut guard = lock(&state);
        if guard.dropped {
            return Poll::Ready(());
        }
        if aborted {
            let io = guard.io.take();
            let hold = guard.upgrade.take();
            drop(guard);
            drop(io);
            tracing::debug!("graceful shutdown deadline passed; closed an upgraded connection");
            for waker in hold.into_iter().flat_map(|hold| [hold.read, hold.write]) {
                waker.into_iter().for_each(Waker::wake);
            }
            return Poll::Ready(());
        }
        if let Some(hold) = guard.upgrade.as_mut() {
            keep_waker(&mut hold.closer, cx);
        }
        Poll::Pending
    })
    .await;
}
