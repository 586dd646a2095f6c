//! Telling HTTP/1.x from HTTP/2 with prior knowledge (spec H2-1) by the
//! connection preface (RFC 9113 §3.4), and giving the bytes read back to
//! the protocol chosen.
//!
//! hyper-util's auto builder does the same, but does not expose hyper's
//! HTTP/1 `max_header_size`; without it the head limit (LIMIT-1) could only
//! be set through `max_buf_size`, which also caps hyper's write buffer and
//! halved streaming throughput (benches/RESULTS.md).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The HTTP/2 connection preface a client with prior knowledge sends first.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// Reads from `io` until the bytes read differ from the preface (HTTP/1.x),
/// are all of it (HTTP/2), or the client closes (HTTP/1.x: hyper then sees
/// the end). Returns the protocol and `io` with the bytes read put back.
pub(crate) async fn detect<I: hyper::rt::Read + Unpin>(
    mut io: I,
) -> io::Result<(Protocol, Rewind<I>)> {
    let mut prefix = [0u8; PREFACE.len()];
    let mut filled = 0;
    let protocol = loop {
        let read = {
            let mut read_buf = hyper::rt::ReadBuf::new(&mut prefix[filled..]);
            poll_fn(|cx| Pin::new(&mut io).poll_read(cx, read_buf.unfilled())).await?;
            read_buf.filled().len()
        };
        if read == 0 {
            break Protocol::Http1;
        }
        let start = filled;
        filled += read;
        if prefix[start..filled] != PREFACE[start..filled] {
            break Protocol::Http1;
        }
        if filled == PREFACE.len() {
            break Protocol::Http2;
        }
    };
    let io = Rewind {
        prefix,
        start: 0,
        end: filled,
        inner: io,
    };
    Ok((protocol, io))
}

/// A connection with the bytes read while detecting its protocol put back
/// in front of it.
#[derive(Debug)]
pub(crate) struct Rewind<I> {
    prefix: [u8; PREFACE.len()],
    start: usize,
    end: usize,
    inner: I,
}

impl<I> Rewind<I> {
    /// A connection nothing was read from (HTTP/2 is off).
    pub(crate) fn new(inner: I) -> Self {
        Rewind {
            prefix: [0; PREFACE.len()],
            start: 0,
            end: 0,
            inner,
        }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Rewind<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.start < this.end {
            let n = (this.end - this.start).min(buf.remaining());
            buf.put_slice(&this.prefix[this.start..this.start + n]);
            this.start += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

/// Writes go straight to the connection: only reading is rewound.
impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Rewind<I> {
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
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
