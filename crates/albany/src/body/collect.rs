//! Buffering a whole body, with a limit: [`Body::collect`].

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;

use super::{Body, LengthLimitError, TimeoutError};
use crate::error::Error;

/// A whole body: its data and its trailers. Returned by [`Body::collect`].
#[derive(Debug, Clone, Default)]
pub struct Collected {
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl Collected {
    /// The data, all chunks concatenated (no copy when there was one chunk).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The trailers, if the body had any.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// Returns the data, dropping the trailers.
    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// Returns the data and the trailers.
    pub fn into_parts(self) -> (Bytes, Option<HeaderMap>) {
        (self.data, self.trailers)
    }
}

/// Why [`Body::collect`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CollectError {
    /// The body is longer than the limit, in bytes. Servers answer
    /// `413 Content Too Large` (RFC 9110 §15.5.14).
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// The server stopped waiting for the request body: no data for too
    /// long, or data slower than its minimum rate (spec LIMIT-14,
    /// LIMIT-15). Servers answer `408 Request Timeout` (RFC 9110 §15.5.9).
    TimedOut(TimeoutError),
    /// The body itself failed (for a request, typically the client went
    /// away or sent a malformed body).
    Body(Error),
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::TooLarge { limit } => {
                write!(f, "the body is longer than the limit of {limit} bytes")
            }
            CollectError::TimedOut(error) => error.fmt(f),
            CollectError::Body(error) => write!(f, "the body failed: {error}"),
        }
    }
}

impl std::error::Error for CollectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CollectError::TooLarge { .. } => None,
            CollectError::TimedOut(error) => Some(error),
            CollectError::Body(error) => Some(error),
        }
    }
}

/// A body's error as [`Body::collect`] reports it.
fn collect_error(error: Error) -> CollectError {
    if let Some(exceeded) = error.downcast_ref::<LengthLimitError>() {
        return CollectError::TooLarge {
            limit: exceeded.limit(),
        };
    }
    if let Some(timeout) = error.downcast_ref::<TimeoutError>() {
        return CollectError::TimedOut(timeout.clone());
    }
    CollectError::Body(error)
}

impl Body {
    /// Reads the whole body into memory, data and trailers, up to `limit`
    /// bytes of data.
    ///
    /// Fails at once, without reading, if the size hint says the body is
    /// longer than `limit` (a request with a large `Content-Length`).
    ///
    /// # Errors
    ///
    /// [`CollectError::TooLarge`] past `limit` bytes, or when the body fails
    /// with a [`LengthLimitError`] (a server's
    /// request body limit, see [`Body::limit`]); [`CollectError::TimedOut`]
    /// when it fails with a [`TimeoutError`] (a server's request body
    /// timeouts); [`CollectError::Body`] if the body fails otherwise.
    pub async fn collect(mut self, limit: u64) -> Result<Collected, CollectError> {
        if self.size_hint().lower() > limit {
            return Err(CollectError::TooLarge { limit });
        }
        let mut first: Option<Bytes> = None;
        let mut rest: Option<BytesMut> = None;
        let mut length = 0u64;
        let mut trailers: Option<HeaderMap> = None;
        while let Some(frame) = self.frame().await {
            let frame = frame.map_err(collect_error)?;
            let frame = match frame.into_data() {
                Ok(data) => {
                    length = length.saturating_add(data.len() as u64);
                    if length > limit {
                        return Err(CollectError::TooLarge { limit });
                    }
                    match (&mut first, &mut rest) {
                        (None, _) => first = Some(data),
                        (Some(first), None) => {
                            let mut buffer = BytesMut::with_capacity(
                                (first.len() + data.len())
                                    .max(usize::try_from(self.size_hint().lower()).unwrap_or(0)),
                            );
                            buffer.put_slice(first);
                            buffer.put_slice(&data);
                            rest = Some(buffer);
                        }
                        (Some(_), Some(buffer)) => buffer.put_slice(&data),
                    }
                    continue;
                }
                Err(frame) => frame,
            };
            if let Ok(more) = frame.into_trailers() {
                match &mut trailers {
                    Some(trailers) => trailers.extend(more),
                    None => trailers = Some(more),
                }
            }
        }
        let data = match (first, rest) {
            (_, Some(buffer)) => buffer.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        };
        Ok(Collected { data, trailers })
    }

    /// Reads the whole body's data into one `Bytes`, up to `limit` bytes.
    /// Trailers are dropped; use [`collect`](Body::collect) to keep them.
    ///
    /// # Errors
    ///
    /// As [`collect`](Body::collect).
    pub async fn to_bytes(self, limit: u64) -> Result<Bytes, CollectError> {
        self.collect(limit).await.map(Collected::into_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::stream;

    #[test]
    fn collects_chunks_up_to_the_limit() {
        let chunks = stream::iter(["ab", "cd", "ef"].map(Ok::<_, std::io::Error>));
        let bytes = block_on(Body::from_stream(chunks).to_bytes(6)).unwrap();
        assert_eq!(bytes, "abcdef");

        let chunks = stream::iter(["ab", "cd", "ef"].map(Ok::<_, std::io::Error>));
        let error = block_on(Body::from_stream(chunks).to_bytes(5)).unwrap_err();
        assert!(matches!(error, CollectError::TooLarge { limit: 5 }));
    }

    #[test]
    fn exact_size_over_the_limit_fails_without_reading() {
        let error = block_on(Body::from("0123456789").collect(4)).unwrap_err();
        assert!(matches!(error, CollectError::TooLarge { limit: 4 }));
    }
}
