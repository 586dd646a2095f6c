//! The response body as hyper writes it: the application's body, with
//! panics turned into errors so that a panicking body aborts its response
//! instead of unwinding through the connection.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use albany::{Body, Error};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::connection::InFlight;
use crate::observe::Observed;

pub(crate) struct ResponseBody {
    inner: Body,
    panicked: bool,
    /// Dropped with the body, once hyper has written it (or given up).
    in_flight: Option<InFlight>,
    /// The request's span, size and access log line, ended with the body.
    observed: Option<Observed>,
}

impl ResponseBody {
    pub(crate) fn new(inner: Body) -> Self {
        ResponseBody {
            inner,
            panicked: false,
            in_flight: None,
            observed: None,
        }
    }

    /// Keeps the request counted as in flight, and observed, until this
    /// body is dropped.
    pub(crate) fn set_in_flight(&mut self, in_flight: Option<InFlight>, observed: Observed) {
        self.in_flight = in_flight;
        self.observed = Some(observed);
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.panicked {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let polled = {
            let _entered = this
                .observed
                .as_ref()
                .map(|observed| observed.span().enter());
            catch_unwind(AssertUnwindSafe(|| this.inner.poll_frame(cx)))
        };
        match polled {
            Ok(polled) => {
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let (Some(data), Some(observed)) = (frame.data_ref(), &mut this.observed)
                        {
                            observed.sent(data.len());
                        }
                    }
                    Poll::Ready(Some(Err(error))) => {
                        tracing::warn!(%error, "response body failed; aborting the response");
                    }
                    _ => {}
                }
                polled
            }
            Err(_payload) => {
                this.panicked = true;
                tracing::error!("response body panicked; aborting the response");
                Poll::Ready(Some(Err(Error::new("the response body panicked"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
