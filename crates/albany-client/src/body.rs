//! A response body that hands its HTTP/1.1 connection back to the pool
//! once it has been read to its end.

use std::pin::Pin;
use std::task::{Context, Poll};

use albany::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;

use crate::connect::Target;
use crate::pool::Pool;

pub(crate) struct PooledBody {
    inner: Incoming,
    /// The connection, until the body ends; dropped (closing the
    /// connection) if the body is dropped before its end or fails.
    connection: Option<(Pool, Target, http1::SendRequest<Body>)>,
}

impl PooledBody {
    pub(crate) fn new(
        inner: Incoming,
        pool: Pool,
        key: Target,
        sender: http1::SendRequest<Body>,
    ) -> Self {
        let mut body = PooledBody {
            inner,
            connection: Some((pool, key, sender)),
        };
        if http_body::Body::is_end_stream(&body.inner) {
            body.give_back();
        }
        body
    }

    fn give_back(&mut self) {
        if let Some((pool, key, sender)) = self.connection.take() {
            pool.put_http1(&key, sender);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.connection = None,
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.give_back(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
