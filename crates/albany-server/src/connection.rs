//! One connection: hyper's HTTP/1.1 or HTTP/2 connection, under the
//! server's graceful shutdown and its deadline.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use albany::rt::{Handle, Sleep};
use albany::{Application, ShutdownSignal};
use hyper::server::conn::http1;
use hyper_util::server::conn::auto;

use crate::rt::{HyperExecutor, HyperTimer};
use crate::service::{serve_request, ConnectionContext};
use crate::Settings;

/// The protocols a server speaks, configured from its [`Settings`].
pub(crate) enum Protocols {
    /// HTTP/1.x and HTTP/2 with prior knowledge, told apart by the preface
    /// (spec H2-1).
    Both(auto::Builder<HyperExecutor>),
    /// HTTP/1.x only (`http2 = false`, spec H2-2). hyper-util 0.1.21's
    /// `serve_connection_with_upgrades` ignores `http1_only()` and serves
    /// HTTP/2 anyway, so this uses hyper's HTTP/1 builder directly.
    Http1(http1::Builder),
}

impl Protocols {
    /// The protocols and their limits from `settings`; hyper's timers run
    /// on `handle`.
    pub(crate) fn new(settings: &Settings, handle: &Handle) -> Self {
        let max_buf_size = settings.max_header_size.max(8192);
        if !settings.http2 {
            let mut builder = http1::Builder::new();
            builder
                .timer(HyperTimer::new(handle.clone()))
                .keep_alive(settings.keep_alive)
                .max_buf_size(max_buf_size)
                .header_read_timeout(settings.header_read_timeout);
            return Protocols::Http1(builder);
        }
        let mut builder = auto::Builder::new(HyperExecutor::new(handle.clone()));
        builder
            .http1()
            .timer(HyperTimer::new(handle.clone()))
            .keep_alive(settings.keep_alive)
            .max_buf_size(max_buf_size)
            .header_read_timeout(settings.header_read_timeout);
        builder
            .http2()
            .timer(HyperTimer::new(handle.clone()))
            .max_concurrent_streams(settings.http2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX));
        Protocols::Both(builder)
    }
}

/// Serves `io` until the client closes it, graceful shutdown closes it
/// (`shutdown` resolves: the current requests finish, no new ones start), or
/// the shutdown deadline passes (`abort` resolves: it is dropped at once).
pub(crate) async fn serve_connection<A, I>(
    protocols: Arc<Protocols>,
    io: I,
    context: Arc<ConnectionContext<A>>,
    first_byte_deadline: Option<Sleep>,
    shutdown: ShutdownSignal,
    abort: ShutdownSignal,
) where
    A: Application,
    I: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let peer = context.server_context.connection_info().peer_addr;
    let io = FirstByteDeadline {
        inner: io,
        deadline: first_byte_deadline,
    };
    let service =
        hyper::service::service_fn(move |request| serve_request(context.clone(), request));
    let result = match &*protocols {
        Protocols::Both(builder) => {
            let connection = pin!(builder.serve_connection_with_upgrades(io, service));
            drive(connection, |c| c.graceful_shutdown(), shutdown, abort).await
        }
        Protocols::Http1(builder) => {
            let connection = pin!(builder.serve_connection(io, service).with_upgrades());
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

/// Closes a connection whose client sends nothing in time.
///
/// hyper's header read timeout starts once the HTTP version is known; this
/// covers the wait for the first bytes, which decide the version.
struct FirstByteDeadline<I> {
    inner: I,
    deadline: Option<Sleep>,
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for FirstByteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = match this.deadline.as_mut() {
                    Some(deadline) => Pin::new(deadline).poll(cx).is_ready(),
                    None => false,
                };
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request bytes before the header read timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for FirstByteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
