//! A TCP stream on the `async-io` reactor (smol's and async-std's), read and
//! written by hyper directly (feature `async-io`).
//!
//! [`Compat`](crate::io::Compat) works with any `futures_io` stream but
//! costs two things on this reactor: it zero-fills hyper's read buffer
//! before every read, and `futures_io` readers try a `recv` before every wait
//! for readiness, which fails with `EAGAIN` whenever the previous read
//! emptied the socket. [`AsyncIoStream`] reads straight into hyper's
//! uninitialised buffer and, as tokio does, waits for readiness first when
//! the previous read returned less than it asked for.
#![allow(unsafe_code)]

use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_io::Async;
use futures_io::AsyncWrite;

/// A TCP stream registered with the `async-io` reactor, as hyper's
/// [`Read`](hyper::rt::Read) and [`Write`](hyper::rt::Write).
#[derive(Debug)]
pub struct AsyncIoStream {
    inner: Async<TcpStream>,
    /// The last read returned less than it asked for: the socket is
    /// probably empty, so the next read waits for readiness first.
    drained: bool,
}

impl AsyncIoStream {
    /// Wraps a stream registered with the reactor.
    pub fn new(inner: Async<TcpStream>) -> Self {
        AsyncIoStream {
            inner,
            drained: false,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &TcpStream {
        self.inner.get_ref()
    }
}

impl hyper::rt::Read for AsyncIoStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.drained {
            ready!(this.inner.poll_readable(cx))?;
            this.drained = false;
        }
        loop {
            // SAFETY: `recv` only writes into the slice (it never reads or
            // de-initialises it), and `advance` below counts only the bytes
            // it reported written.
            let unfilled = unsafe { buf.as_mut() };
            let wanted = unfilled.len();
            match socket2::SockRef::from(this.inner.get_ref()).recv(unfilled) {
                Ok(n) => {
                    this.drained = n < wanted;
                    // SAFETY: `recv` initialised the first `n` bytes.
                    unsafe { buf.advance(n) };
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready!(this.inner.poll_readable(cx))?;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl hyper::rt::Write for AsyncIoStream {
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
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A TCP listener on the `async-io` reactor, for the engine: it accepts
/// [`AsyncIoStream`]s with `TCP_NODELAY` set (spec ADAPT-4).
#[derive(Debug)]
pub struct AsyncIoListener {
    inner: Async<std::net::TcpListener>,
}

impl AsyncIoListener {
    /// Registers a standard listener with the reactor (and makes it
    /// non-blocking).
    ///
    /// # Errors
    ///
    /// The reactor's error if it cannot register the listener.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(AsyncIoListener {
            inner: Async::new(listener)?,
        })
    }
}

impl crate::Listener for AsyncIoListener {
    type Io = AsyncIoStream;

    async fn accept(&mut self) -> io::Result<(AsyncIoStream, albany::ConnectionInfo)> {
        let (stream, peer_addr) = self.inner.accept().await?;
        stream.get_ref().set_nodelay(true)?;
        let local_addr = stream.get_ref().local_addr()?;
        Ok((
            AsyncIoStream::new(stream),
            albany::ConnectionInfo::new(peer_addr, local_addr),
        ))
    }
}
