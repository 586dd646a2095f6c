//! Bodies from and into `futures_io::AsyncRead`.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncBufRead, AsyncRead};
use http_body::Frame;

use super::Body;
use crate::error::Error;

/// Bytes read from an `AsyncRead` at a time by [`Body::from_reader`].
const READ_CHUNK: usize = 16 * 1024;

impl Body {
    /// Makes a body of a [`futures_io::AsyncRead`], read 16 KiB at a time
    /// until it returns 0 (end of file).
    ///
    /// The size hint is unknown. A read error ends the body with that error.
    /// For tokio's `AsyncRead`, convert with `tokio_util::compat`.
    pub fn from_reader<R>(reader: R) -> Self
    where
        R: AsyncRead + Send + 'static,
    {
        Body::boxed(ReaderBody {
            reader,
            buffer: BytesMut::new(),
            done: false,
        })
    }

    /// Turns the body into a [`futures_io::AsyncRead`] (and `AsyncBufRead`)
    /// of its data. Trailers are skipped; a body error is returned as an
    /// `io::Error` of kind `Other` that wraps it.
    pub fn into_reader(self) -> BodyReader {
        BodyReader {
            body: self,
            chunk: Bytes::new(),
            done: false,
        }
    }
}

pin_project_lite::pin_project! {
    struct ReaderBody<R> {
        #[pin]
        reader: R,
        buffer: BytesMut,
        done: bool,
    }
}

impl<R: AsyncRead> http_body::Body for ReaderBody<R> {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if this.buffer.len() < READ_CHUNK {
            this.buffer.resize(READ_CHUNK, 0);
        }
        match this.reader.poll_read(cx, &mut this.buffer[..]) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(n)) => {
                Poll::Ready(Some(Ok(Frame::data(this.buffer.split_to(n).freeze()))))
            }
            Poll::Ready(Err(error)) => {
                *this.done = true;
                Poll::Ready(Some(Err(Error::new(error))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// A [`futures_io::AsyncRead`] of a body's data, from [`Body::into_reader`].
pub struct BodyReader {
    body: Body,
    chunk: Bytes,
    done: bool,
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader")
            .field("body", &self.body)
            .field("buffered", &self.chunk.len())
            .finish()
    }
}

impl AsyncBufRead for BodyReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.chunk.is_empty() && !this.done {
            match this.body.poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.done = true,
                Poll::Ready(Some(Err(error))) => {
                    this.done = true;
                    return Poll::Ready(Err(io::Error::other(error)));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.chunk = data;
                    }
                }
            }
        }
        Poll::Ready(Ok(&this.chunk[..]))
    }

    fn consume(self: Pin<&mut Self>, amount: usize) {
        self.get_mut().chunk.advance(amount);
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let available = match self.as_mut().poll_fill_buf(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Ready(Ok(available)) => available,
        };
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{future::block_on, AsyncReadExt};

    #[test]
    fn reader_round_trip() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let body = Body::from_reader(futures_lite::io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        block_on(body.into_reader().read_to_end(&mut out)).unwrap();
        assert_eq!(out, data);
    }
}
