//! The push-style body writer: [`Body::channel`].

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;

use super::{Body, Kind};
use crate::error::{BoxError, Error};

impl Body {
    /// Creates a body fed by a [`Sender`], for a producer that pushes data.
    ///
    /// `capacity` is in bytes: [`Sender::send`] waits while the data sent but
    /// not yet taken by the body's reader (the server writing it to the
    /// socket, say) is `capacity` bytes or more. That is backpressure: a slow
    /// client slows the producer down, and the memory held by the channel
    /// stays below `capacity` plus the size of one chunk. A `capacity` of 0
    /// behaves as 1: one chunk at a time.
    ///
    /// The body ends when the sender calls [`Sender::finish`] or
    /// [`Sender::send_trailers`]. It ends with an error when the sender calls
    /// [`Sender::abort`] or is dropped without finishing, so that a crashed
    /// producer never looks like a complete response.
    ///
    /// ```
    /// use albany::{Body, Response, rt::Handle};
    ///
    /// async fn numbers(handle: Handle) -> Response {
    ///     let (mut sender, body) = Body::channel(64 * 1024);
    ///     handle.spawn(async move {
    ///         for i in 0..10 {
    ///             if sender.send(format!("{i}\n")).await.is_err() {
    ///                 return; // the client went away
    ///             }
    ///         }
    ///         sender.finish();
    ///     });
    ///     Response::new(body)
    /// }
    /// ```
    pub fn channel(capacity: u64) -> (Sender, Body) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                buffered: 0,
                end: End::Open,
                receiver_dropped: false,
                receiver_waker: None,
                sender_waker: None,
            }),
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX).max(1),
        });
        let sender = Sender {
            shared: shared.clone(),
            done: false,
        };
        let body = Body {
            kind: Kind::Channel(Receiver { shared }),
        };
        (sender, body)
    }
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State {
    queue: VecDeque<Frame<Bytes>>,
    /// Bytes of data frames in `queue`.
    buffered: usize,
    end: End,
    receiver_dropped: bool,
    receiver_waker: Option<Waker>,
    sender_waker: Option<Waker>,
}

enum End {
    /// More frames may come.
    Open,
    /// The sender finished: after the queue drains, the body ends.
    Finished,
    /// The sender failed: after the queue drains, the body yields this error.
    Failed(Option<Error>),
}

fn store_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(stored) if stored.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// The writing end of a [`Body::channel`].
///
/// Dropping a `Sender` without calling [`finish`](Sender::finish) or
/// [`send_trailers`](Sender::send_trailers) ends the body with an error.
pub struct Sender {
    shared: Arc<Shared>,
    done: bool,
}

/// The error returned when the body of a [`Body::channel`] was dropped:
/// nobody will read what is sent (typically, the client went away).
///
/// It gives back the frame that could not be sent.
pub struct SendError {
    frame: Frame<Bytes>,
}

impl SendError {
    /// Returns the frame that was not sent.
    pub fn into_frame(self) -> Frame<Bytes> {
        self.frame
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").finish_non_exhaustive()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the body receiving this data was dropped")
    }
}

impl std::error::Error for SendError {}

impl Sender {
    /// Waits until the channel has capacity for more data.
    ///
    /// Returns `Ready(Err(()))` if the body was dropped.
    fn poll_capacity(&self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let mut state = self.shared.lock();
        if state.receiver_dropped {
            return Poll::Ready(Err(()));
        }
        if state.buffered < self.shared.capacity {
            return Poll::Ready(Ok(()));
        }
        store_waker(&mut state.sender_waker, cx.waker());
        Poll::Pending
    }

