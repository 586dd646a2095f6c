//! An HTTP/1.x request body read ahead of the application, so that a client
//! that leaves is seen while the application is not reading (spec
//! CANCEL-5).
//!
//! hyper reads an HTTP/1.x connection only while someone polls the request
//! body; an application that waits on something else before reading it
//! would never learn that the client closed the connection. The server
//! therefore polls the body itself, beside the application's future, until
//! the application polls it first, buffering at most [`LOOKAHEAD`] bytes.
//! When that read fails because the connection ended, the server drops the
//! application's future (CANCEL-1). Other errors, such as a malformed
//! chunk, are kept for the application to read (REQ-12).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;

/// The most data, in bytes, read ahead of the application.
pub(crate) const LOOKAHEAD: usize = 64 * 1024;

struct State {
    incoming: Incoming,
    buffered: VecDeque<Frame<Bytes>>,
    buffered_bytes: usize,
    error: Option<hyper::Error>,
    ended: bool,
    /// The application polled the body: from then on only it reads.
    application_reads: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Splits `incoming` into the body the application reads and the watcher
/// that reads ahead and resolves when the client has gone.
pub(crate) fn read_ahead(incoming: Incoming) -> (RequestBody, ClientGone) {
    let state = Arc::new(Mutex::new(State {
        incoming,
        buffered: VecDeque::new(),
        buffered_bytes: 0,
        error: None,
        ended: false,
        application_reads: false,
    }));
    (
        RequestBody {
            state: state.clone(),
        },
        ClientGone { state },
    )
}

/// The request body as the application reads it: first what was read
/// ahead, then the rest from the connection.
pub(crate) struct RequestBody {
    state: Arc<Mutex<State>>,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut state = lock(&self.state);
        state.application_reads = true;
        if let Some(frame) = state.buffered.pop_front() {
            state.buffered_bytes -= frame.data_ref().map_or(0, Bytes::len);
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = state.error.take() {
            state.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut state.incoming).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            state.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let state = lock(&self.state);
        state.buffered.is_empty()
            && state.error.is_none()
            && (state.ended || state.incoming.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let state = lock(&self.state);
        if state.ended {
            return SizeHint::with_exact(state.buffered_bytes as u64);
        }
        let rest = state.incoming.size_hint();
        let buffered = state.buffered_bytes as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(buffered));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(buffered));
        }
        hint
    }
}

/// Resolves when reading ahead finds that the connection ended before the
/// body did; stays pending once the application reads the body itself, the
/// body ends, or [`LOOKAHEAD`] bytes wait in the buffer.
pub(crate) struct ClientGone {
    state: Arc<Mutex<State>>,
}

impl Future for ClientGone {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        // Only one reader registers for wake-ups: once the application
        // reads, this future is never woken again, which is what it wants.
        while !state.application_reads
            && !state.ended
            && state.error.is_none()
            && state.buffered_bytes < LOOKAHEAD
        {
            match Pin::new(&mut state.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    state.buffered_bytes += frame.data_ref().map_or(0, Bytes::len);
                    state.buffered.push_back(frame);
                }
                Poll::Ready(Some(Err(error))) => {
                    let gone = connection_ended(&error);
                    state.error = Some(error);
                    if gone {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(None) => state.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Pending
    }
}

/// Whether a body error means that the connection ended (end of file, a
/// reset), rather than a malformed body.
fn connection_ended(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}
