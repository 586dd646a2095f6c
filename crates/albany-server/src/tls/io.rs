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
    /// Where rustls copies decrypted bytes before they go to hyper's
    /// buffer, which is not initialized: zeroed once as it grows, at most
    /// [`READ_CHUNK`] bytes (zeroing a fresh 16 KiB on every read was 65 %
    /// of a TLS request's instructions, measured with callgrind).
    scratch: Vec<u8>,
}

impl<C> TlsIo<C> {
    pub(super) fn new(inner: TlsStream<FromHyper<C>>) -> Self {
        TlsIo {
            inner,
            scratch: Vec::new(),
        }
    }
}

impl<C: hyper::rt::Read + hyper::rt::Write + Unpin> hyper::rt::Read for TlsIo<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let len = buf.remaining().min(READ_CHUNK);
        let this = &mut *self;
        if this.scratch.len() < len {
            this.scratch.resize(len, 0);
        }
        match Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..len]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.scratch[..n]);
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
