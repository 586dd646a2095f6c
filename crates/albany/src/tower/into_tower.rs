//! An `Application` served as a `tower::Service`.
//!
//! [`ApplicationService`] lets a server that is not Albany's (hyper-util's
//! `auto::Builder` through `TowerToHyperService`, `axum::serve`, anything
//! that takes a tower `Service`) host an Albany application, behind tower
//! layers such as tower-http's. Requests that arrive through tower carry
//! none of what an Albany server gives (spec §5): the service inserts the
//! runtime [`Handle`] it was given, the [`ConnectionInfo`] of the connection
//! it was made for ([`ApplicationService::for_connection`]) and a
//! [`ShutdownSignal`] of a [`ShutdownTrigger`] the host fires (spec
//! TOWER-11 to TOWER-18).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::rt::Handle;
use crate::shutdown::{ShutdownSignal, ShutdownTrigger};
use crate::{Application, Body, BoxError, ConnectionContext, ConnectionInfo, Request, Response};

/// An [`Application`] as a `tower::Service<http::Request<B>>`, for servers
/// that are not Albany's (spec TOWER-11).
///
/// - Request bodies of any [`http_body::Body`] type `B` (hyper's
///   `Incoming`, axum's `Body`) become an [`albany::Body`](Body) without
///   being read ([`Body::new`]; an `albany::Body` is passed as it is;
///   TOWER-17).
/// - The response is the application's [`Response`], whose
///   [`Body`] is an `http_body::Body<Data = Bytes>`; the error type is
///   [`Infallible`], since an application answers every request (APP-4).
/// - It is always ready (`poll_ready` returns `Ready(Ok(()))` at once) and a
///   clone costs one reference count: servers clone a service per
///   connection or per request.
/// - Each request gets what an Albany server gives it (EXT-1 to EXT-3), as
///   [`RequestExt`](crate::RequestExt) reads it: the runtime [`Handle`]
///   given to [`new`](ApplicationService::new), the [`ConnectionInfo`]
///   given to [`for_connection`](ApplicationService::for_connection), and a
///   [`ShutdownSignal`] of the service's [`ShutdownTrigger`]
///   ([`shutdown_trigger`](ApplicationService::shutdown_trigger)). What the
///   request already carries is kept (TOWER-14).
///
/// # What the host does, and what it does not get from Albany
///
/// The host server is the HTTP implementation: parsing, framing, limits,
/// timeouts, keep-alive, HTTP/2 and graceful shutdown are its own, not
/// Albany's engine's (TOWER-18). In particular:
///
/// - **Panics** in the application propagate to the host, as a tower
///   service's panic does (hyper-util's connection task ends and the client
///   sees the connection close); wrap the service in tower-http's
///   `CatchPanicLayer` to answer 500 instead.
/// - **Upgrades** (a `101` response, CONNECT): the request carries no
///   [`albany::upgrade::OnUpgrade`](crate::upgrade::OnUpgrade) unless the
///   host inserts one, since this crate does not know hyper's
///   `hyper::upgrade::OnUpgrade` (TOWER-16). A host on hyper can insert one
///   with a layer that wraps hyper's upgraded connection in
///   [`Upgraded::new`](crate::upgrade::Upgraded::new).
/// - **Cancellation** follows the host: hyper drops the response future
///   when the client goes away before the response head, but only notices
///   when it reads from the connection.
///
/// # Hosting on hyper-util or axum
///
/// In hyper-util's accept loop, make one service per accepted connection
/// with [`for_connection`](ApplicationService::for_connection)
/// (`ConnectionInfo::new(peer_addr, stream.local_addr()?)`), wrap it in
/// `hyper_util::service::TowerToHyperService`, and serve the connection with
/// `hyper_util::server::conn::auto::Builder`. With `axum::serve`, which
/// shows the connection to a make-service only, nest the service in a
/// `Router` (`fallback_service`, `nest_service`); a layer can turn axum's
/// `ConnectInfo<SocketAddr>` into a [`ConnectionInfo`] extension, which
/// [`RequestExt::connection_info`](crate::RequestExt::connection_info)
/// finds. `examples/tests/tower_host.rs` in Albany's repository does both,
/// on tokio, with `albany_tokio::handle()`; the conformance suite's
/// `hyper-util-tower` target runs the whole suite through this service.
///
/// # Example: the service called directly
///
/// ```
/// use albany::tower::ApplicationService;
/// use albany::{from_fn, Body, ConnectionInfo, RequestExt, Response};
/// use tower_service::Service;
/// # fn example(handle: albany::rt::Handle) {
/// let app = from_fn(|request: albany::Request| async move {
///     let peer = request.connection_info().and_then(|info| info.peer_addr());
///     Response::new(Body::from(format!("{peer:?}")))
/// });
/// let service = ApplicationService::new(app, handle);
/// let info = ConnectionInfo::new("127.0.0.1:50000".parse().unwrap(), "127.0.0.1:3000".parse().unwrap());
/// let mut connection = service.for_connection(info);
/// // `connection.call(request)` answers with the peer's address.
/// let future = connection.call(http::Request::new(String::from("a body")));
/// # drop(future);
/// # }
/// ```
pub struct ApplicationService<A> {
    shared: Arc<Shared<A>>,
    /// The context of the connection this service was made for; `None` for
    /// a service not made by [`for_connection`](Self::for_connection).
    connection: Option<ConnectionContext>,
}

