//! One connection: hyper's HTTP/1.1 or HTTP/2 connection, under the
//! header read timeout, graceful shutdown and its deadline.

mod head_timeout;
mod linger;
mod request_cap;
mod table;

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use albany::{Application, ShutdownSignal};
use hyper::server::conn::{http1, http2};

pub(crate) use head_timeout::{InFlight, Requests, StreamAnswer, StreamHeld};
pub(crate) use table::Table;

use crate::preface::{self, Protocol, Rewind};
use crate::rt::{deadline_after, HyperExecutor, HyperTimer};
use crate::service::{serve_request, ConnectionState};
use crate::{Binding, Settings};
use head_timeout::HeadTimer;
use request_cap::{Capped, RequestCap};
use table::Registered;

/// The protocols a server speaks, configured from its [`Settings`]: hyper's
/// HTTP/1 builder, and its HTTP/2 builder unless `http2` is off (spec H2-1,
/// H2-2).
pub(crate) struct Protocols<B> {
    binding: B,
    http1: http1::Builder,
    http2: Option<http2::Builder<HyperExecutor<B>>>,
    header_read_timeout: Option<Duration>,
    response_write_timeout: Option<Duration>,
    http2_idle_timeout: Option<Duration>,
    /// The server's connections, for closing an idle one to make room
    /// (spec LIMIT-5, LIMIT-20).
    pub(crate) table: Arc<Table>,
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
            let mut http2 = http2::Builder::new(HyperExecutor {
                binding: binding.clone(),
                // [LIMIT-19] Each stream's response, under the write
                // timeout.
                stream_timeout: settings.response_write_timeout,
            });
            // [H2-11] to [H2-15] Every limit set here, none left to
            // hyper's or h2's defaults (which may change).
            http2
                .timer(HyperTimer(binding.clone()))
                .max_concurrent_streams(settings.http2_max_concurrent_streams)
                .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX))
                // [LIMIT-21] A peer that does not answer a PING is closed.
                .keep_alive_interval(settings.http2_keep_alive_interval)
                .keep_alive_timeout(settings.http2_keep_alive_timeout)
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
            response_write_timeout: settings.response_write_timeout,
            http2_idle_timeout: settings.http2_idle_timeout,
            table: Arc::default(),
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
    // [LIMIT-17] Every write goes through it, under the write timeout.
    let (io, closer) = linger::split(
        io,
        requests.clone(),
        &protocols.binding,
        protocols.response_write_timeout,
    );
    // [LIMIT-20] Its place in the connection table, until it ends.
    let registered = protocols.table.register(requests.clone());
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
        // [LIMIT-20] Asked to close to make room while nothing has been
        // read, it waits `READ_GRACE` for bytes already on their way.
        let mut detect = pin!(preface::detect(io));
        let mut grace = pin!(None::<B::Sleep>);
        let detected = poll_fn(|cx| {
            if Pin::new(&mut shutdown).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(detected) = detect.as_mut().poll(cx) {
                return Poll::Ready(Some(detected));
            }
            // (A partly read preface declines.)
            let asked = grace.is_some() || registered.poll_asked(requests.idle(false), cx);
            if asked
                && waited(grace.as_mut(), &protocols.binding, READ_GRACE, cx)
                && requests.idle(false)
            {
                tracing::debug!(%peer, "closing an idle connection to make room (max_connections)");
                return Poll::Ready(None);
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
            registered.http2();
            let connection = pin!(Capped::new(
                http2.serve_connection(io, service),
                cap.as_deref(),
                |c| c.graceful_shutdown(),
            ));
            let watch = Watch {
                requests: &requests,
                http2: true,
                registered: &registered,
                idle_timeout: protocols.http2_idle_timeout,
                binding: &protocols.binding,
            };
            drive(
                connection,
                |c| c.graceful_shutdown(),
                watch,
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
            let watch = Watch {
                requests: &requests,
                http2: false,
                registered: &registered,
                idle_timeout: None,
                binding: &protocols.binding,
            };
            drive(
                connection,
                |c| c.graceful_shutdown(),
                watch,
                timer,
                shutdown,
                abort,
            )
            .await
        }
    };
    // [LIMIT-13] The lingering close reads at most 64 KiB after an HTTP/2
    // connection ended with an error (h2 sent GOAWAY with an error code:
    // rapid reset, H2-13, and h2's other limits; or a timeout or an I/O
    // error ended it), 4 MiB otherwise.
    let linger_bytes = if http2 && result.is_err() {
        linger::LINGER_BYTES_AFTER_HTTP2_ERROR
    } else {
        linger::LINGER_BYTES
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
    // Out of the table before the lingering close: it is not idle any more.
    drop(registered);
    closer
        .close(&protocols.binding, linger_abort, linger_bytes, |hold| {
            // [SHUT-8, UPG-9, OBS-3] Counted as upgraded and tracked by
            // graceful shutdown while it is held.
            let counters = &described.shared.counters;
            let held = (
                requests.hold_upgrade_count(counters),
                counters.tracker().track(),
            );
            drop(described.context.runtime().spawn(async move {
                hold.await;
                drop(held);
            }));
        })
        .await;
}

/// How long graceful shutdown keeps an HTTP/1.x connection that is between
/// requests open for bytes the client sent before it began (spec SHUT-9;
/// see [`drive`]).
const READ_GRACE: Duration = Duration::from_millis(50);

/// How long an HTTP/2 connection that was sent `GOAWAY` and has no open
/// stream waits for the peer to answer the `GOAWAY`'s `PING` (hyper's
/// graceful shutdown closes after that answer); then it is closed (spec
/// LIMIT-11, LIMIT-20).
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// What [`drive`] watches besides hyper's connection.
struct Watch<'a, B> {
    requests: &'a Requests,
    /// HTTP/2 (otherwise HTTP/1.x): graceful shutdown is `GOAWAY` at once,
    /// idle means no open stream.
    http2: bool,
    /// Its place in the connection table (spec LIMIT-20).
    registered: &'a Registered,
    /// Over HTTP/2, `http2_idle_timeout` (spec LIMIT-11).
    idle_timeout: Option<Duration>,
    binding: &'a B,
}

/// Polls `connection` to its end; closes it when `timer` says the wait for
/// a request head is over, starts its graceful shutdown when `shutdown`
/// resolves, when the connection table asks an idle connection to make
/// room, or when an HTTP/2 connection has had no open stream for the idle
/// timeout, and gives up on it when `abort` resolves after shutdown began.
///
/// [SHUT-9] Over HTTP/1.x, hyper's graceful
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
/// [LIMIT-20] A connection closed to make room is closed the same way.
///
/// [LIMIT-11] Over HTTP/2, `GOAWAY` is sent at once; a connection that
/// then has no open stream for [`GOAWAY_GRACE`] (its peer did not answer
/// the `GOAWAY`'s `PING`) is closed.
async fn drive<C, E, B>(
    mut connection: Pin<&mut C>,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    watch: Watch<'_, B>,
    mut timer: Pin<&mut Option<HeadTimer<B>>>,
    mut shutdown: ShutdownSignal,
    mut abort: ShutdownSignal,
) -> Result<(), String>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
    B: Binding,
{
    let Watch {
        requests,
        http2,
        registered,
        idle_timeout,
        binding,
    } = watch;
    // Shutdown (or a close to make room, or the idle timeout) has begun;
    // hyper's graceful shutdown has been called.
    let (mut draining, mut graceful) = (false, false);
    let mut grace = pin!(None::<B::Sleep>);
    // [LIMIT-11] The HTTP/2 idle timer, and the streams ended when it was
    // set (`None` while a stream is open).
    let mut idle_timer = pin!(None::<B::Sleep>);
    let mut idle_since = None::<u64>;
    // [LIMIT-20] Closing to make room; and whether it turned out busy.
    let (mut for_room, mut busy_after_all) = (false, false);
    poll_fn(|cx| {
        if !draining && Pin::new(&mut shutdown).poll(cx).is_ready() {
            draining = true;
            if http2 {
                // HTTP/2: hyper's graceful shutdown (GOAWAY) at once, as
                // before the first poll.
                graceful = true;
                graceful_shutdown(connection.as_mut());
            } else {
                requests.drain();
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
        if !draining {
            // Over HTTP/2, woken when a stream ends.
            let idle = if http2 {
                !requests.poll_streams_open(cx)
            } else {
                requests.idle(false)
            };
            let close = if registered.poll_asked(idle, cx) {
                tracing::debug!("closing an idle connection to make room (max_connections)");
                for_room = true;
                true
            } else if let (true, Some(timeout)) = (idle, idle_timeout) {
                // [LIMIT-11] From the end of the last stream (or the
                // preface): restarted whenever a stream ended meanwhile.
                let ended = requests.streams_ended();
                if idle_since != Some(ended) {
                    idle_since = Some(ended);
                    let at = deadline_after(Instant::now(), timeout);
                    match idle_timer.as_mut().as_pin_mut() {
                        Some(sleep) => B::reset(sleep, at),
                        None => idle_timer.set(Some(binding.sleep_until(at))),
                    }
                }
                let expired = idle_timer
                    .as_mut()
                    .as_pin_mut()
                    .is_some_and(|sleep| sleep.poll(cx).is_ready());
                if expired {
                    tracing::debug!(
                        "no open stream within the HTTP/2 idle timeout; sending GOAWAY"
                    );
                }
                expired
            } else {
                idle_since = None;
                false
            };
            if close {
                draining = true;
                if http2 {
                    graceful = true;
                    graceful_shutdown(connection.as_mut());
                    if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                        return Poll::Ready(result.map_err(|error| error.to_string()));
                    }
                } else {
                    requests.drain();
                }
            }
        }
        if for_room && !busy_after_all && !requests.idle(http2) {
            // A request arrived as the close began: it is answered first,
            // and another connection makes room meanwhile.
            busy_after_all = true;
            registered.busy_after_all();
        }
        if draining && !graceful && requests.may_close() {
            // Over HTTP/1.x between requests, after the grace.
            let now = requests.upgraded() || waited(grace.as_mut(), binding, READ_GRACE, cx);
            if now {
                graceful = true;
                graceful_shutdown(connection.as_mut());
                // hyper closes an idle connection at once.
                if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                    return Poll::Ready(result.map_err(|error| error.to_string()));
                }
            }
        }
        if graceful && http2 {
            // [LIMIT-11] After GOAWAY, with no open stream: the peer has
            // GOAWAY_GRACE to answer the PING, then the connection closes.
            if requests.poll_streams_open(cx) {
                grace.set(None);
            } else if waited(grace.as_mut(), binding, GOAWAY_GRACE, cx) {
                return Poll::Ready(Err(
                    "no answer to GOAWAY's PING within 1 s; closed".to_owned()
                ));
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

/// Keeps `cx`'s waker in `slot` (no clone when it is already there).
fn keep_waker(slot: &mut Option<std::task::Waker>, cx: &std::task::Context<'_>) {
    if !slot
        .as_ref()
        .is_some_and(|waker| waker.will_wake(cx.waker()))
    {
        *slot = Some(cx.waker().clone());
    }
}

/// Whether `duration` has passed since `sleep` was first found empty here
/// (it is set then, on `binding`); if not, `cx` is woken when it has.
fn waited<B: Binding>(
    mut sleep: Pin<&mut Option<B::Sleep>>,
    binding: &B,
    duration: Duration,
    cx: &mut std::task::Context<'_>,
) -> bool {
    if sleep.is_none() {
        sleep.set(Some(
            binding.sleep_until(deadline_after(Instant::now(), duration)),
        ));
    }
    sleep
        .as_mut()
        .as_pin_mut()
        .is_some_and(|sleep| sleep.poll(cx).is_ready())
}
