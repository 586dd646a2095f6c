//! Bodies from and into `Stream`s.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http_body::Frame;

use super::Body;
use crate::error::{BoxError, Error};

impl Body {
    /// Makes a body of a stream of data chunks.
    ///
    /// The size hint is unknown, so a server uses chunked transfer coding
    /// (HTTP/1.1). An `Err` item ends the body with that error.
    ///
    /// ```
    /// use albany::Body;
    /// let chunks = futures_lite::stream::iter(vec![Ok::<_, std::io::Error>("a"), Ok("b")]);
    /// let body = Body::from_stream(chunks);
    /// ```
    pub fn from_stream<S, D, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<D, E>> + Send + 'static,
        D: Into<Bytes>,
        E: Into<BoxError>,
    {
        Body::boxed(StreamBody {
            stream,
            done: false,
        })
    }

    /// Makes a body of a stream of frames (data and trailers).
    pub fn from_frame_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Frame<Bytes>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Body::boxed(FrameStreamBody {
            stream,
            done: false,
        })
    }

    /// Turns the body into a stream of its data chunks. Trailers are
    /// skipped; use [`into_frame_stream`](Body::into_frame_stream) to see them.
    pub fn into_data_stream(self) -> DataStream {
        DataStream { body: self }
    }

    /// Turns the body into a stream of its frames, trailers included.
    pub fn into_frame_stream(self) -> FrameStream {
        FrameStream { body: self }
    }
}

pin_project_lite::pin_project! {
    struct StreamBody<S> {
        #[pin]
        stream: S,
        done: bool,
    }
}

impl<S, D, E> http_body::Body for StreamBody<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            return match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(error))) => {
                    *this.done = true;
                    Poll::Ready(Some(Err(Error::new(error))))
                }
                Poll::Ready(Some(Ok(data))) => {
                    let data = data.into();
                    if data.is_empty() {
                        continue;
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

pin_project_lite::pin_project! {
    struct FrameStreamBody<S> {
        #[pin]
        stream: S,
        done: bool,
    }
}

impl<S, E> http_body::Body for FrameStreamBody<S>
where
    S: Stream<Item = Result<Frame<Bytes>, E>>,
    E: Into<BoxError>,
{
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
        match this.stream.poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                *this.done = true;
                Poll::Ready(Some(Err(Error::new(error))))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// A [`Stream`] of a body's data chunks, from [`Body::into_data_stream`].
pub struct DataStream {
    body: Body,
}

impl fmt::Debug for DataStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStream")
            .field("body", &self.body)
            .finish()
    }
}

impl DataStream {
    /// Returns the body, with what was not yet read.
    pub fn into_body(self) -> Body {
        self.body
    }
}

impl Stream for DataStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match self.body.poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue,
                },
            };
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

/// A [`Stream`] of a body's frames, from [`Body::into_frame_stream`].
pub struct FrameStream {
    body: Body,
}

impl fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameStream")
            .field("body", &self.body)
            .finish()
    }
}

impl FrameStream {
    /// Returns the body, with what was not yet read.
    pub fn into_body(self) -> Body {
        self.body
    }
}

impl Stream for FrameStream {
    type Item = Result<Frame<Bytes>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.body.poll_frame(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{future::block_on, stream, StreamExt};

    #[test]
    fn frames_round_trip_through_streams() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-sum", "3".parse().unwrap());
        let frames = vec![
            Ok::<_, std::io::Error>(Frame::data(Bytes::from("a"))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = Body::from_frame_stream(stream::iter(frames));
        let frames: Vec<_> = block_on(body.into_frame_stream().collect());
        assert_eq!(frames.len(), 2);
        assert!(frames[1].as_ref().unwrap().is_trailers());

        let body = Body::from_stream(stream::iter(vec![
            Ok::<_, std::io::Error>("x"),
            Err(std::io::Error::other("broken")),
        ]));
        let items: Vec<_> = block_on(body.into_data_stream().collect());
        assert_eq!(items[0].as_ref().unwrap(), "x");
        assert!(items[1].is_err());
    }
}