/// What every clone shares: a clone costs one reference count (two with a
/// connection).
struct Shared<A> {
    application: Arc<A>,
    runtime: Handle,
    shutdown: ShutdownTrigger,
}

impl<A: Application> ApplicationService<A> {
    /// Serves `application` with `runtime` as the runtime service of every
    /// request (EXT-1): the handle of the runtime the host server runs on,
    /// such as `albany_tokio::handle()` inside a tokio runtime (or
    /// `albany_smol::handle()`, `albany_async_std::handle()`,
    /// `albany_server::handle(binding)`).
    ///
    /// The service has a [`ShutdownTrigger`] of its own that has not fired
    /// ([`shutdown_trigger`](Self::shutdown_trigger)), and no connection
    /// data until [`for_connection`](Self::for_connection).
    pub fn new(application: A, runtime: Handle) -> Self {
        ApplicationService::from_arc(Arc::new(application), runtime)
    }

    /// [`new`](Self::new) with an application already shared.
    pub fn from_arc(application: Arc<A>, runtime: Handle) -> Self {
        ApplicationService {
            shared: Arc::new(Shared {
                application,
                runtime,
                shutdown: ShutdownTrigger::new(),
            }),
            connection: None,
        }
    }
}

impl<A> ApplicationService<A> {
    /// Replaces the service's shutdown trigger by the host's: every
    /// request's [`ShutdownSignal`] then resolves when `trigger` fires
    /// (TOWER-15).
    pub fn with_shutdown_trigger(self, trigger: ShutdownTrigger) -> Self {
        let shared = Arc::new(Shared {
            application: self.shared.application.clone(),
            runtime: self.shared.runtime.clone(),
            shutdown: trigger,
        });
        let connection = self.connection.map(|context| {
            ConnectionContext::new(
                shared.runtime.clone(),
                context.connection_info().clone(),
                shared.shutdown.signal(),
            )
        });
        ApplicationService { shared, connection }
    }

    /// The trigger of the requests' [`ShutdownSignal`]: the host fires it
    /// ([`ShutdownTrigger::trigger`]) when its graceful shutdown starts, and
    /// every request's signal, in flight or to come, resolves (TOWER-15,
    /// EXT-5). Albany does not stop the host: the host stops accepting and
    /// drains its connections itself.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.shared.shutdown.clone()
    }

    /// The runtime service every request gets.
    pub fn runtime(&self) -> &Handle {
        &self.shared.runtime
    }

    /// The application served.
    pub fn application(&self) -> &A {
        &self.shared.application
    }

    /// The service for the requests of one connection, described by `info`
    /// (its transport's addresses and TLS parameters, EXT-2): each of its
    /// requests gets one [`ConnectionContext`] made here, once for the
    /// connection (EXT-12, TOWER-12). Call it in the host's accept loop,
    /// for each accepted connection, since tower carries no connection
    /// data. Costs one allocation.
    pub fn for_connection(&self, info: ConnectionInfo) -> Self {
        ApplicationService {
            shared: self.shared.clone(),
            connection: Some(ConnectionContext::new(
                self.shared.runtime.clone(),
                info,
                self.shared.shutdown.signal(),
            )),
        }
    }

    /// The connection data this service gives its requests, if it was made
    /// by [`for_connection`](Self::for_connection).
    pub fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.connection
            .as_ref()
            .map(ConnectionContext::connection_info)
    }

    /// Puts in `request`'s extensions what an Albany server would (TOWER-12
    /// to TOWER-14): the connection's [`ConnectionContext`] when this
    /// service has one and the request carries none; otherwise, without
    /// connection data, the [`Handle`] and a [`ShutdownSignal`], each only if
    /// the request does not already carry one of its type. A
    /// `ConnectionInfo` that the host put in the extensions stays there, and
    /// [`RequestExt::connection_info`](crate::RequestExt::connection_info)
    /// finds it.
    fn prepare(&self, extensions: &mut http::Extensions) {
        if extensions.get::<ConnectionContext>().is_some() {
            return;
        }
        match &self.connection {
            Some(context) => {
                extensions.insert(context.clone());
            }
            None => {
                if extensions.get::<Handle>().is_none() {
                    extensions.insert(self.shared.runtime.clone());
                }
                if extensions.get::<ShutdownSignal>().is_none() {
                    extensions.insert(self.shared.shutdown.signal());
                }
            }
        }
    }
}

