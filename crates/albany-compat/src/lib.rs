#![doc = include_str!("../README.md")]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use albany::body::Frame;
use albany::bytes::Bytes;
use albany::http_body::{self, SizeHint};
use albany::rt::{Handle, JoinHandle};
use albany::{Application, Body, Request, Response};

pub use async_compat;

/// Wraps `application` so that each request's future and its response
/// body run inside tokio's context (spec COMPAT-1, COMPAT-2).
///
/// The same as [`Compat::new`]. See the [crate documentation](crate) for
/// which tokio runtime that is and what it costs.
pub fn compat<A: Application>(application: A) -> Compat<A> {
    Compat::new(application)
}

/// An [`Application`] that runs another one inside tokio's context, made by
/// [`compat`].
///
/// For each request, [`Compat`]:
///
/// - wraps the future returned by the inner application's
///   [`call`](Application::call) in [`async_compat::Compat`], which enters
///   tokio's context on every poll and on drop (a request cancelled by the
///   client is dropped inside the context too);
/// - wraps the response body, unless it is already at its end (an empty
///   body), in a body that enters the same context on every
///   [`poll_frame`](http_body::Body::poll_frame) and on drop, so a
///   streaming body that awaits `tokio::time::sleep` or reads a
///   `tokio::net::TcpStream` works although the server polls it after the
///   future resolved (COMPAT-2). Its size hint and end-of-stream flag are
///   the inner body's, so the server frames it the same way (a
///   `Content-Length` stays). The cost is one allocation (the boxed body)
///   per response with a non-empty body.
///
/// The request, its extensions (the runtime [`Handle`], the connection
/// information, the upgrade handle, the shutdown signal) and the response
/// head pass through unchanged (COMPAT-4).
#[derive(Clone, Copy, Default)]
pub struct Compat<A> {
    inner: A,
}

impl<A> Compat<A> {
    /// Wraps `application`; the same as [`compat`].
    pub const fn new(application: A) -> Self {
        Compat { inner: application }
    }

    /// Returns the wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Unwraps the application.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

impl<A> fmt::Debug for Compat<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat").finish_non_exhaustive()
    }
}

impl<A: Application> Application for Compat<A> {
    async fn call(&self, request: Request) -> Response {
        let response = async_compat::Compat::new(self.inner.call(request)).await;
        response.map(body)
    }
}

/// Wraps `future` so that it runs inside tokio's context, the same context
/// as [`Compat`]'s requests (COMPAT-3).
///
/// For a task the application spawns itself with Albany's
/// [`Handle::spawn`] (an upgraded connection's task, a background job) that
/// uses tokio: the task is not the request's future, so [`Compat`] does not
/// reach it. [`spawn`] does both steps. This is
/// [`async_compat::Compat::new`].
///
/// ```
/// use std::time::Duration;
///
/// let sleeping = albany_compat::future(async {
///     tokio::time::sleep(Duration::from_millis(1)).await;
///     "awake"
/// });
/// // Any executor drives it, here futures-lite's `block_on`.
/// assert_eq!(futures_lite::future::block_on(sleeping), "awake");
/// ```
pub fn future<F: Future>(future: F) -> async_compat::Compat<F> {
    async_compat::Compat::new(future)
}

/// Spawns `future` with `handle` (the request's runtime, from
/// [`RequestExt::runtime`](albany::RequestExt::runtime)), inside tokio's
/// context: `handle.spawn(future(future))` (COMPAT-3).
///
/// The task runs on the adapter's executor, as every task spawned with
/// [`Handle::spawn`]; only its tokio resources (timers, sockets, tasks it
/// spawns with `tokio::spawn`) belong to the tokio runtime.
pub fn spawn<F>(handle: &Handle, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle.spawn(self::future(future))
}

/// Wraps a response `body` so that it is polled and dropped inside tokio's
/// context (COMPAT-2); a body already at its end is returned as it is.
///
/// [`Compat`] does this to every response; call it for a body produced
/// outside a [`Compat`] application, such as a middleware's. The result has
/// the same size hint and end-of-stream flag.
pub fn body(body: Body) -> Body {
    if body.is_end_stream() {
        body
    } else {
        Body::new(CompatBody { inner: body })
    }
}

