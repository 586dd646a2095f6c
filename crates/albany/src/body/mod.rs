//! The streaming [`Body`] of requests and responses.
//!
//! [`Body`] is one concrete type for both directions. It implements
//! [`http_body::Body`] with `Data = Bytes` and `Error = albany::Error`, so it
//! is accepted wherever hyper, tower-http, axum or reqwest accept a body.
//!
//! | you have | you write |
//! | --- | --- |
//! | nothing | [`Body::empty()`] |
//! | `Bytes`, `Vec<u8>`, `String`, `&'static str` | `Body::from(x)` (no copy) |
//! | any `http_body::Body` | [`Body::new`] |
//! | a `Stream` of `Result<Bytes, E>` | [`Body::from_stream`] |
//! | a `Stream` of `Result<Frame<Bytes>, E>` | [`Body::from_frame_stream`] |
//! | a `futures_io::AsyncRead` | [`Body::from_reader`] |
//! | a task that produces data | [`Body::channel`] |
//!
//! | you want | you write |
//! | --- | --- |
//! | all of it, bounded | [`Body::collect`], [`Body::to_bytes`] |
//! | a length limit | [`Body::limit`] |
//! | a `Stream` | [`Body::into_data_stream`], [`Body::into_frame_stream`] |
//! | a `futures_io::AsyncRead` | [`Body::into_reader`] |
//!
//! # Contract
//!
//! The contract is the one of [`http_body::Body`]: `poll_frame` returns
//! `Ready(Some(Ok(frame)))` for each data or trailers frame,
//! `Ready(Some(Err(_)))` when the body failed (it did not end normally), and
//! `Ready(None)` at the end of the stream. Trailers, if any, are the last
//! frame. After `None` or an error, further polls return `None`.
//! [`size_hint`](http_body::Body::size_hint) is exact whenever the length is
//! known, which lets a server send `Content-Length` instead of chunked
//! transfer coding.

mod channel;
mod collect;
mod limit;
mod reader;
mod stream;
mod timeout;

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::SizeHint;

use crate::error::{BoxError, Error};

pub use channel::{SendError, Sender};
pub use collect::{CollectError, Collected};
pub use limit::LengthLimitError;
pub use reader::BodyReader;
pub use stream::{DataStream, FrameStream};
pub use timeout::TimeoutError;

pub use http_body::Frame;

type BoxBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = Error> + Send + 'static>>;

/// A streaming HTTP body, for requests and responses alike.
///
/// Cheap for the common cases: an empty body and a body made of one `Bytes`
/// value do not allocate; only real streams are boxed. `Body` is `Send` and
/// `Sync`, so a `&Request` can be held across an `.await`.
///
/// See the [module documentation](crate::body) for the ways in and out.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Bytes),
    Channel(channel::Receiver),
    Boxed(Boxed),
}

/// A boxed body, behind a `Mutex` so that `Body` is `Sync` while the body
/// it wraps need not be. Polling has `&mut` access and takes no lock
/// (`Mutex::get_mut`); `size_hint` and `is_end_stream` lock it, which never
/// waits (no poll can run while a `&Body` exists), and so always answer
/// for the body as it is now (spec BODY-8).
struct Boxed {
    body: Mutex<BoxBody>,
}

impl Boxed {
    fn with<T>(&self, f: impl FnOnce(&BoxBody) -> T) -> T {
        f(&self.body.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Body {
    /// An empty body: `size_hint` is exactly 0 and `is_end_stream` is `true`.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// Wraps any [`http_body::Body`].
    ///
    /// Its data chunks are turned into [`Bytes`] (without a copy when they
    /// already are `Bytes`) and its errors into [`Error`]. Its size hint is
    /// kept. A `Body` passed in is returned as it is, not boxed again.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut slot = Some(body);
        if let Some(body) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>() {
            return body.take().expect("the slot was just filled");
        }
        let body = slot.expect("the slot was just filled");
        Body::boxed(MapBody { inner: body })
    }

    pub(crate) fn boxed(
        body: impl http_body::Body<Data = Bytes, Error = Error> + Send + 'static,
    ) -> Self {
        Body {
            kind: Kind::Boxed(Boxed {
                body: Mutex::new(Box::pin(body)),
            }),
        }
    }

    /// Returns `true` if this body is known to have no more frames.
    pub fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(self)
    }

    /// Returns the bounds on the remaining length of the body, in bytes.
    pub fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(self)
    }

    /// Polls for the next frame; see [`http_body::Body::poll_frame`].
    ///
    /// `Body` is `Unpin`, so this takes `&mut self`.
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        http_body::Body::poll_frame(Pin::new(self), cx)
    }

    /// Waits for the next frame. `None` is the end of the body.
    pub async fn frame(&mut self) -> Option<Result<Frame<Bytes>, Error>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn extension<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn types_are_send_and_sync_and_extensions_fit() {
        send_sync::<Body>();
        send_sync::<crate::Request>();
        send_sync::<crate::Response>();
        extension::<crate::rt::Handle>();
        extension::<crate::ConnectionInfo>();
        extension::<crate::ShutdownSignal>();
        extension::<crate::upgrade::OnUpgrade>();
    }

    #[test]
    fn bytes_bodies_have_exact_size_hints() {
        let body = Body::from("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(Body::empty().size_hint().exact(), Some(0));
        assert!(Body::from(Vec::new()).is_end_stream());
        // A foreign body keeps its hint; a `Body` is not boxed twice.
        let full = http_body_util::Full::new(Bytes::from_static(b"abc"));
        assert_eq!(Body::new(full).size_hint().exact(), Some(3));
        assert!(matches!(Body::new(Body::from("x")).kind, Kind::Full(_)));
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Channel(_) => "channel",
            Kind::Boxed(_) => "boxed",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("size_hint", &self.size_hint())
            .finish()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match &mut this.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => {
                let Kind::Full(bytes) = std::mem::replace(&mut this.kind, Kind::Empty) else {
                    unreachable!("matched Kind::Full above")
                };
                if bytes.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(bytes))))
                }
            }
            Kind::Channel(receiver) => receiver.poll_frame(cx),
            Kind::Boxed(boxed) => boxed
                .body
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
                .poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(bytes) => bytes.is_empty(),
            Kind::Channel(receiver) => receiver.is_end_stream(),
            Kind::Boxed(boxed) => boxed.with(|body| body.is_end_stream()),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Channel(_) => SizeHint::default(),
            Kind::Boxed(boxed) => boxed.with(|body| body.size_hint()),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body {
            kind: Kind::Full(bytes),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

pin_project_lite::pin_project! {
    /// Adapts a foreign `http_body::Body` to `Data = Bytes, Error = Error`.
    struct MapBody<B> {
        #[pin]
        inner: B,
    }
}

impl<B> http_body::Body for MapBody<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match self.project().inner.poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::new(error)))),
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(
                frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
            ))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