impl<A> Clone for ApplicationService<A> {
    fn clone(&self) -> Self {
        ApplicationService {
            shared: self.shared.clone(),
            connection: self.connection.clone(),
        }
    }
}

impl<A> fmt::Debug for ApplicationService<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationService")
            .field("connection", &self.connection_info())
            .field("shutdown", &self.shared.shutdown)
            .finish_non_exhaustive()
    }
}

/// The future of [`ApplicationService`]'s `call`: the application's
/// response, boxed (one allocation per request, as the application's
/// future type cannot be named).
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Response> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<A, B> tower_service::Service<http::Request<B>> for ApplicationService<A>
where
    A: Application,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready (TOWER-11).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    /// Calls the application with `request`, its body an
    /// [`albany::Body`](Body) and its extensions completed (TOWER-12 to
    /// TOWER-14).
    fn call(&mut self, request: http::Request<B>) -> ResponseFuture {
        let (mut parts, body) = request.into_parts();
        self.prepare(&mut parts.extensions);
        let request: Request = Request::from_parts(parts, Body::new(body));
        let application = self.shared.application.clone();
        ResponseFuture {
            inner: Box::pin(async move { application.call(request).await }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::net::SocketAddr;
    use std::thread;
    use std::time::{Duration, Instant};

    use futures_lite::future::{block_on, poll_once};
    use http_body_util::Full;
    use tower_service::Service;

    use super::*;
    use crate::rt::{BoxBlocking, BoxTask, Runtime, Sleep};
    use crate::{from_fn, RequestExt};

    /// Each task and blocking function on a thread of its own; async-io's
    /// timers.
    struct Threads;

    impl Runtime for Threads {
        fn spawn(&self, task: BoxTask) {
            thread::spawn(move || block_on(task));
        }

        fn sleep_until(&self, deadline: Instant) -> Sleep {
            Sleep::new(async_io::Timer::at(deadline))
        }

        fn spawn_blocking(&self, f: BoxBlocking) {
            thread::spawn(f);
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    /// Answers what it found in the request: the peer, whether each
    /// extension is there, and the body.
    fn describe() -> impl Application {
        from_fn(|request: Request| async move {
            let peer = request
                .connection_info()
                .and_then(ConnectionInfo::peer_addr);
            let context = request.extensions().get::<ConnectionContext>().is_some();
            let runtime = request.runtime().is_some();
            let shutdown = request.shutdown_signal().map(|s| s.is_triggered());
            let body = request.into_body().to_bytes(1024).await;
            Response::new(Body::from(format!(
                "peer={peer:?} context={context} runtime={runtime} shutdown={shutdown:?} body={:?}",
                body.map(|b| String::from_utf8_lossy(&b).into_owned())
            )))
        })
    }

    fn answer<S, B>(service: &mut S, request: http::Request<B>) -> String
    where
        S: Service<http::Request<B>, Response = Response, Error = Infallible>,
    {
        block_on(async {
            poll_fn(|cx| service.poll_ready(cx)).await.unwrap();
            let response = service.call(request).await.unwrap();
            let bytes = response.into_body().to_bytes(1 << 20).await.unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    }

    #[test]
    fn a_connection_service_gives_each_request_one_context() {
        let service = ApplicationService::new(describe(), Handle::new(Threads));
        let mut connection = service.for_connection(ConnectionInfo::new(
            addr("127.0.0.1:50000"),
            addr("127.0.0.1:3000"),
        ));
        assert_eq!(
            connection
                .connection_info()
                .and_then(ConnectionInfo::peer_addr),
            Some(addr("127.0.0.1:50000"))
        );
        // A body type that is not albany's, with data that is not `Bytes`.
        let request = http::Request::new(Full::new(&b"a body"[..]));
        assert_eq!(
            answer(&mut connection, request),
            "peer=Some(127.0.0.1:50000) context=true runtime=true shutdown=Some(false) body=Ok(\"a body\")"
        );
        // The same context for the next request of the connection.
        let request = http::Request::new(String::from("second"));
        assert!(answer(&mut connection, request).contains("context=true"));
    }

    #[test]
    fn without_connection_data_the_handle_and_the_signal_are_inserted() {
        let mut service = ApplicationService::new(describe(), Handle::new(Threads));
        assert!(service.connection_info().is_none());
        let request = http::Request::new(String::new());
        assert_eq!(
            answer(&mut service, request),
            "peer=None context=false runtime=true shutdown=Some(false) body=Ok(\"\")"
        );
        // A ConnectionInfo the host inserted stays and is found.
        let mut request = http::Request::new(String::new());
        request.extensions_mut().insert(ConnectionInfo::new(
            addr("10.0.0.7:4000"),
            addr("10.0.0.1:80"),
        ));
        assert!(answer(&mut service, request)
            .starts_with("peer=Some(10.0.0.7:4000) context=false runtime=true"));
    }

    #[test]
    fn what_the_request_carries_is_kept() {
        let service = ApplicationService::new(describe(), Handle::new(Threads));
        let mut connection = service.for_connection(ConnectionInfo::new(
            addr("127.0.0.1:50000"),
            addr("127.0.0.1:3000"),
        ));
        // A request that already went through an Albany server.
        let theirs = ShutdownTrigger::new();
        theirs.trigger();
        let context = ConnectionContext::new(
            Handle::new(Threads),
            ConnectionInfo::new(addr("192.0.2.1:1234"), addr("192.0.2.2:80")),
            theirs.signal(),
        );
        let mut request = http::Request::new(String::new());
        request.extensions_mut().insert(context);
        assert_eq!(
            answer(&mut connection, request),
            "peer=Some(192.0.2.1:1234) context=true runtime=true shutdown=Some(true) body=Ok(\"\")"
        );
        // A service without connection data keeps a signal already there.
        let mut plain = ApplicationService::new(describe(), Handle::new(Threads));
        let mut request = http::Request::new(String::new());
        request.extensions_mut().insert(theirs.signal());
        assert!(answer(&mut plain, request).contains("shutdown=Some(true)"));
    }

    #[test]
    fn the_runtime_handle_works_inside() {
        let app = from_fn(|request: Request| async move {
            let Some(handle) = request.runtime() else {
                return Response::new(Body::from("no runtime"));
            };
            let started = Instant::now();
            handle.sleep(Duration::from_millis(20)).await;
            let slept = started.elapsed() >= Duration::from_millis(20);
            let blocking = handle
                .spawn_blocking(|| thread::current().id())
                .await
                .map(|id| id != thread::current().id());
            Response::new(Body::from(format!("slept={slept} blocking={blocking:?}")))
        });
        let mut service = ApplicationService::new(app, Handle::new(Threads));
        assert_eq!(
            answer(&mut service, http::Request::new(String::new())),
            "slept=true blocking=Ok(true)"
        );
    }

    #[test]
    fn the_shutdown_signal_resolves_when_the_host_fires_the_trigger() {
        let app = from_fn(|request: Request| async move {
            match request.shutdown_signal() {
                Some(signal) => {
                    signal.await;
                    Response::new(Body::from("bye"))
                }
                None => Response::new(Body::from("no signal")),
            }
        });
        let host = ShutdownTrigger::new();
        let service =
            ApplicationService::new(app, Handle::new(Threads)).with_shutdown_trigger(host.clone());
        assert!(!service.shutdown_trigger().is_triggered());
        let mut connection = service.for_connection(ConnectionInfo::new(
            addr("127.0.0.1:50000"),
            addr("127.0.0.1:3000"),
        ));
        let mut future = connection.call(http::Request::new(String::new()));
        assert!(
            block_on(poll_once(&mut future)).is_none(),
            "answered before the shutdown"
        );
        host.trigger();
        let response = block_on(future).unwrap();
        let body = block_on(response.into_body().to_bytes(64)).unwrap();
        assert_eq!(&body[..], b"bye");
        assert!(service.shutdown_trigger().is_triggered());
        // A connection service made before the trigger was replaced is
        // moved to the new trigger too.
        let before = ApplicationService::new(describe(), Handle::new(Threads)).for_connection(
            ConnectionInfo::new(addr("127.0.0.1:1"), addr("127.0.0.1:2")),
        );
        let mut after = before.with_shutdown_trigger(host);
        assert!(
            answer(&mut after, http::Request::new(String::new())).contains("shutdown=Some(true)")
        );
    }

    #[test]
    fn clones_share_the_application_and_a_body_error_reaches_it() {
        let service = ApplicationService::new(describe(), Handle::new(Threads));
        let clone = service.clone();
        assert!(std::ptr::eq(service.application(), clone.application()));
        assert!(std::ptr::eq(
            service.application(),
            service
                .for_connection(ConnectionInfo::new(
                    addr("127.0.0.1:1"),
                    addr("127.0.0.1:2")
                ))
                .application()
        ));
        // A request body that fails: the application sees the error.
        let (sender, body) = Body::channel(16);
        sender.abort();
        let mut service = clone;
        let text = answer(&mut service, http::Request::new(body));
        assert!(text.contains("body=Err("), "{text}");
    }
}
