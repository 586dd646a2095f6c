//! The checking body: forwards the application's frames unchanged while it
//! checks them (VAL-5 to VAL-9), and itself keeps the body contract.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use albany::http::HeaderMap;
use albany::{Body, Error};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::fields;
use super::head::{self, Expect};
use super::report::Reporter;
use super::Rule;

/// Where the checking body is.
enum Phase {
    /// Frames may come.
    Streaming,
    /// A trailers frame was forwarded; only the end may follow.
    AfterTrailers,
    /// The inner body failed after its trailers; the error is forwarded on
    /// the next poll.
    Failed(Error),
    /// The body ended; the checking body returns `None` from now on.
    Ended(EndedBy),
}

/// How the body ended, for VAL-9's message.
#[derive(Clone, Copy)]
enum EndedBy {
    None,
    Error,
    EndStream,
    Trailers,
}

impl EndedBy {
    fn describe(self) -> &'static str {
        match self {
            EndedBy::None => "returning None",
            EndedBy::Error => "returning an error",
            EndedBy::EndStream => "reporting is_end_stream()",
            EndedBy::Trailers => "its trailers frame",
        }
    }
}

/// Wraps a response body; see the module documentation.
///
/// After the end (`None`, an error, or `is_end_stream()`), it polls the
/// inner body at most once more, to check that it stays ended (VAL-9), and
/// never forwards anything after that. After a trailers frame it polls the
/// inner body once at once (a server stops polling after trailers) and
/// forwards nothing but the end or an error.
pub(super) struct CheckedBody {
    inner: Body,
    reporter: Reporter,
    expect: Expect,
    phase: Phase,
    /// The inner body was polled once after its end.
    polled_after_end: bool,
    /// The end-of-body checks (VAL-6, VAL-7) were made.
    finished: bool,
    /// Data bytes yielded so far.
    produced: u64,
    /// The bounds the size hints promised for the total length so far.
    lower: u64,
    upper: Option<u64>,
    /// The size hint was exact when the response was returned.
    exact_at_head: Option<u64>,
}

impl CheckedBody {
    pub(super) fn new(inner: Body, expect: Expect, reporter: Reporter) -> Self {
        let hint = inner.size_hint();
        let ended = inner.is_end_stream();
        let mut body = CheckedBody {
            lower: hint.lower(),
            upper: hint.upper(),
            exact_at_head: hint.exact(),
            inner,
            reporter,
            expect,
            phase: Phase::Streaming,
            polled_after_end: false,
            finished: false,
            produced: 0,
        };
        if ended {
            body.finish();
            body.phase = Phase::Ended(EndedBy::EndStream);
        }
        body
    }

    fn poll_streaming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = match self.inner.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        match polled {
            None => {
                self.finish();
                self.end(EndedBy::None, cx);
                Poll::Ready(None)
            }
            Some(Err(error)) => {
                self.end(EndedBy::Error, cx);
                Poll::Ready(Some(Err(error)))
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.on_data(data.len() as u64);
                    if self.inner.is_end_stream() {
                        // A server stops here; check the end now, and check
                        // that it stays ended only if polled again.
                        self.finish();
                        self.phase = Phase::Ended(EndedBy::EndStream);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    self.on_trailers(trailers);
                    self.finish();
                    self.phase = Phase::AfterTrailers;
                    // A server does not poll after trailers: look ahead now.
                    if let Poll::Ready(Some(Err(error))) = self.poll_after_trailers(cx) {
                        self.phase = Phase::Failed(error);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn poll_after_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = match self.inner.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        match polled {
            None => {
                self.end(EndedBy::None, cx);
                Poll::Ready(None)
            }
            Some(Err(error)) => {
                self.end(EndedBy::Error, cx);
                Poll::Ready(Some(Err(error)))
            }
            Some(Ok(frame)) => {
                self.frame_after_end(&frame, EndedBy::Trailers);
                self.polled_after_end = true;
                self.phase = Phase::Ended(EndedBy::Trailers);
                Poll::Ready(None)
            }
        }
    }

    /// Enters `Ended` and checks that the inner body stays ended.
    fn end(&mut self, by: EndedBy, cx: &mut Context<'_>) {
        self.phase = Phase::Ended(by);
        self.poll_after_end(by, cx);
    }

    /// VAL-9: polls the inner body once after its end; a frame is a
    /// violation. A panic there is caught: it is the body's business, and
    /// must not abort a response that is complete.
    fn poll_after_end(&mut self, by: EndedBy, cx: &mut Context<'_>) {
        if self.polled_after_end {
            return;
        }
        self.polled_after_end = true;
        let inner = &mut self.inner;
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)));
        match polled {
            Ok(Poll::Ready(Some(Ok(frame)))) => self.frame_after_end(&frame, by),
            Ok(_) => {}
            Err(_) => tracing::debug!(
                target: "albany::validate",
                "the body panicked when polled after {}",
                by.describe()
            ),
        }
    }

