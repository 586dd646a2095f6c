//! A `tower::Service` served as an `Application`.

use std::error::Error as StdError;
use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::Arc;

use http::{header, HeaderValue, StatusCode};
use tower_service::Service;

use crate::{Application, Body, BoxError, Request, Response};

/// Makes an [`Application`] of a `tower::Service`, such as an axum `Router`
/// (spec TOWER-1 to TOWER-6).
///
/// For each request, [`FromTower`]:
///
/// 1. clones `service` and waits for the clone's `poll_ready` (the way
///    `axum::serve` and hyper-util's `TowerToHyperService` do: the clone's
///    readiness is reserved for this request alone);
/// 2. calls it with the request as the server made it: its method, target,
///    headers, [`Body`] and **every extension** (the runtime
///    [`Handle`](crate::rt::Handle), the [`ConnectionContext`](crate::ConnectionContext)
///    with [`ConnectionInfo`](crate::ConnectionInfo) and the shutdown
///    signal, Albany's [`OnUpgrade`](crate::upgrade::OnUpgrade) and, from
///    `albany-server`, hyper's `hyper::upgrade::OnUpgrade`, which axum's
///    `WebSocketUpgrade` takes);
/// 3. answers with the service's response, its body wrapped by
///    [`Body::new`] (size hint kept, so `Content-Length` is kept; data
///    turned into `Bytes`, without a copy when it is `Bytes` already).
///
/// An error from `poll_ready` or from the call's future is not a panic: it
/// becomes a `500 Internal Server Error` response with a short
/// `text/plain` body that does not reveal the error, and a
/// [`ServiceError`] in the response's extensions for middleware around it
/// (logging, tests) to read.
///
/// `FromTower` itself needs no runtime, but the service may: one that
/// uses tokio's timer or `tokio::spawn` (tower-http's `TimeoutLayer`,
/// axum's `WebSocketUpgrade`) needs a tokio context, which `albany-tokio`
/// has and `albany_compat::compat` gives on the other adapters.
///
/// `FromTower` is an `Application`, so it needs a `Sync` service; to erase
/// a service's type, use tower's `BoxCloneSyncService` (the plain
/// `BoxCloneService` is not `Sync`).
///
/// # Example
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{ready, Ready};
/// use std::task::{Context, Poll};
///
/// use albany::{Body, Request, Response};
///
/// /// A hand-written tower service; an axum `Router` works the same way.
/// #[derive(Clone)]
/// struct Hello;
///
/// impl tower_service::Service<Request> for Hello {
///     type Response = Response;
///     type Error = Infallible;
///     type Future = Ready<Result<Response, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _request: Request) -> Self::Future {
///         ready(Ok(Response::new(Body::from("Hello, world!"))))
///     }
/// }
///
/// let app = albany::from_tower(Hello);
/// # fn is_app(_: impl albany::Application) {}
/// # is_app(app);
/// // albany_smol::run("127.0.0.1:3000", app)
/// ```
pub fn from_tower<S>(service: S) -> FromTower<S> {
    FromTower { service }
}

/// An [`Application`] made of a `tower::Service` by [`from_tower`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FromTower<S> {
    service: S,
}

impl<S> FromTower<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// Returns the wrapped service.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<S, B> Application for FromTower<S>
where
    S: Service<Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        // [TOWER-2] A clone per request, made ready before it is called.
        let mut service = self.service.clone();
        async move {
            if let Err(error) = poll_fn(|cx| service.poll_ready(cx)).await {
                return ServiceError::response(Stage::Ready, error.into());
            }
            // [TOWER-3] The request as it is, extensions and all.
            match service.call(request).await {
                // [TOWER-4] The body converted, its size hint kept.
                Ok(response) => response.map(Body::new),
                Err(error) => ServiceError::response(Stage::Call, error.into()),
            }
        }
    }
}

/// Why [`FromTower`] answered `500 Internal Server Error`: the service's
/// `poll_ready` or its call failed (spec TOWER-5).
///
/// It is in the extensions of that 500 response; the wrapped error is
/// there too ([`source`](StdError::source), [`is_readiness`](Self::is_readiness)).
/// Clones share the error.
#[derive(Clone)]
pub struct ServiceError {
    stage: Stage,
    error: Arc<BoxError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Ready,
    Call,
}

impl ServiceError {
    /// `true` if `poll_ready` failed, `false` if the call did.
    pub fn is_readiness(&self) -> bool {
        self.stage == Stage::Ready
    }