/// A response body polled and dropped inside tokio's context.
struct CompatBody {
    inner: Body,
}

impl http_body::Body for CompatBody {
    type Data = Bytes;
    type Error = albany::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let inner = &mut self.inner;
        // One poll of the body, as a future that async-compat polls inside
        // the context it picks (the current tokio runtime, or its own).
        let mut poll =
            async_compat::Compat::new(std::future::poll_fn(|cx| Poll::Ready(inner.poll_frame(cx))));
        match Pin::new(&mut poll).poll(cx) {
            Poll::Ready(polled) => {
                // The one-shot future is spent: unwrap it, so that its drop
                // does not enter the context a second time.
                drop(poll.into_inner());
                polled
            }
            Poll::Pending => unreachable!("the one-shot future is always ready"),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CompatBody {
    fn drop(&mut self) {
        if !self.inner.is_end_stream() {
            // An unfinished body may hold tokio resources (a timer, a
            // socket): drop it inside the context, as async-compat does.
            drop(async_compat::Compat::new(std::mem::take(&mut self.inner)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use albany::body::Frame;
    use albany::{from_fn, Body, Request, Response};
    use futures_lite::future::block_on;

    use super::*;

    /// A response whose future and body both need tokio's timer, served by
    /// an executor that is not tokio (futures-lite's `block_on`).
    fn sleepy() -> impl Application {
        from_fn(|_request: Request| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let joined = tokio::spawn(async { 40 + 2 }).await.expect("the task");
            // The body is a stream that the caller polls after the future
            // resolved, each frame after a tokio timer.
            let frames = futures_lite::stream::unfold(0, move |n| async move {
                if n == 2 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                let frame = Frame::data(Bytes::from(format!("{joined}.{n};")));
                Some((Ok::<_, std::io::Error>(frame), n + 1))
            });
            Response::new(Body::from_frame_stream(frames))
        })
    }

    #[test]
    fn without_compat_tokio_panics() {
        let outcome = std::panic::catch_unwind(|| {
            let app = sleepy();
            block_on(app.call(Request::new(Body::empty())))
        });
        assert!(
            outcome.is_err(),
            "tokio::time::sleep outside tokio's context"
        );
    }

    #[test]
    fn future_and_body_run_in_tokio_context() {
        let app = compat(sleepy());
        let response = block_on(app.call(Request::new(Body::empty())));
        let bytes = block_on(response.into_body().to_bytes(1024)).expect("the body");
        assert_eq!(&bytes[..], b"42.0;42.1;");
    }

    #[test]
    fn the_request_passes_through_and_the_future_stays_on_its_executor() {
        let caller = std::thread::current().id();
        let app = compat(from_fn(move |request: Request| async move {
            // Polled by the caller's executor (here the test thread), not
            // by the tokio runtime's thread (COMPAT-6).
            assert_eq!(std::thread::current().id(), caller);
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(std::thread::current().id(), caller);
            let mut response = Response::new(Body::empty());
            *response.status_mut() = albany::http::StatusCode::ACCEPTED;
            let marker = request.extensions().get::<&'static str>().copied();
            let header = request.headers().get("x-test").cloned();
            response
                .headers_mut()
                .insert("x-marker", marker.unwrap_or("none").parse().unwrap());
            if let Some(header) = header {
                response.headers_mut().insert("x-test", header);
            }
            response
        }));
        let mut request = Request::new(Body::empty());
        request.extensions_mut().insert("extension");
        request.headers_mut().insert("x-test", "1".parse().unwrap());
        let response = block_on(app.call(request));
        assert_eq!(response.status(), 202);
        assert_eq!(response.headers()["x-marker"], "extension");
        assert_eq!(response.headers()["x-test"], "1");
        assert!(response.body().is_end_stream());
    }

    #[test]
    fn empty_and_sized_bodies_keep_their_framing() {
        let app = compat(from_fn(|_request: Request| async {
            Response::new(Body::from("hello"))
        }));
        let response = block_on(app.call(Request::new(Body::empty())));
        assert_eq!(response.body().size_hint().exact(), Some(5));
        assert_eq!(body(Body::empty()).size_hint().exact(), Some(0));
    }
}