    fn frame_after_end(&mut self, frame: &Frame<Bytes>, by: EndedBy) {
        let kind = match frame.data_ref() {
            Some(data) => format!("a data frame of {} bytes", data.len()),
            None => "a trailers frame".to_owned(),
        };
        self.reporter.report_once(Rule::FrameAfterEnd, || {
            format!("the body yielded {kind} after {}", by.describe())
        });
    }

    /// Checks a data frame of `len` bytes: VAL-5, VAL-6, VAL-7.
    fn on_data(&mut self, len: u64) {
        self.produced = self.produced.saturating_add(len);
        let produced = self.produced;
        if let Some(response) = self.expect.no_content.as_ref().filter(|_| len > 0) {
            self.reporter.report_once(Rule::NoContent, || {
                format!("the body of {response} yielded {len} bytes; it carries no content")
            });
        }
        if let Some(length) = self.expect.content_length.filter(|&n| produced > n) {
            self.reporter.report_once(Rule::ContentLength, || {
                format!("the body yielded {produced} bytes, more than its Content-Length {length}")
            });
        }
        self.check_hint();
    }

    /// VAL-7: reads the size hint after a frame and narrows the bounds on
    /// the total length with it.
    fn check_hint(&mut self) {
        let hint = self.inner.size_hint();
        let produced = self.produced;
        if let Some(why) = head::invalid_hint(&hint) {
            self.reporter.report_once(Rule::SizeHint, || why);
            return;
        }
        let promised = head::describe_bounds(self.lower, self.upper);
        if self.upper.is_some_and(|upper| produced > upper) {
            self.reporter.report_once(Rule::SizeHint, || {
                format!("the body yielded {produced} bytes; its size hints promised {promised}")
            });
            return;
        }
        let lower = produced.saturating_add(hint.lower());
        let upper = hint.upper().map(|upper| produced.saturating_add(upper));
        let contradicts =
            self.upper.is_some_and(|old| lower > old) || upper.is_some_and(|new| new < self.lower);
        if contradicts {
            self.reporter.report_once(Rule::SizeHint, || {
                format!(
                    "after {produced} bytes the size hint is {} more, {} in all; it promised {promised}",
                    head::describe(&hint),
                    head::describe_bounds(lower, upper)
                )
            });
            return;
        }
        self.lower = self.lower.max(lower);
        self.upper = match (self.upper, upper) {
            (Some(old), Some(new)) => Some(old.min(new)),
            (old, new) => old.or(new),
        };
    }

    /// VAL-8: a trailers frame, and VAL-2 on its fields.
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        let framing = match (self.exact_at_head, self.expect.has_content_length) {
            (Some(exact), _) => Some(format!("an exact size hint ({exact} bytes)")),
            (None, true) => Some("Content-Length".to_owned()),
            (None, false) => None,
        };
        if let Some(framing) = framing {
            self.reporter.report(
                Rule::Trailers,
                format!(
                    "trailers on a response framed by its length ({framing}); \
                     Content-Length framing cannot carry them"
                ),
            );
        }
        head::check_field_syntax(trailers, "trailer", &mut self.reporter);
        for name in trailers.keys() {
            if fields::forbidden_in_trailers(name) {
                self.reporter.report(
                    Rule::Trailers,
                    format!("trailer field {name} is not allowed in trailers"),
                );
            } else if !self
                .expect
                .trailer_names
                .iter()
                .any(|named| named == name.as_str())
            {
                self.reporter.report(
                    Rule::Trailers,
                    format!("trailer field {name} is not named in the response's Trailer field"),
                );
            }
        }
    }

    /// The checks made when the data is complete: VAL-6, VAL-7.
    fn finish(&mut self) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let produced = self.produced;
        if let Some(length) = self.expect.content_length.filter(|&n| n != produced) {
            self.reporter.report_once(Rule::ContentLength, || {
                format!("Content-Length is {length} but the body ended after {produced} bytes")
            });
        }
        if produced < self.lower || self.upper.is_some_and(|upper| produced > upper) {
            let promised = head::describe_bounds(self.lower, self.upper);
            self.reporter.report_once(Rule::SizeHint, || {
                format!("the body ended after {produced} bytes; its size hints promised {promised}")
            });
        }
    }
}

impl http_body::Body for CheckedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match &this.phase {
            Phase::Streaming => this.poll_streaming(cx),
            Phase::AfterTrailers => this.poll_after_trailers(cx),
            Phase::Failed(_) => {
                let Phase::Failed(error) =
                    std::mem::replace(&mut this.phase, Phase::Ended(EndedBy::Error))
                else {
                    unreachable!("matched Phase::Failed above")
                };
                this.poll_after_end(EndedBy::Error, cx);
                Poll::Ready(Some(Err(error)))
            }
            &Phase::Ended(by) => {
                this.poll_after_end(by, cx);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.phase {
            Phase::Ended(_) => true,
            Phase::Failed(_) => false,
            Phase::Streaming | Phase::AfterTrailers => self.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.phase {
            Phase::Ended(_) => SizeHint::with_exact(0),
            Phase::Failed(_) => SizeHint::default(),
            Phase::Streaming | Phase::AfterTrailers => self.inner.size_hint(),
        }
    }
}
