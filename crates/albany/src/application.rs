use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Request, Response};

/// An HTTP application: answers each request with a response.
///
/// This is the whole contract between a server (an adapter such as
/// `albany-tokio`) and a framework or application:
///
/// - `call` takes `&self`, so one value serves every request, concurrently;
///   the server shares it between connections and threads (`Send + Sync`).
/// - The returned future is `Send`: a multi-threaded server may move it
///   between threads.
/// - The future always resolves to a [`Response`]; errors are responses
///   (a 4xx or 5xx status). A panic before the response is returned becomes
///   a `500 Internal Server Error` and the server keeps serving.
/// - When the client goes away the server drops the future (Rust's usual
///   cancellation); code that must run to completion belongs in a task
///   spawned with [`Handle::spawn`](crate::rt::Handle::spawn).
///
/// The request carries the event-loop service and connection data in its
/// extensions, see [`RequestExt`](crate::RequestExt).
///
/// A client that sends `Expect: 100-continue` (curl does for uploads over
/// 1 MiB) waits for `100 Continue`, which the server sends when the
/// application first reads the request body (RFC 9110 §10.1.1). An
/// application that answers before reading, passing the request body into
/// the response unread, makes such a client wait for its own timeout
/// (curl: one second) before it sends the body; read the first frame
/// before answering, as the `echo` example does.
///
/// # Example
///
/// ```
/// use albany::{Application, Body, Request, Response};
///
/// struct Hello;
///
/// impl Application for Hello {
///     async fn call(&self, _request: Request) -> Response {
///         Response::new(Body::from("Hello, world!"))
///     }
/// }
/// ```
pub trait Application: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send;
}

impl<A: Application> Application for Arc<A> {
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        (**self).call(request)
    }
}

impl<A: Application> Application for Box<A> {
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        (**self).call(request)
    }
}

/// Makes an [`Application`] of an async closure or function.
///
/// ```
/// use albany::{from_fn, Body, Request, Response};
///
/// let app = from_fn(|request: Request| async move {
///     Response::new(Body::from(format!("you asked for {}", request.uri().path())))
/// });
/// # fn is_app(_: impl albany::Application) {}
/// # is_app(app);
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFn<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    FromFn { f }
}

/// An [`Application`] made of a closure by [`from_fn`].
#[derive(Clone, Copy)]
pub struct FromFn<F> {
    f: F,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

impl<F, Fut> Application for FromFn<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        (self.f)(request)
    }
}

type BoxResponseFuture<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

trait DynApplication: Send + Sync + 'static {
    fn call_boxed(&self, request: Request) -> BoxResponseFuture<'_>;
}

impl<A: Application> DynApplication for A {
    fn call_boxed(&self, request: Request) -> BoxResponseFuture<'_> {
        Box::pin(self.call(request))
    }
}

/// A type-erased, cheaply clonable [`Application`].
///
/// Use it to store applications of different types together (a router's
/// table, a plugin list) or to keep a concrete type out of a signature.
/// Each call costs one allocation for the boxed future.
///
/// ```
/// use albany::{from_fn, Body, BoxApplication, Response};
///
/// let apps: Vec<BoxApplication> = vec![
///     BoxApplication::new(from_fn(|_| async { Response::new(Body::from("a")) })),
///     BoxApplication::new(from_fn(|_| async { Response::new(Body::from("b")) })),
/// ];
/// let copy = apps[0].clone();
/// # drop(copy);
/// ```
#[derive(Clone)]
pub struct BoxApplication {
    inner: Arc<dyn DynApplication>,
}

impl BoxApplication {
    /// Erases the type of `application`.
    pub fn new(application: impl Application) -> Self {
        BoxApplication {
            inner: Arc::new(application),
        }
    }
}

impl fmt::Debug for BoxApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxApplication").finish_non_exhaustive()
    }
}

impl Application for BoxApplication {
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        self.inner.call_boxed(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;

    #[test]
    fn box_and_arc_forward_calls() {
        let app = from_fn(|request: Request| async move {
            Response::new(Body::from(request.uri().path().to_owned()))
        });
        let boxed = BoxApplication::new(Arc::new(app));
        let response = futures_lite::future::block_on(
            boxed
                .clone()
                .call(Request::get("/x").body(Body::empty()).unwrap()),
        );
        let body = futures_lite::future::block_on(response.into_body().to_bytes(64)).unwrap();
        assert_eq!(body, "/x");
    }
}