    /// Polls for capacity to send (see [`Body::channel`]).
    ///
    /// `Ready(Ok(()))` means the next [`try_send`](Sender::try_send) will
    /// succeed; `Ready(Err(_))` means the body was dropped.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.poll_capacity(cx).map_err(|()| SendError {
            frame: Frame::data(Bytes::new()),
        })
    }

    /// Sends a chunk of data, waiting for capacity first (backpressure).
    ///
    /// # Errors
    ///
    /// [`SendError`] if the body was dropped; the data is given back in it.
    pub async fn send(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_frame(Frame::data(data.into())).await
    }

    /// Sends a frame (data or trailers), waiting for capacity first.
    ///
    /// After a trailers frame the body ends: further frames are an error
    /// that [`finish`](Sender::finish) would otherwise hide, so prefer
    /// [`send_trailers`](Sender::send_trailers).
    ///
    /// # Errors
    ///
    /// [`SendError`] if the body was dropped.
    pub async fn send_frame(&mut self, frame: Frame<Bytes>) -> Result<(), SendError> {
        if poll_fn(|cx| self.poll_capacity(cx)).await.is_err() {
            return Err(SendError { frame });
        }
        self.try_send_frame(frame)
    }

    /// Sends a frame without waiting, ignoring the capacity.
    ///
    /// Use it after [`poll_ready`](Sender::poll_ready) returned `Ready(Ok)`;
    /// used on its own it can exceed the capacity.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the body was dropped.
    pub fn try_send_frame(&mut self, frame: Frame<Bytes>) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        if state.receiver_dropped || !matches!(state.end, End::Open) {
            return Err(SendError { frame });
        }
        if let Some(data) = frame.data_ref() {
            if data.is_empty() {
                return Ok(());
            }
            state.buffered += data.len();
        }
        state.queue.push_back(frame);
        if let Some(waker) = state.receiver_waker.take() {
            drop(state);
            waker.wake();
        }
        Ok(())
    }

    /// Sends a chunk of data without waiting; see
    /// [`try_send_frame`](Sender::try_send_frame).
    ///
    /// # Errors
    ///
    /// [`SendError`] if the body was dropped.
    pub fn try_send(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.try_send_frame(Frame::data(data.into()))
    }

    /// Sends the trailers and ends the body.
    ///
    /// A server sends trailers over HTTP/2, and over HTTP/1.1 when the
    /// response uses chunked transfer coding (RFC 9112 §7.1.2), the request
    /// allowed them (`TE: trailers`) and the response's `Trailer` header
    /// names each field (RFC 9110 §6.6.2); otherwise they are dropped.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the body was dropped.
    pub async fn send_trailers(mut self, trailers: HeaderMap) -> Result<(), SendError> {
        let result = self.send_frame(Frame::trailers(trailers)).await;
        self.close(End::Finished);
        result
    }

    /// Ends the body normally, after the data already sent.
    pub fn finish(mut self) {
        self.close(End::Finished);
    }

    /// Ends the body with an error: the reader sees the data already sent,
    /// then the error. A server aborts the response (HTTP/1.1: the connection
    /// is closed without the final chunk; HTTP/2: `RST_STREAM`).
    pub fn abort(mut self) {
        self.close(End::Failed(Some(Error::msg(
            "the body was aborted by its sender",
        ))));
    }

    /// Like [`abort`](Sender::abort), with the error the reader sees.
    pub fn abort_with(mut self, error: impl Into<BoxError>) {
        self.close(End::Failed(Some(Error::new(error))));
    }

    /// Returns `true` if the body was dropped, so nothing more can be sent.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().receiver_dropped
    }

    /// Returns the number of bytes sent and not yet read.
    pub fn buffered(&self) -> usize {
        self.shared.lock().buffered
    }

    fn close(&mut self, end: End) {
        if self.done {
            return;
        }
        self.done = true;
        let mut state = self.shared.lock();
        if matches!(state.end, End::Open) {
            state.end = end;
        }
        if let Some(waker) = state.receiver_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.close(End::Failed(Some(Error::msg(
            "the body sender was dropped before the body was finished",
        ))));
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// The reading end, inside a [`Body`].
pub(super) struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let mut state = self.shared.lock();
        if let Some(frame) = state.queue.pop_front() {
            if let Some(data) = frame.data_ref() {
                state.buffered -= data.len();
            }
            let waker = state.sender_waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Some(Ok(frame)));
        }
        match &mut state.end {
            End::Open => {
                store_waker(&mut state.receiver_waker, cx.waker());
                Poll::Pending
            }
            End::Finished => Poll::Ready(None),
            End::Failed(error) => Poll::Ready(error.take().map(Err)),
        }
    }

    pub(super) fn is_end_stream(&self) -> bool {
        let state = self.shared.lock();
        state.queue.is_empty() && matches!(state.end, End::Finished)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_dropped = true;
        state.queue.clear();
        state.buffered = 0;
        if let Some(waker) = state.sender_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn send_waits_for_capacity() {
        let (mut sender, mut body) = Body::channel(4);
        block_on(async {
            sender.send("abcd").await.unwrap();
            // The channel holds 4 bytes: the next send waits.
            assert!(poll_once(sender.send("e")).await.is_none());
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "abcd");
            sender.send("e").await.unwrap();
            let mut trailers = HeaderMap::new();
            trailers.insert("x-done", "1".parse().unwrap());
            sender.send_trailers(trailers).await.unwrap();
            assert_eq!(
                body.frame().await.unwrap().unwrap().into_data().unwrap(),
                "e"
            );
            let trailers = body
                .frame()
                .await
                .unwrap()
                .unwrap()
                .into_trailers()
                .unwrap();
            assert_eq!(trailers["x-done"], "1");
            assert!(body.frame().await.is_none());
        });
    }

    #[test]
    fn dropped_sender_is_an_error() {
        let (mut sender, mut body) = Body::channel(16);
        block_on(async {
            sender.send("partial").await.unwrap();
            drop(sender);
            assert!(body.frame().await.unwrap().is_ok());
            assert!(body.frame().await.unwrap().is_err());
            assert!(body.frame().await.is_none());
        });
    }

    #[test]
    fn abort_is_an_error_and_finish_is_not() {
        let (sender, mut body) = Body::channel(16);
        sender.abort();
        assert!(block_on(body.frame()).unwrap().is_err());
        let (sender, mut body) = Body::channel(16);
        sender.finish();
        assert!(body.is_end_stream());
        assert!(block_on(body.frame()).is_none());
    }

    #[test]
    fn dropped_body_fails_send() {
        let (mut sender, body) = Body::channel(16);
        drop(body);
        assert!(sender.is_closed());
        let error = block_on(sender.send("lost")).unwrap_err();
        assert_eq!(error.into_frame().into_data().unwrap(), "lost");
    }
}
