//! [`Duplex`]: an in-memory, two-way byte stream, made of two bounded
//! pipes from the `piper` crate (smol's; no runtime).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// How many bytes each direction of a [`duplex`] buffers before a write
/// waits for the other end to read (backpressure): 64 KiB.
pub const DUPLEX_CAPACITY: usize = 64 * 1024;

/// Creates a connected pair of in-memory streams: what one end writes, the
/// other reads. Each direction buffers up to `capacity` bytes; a write
/// waits while the buffer is full, as on a socket.
///
/// Each end implements `futures_io::AsyncRead + AsyncWrite` (what an
/// application's upgraded connection is, spec UPG-3) and hyper's
/// `rt::Read + rt::Write` (what the engine serves). Closing one end's
/// writing side (`poll_close`, hyper's `poll_shutdown`) or dropping the end
/// makes the other end read the end of the stream once it has read what
/// was buffered; writing to an end whose peer is dropped writes 0 bytes
/// (`write_all` fails with `WriteZero`).
///
/// No runtime is involved: readers and writers wake each other through
/// wakers, so the ends work on any executor and across threads.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
///
/// let (mut client, mut server) = albany_test::duplex(1024);
/// albany_test::block_on(async {
///     client.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub fn duplex(capacity: usize) -> (Duplex, Duplex) {
    let (a_reader, b_writer) = piper::pipe(capacity);
    let (b_reader, a_writer) = piper::pipe(capacity);
    (
        Duplex {
            reader: a_reader,
            writer: a_writer,
        },
        Duplex {
            reader: b_reader,
            writer: b_writer,
        },
    )
}

/// One end of an in-memory connection made by [`duplex`].
pub struct Duplex {
    reader: piper::Reader,
    writer: piper::Writer,
}

impl fmt::Debug for Duplex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Duplex")
            .field("unread", &self.reader.len())
            .field("unread_by_peer", &self.writer.len())
            .field("closed", &self.writer.is_closed())
            .finish()
    }
}

impl AsyncRead for Duplex {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Duplex {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_close(cx)
    }
}

/// hyper's read buffer as a `std::io::Write`, so that the pipe copies into
/// it directly (no zero-filled scratch buffer).
struct Cursor<'a, 'b>(&'a mut hyper::rt::ReadBufCursor<'b>);

impl io::Write for Cursor<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.0.remaining());
        self.0.put_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl hyper::rt::Read for Duplex {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.reader
            .poll_drain(cx, Cursor(&mut buf))
            .map(|result| result.map(|_| ()))
    }
}

impl hyper::rt::Write for Duplex {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(self, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_close(self, cx)
    }
}

/// hyper's I/O (the client's upgraded connection) as `futures_io`.
pub(crate) struct FromHyper<T>(pub(crate) T);

impl<T: hyper::rt::Read + Unpin> AsyncRead for FromHyper<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = hyper::rt::ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, read_buf.unfilled()) {
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
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_full_direction_waits_for_the_reader() {
        let (mut a, mut b) = duplex(8);
        crate::block_on(async {
            a.write_all(b"12345678").await.unwrap();
            {
                let mut write = pin!(a.write_all(b"9"));
                assert!(poll_once(write.as_mut()).is_pending(), "the buffer is full");
                let mut buf = [0; 8];
                b.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"12345678");
                write.await.unwrap();
            }
            let mut buf = [0; 1];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"9");
        });
    }

    #[test]
    fn closing_or_dropping_an_end_ends_the_peers_stream() {
        let (mut a, mut b) = duplex(64);
        crate::block_on(async {
            a.write_all(b"last").await.unwrap();
            a.close().await.unwrap();
            let mut read = Vec::new();
            b.read_to_end(&mut read).await.unwrap();
            assert_eq!(read, b"last");
            // The other direction is still open.
            b.write_all(b"back").await.unwrap();
            let mut buf = [0; 4];
            a.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"back");
            drop(a);
            assert_eq!(b.write(b"x").await.unwrap(), 0, "the peer is gone");
            assert!(b.write_all(b"x").await.is_err());
        });
    }
}
