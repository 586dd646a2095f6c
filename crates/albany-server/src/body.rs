//! The response body as hyper writes it: the application's body, with
//! panics turned into errors so that a panicking body aborts its response
//! instead of unwinding through the connection.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use albany::{Body, Error};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::connection::InFlight;
use crate::observe::Observed;
use crate::request_body::BodyTimedOut;

/// What polling a body for a frame gives.
type Polled = Poll<Option<Result<Frame<Bytes>, Error>>>;

pub(crate) struct ResponseBody {
    inner: Body,
    panicked: bool,
    /// Dropped with the body, once hyper has written it (or given up),
    /// with the request's observation (span, size, access log line).
    in_flight: Option<InFlight>,
    /// The request's body timed out: the response is aborted (spec
    /// LIMIT-16).
    request_timed_out: Option<Arc<BodyTimedOut>>,
}

impl ResponseBody {
    pub(crate) fn new(inner: Body) -> Self {
        ResponseBody {
            inner,
            panicked: false,
            in_flight: None,
            request_timed_out: None,
        }
    }

    /// Keeps the request counted as in flight, and observed, until this
    /// body is dropped.
    pub(crate) fn set_in_flight(&mut self, in_flight: InFlight) {
        self.in_flight = Some(in_flight);
    }

    /// Aborts the response (its body fails) when the request body times
    /// out, even while the application's body is pending (spec LIMIT-16).
    pub(crate) fn abort_on(&mut self, timed_out: Arc<BodyTimedOut>) {
        self.request_timed_out = Some(timed_out);
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        // [LIMIT-19] The stream's watchdog sees the body polled.
        crate::rt::note_response_progress();
        if self.panicked {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        if let Some(timed_out) = &this.request_timed_out {
            if timed_out.poll_fired(cx) {
                return request_timed_out(&mut this.panicked);
            }
        }
        // Nothing observed (no span, no access log): one check, and the
        // body is polled as it was before observability.
        if let Some(observed) = this.in_flight.as_mut().and_then(InFlight::observed_mut) {
            return poll_observed(&mut this.inner, &mut this.panicked, observed, cx);
        }
        match catch_unwind(AssertUnwindSafe(|| this.inner.poll_frame(cx))) {
            Ok(polled) => {
                if let Poll::Ready(Some(Err(error))) = &polled {
                    body_failed(error);
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

/// [LIMIT-16] The request body timed out after the response head was
/// sent: the response is aborted (hyper closes an HTTP/1.1 connection
/// before the response's end, resets an HTTP/2 stream), and the body ends.
#[cold]
#[inline(never)]
fn request_timed_out(ended: &mut bool) -> Polled {
    *ended = true;
    tracing::debug!("the request body timed out; aborting the response");
    Poll::Ready(Some(Err(Error::new("the request body timed out"))))
}

/// [`ResponseBody::poll_frame`] with its request observed: polled inside
/// the request's span, the bytes of its frames counted.
#[inline(never)]
fn poll_observed(
    inner: &mut Body,
    panicked: &mut bool,
    observed: &mut Observed,
    cx: &mut Context<'_>,
) -> Polled {
    let polled = {
        let _entered = observed.span().enter();
        catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)))
    };
    let polled = checked(polled, panicked);
    observed.sent(&polled);
    polled
}

/// A poll of the application's body, `Err` if it panicked: a failed body
/// is logged, a panicking one is logged and becomes an error, after which
/// the body ends (`panicked`). The same as `poll_frame`'s own match, which
/// is written out there: passed through a function, the frame was copied
/// once more (measured with callgrind).
fn checked(polled: std::thread::Result<Polled>, panicked: &mut bool) -> Polled {
    match polled {
        Ok(polled) => {
            if let Poll::Ready(Some(Err(error))) = &polled {
                body_failed(error);
            }
            polled
        }
        Err(_payload) => {
            *panicked = true;
            tracing::error!("response body panicked; aborting the response");
            Poll::Ready(Some(Err(Error::new("the response body panicked"))))
        }
    }
}

/// Logs a response body's failure (the response is aborted): at DEBUG when
/// a peer caused it, at WARN when the application's body failed by itself
/// (spec OBS-4).
#[cold]
#[inline(never)]
fn body_failed(error: &Error) {
    if caused_by_peer(error) {
        tracing::debug!(%error, "response body failed (its source's connection failed); aborting the response");
    } else {
        tracing::warn!(%error, "response body failed; aborting the response");
    }
}

/// Whether a body error comes from a peer rather than from the application:
/// anywhere in its chain of sources, a `hyper::Error` (a request body the
/// application passes on, whose client went away, reset its stream or sent
/// a malformed body; or another HTTP connection the application reads,
/// such as a proxy's upstream), an I/O error of a connection that ended or
/// was reset, a `LengthLimitError` (a request body longer than
/// `max_request_body_size`), or a `TimeoutError` (a request body that timed
/// out, LIMIT-16). An application's own error that wraps one of
/// these keeps it as a source when made with `albany::Error::new`.
fn caused_by_peer(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<hyper::Error>()
            || current.is::<albany::body::LengthLimitError>()
            || current.is::<albany::body::TimeoutError>()
        {
            return true;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::caused_by_peer;
    use albany::Error;

    #[test]
    fn an_application_error_is_not_a_peers() {
        assert!(!caused_by_peer(&Error::new("the database went away")));
        assert!(!caused_by_peer(&Error::new(std::io::Error::other(
            "disk full"
        ))));
    }

    #[test]
    fn a_connection_that_ended_is_a_peers_even_wrapped() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(caused_by_peer(&Error::new(reset)));
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("upload failed")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Wrapper(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert!(caused_by_peer(&Error::new(wrapped)));
    }
}
