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
use std::time::Duration;

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

    fn is_reference(&self) -> bool {
        true
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
                // dropped with the runtime's tasks; wait (a bounded time)
                // for the workers to have dropped them.
                runtime.shutdown_timeout(Duration::from_secs(1));
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
        .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX))
        .keep_alive_interval(settings.http2_keep_alive_interval)
        .keep_alive_timeout(settings.http2_keep_alive_timeout);
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

/// Why a plain hyper-util host fails a case: what Albany's engine does and
/// hyper leaves to the server (spec §27's note lists what the suite found).
mod why {
    pub(super) const HOST: &str = "hyper does not validate Host: a request without one, with two, or with an invalid one reaches the application; Albany's engine answers 400 (H1-13)";
    pub(super) const TARGET_FORMS: &str = "hyper passes a request-target form the method does not allow (asterisk-form or authority-form with GET) to the application; Albany's engine answers 400 (H1-15, H1-16)";
    pub(super) const CODINGS: &str = "hyper accepts Transfer-Encoding chunked twice, or an unknown coding before chunked, and calls the application; Albany's engine answers 400 or 501 (H1-4, H1-5)";
    pub(super) const PANIC: &str = "a panic in the application propagates to hyper-util's connection task, which ends: the connection closes without a response; Albany's engine answers 500 (ERR-1); a tower host adds tower-http's CatchPanicLayer";
    pub(super) const UPGRADE: &str = "no albany::upgrade::OnUpgrade through tower: the bridge knows no hyper type, so the application cannot take the connection after a 101 and answers 426 (TOWER-16, EXT-4, UPG-1)";
    pub(super) const EXTENDED_CONNECT: &str = "this host does not enable hyper's HTTP/2 extended CONNECT (Settings::http2_extended_connect is Albany's engine's), and the bridge has no OnUpgrade for the stream (UPG-8, TOWER-16)";
    pub(super) const H2_101: &str = "a 101 returned over HTTP/2: hyper resets the stream; Albany's engine answers 500 (RESP-11)";
    pub(super) const RESPONSE_HEAD: &str = "hyper sends a response head Albany's engine corrects: the application's Transfer-Encoding, a Content-Length on a 204 over HTTP/2 (RESP-4, RESP-11)";
    pub(super) const RESPONSE_ERROR: &str = "a response hyper cannot send (a Content-Length the body disagrees with, an HTTP/0.9 version) closes the connection without a response; Albany's engine answers 500 or sends the request's version (RESP-6, RESP-23)";
    pub(super) const CANCEL: &str = "hyper does not read an unread request body ahead, so it does not see the client leave and keeps the application's future (CANCEL-5)";
    pub(super) const BODY_LIMIT: &str = "hyper-util has no request body limit (Settings::max_request_body_size is Albany's engine's; a tower host adds tower-http's RequestBodyLimitLayer)";
    pub(super) const CONNECTION_LIMIT: &str = "hyper-util has no connection limit (Settings::max_connections is Albany's engine's accept loop's)";
    pub(super) const ROOM: &str = "hyper-util has no connection limit, so it closes no idle connection to make room (LIMIT-20 is Albany's engine's accept loop's)";
    pub(super) const HTTP2_IDLE: &str = "hyper has no HTTP/2 idle timeout: a connection with no open stream stays open (Settings::http2_idle_timeout is Albany's engine's, LIMIT-11)";
    pub(super) const SILENT_TIMEOUT: &str = "hyper's header_read_timeout starts with the first byte of a request: a connection that sends nothing stays open; Albany's engine times it from accept (LIMIT-3)";
    pub(super) const HTTP2_OFF: &str = "hyper-util's serve_connection_with_upgrades serves HTTP/2 although the builder is http1_only (H2-2, spec §27's note)";
    pub(super) const SETTINGS: &str = "Settings are Albany's engine's: this host maps some to hyper-util's builder and rejects none (LIMIT-12)";
    pub(super) const BODY_TIMEOUT: &str = "hyper-util has no request body timeout or minimum rate (Settings::request_body_timeout and request_body_min_rate are Albany's engine's, LIMIT-14 to LIMIT-16): a stalled body is waited for without limit";
    pub(super) const WRITE_TIMEOUT: &str = "hyper-util has no write timeout (Settings::response_write_timeout is Albany's engine's, LIMIT-17): a client that stops reading holds the connection and the push writer";
    pub(super) const H2_LIMITS: &str = "this host leaves hyper's HTTP/2 flow-control windows at hyper's defaults (Settings::http2_initial_stream_window_size and _connection_window_size are Albany's engine's; H2-12)";
    pub(super) const RAPID_RESET: &str = "hyper answers the burst with GOAWAY ENHANCE_YOUR_CALM, but hyper-util closes the socket at once with the rest of the burst unread: the kernel resets the connection and, on most runs, the client's write fails (broken pipe) before it reads the GOAWAY (some runs pass); Albany's engine closes with a lingering close (LIMIT-13, H2-13)";
    pub(super) const REQUEST_CAP: &str = "hyper-util has no per-connection request cap (Settings::max_requests_per_connection is Albany's engine's; LIMIT-26)";
    pub(super) const FORWARDED: &str =
        "trusted proxies are Albany's engine's (EXT-13): the bridge inserts no albany::Forwarded";
}

