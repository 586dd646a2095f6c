//! A TLS connection as hyper reads and writes it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::server::TlsStream;

use crate::upgrade_io::FromHyper;

/// How many bytes of plaintext one read hands to hyper at most: a TLS
/// record's payload is at most 16 KiB (RFC 8446 §5.1).
const READ_CHUNK: usize = 16 * 1024;

/// futures-rustls's stream over the adapter's transport, presented to
/// hyper: rustls works on `futures_io`, hyper on its own traits.
pub(crate) struct TlsIo<C> {
    inner: TlsStream<FromHyper<C>>,
}

impl<C> TlsIo<C> {
    pub(super) fn new(inner: TlsStream<FromHyper<C>>) -> Self {
        TlsIo { inner }
    }
}

impl<C: hyper::rt::Read + hyper::rt::Write + Unpin> hyper::rt::Read for TlsIo<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // rustls copies decrypted bytes out of its own buffer; they go
        // through this one because hyper's is not initialized.
        let mut chunk = [0u8; READ_CHUNK];
        let len = buf.remaining().min(READ_CHUNK);
        match Pin::new(&mut self.inner).poll_read(cx, &mut chunk[..len]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&chunk[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<C: hyper::rt::Read + hyper::rt::Write + Unpin> hyper::rt::Write for TlsIo<C> {
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

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Sends close_notify, then shuts the transport's write half down.
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
