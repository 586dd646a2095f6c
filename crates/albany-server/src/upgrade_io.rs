//! An upgraded connection (hyper's `Upgraded`) presented to applications as
//! `futures_io` (spec UPG-3).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::counters::UpgradedConnection;

/// hyper's I/O presented as `futures_io`.
pub(crate) struct FromHyper<T> {
    inner: T,
    /// For an upgraded connection: counted as open while this lives
    /// (spec OBS-3).
    _counted: Option<UpgradedConnection>,
}

impl<T> FromHyper<T> {
    pub(crate) fn new(inner: T) -> Self {
        FromHyper {
            inner,
            _counted: None,
        }
    }

    /// An upgraded connection, counted until it is dropped.
    pub(crate) fn counted(inner: T, counted: UpgradedConnection) -> Self {
        FromHyper {
            inner,
            _counted: Some(counted),
        }
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