/// The cases the [`HyperUtilTower`] target fails, each with the reason: 48
/// of the suite's 188 (conformance/REPORT.md, column `hyper-util-tower`;
/// `http2.rapid-reset` passes on some runs).
pub const HYPER_UTIL_TOWER_EXPECTED: &[ExpectedFailure] = &[
    expected("framing.te-chunked-twice", why::CODINGS),
    expected("framing.te-unknown-coding", why::CODINGS),
    expected("semantics.host-missing", why::HOST),
    expected("semantics.host-twice", why::HOST),
    expected("semantics.host-invalid", why::HOST),
    expected("semantics.asterisk-with-get", why::TARGET_FORMS),
    expected("semantics.authority-form-with-get", why::TARGET_FORMS),
    expected("semantics.date", why::PANIC),
    expected("semantics.transfer-encoding-ignored", why::RESPONSE_HEAD),
    expected("semantics.content-length-disagrees", why::RESPONSE_ERROR),
    expected("semantics.response-version", why::RESPONSE_ERROR),
    expected("cancellation.http1-disconnect-unread-body", why::CANCEL),
    expected("errors.panic-before-head", why::PANIC),
    expected("limits.invalid-settings", why::SETTINGS),
    expected("limits.body-too-large-announced", why::BODY_LIMIT),
    expected("limits.body-too-large-while-read", why::BODY_LIMIT),
    expected("limits.header-read-timeout-silent", why::SILENT_TIMEOUT),
    expected("limits.body-timeout-stalled", why::BODY_TIMEOUT),
    expected("limits.body-timeout-blocking", why::BODY_TIMEOUT),
    expected("limits.body-timeout-http2", why::BODY_TIMEOUT),
    expected("limits.body-timeout-after-head", why::BODY_TIMEOUT),
    expected("limits.body-min-rate", why::BODY_TIMEOUT),
    expected("limits.write-timeout", why::WRITE_TIMEOUT),
    expected("limits.http2-stream-stalled", why::WRITE_TIMEOUT),
    expected("limits.header-read-timeout-upgraded", why::UPGRADE),
    expected("limits.max-connections", why::CONNECTION_LIMIT),
    expected("limits.full-table-idle-http1", why::ROOM),
    expected("limits.full-table-idle-http2", why::ROOM),
    expected("limits.full-table-no-request-lost", why::ROOM),
    expected("limits.full-table-room-elsewhere", why::ROOM),
    expected("limits.http2-idle-timeout", why::HTTP2_IDLE),
    expected("limits.http2-idle-timeout-no-pong", why::HTTP2_IDLE),
    expected("limits.http2-idle-timeout-tunnel", why::UPGRADE),
    expected("limits.http2-disabled", why::HTTP2_OFF),
    expected("shutdown.upgraded-deadline", why::UPGRADE),
    expected("http2.no-content", why::RESPONSE_HEAD),
    expected("http2.no-101", why::H2_101),
    expected("http2.connect", why::UPGRADE),
    expected("http2.extended-connect", why::EXTENDED_CONNECT),
    expected("interface.upgrade", why::UPGRADE),
    expected("interface.upgrade-early-bytes", why::UPGRADE),
    expected("interface.extensions", why::UPGRADE),
    expected("interface.forwarded-trusted", why::FORWARDED),
    expected("interface.blocking-panic", why::PANIC),
    expected("http2.settings-advertised", why::H2_LIMITS),
    expected("http2.rapid-reset", why::RAPID_RESET),
    expected("limits.max-requests-http1", why::REQUEST_CAP),
    expected("limits.max-requests-http2", why::REQUEST_CAP),
];

const fn expected(case: &'static str, reason: &'static str) -> ExpectedFailure {
    ExpectedFailure { case, reason }
}
