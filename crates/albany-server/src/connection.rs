//! One connection: hyper's HTTP/1.1 or HTTP/2 connection, under the
//! server's graceful shutdown and its deadline.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use albany::rt::Sleep;
use albany::{Application, ShutdownSignal};
use hyper_util::server::conn::auto;

use crate::rt::HyperExecutor;
use crate::service::{serve_request, ConnectionContext};

/// Serves `io` until the client closes it, graceful shutdown closes it
/// (`shutdown` resolves: the current requests finish, no new ones start), or
/// the shutdown deadline passes (`abort` resolves: it is dropped at once).
pub(crate) async fn serve_connection<A, I>(
    builder: Arc<auto::Builder<HyperExecutor>>,
    io: I,
    context: Arc<ConnectionContext<A>>,
    first_byte_deadline: Option<Sleep>,
    mut shutdown: ShutdownSignal,
    mut abort: ShutdownSignal,
) where
    A: Application,
    I: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let peer = context.info.peer_addr;
    let io = FirstByteDeadline {
        inner: io,
        deadline: first_byte_deadline,
    };
    let service =
        hyper::service::service_fn(move |request| serve_request(context.clone(), request));
    let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut graceful = false;
    let result = poll_fn(|cx| {
        if !graceful && Pin::new(&mut shutdown).poll(cx).is_ready() {
            graceful = true;
            connection.as_mut().graceful_shutdown();
        }
        // The deadline fires only after shutdown has started: until then
        // there is nothing to watch.
        if graceful && Pin::new(&mut abort).poll(cx).is_ready() {
            return Poll::Ready(Err("closed by the graceful shutdown deadline".into()));
        }
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
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