    /// The service's error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &**self.error
    }

    fn response(stage: Stage, error: BoxError) -> Response {
        let mut response = Response::new(Body::from("Internal Server Error\n"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response.extensions_mut().insert(ServiceError {
            stage,
            error: Arc::new(error),
        });
        response
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("stage", &self.stage)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Ready => "poll_ready",
            Stage::Call => "call",
        };
        write!(f, "the tower service's {stage} failed: {}", self.error)
    }
}

impl StdError for ServiceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&**self.error)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::future::{ready, Ready};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use bytes::{Buf, Bytes};
    use futures_lite::future::block_on;
    use http_body::{Frame, SizeHint};

    use super::*;
    use crate::shutdown::ShutdownTrigger;
    use crate::upgrade::OnUpgrade;
    use crate::{ConnectionInfo, RequestExt};

    /// Readiness: `poll_ready` answers from a shared script, `Pending`
    /// first (with a wake-up) when `pending` is set; every poll and call
    /// is counted.
    #[derive(Clone, Default)]
    struct Scripted {
        shared: Arc<Shared>,
        /// Set by `poll_ready` on this clone, checked by `call`.
        ready: bool,
    }

    #[derive(Default)]
    struct Shared {
        pending_polls: AtomicUsize,
        polls: AtomicUsize,
        calls: AtomicUsize,
        clones_called_unready: AtomicUsize,
        fail_ready: Mutex<Option<&'static str>>,
    }

    #[derive(Debug)]
    struct Boom(&'static str);

    impl fmt::Display for Boom {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Boom {}

    impl Service<Request> for Scripted {
        type Response = Response;
        type Error = Boom;
        type Future = Ready<Result<Response, Boom>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Boom>> {
            self.shared.polls.fetch_add(1, Ordering::SeqCst);
            let pending = &self.shared.pending_polls;
            if pending
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some(message) = *self.shared.fail_ready.lock().unwrap() {
                return Poll::Ready(Err(Boom(message)));
            }
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            self.shared.calls.fetch_add(1, Ordering::SeqCst);
            if !self.ready {
                self.shared
                    .clones_called_unready
                    .fetch_add(1, Ordering::SeqCst);
            }
            self.ready = false;
            if request.uri().path() == "/fail" {
                return ready(Err(Boom("the call failed")));
            }
            ready(Ok(Response::new(Body::from("ok"))))
        }
    }

    fn get(path: &str) -> Request {
        http::Request::get(path).body(Body::empty()).unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = response.into_body().to_bytes(1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn each_request_is_served_by_a_clone_made_ready_first() {
        let service = Scripted::default();
        let shared = service.shared.clone();
        shared.pending_polls.store(3, Ordering::SeqCst);
        let app = from_tower(service);
        block_on(async {
            for _ in 0..2 {
                let response = app.call(get("/")).await;
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(text(response).await, "ok");
            }
        });
        // Three `Pending` polls, then one ready poll per request.
        assert_eq!(shared.polls.load(Ordering::SeqCst), 5);
        assert_eq!(shared.calls.load(Ordering::SeqCst), 2);
        assert_eq!(shared.clones_called_unready.load(Ordering::SeqCst), 0);
        // The application's own copy was never polled: only clones were.
        assert!(!app.get_ref().ready);
    }

    #[test]
    fn a_readiness_error_is_a_500_and_the_service_is_not_called() {
        let service = Scripted::default();
        let shared = service.shared.clone();
        *shared.fail_ready.lock().unwrap() = Some("overloaded");
        let app = from_tower(service);
        let response = block_on(app.call(get("/")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let error = response.extensions().get::<ServiceError>().unwrap().clone();
        assert!(error.is_readiness());
        assert_eq!(error.get_ref().to_string(), "overloaded");
        assert!(error.source().unwrap().is::<Boom>());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        // The error's text stays out of the body.
        assert_eq!(block_on(text(response)), "Internal Server Error\n");
        assert_eq!(shared.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_call_error_is_a_500() {
        let app = from_tower(Scripted::default());
        let response = block_on(app.call(get("/fail")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let error = response.extensions().get::<ServiceError>().unwrap();
        assert!(!error.is_readiness());
        assert_eq!(
            error.to_string(),
            "the tower service's call failed: the call failed"
        );
        assert_eq!(block_on(text(response)), "Internal Server Error\n");
    }

    /// A service that answers with a body of its own type: `Data` is not
    /// `Bytes`, and the chunks, trailers and error come from a script.
    #[derive(Clone)]
    struct Foreign;

    struct Chunks {
        frames: VecDeque<Result<Frame<VecDeque<u8>>, Boom>>,
        hint: Option<u64>,
    }

    impl http_body::Body for Chunks {
        type Data = VecDeque<u8>;
        type Error = Boom;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<VecDeque<u8>>, Boom>>> {
            Poll::Ready(self.frames.pop_front())
        }

        fn size_hint(&self) -> SizeHint {
            self.hint.map(SizeHint::with_exact).unwrap_or_default()
        }
    }

    impl Service<Request> for Foreign {
        type Response = http::Response<Chunks>;
        type Error = Infallible;
        type Future = Ready<Result<http::Response<Chunks>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            let chunk = |text: &str| Ok(Frame::data(text.bytes().collect::<VecDeque<u8>>()));
            let mut trailers = http::HeaderMap::new();
            trailers.insert("checksum", HeaderValue::from_static("abc"));
            let body = match request.uri().path() {
                "/sized" => Chunks {
                    frames: [chunk("hello, "), chunk("world")].into(),
                    hint: Some(12),
                },
                "/trailers" => Chunks {
                    frames: [chunk("data"), Ok(Frame::trailers(trailers))].into(),
                    hint: None,
                },
                _ => Chunks {
                    frames: [chunk("partial"), Err(Boom("aborted"))].into(),
                    hint: None,
                },
            };
            let mut response = http::Response::new(body);
            *response.status_mut() = StatusCode::CREATED;
            response
                .headers_mut()
                .insert("x-service", HeaderValue::from_static("foreign"));
            ready(Ok(response))
        }
    }

    #[test]
    fn response_bodies_are_converted_with_their_size_hint_trailers_and_errors() {
        let app = from_tower(Foreign);
        block_on(async {
            let response = app.call(get("/sized")).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            assert_eq!(response.headers()["x-service"], "foreign");
            assert_eq!(response.body().size_hint().exact(), Some(12));
            assert_eq!(text(response).await, "hello, world");

            let mut body = app.call(get("/trailers")).await.into_body();
            let data = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(data, Bytes::from_static(b"data"));
            let trailers = body.frame().await.unwrap().unwrap();
            assert_eq!(trailers.trailers_ref().unwrap()["checksum"], "abc");
            assert!(body.frame().await.is_none());

            let mut body = app.call(get("/abort")).await.into_body();
            let data = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(data.chunk(), b"partial");
            let error = body.frame().await.unwrap().unwrap_err();
            assert!(error.is::<Boom>(), "{error:?}");
        });
    }

    /// A service that reports what it received: the extensions and the
    /// request body.
    #[derive(Clone)]
    struct Inspect;

    impl Service<Request> for Inspect {
        type Response = Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, mut request: Request) -> Self::Future {
            Box::pin(async move {
                let peer = request
                    .connection_info()
                    .and_then(ConnectionInfo::peer_addr)
                    .map(|addr| addr.to_string());
                let shutdown = request.shutdown_signal().is_some();
                let upgrade = request.take_upgrade().is_some();
                let custom = request.extensions().get::<Custom>().map(|c| c.0);
                let body = request.into_body().to_bytes(1024).await.unwrap();
                let report = format!(
                    "peer={peer:?} shutdown={shutdown} upgrade={upgrade} custom={custom:?} body={}",
                    String::from_utf8_lossy(&body)
                );
                Ok(Response::new(Body::from(report)))
            })
        }
    }

    #[derive(Clone)]
    struct Custom(u32);

    #[test]
    fn the_request_keeps_its_extensions_and_body() {
        let app = from_tower(Inspect);
        let mut request = http::Request::post("/")
            .body(Body::from("payload"))
            .unwrap();
        let info = ConnectionInfo::new(
            "127.0.0.1:4000".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        );
        let trigger = ShutdownTrigger::new();
        let extensions = request.extensions_mut();
        extensions.insert(info);
        extensions.insert(trigger.signal());
        extensions.insert(OnUpgrade::new(async {
            Err(crate::upgrade::UpgradeError::new(Boom("not upgraded")))
        }));
        extensions.insert(Custom(7));
        let report = block_on(async { text(app.call(request).await).await });
        assert_eq!(
            report,
            "peer=Some(\"127.0.0.1:4000\") shutdown=true upgrade=true custom=Some(7) body=payload"
        );
    }
}
