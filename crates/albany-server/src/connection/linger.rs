//! The connection's I/O as hyper sees it: an end of file held back for one
//! turn of the connection (spec H1-24), and the lingering close once hyper
//! is done with the connection (spec LIMIT-13). Both are here, once, so
//! that every adapter's transport behaves the same.

use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use albany::ShutdownSignal;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

use super::Requests;
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

struct State<I> {
    io: I,
    /// An end of file was read and held back once.
    eof_held: bool,
}

fn lock<I>(state: &Mutex<State<I>>) -> MutexGuard<'_, State<I>> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Splits `io` into the I/O hyper serves, which notes its reads in
/// `requests` (spec SHUT-9), and the handle that closes it after hyper has
/// dropped it.
pub(crate) fn split<I>(io: I, requests: Arc<Requests>) -> (ConnectionIo<I>, Closer<I>) {
    let state = Arc::new(Mutex::new(State {
        io,
        eof_held: false,
    }));
    (
        ConnectionIo {
            state: state.clone(),
            requests,
        },
        Closer { state },
    )
}

/// The connection's I/O, as handed to hyper (and, after an upgrade, to the
/// application).
pub(crate) struct ConnectionIo<I> {
    state: Arc<Mutex<State<I>>>,
    /// Told of every read that returns (bytes, the end, an error): a
    /// request head may have begun (spec SHUT-9).
    requests: Arc<Requests>,
}

impl<I: Read + Unpin> Read for ConnectionIo<I> {
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
        if let Err(error) = ready!(Pin::new(&mut state.io).poll_read(cx, read.unfilled())) {
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

impl<I: Write + Unpin> Write for ConnectionIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(&self.state).io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(&self.state).io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        lock(&self.state).io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.state).io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.state).io).poll_shutdown(cx)
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
    /// without a byte, [`LINGER_TIME`] in all, [`LINGER_BYTES`], or
    /// `abort`; then drops the connection. Closing a socket with unread
    /// bytes makes the kernel reset the connection, and a reset can destroy
    /// the response before the client reads it (RFC 9112 §9.6). Nothing
    /// when the connection is not waiting to be read (the close is a plain
    /// FIN then), or when an upgrade still holds it.
    pub(crate) async fn close<B: Binding>(self, binding: &B, mut abort: ShutdownSignal) {
        let Ok(state) = Arc::try_unwrap(self.state) else {
            return;
        };
        let mut io = state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .io;
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
                        if drained >= LINGER_BYTES {
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
