//! I/O glue between `futures_io` and hyper's `rt` traits.
//!
//! [`Compat`] presents a `futures_io` connection (async-std's or smol's TCP
//! stream) to hyper as [`hyper::rt::Read`] + [`hyper::rt::Write`], and a
//! hyper connection (an upgraded one) to applications as
//! [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`].
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

pin_project_lite::pin_project! {
    /// Wraps an I/O object to implement the other side's traits: hyper's
    /// `rt::Read`/`rt::Write` over `futures_io`, and `futures_io` over
    /// hyper's.
    #[derive(Debug)]
    pub struct Compat<T> {
        #[pin]
        inner: T,
    }
}

impl<T> Compat<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Compat { inner }
    }

    /// Returns a reference to the wrapped I/O object.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Returns the wrapped I/O object.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> hyper::rt::Read for Compat<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the slice is only written to (zeroed below) before it is
        // read, and `advance` is called with no more than the bytes the
        // reader reported as filled.
        let unfilled: &mut [MaybeUninit<u8>] = unsafe { buf.as_mut() };
        for byte in unfilled.iter_mut() {
            byte.write(0);
        }
        // SAFETY: every byte of `unfilled` was initialised just above, and
        // `MaybeUninit<u8>` has the layout of `u8`.
        let slice: &mut [u8] = unsafe {
            std::slice::from_raw_parts_mut(unfilled.as_mut_ptr().cast::<u8>(), unfilled.len())
        };
        match self.project().inner.poll_read(cx, slice) {
            Poll::Ready(Ok(n)) => {
                // SAFETY: the reader initialised (filled) the first `n` bytes.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite> hyper::rt::Write for Compat<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }
}

/// hyper's I/O presented as `futures_io`, for upgraded connections.
pub(crate) struct FromHyper<T> {
    inner: T,
}

impl<T> FromHyper<T> {
    pub(crate) fn new(inner: T) -> Self {
        FromHyper { inner }
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
