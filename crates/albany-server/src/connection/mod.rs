//! One connection: hyper's HTTP/1.1 or HTTP/2 connection, under the
//! header read timeout, graceful shutdown and its deadline.

mod head_timeout;
mod linger;
mod request_cap;

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use albany::{Application, ShutdownSignal};
use hyper::server::conn::{http1, http2};

pub(crate) use head_timeout::{InFlight, Requests};

use crate::preface::{self, Protocol, Rewind};
use crate::rt::{deadline_after, HyperExecutor, HyperTimer};
use crate::service::{serve_request, ConnectionState};
use crate::{Binding, Settings};
use head_timeout::HeadTimer;
use request_cap::{Capped, RequestCap};

/// The protocols a server speaks, configured from its [`Settings`]: hyper's
/// HTTP/1 builder, and its HTTP/2 builder unless `http2` is off (spec H2-1,
/// H2-2).
pub(crate) struct Protocols<B> {
    binding: B,
    http1: http1::Builder,
    http2: Option<http2::Builder<HyperExecutor<B>>>,
    header_read_timeout: Option<Duration>,
    /// `Settings::max_requests_per_connection` (spec LIMIT-26).
    max_requests: Option<u64>,
}

/// hyper's default `max_buf_size` (8 KiB plus 100 × 4 KiB): the largest
/// read buffer, and how much hyper's write buffer queues before it flushes.
const MAX_BUF_SIZE: usize = 8192 + 4096 * 100;

/// [H2-11] [H2-15] `SETTINGS_MAX_FRAME_SIZE`: the largest frame payload
/// the server accepts (a longer one is a `FRAME_SIZE_ERROR`), RFC 9113's initial value (§6.5.2); larger frames only save
/// framing on bulk uploads, and cost a buffer that large per connection.
const HTTP2_MAX_FRAME_SIZE: u32 = 16_384;

/// (Spec §17, note.) The most bytes of a response body queued per HTTP/2 stream
/// ahead of the client's flow-control window: hyper's and h2's value,
/// 400 KiB. Past it the body is not polled until the client reads.
const HTTP2_MAX_SEND_BUFFER_SIZE: usize = 400 * 1024;

/// [H2-13] The most streams a client may reset before the application has
/// been called (h2's pending-accept queue), the defence against rapid
/// reset (CVE-2023-44487): h2's value since 0.3.22 / 0.4.0, 20. One more
/// ends the connection with `GOAWAY` and `ENHANCE_YOUR_CALM`.
const HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// [H2-14] The most streams the server resets because of the client's
/// errors over one connection (RUSTSEC-2024-0003): hyper's value, 1024.
/// One more ends the connection with `GOAWAY` and `ENHANCE_YOUR_CALM`.
const HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// [H2-11] The HPACK dynamic table the server decodes with
/// (`SETTINGS_HEADER_TABLE_SIZE`): RFC 9113's initial value, 4096 bytes,
/// which is therefore not advertised.
const HTTP2_HEADER_TABLE_SIZE: u32 = 4096;

impl<B: Binding> Protocols<B> {
    /// The protocols and their limits from `settings` (already validated);
    /// hyper's timers and HTTP/2 stream tasks run on `binding`.
    pub(crate) fn new(settings: &Settings, binding: &B) -> Self {
        let max_header_size = usize::try_from(settings.max_header_size).unwrap_or(usize::MAX);
        let mut http1 = http1::Builder::new();
        http1
            .timer(HyperTimer(binding.clone()))
            .keep_alive(settings.keep_alive)
            // [LIMIT-1] The head limit is hyper's `max_header_size`; the
            // buffer only has to hold it. The header read timeout is the
            // engine's own (`head_timeout`), not hyper's per-request one.
            .max_header_size(max_header_size)
            .max_buf_size(MAX_BUF_SIZE.max(max_header_size.saturating_add(8192)))
            .header_read_timeout(None);
        let http2 = settings.http2.then(|| {
            let mut http2 = http2::Builder::new(HyperExecutor(binding.clone()));
            // [H2-11] to [H2-15] Every limit set here, none left to
            // hyper's or h2's defaults (which may change).
            http2
                .timer(HyperTimer(binding.clone()))
                .max_concurrent_streams(settings.http2_max_concurrent_streams)
                .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX))
                .adaptive_window(false)
                .initial_stream_window_size(settings.http2_initial_stream_window_size)
                .initial_connection_window_size(settings.http2_initial_connection_window_size)
                .max_frame_size(HTTP2_MAX_FRAME_SIZE)
                .max_send_buf_size(HTTP2_MAX_SEND_BUFFER_SIZE)
                .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS)
                .max_local_error_reset_streams(HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS)
                .header_table_size(HTTP2_HEADER_TABLE_SIZE);
            // [UPG-8] RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL, only when
            // asked for (see the setting's documentation).
            if settings.http2_extended_connect {
                http2.enable_connect_protocol();
            }
            http2
        });
        Protocols {
            binding: binding.clone(),
            http1,
            http2,
            header_read_timeout: settings.header_read_timeout,
            max_requests: settings.max_requests_per_connection,
        }
    }
}

