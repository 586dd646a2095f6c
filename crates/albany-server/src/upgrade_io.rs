//! An upgraded connection (hyper's `Upgraded`) presented to applications as
//! `futures_io` (spec UPG-3), and held under graceful shutdown (spec
//! SHUT-8, UPG-9).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use albany::shutdown::ShutdownTrigger;
use albany::ShutdownSignal;
use futures_io::{AsyncRead, AsyncWrite};

use crate::connection::StreamHeld;
use crate::counters::UpgradedConnection;
use crate::tracker::Tracked;

/// hyper's I/O presented as `futures_io`.
pub(crate) struct FromHyper<T> {
    inner: T,
}

impl<T> FromHyper<T> {
    pub(crate) fn new(inner: T) -> Self {
        FromHyper { inner }
    }
}

/// An upgraded connection as the application holds it: counted as open
/// (spec OBS-3) and tracked by graceful shutdown, which waits for it; when
/// the shutdown deadline passes the server closes it, whether or not the
/// application is reading or writing it (spec SHUT-8).
pub(crate) struct Held<T> {
    slot: Arc<Mutex<Option<Open<T>>>>,
    /// The shutdown deadline, polled with every read and write so that a
    /// task blocked on the connection wakes when it passes.
    deadline: ShutdownSignal,
    /// Triggered when the application drops the connection: ends the
    /// closer task.
    dropped: ShutdownTrigger,
}

struct Open<T> {
    io: FromHyper<T>,
    /// Counted as an upgraded connection and, over HTTP/2, as an open
    /// stream of its connection (spec LIMIT-11).
    _counted: (UpgradedConnection, Option<StreamHeld>),
    _tracked: Tracked,
}

impl<T: Send + 'static> Held<T> {
    /// Holds `io`; `spawn` runs the task that closes it at `deadline` (or
    /// ends when the application drops it first).
    pub(crate) fn new(
        io: T,
        counted: (UpgradedConnection, Option<StreamHeld>),
        tracked: Tracked,
        deadline: ShutdownSignal,
        spawn: impl FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>),
    ) -> Self {
        let slot = Arc::new(Mutex::new(Some(Open {
            io: FromHyper::new(io),
            _counted: counted,
            _tracked: tracked,
        })));
        let dropped = ShutdownTrigger::new();
        let closer = {
            let slot = slot.clone();
            let mut deadline = deadline.clone();
            let mut dropped = dropped.signal();
            async move {
                let passed = poll_fn(|cx| {
                    if Pin::new(&mut dropped).poll(cx).is_ready() {
                        return Poll::Ready(false);
                    }
                    Pin::new(&mut deadline).poll(cx).map(|()| true)
                })
                .await;
                if passed {
                    close(&slot);
                }
            }
        };
        spawn(Box::pin(closer));
        Held {
            slot,
            deadline,
            dropped,
        }
    }
}

/// Closes the connection (drops it) and releases its place in the count.
fn close<T>(slot: &Mutex<Option<Open<T>>>) {
    let open = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if open.is_some() {
        tracing::debug!("graceful shutdown deadline passed; closing an upgraded connection");
    }
    drop(open);
}

impl<T> Held<T> {
    /// Runs `f` on the open connection; an error once the deadline has
    /// closed it.
    fn with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(Pin<&mut FromHyper<T>>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>>
    where
        T: Unpin,
    {
        if Pin::new(&mut self.deadline).poll(cx).is_ready() {
            close(&self.slot);
        }
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(open) => f(Pin::new(&mut open.io), cx),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed this upgraded connection at its graceful shutdown deadline",
            ))),
        }
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        self.dropped.trigger();
    }
}

impl<T: hyper::rt::Read + Unpin> AsyncRead for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.with(cx, |io, cx| io.poll_read(cx, buf))
    }
}

impl<T: hyper::rt::Write + Unpin> AsyncWrite for Held<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, |io, cx| io.poll_close(cx))
    }
}

impl<T: hyper::rt::Read + Unpin> AsyncRead for FromHyper<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = hyper::rt::ReadBuf::new(buf);
        match Pin::new(&mut self.inner).poll_read(cx, read_buf.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: hyper::rt::Write + Unpin> AsyncWrite for FromHyper<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
