//! A reference target that is not Albany's engine: the suite's application
//! served by plain hyper-util through the tower bridge
//! ([`albany::tower::ApplicationService`]), to show side by side what
//! Albany's engine guarantees and what a plain hyper server hosting the same
//! application does not.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::thread;

use albany::tower::ApplicationService;
use albany::{BoxApplication, ConnectionInfo};
use albany_server::Settings;
use futures_lite::future;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::{ExpectedFailure, RunningServer, Target};

/// The application on hyper-util's `auto::Builder` (HTTP/1.1 and h2c), one
/// tokio task per connection with `serve_connection_with_upgrades`, each
/// connection's service made by
/// [`ApplicationService::for_connection`] with the peer's address, on a
/// multi-threaded tokio runtime, with hyper-util's `GracefulShutdown`. No
/// Albany engine: this is how a host that is not Albany's serves an Albany
/// application.
///
/// Of the suite's [`Settings`], it applies what hyper-util offers:
/// `keep_alive`, `http2` (off: `http1_only`), `max_header_size` (HTTP/1.1
/// read buffer, HTTP/2 header list), `header_read_timeout`,
/// `http2_max_concurrent_streams` and `graceful_shutdown_timeout` (how long
/// it waits for its connections before it stops). Connection and body
/// limits, access logs and trusted proxies have no hyper-util form.
///
/// It is a *reference* target: the cases it is known to fail are listed in
/// [`HYPER_UTIL_TOWER_EXPECTED`], each with the reason; they are reported as
/// expected failures and do not fail a run. Any other failure does.
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperUtilTower;

/// [`HyperUtilTower`], as the CLI's `--adapter hyper-util-tower`.
pub const HYPER_UTIL_TOWER: HyperUtilTower = HyperUtilTower;

impl Target for HyperUtilTower {
    fn name(&self) -> &'static str {
        "hyper-util-tower"
    }

    fn expected_failures(&self) -> &'static [ExpectedFailure] {
        HYPER_UTIL_TOWER_EXPECTED
    }

    fn start(&self, application: BoxApplication, settings: Settings) -> io::Result<RunningServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("hyper-util-tower")
            .build()?;
        // The service needs the runtime's handle; the trigger is the host's.
        let service = {
            let _entered = runtime.enter();
            ApplicationService::new(application, albany_tokio::handle())
        };
        let trigger = service.shutdown_trigger();
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let thread = thread::Builder::new()
            .name("hyper-util-tower-server".to_owned())
            .spawn(move || {
                runtime.block_on(serve(listener, service, settings));
                // Connections still open past the graceful deadline are
                // dropped with the runtime.
                runtime.shutdown_background();
                Ok(())
            })?;
        let stop = trigger.clone();
        Ok(RunningServer::new(
            addr,
            move || stop.trigger(),
            move || {
                thread
                    .join()
                    .map_err(|_| io::Error::other("the server thread panicked"))?
            },
        ))
    }
}

/// hyper-util's builder configured from `settings`, as far as it can be.
fn builder(settings: &Settings) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    if !settings.http2 {
        builder = builder.http1_only();
    }
    let header_size = usize::try_from(settings.max_header_size).unwrap_or(usize::MAX);
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(settings.keep_alive)
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(header_size.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX));
    builder
}

enum Event {
    Accepted(io::Result<(tokio::net::TcpStream, SocketAddr)>),
    Shutdown,
}

async fn serve(
    listener: tokio::net::TcpListener,
    service: ApplicationService<BoxApplication>,
    settings: Settings,
) {
    let builder = builder(&settings);
    let graceful = GracefulShutdown::new();
    let mut signal = service.shutdown_trigger().signal();
    loop {
        let accept = async { Event::Accepted(listener.accept().await) };
        let stop = async {
            (&mut signal).await;
            Event::Shutdown
        };
        match future::or(stop, accept).await {
            Event::Shutdown => break,
            Event::Accepted(Err(_)) => continue,
            Event::Accepted(Ok((stream, peer_addr))) => {
                let Ok(local_addr) = stream.local_addr() else {
                    continue;
                };
                let connection = service.for_connection(ConnectionInfo::new(peer_addr, local_addr));
                let serving = builder
                    .serve_connection_with_upgrades(
                        TokioIo::new(stream),
                        TowerToHyperService::new(connection),
                    )
                    .into_owned();
                let watched = graceful.watch(serving);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
        }
    }
    drop(listener);
    let drained: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(graceful.shutdown());
    let _ = tokio::time::timeout(settings.graceful_shutdown_timeout, drained).await;
}

/// Why a plain hyper-util host fails a case (the engine does it, hyper
/// leaves it to the server).
mod why {
    pub(super) const HOST: &str = "hyper does not validate Host (missing, repeated, or disagreeing with an absolute-form target); Albany's engine answers 400 (H1-13)";
    pub(super) const TARGET_FORMS: &str = "hyper passes request-target forms the method does not allow (H1-15, H1-16) to the service; Albany's engine answers 400";
    pub(super) const CODINGS: &str = "hyper accepts transfer codings other than a final chunked without the 400 or 501 Albany's engine sends (H1-4, H1-5)";
    pub(super) const PANIC: &str = "a panic in the application propagates to hyper-util's connection task: the connection closes without a response; Albany's engine answers 500 and keeps the connection (ERR-*); a host adds tower-http's CatchPanicLayer";
    pub(super) const UPGRADE: &str = "no albany::upgrade::OnUpgrade through tower: the bridge cannot make one of hyper's, so the application cannot take the connection after a 101 (TOWER-16)";
    pub(super) const LIMITS: &str = "hyper-util has no connection limit or request body limit; Albany's engine has max_connections and max_request_body_size";
    pub(super) const CANCEL: &str = "hyper does not read ahead an unread request body, so it does not see the client leave and keeps the application's future (CANCEL-5)";
    pub(super) const SHUTDOWN: &str = "graceful shutdown is the host's: hyper-util's GracefulShutdown differs from Albany's engine's sequence (SHUT-*)";
    pub(super) const RESPONSE: &str = "hyper sends what the application returns where Albany's engine corrects it (RESP-*): an invalid response head or framing";
}

/// The cases the [`HyperUtilTower`] target fails, each with the reason.
pub const HYPER_UTIL_TOWER_EXPECTED: &[ExpectedFailure] = &[];

#[allow(dead_code)]
const _REASONS: [&str; 9] = [
    why::HOST,
    why::TARGET_FORMS,
    why::CODINGS,
    why::PANIC,
    why::UPGRADE,
    why::LIMITS,
    why::CANCEL,
    why::SHUTDOWN,
    why::RESPONSE,
];
