//! A length limit on a body: [`Body::limit`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::Body;
use crate::error::Error;

/// The error of a body longer than its limit, from [`Body::limit`].
///
/// [`Body::collect`] reports it as [`CollectError::TooLarge`](super::CollectError::TooLarge);
/// servers answer `413 Content Too Large` (RFC 9110 §15.5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthLimitError {
    limit: u64,
}

impl LengthLimitError {
    /// The limit that was exceeded, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl fmt::Display for LengthLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body is longer than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for LengthLimitError {}

impl Body {
    /// Limits the body to `limit` bytes of data.
    ///
    /// The limited body yields the data up to the limit; the frame that
    /// would cross it is replaced by a [`LengthLimitError`] (wrapped in
    /// [`Error`]), and so is the first frame of a body whose exact size hint
    /// is already over the limit. Servers use it for their request body
    /// limit.
    pub fn limit(self, limit: u64) -> Body {
        Body::boxed(Limited {
            inner: self,
            remaining: limit,
            limit,
            started: false,
            failed: false,
        })
    }
}

struct Limited {
    inner: Body,
    remaining: u64,
    limit: u64,
    /// A frame has been yielded: from then on only the frames' data counts,
    /// not the size hint (spec BODY-22).
    started: bool,
    failed: bool,
}

impl Limited {
    fn fail(&mut self) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.failed = true;
        Poll::Ready(Some(Err(Error::new(LengthLimitError {
            limit: self.limit,
        }))))
    }
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        // [BODY-22] A size hint already over the limit fails the first
        // frame; later, a hint that grows fails no frame that fits.
        if !this.started && this.inner.size_hint().lower() > this.remaining {
            return this.fail();
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        return this.fail();
                    }
                    this.remaining -= len;
                }
                this.started = true;
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::CollectError;
    use futures_lite::future::block_on;
    use futures_lite::stream;

    #[test]
    fn over_the_limit_is_a_typed_error() {
        let chunks = stream::iter(["abc", "def"].map(Ok::<_, std::io::Error>));
        let mut body = Body::from_stream(chunks).limit(4);
        block_on(async {
            assert_eq!(
                body.frame().await.unwrap().unwrap().into_data().unwrap(),
                "abc"
            );
            let error = body.frame().await.unwrap().unwrap_err();
            assert_eq!(error.downcast_ref::<LengthLimitError>().unwrap().limit(), 4);
            assert!(body.frame().await.is_none());
        });
        let chunks = stream::iter(["abc", "def"].map(Ok::<_, std::io::Error>));
        let error = block_on(Body::from_stream(chunks).limit(4).collect(100)).unwrap_err();
        assert!(matches!(error, CollectError::TooLarge { limit: 4 }));
        assert!(block_on(Body::from("0123456789").limit(4).to_bytes(100)).is_err());
        assert_eq!(
            block_on(Body::from("0123").limit(4).to_bytes(100)).unwrap(),
            "0123"
        );
    }
}
