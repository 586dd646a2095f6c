//! One connection: hyper's HTTP/1.1 or HTTP/2 connection, under the
//! server's graceful shutdown and its deadline.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use albany::rt::Handle;
use albany::{Application, ShutdownSignal};
use hyper::server::conn::{http1, http2};

use crate::head_timeout::HeadTimeout;
use crate::preface::{self, Protocol, Rewind};
use crate::rt::{HyperExecutor, HyperTimer};
use crate::service::{serve_request, ConnectionState};
use crate::{Settings, Spawn};

/// The protocols a server speaks, configured from its [`Settings`]: hyper's
/// HTTP/1 builder, and its HTTP/2 builder unless `http2` is off (spec H2-1,
/// H2-2).
pub(crate) struct Protocols<S> {
    http1: http1::Builder,
    http2: Option<http2::Builder<HyperExecutor<S>>>,
    header_read_timeout: Option<Duration>,
}

/// hyper's default `max_buf_size` (8 KiB plus 100 × 4 KiB): the largest
/// read buffer, and how much hyper's write buffer queues before it flushes.
const MAX_BUF_SIZE: usize = 8192 + 4096 * 100;

impl<S: Spawn> Protocols<S> {
    /// The protocols and their limits from `settings`; hyper's timers run
    /// on `handle`, and HTTP/2 stream tasks are spawned with `spawn`.
    pub(crate) fn new(settings: &Settings, handle: &Handle, spawn: &S) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(HyperTimer::new(handle.clone()))
            .keep_alive(settings.keep_alive)
            // [LIMIT-1] The head limit is hyper's `max_header_size`; the
            // buffer only has to hold it. The header read timeout is the
            // engine's own (`head_timeout`), not hyper's per-request one.
            .max_header_size(settings.max_header_size)
            .max_buf_size(MAX_BUF_SIZE.max(settings.max_header_size + 8192))
            .header_read_timeout(None);
        let http2 = settings.http2.then(|| {
            let mut http2 = http2::Builder::new(HyperExecutor::new(spawn.clone()));
            http2
                .timer(HyperTimer::new(handle.clone()))
                .max_concurrent_streams(settings.http2_max_concurrent_streams)
                .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX));
            http2
        });
        Protocols {
            http1,
            http2,
            header_read_timeout: settings.header_read_timeout,
        }
    }
}

/// Serves `io` until the client closes it, graceful shutdown closes it
/// (`shutdown` resolves: the current requests finish, no new ones start), or
/// the shutdown deadline passes (`abort` resolves: it is dropped at once).
pub(crate) async fn serve_connection<A, I, S>(
    protocols: Arc<Protocols<S>>,
    io: I,
    context: Arc<ConnectionState<A>>,
    mut shutdown: ShutdownSignal,
    abort: ShutdownSignal,
) where
    A: Application,
    I: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
    S: Spawn,
{
    let peer = context.server_context.connection_info().peer_addr;
    let activity = context.activity.clone();
    let io = HeadTimeout::new(
        io,
        protocols.header_read_timeout,
        activity.clone(),
        context.server_context.runtime().clone(),
    );
    let (protocol, io) = if protocols.http2.is_some() {
        // The wait for the preface ends with graceful shutdown: the
        // connection has no request yet.
        let mut detect = pin!(preface::detect(io));
        let detected = poll_fn(|cx| {
            if Pin::new(&mut shutdown).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            detect.as_mut().poll(cx).map(Some)
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
    let service =
        hyper::service::service_fn(move |request| serve_request(context.clone(), request));
    let result = match (protocol, &protocols.http2) {
        (Protocol::Http2, Some(http2)) => {
            // [LIMIT-3] Over HTTP/2 the timeout covered the preface only.
            activity.stop();
            let connection = pin!(http2.serve_connection(io, service));
            drive(connection, |c| c.graceful_shutdown(), shutdown, abort).await
        }
        _ => {
            let connection = pin!(protocols
                .http1
                .serve_connection(io, service)
                .with_upgrades());
            drive(connection, |c| c.graceful_shutdown(), shutdown, abort).await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Polls `connection` to its end; starts its graceful shutdown when
/// `shutdown` resolves, and gives up on it when `abort` resolves after that.
async fn drive<C, E>(
    mut connection: Pin<&mut C>,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    mut shutdown: ShutdownSignal,
    mut abort: ShutdownSignal,
) -> Result<(), String>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut graceful = false;
    poll_fn(|cx| {
        if !graceful && Pin::new(&mut shutdown).poll(cx).is_ready() {
            graceful = true;
            graceful_shutdown(connection.as_mut());
        }
        // The deadline fires only after shutdown has started: until then
        // there is nothing to watch.
        if graceful && Pin::new(&mut abort).poll(cx).is_ready() {
            return Poll::Ready(Err("closed by the graceful shutdown deadline".to_owned()));
        }
        connection
            .as_mut()
            .poll(cx)
            .map(|result| result.map_err(|error| error.to_string()))
    })
    .await
}