/// Serves `io` until the client closes it, the header read timeout closes
/// it (spec LIMIT-3), graceful shutdown closes it (`shutdown` resolves: the
/// current requests finish, no new ones start), or the shutdown deadline
/// passes (`abort` resolves: it is dropped at once).
///
/// `protocol` is the protocol already agreed (by TLS's ALPN); `None` reads
/// the preface to tell (spec H2-1).
pub(crate) async fn serve_connection<A, B, I>(
    protocols: Arc<Protocols<B>>,
    io: I,
    protocol: Option<Protocol>,
    state: Arc<ConnectionState<A>>,
    mut shutdown: ShutdownSignal,
    abort: ShutdownSignal,
) where
    A: Application,
    B: Binding,
    I: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    // For log lines (one reference count per connection).
    let described = state.clone();
    let peer = crate::observe::Peer(described.context.connection_info());
    let requests = state.requests.clone();
    // [H1-24] [LIMIT-13] The same half-close and close on every transport.
    // [SHUT-9] Its reads are noted in `requests` (a request head may have
    // begun).
    let (io, closer) = linger::split(io, requests.clone());
    let linger_abort = abort.clone();
    let mut timer = pin!(protocols.header_read_timeout.map(|timeout| HeadTimer::new(
        &protocols.binding,
        timeout,
        requests.clone()
    )));
    let (protocol, io) = if let Some(protocol) = protocol {
        (protocol, Rewind::new(io))
    } else if protocols.http2.is_some() {
        // The wait for the preface ends with graceful shutdown (the
        // connection has no request yet) and with the header read timeout.
        let mut detect = pin!(preface::detect(io));
        let detected = poll_fn(|cx| {
            if Pin::new(&mut shutdown).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(detected) = detect.as_mut().poll(cx) {
                return Poll::Ready(Some(detected));
            }
            if timer
                .as_mut()
                .as_pin_mut()
                .is_some_and(|timer| timer.poll_expired(cx))
            {
                tracing::debug!(%peer, "no connection preface within the header read timeout");
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match detected {
            Some(Ok(detected)) => detected,
            Some(Err(error)) => {
                tracing::debug!(%peer, %error, "connection ended before its protocol was known");
                return;
            }
            None => return,
        }
    } else {
        (Protocol::Http1, Rewind::new(io))
    };
    // [LIMIT-26] Counted as hyper hands each request over.
    let cap = protocols
        .max_requests
        .map(|limit| Arc::new(RequestCap::new(limit)));
    let http2 = matches!(protocol, Protocol::Http2) && protocols.http2.is_some();
    let service = {
        let (cap, requests) = (cap.clone(), requests.clone());
        hyper::service::service_fn(move |request| {
            if let Some(cap) = &cap {
                if cap.count() && !http2 {
                    // The last response says `Connection: close`, as in
                    // graceful shutdown; hyper closes after it.
                    requests.drain();
                }
            }
            serve_request(state.clone(), request)
        })
    };
    let result = match (protocol, &protocols.http2) {
        (Protocol::Http2, Some(http2)) => {
            // [LIMIT-3] Over HTTP/2 the timeout covered the preface only.
            requests.stop();
            timer.set(None);
            let connection = pin!(Capped::new(
                http2.serve_connection(io, service),
                cap.as_deref(),
                |c| c.graceful_shutdown(),
            ));
            drive(
                connection,
                |c| c.graceful_shutdown(),
                None,
                &protocols.binding,
                timer,
                shutdown,
                abort,
            )
            .await
        }
        _ => {
            let connection = pin!(protocols
                .http1
                .serve_connection(io, service)
                .with_upgrades());
            drive(
                connection,
                |c| c.graceful_shutdown(),
                Some(&requests),
                &protocols.binding,
                timer,
                shutdown,
                abort,
            )
            .await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
    closer.close(&protocols.binding, linger_abort).await;
}

/// How long graceful shutdown keeps an HTTP/1.x connection that is between
/// requests open for bytes the client sent before it began (spec SHUT-9;
/// see [`drive`]).
const READ_GRACE: Duration = Duration::from_millis(50);

/// Polls `connection` to its end; closes it when `timer` says the wait for
/// a request head is over, starts its graceful shutdown when `shutdown`
/// resolves, and gives up on it when `abort` resolves after that.
///
/// [SHUT-9] Over HTTP/1.x (`requests` is `Some`), hyper's graceful
/// shutdown closes a connection between requests at once, even with a
/// request's bytes in the socket's receive buffer or a head partly in
/// hyper's read buffer. So when `shutdown` resolves, the connection is
/// first marked as draining (responses from then on say `Connection:
/// close`) and polled, which reads what the client has already sent (a
/// complete head starts its request); hyper's graceful shutdown is called
/// only once [`Requests::may_close`] says no request would be lost: no
/// request is in flight and nothing was read since the last response. A
/// request in flight, or a partly read head, is waited for, under the
/// header read timeout and the shutdown deadline. A
/// connection between requests is closed only after [`READ_GRACE`]: a
/// runtime may not have told the connection yet of bytes that reached its
/// socket before shutdown began (tokio learns of readiness when its driver
/// turns, which a busy worker may not have done); they are served too.
async fn drive<C, E, B>(
    mut connection: Pin<&mut C>,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    requests: Option<&Requests>,
    binding: &B,
    mut timer: Pin<&mut Option<HeadTimer<B>>>,
    mut shutdown: ShutdownSignal,
    mut abort: ShutdownSignal,
) -> Result<(), String>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
    B: Binding,
{
    // Shutdown has begun; hyper's graceful shutdown has been called.
    let (mut draining, mut graceful) = (false, false);
    let mut grace = pin!(None::<B::Sleep>);
    poll_fn(|cx| {
        if !draining && Pin::new(&mut shutdown).poll(cx).is_ready() {
            draining = true;
            match requests {
                Some(requests) => requests.drain(),
                // HTTP/2: hyper's graceful shutdown (GOAWAY) at once, as
                // before the first poll.
                None => {
                    graceful = true;
                    graceful_shutdown(connection.as_mut());
                }
            }
        }
        // The deadline fires only after shutdown has started: until then
        // there is nothing to watch.
        if draining && Pin::new(&mut abort).poll(cx).is_ready() {
            return Poll::Ready(Err("closed by the graceful shutdown deadline".to_owned()));
        }
        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
            return Poll::Ready(result.map_err(|error| error.to_string()));
        }
        if draining && !graceful && requests.is_none_or(Requests::may_close) {
            // Over HTTP/1.x between requests, after the grace.
            let now = match requests {
                Some(requests) if !requests.upgraded() => {
                    if grace.is_none() {
                        grace.set(Some(
                            binding.sleep_until(deadline_after(Instant::now(), READ_GRACE)),
                        ));
                    }
                    grace
                        .as_mut()
                        .as_pin_mut()
                        .is_some_and(|sleep| sleep.poll(cx).is_ready())
                }
                _ => true,
            };
            if now {
                graceful = true;
                graceful_shutdown(connection.as_mut());
                // hyper closes an idle connection at once.
                if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                    return Poll::Ready(result.map_err(|error| error.to_string()));
                }
            }
        }
        // [LIMIT-3] Checked while hyper waits, after it has handed over any
        // complete head it had read.
        if timer
            .as_mut()
            .as_pin_mut()
            .is_some_and(|timer| timer.poll_expired(cx))
        {
            return Poll::Ready(Err(
                "no complete request head within the header read timeout".to_owned(),
            ));
        }
        Poll::Pending
    })
    .await
}
