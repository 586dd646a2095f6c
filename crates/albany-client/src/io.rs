//! A `futures_io` connection (an `albany::net::TcpStream`, or TLS over one)
//! as hyper's [`Read`](hyper::rt::Read) and [`Write`](hyper::rt::Write).
//!
//! `futures_io` readers take initialised memory and hyper hands out
//! uninitialised buffer space. Zero-filling that space before every read
//! cost about half of a proxied request's instructions (hyper offers its
//! whole spare capacity, and a read that would block zeroes it for
//! nothing; callgrind on the proxy example). Reads go instead through a
//! buffer of the connection's own, initialised once, and the bytes read are
//! copied into hyper's buffer: a copy of what arrived, no work for a read
//! that would block. The buffer starts at [`SCRATCH_MIN`] bytes and doubles
//! each time a read fills it, up to [`SCRATCH_MAX`], so that a connection
//! that streams reads in large pieces and an idle one holds little.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// The first size of a connection's read buffer, in bytes.
const SCRATCH_MIN: usize = 8 * 1024;

/// The largest size of a connection's read buffer, in bytes: the most one
/// read takes from the socket.
const SCRATCH_MAX: usize = 128 * 1024;

pin_project_lite::pin_project! {
    /// hyper's I/O over a `futures_io` stream.
    pub(crate) struct HyperIo<T> {
        #[pin]
        inner: T,
        // Allocated on the first read.
        scratch: Option<Box<[u8]>>,
    }
}

impl<T> HyperIo<T> {
    pub(crate) fn new(inner: T) -> Self {
        HyperIo {
            inner,
            scratch: None,
        }
    }
}

impl<T: AsyncRead> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let scratch = this
            .scratch
            .get_or_insert_with(|| vec![0; SCRATCH_MIN].into_boxed_slice());
        let wanted = buf.remaining().min(scratch.len());
        match this.inner.poll_read(cx, &mut scratch[..wanted]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&scratch[..n]);
                if n == scratch.len() && n < SCRATCH_MAX {
                    *scratch = vec![0; n * 2].into_boxed_slice();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite> hyper::rt::Write for HyperIo<T> {
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
