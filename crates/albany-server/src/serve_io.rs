//! [`serve_io`]: the engine on one connection that the caller brings, such
//! as one end of an in-memory pipe (the `albany-test` crate's engine mode).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use albany::shutdown::ShutdownTrigger;
use albany::{Application, ConnectionInfo, ShutdownSignal};

use crate::connection::{serve_connection, Protocols};
use crate::counters::Counters;
use crate::forwarded::Trusted;
use crate::rt::{self, deadline_after};
use crate::server::connection_state;
use crate::service::Shared;
use crate::{Binding, Settings};

/// Serves `application` on one connection, `io`, as
/// [`Server::serve`](crate::Server::serve) serves each connection it
/// accepts (spec TEST-8): HTTP/1.1, or HTTP/2 with prior knowledge when
/// [`Settings::http2`] is on (told apart by the connection preface), with
/// the engine's request checks, response rules, limits and header read
/// timeout from `settings`, and panic isolation. Every request gets the
/// [`Handle`](albany::rt::Handle) of `binding`, a clone of `info` and a
/// shutdown signal that resolves with `shutdown`.
///
/// `io` is any byte stream in hyper's I/O traits: an in-memory pipe in a
/// test, a socket accepted by other means. No TLS handshake is made:
/// describe a secured connection in `info` if the stream already is one.
///
/// When `shutdown` resolves, the connection shuts down gracefully (an idle
/// HTTP/1.1 connection closes, the response in flight finishes, HTTP/2
/// sends `GOAWAY`); if it is still open [`Settings::graceful_shutdown_timeout`]
/// later, it is dropped. The future resolves when the connection has
/// ended: the client closed it, the engine closed it (an error response, a
/// timeout), or the shutdown above. An upgraded connection lives on in the
/// application's hands after that.
///
/// Must be awaited (or spawned) on `binding`'s runtime. The settings that
/// concern accepting ([`max_connections`](Settings::max_connections),
/// [`backlog`](Settings::backlog)) and TLS do not apply.
///
/// # Errors
///
/// `InvalidInput`, wrapping an [`InvalidSetting`](crate::InvalidSetting),
/// when a setting is out of range (checked before anything is read); the
/// binding's error when it has no runtime here (tokio: not called inside
/// one). Errors of the connection itself (the client's malformed bytes, a
/// reset) are answered or logged as on a socket, and end it with `Ok(())`.
pub async fn serve_io<A, B, I>(
    binding: B,
    settings: &Settings,
    info: ConnectionInfo,
    shutdown: ShutdownSignal,
    application: A,
    io: I,
) -> io::Result<()>
where
    A: Application,
    B: Binding,
    I: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    settings
        .validate()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let binding = binding.current()?;
    let handle = rt::handle(binding.clone());
    let protocols = Arc::new(Protocols::new(settings, &binding));
    let trusted_proxies = Trusted::new(settings);
    let deadline_passed = ShutdownTrigger::new();
    let shared = Arc::new(Shared {
        application,
        max_request_body_size: settings.max_request_body_size,
        body_timeouts: crate::request_body::BodyTimeouts::new(
            settings.request_body_timeout,
            settings.request_body_min_rate,
        ),
        access_log: settings.access_log,
        access_log_or_proxies: settings.access_log || !trusted_proxies.is_empty(),
        trusted_proxies,
        counters: Counters::default(),
        // An upgraded connection is closed when the deadline passes while
        // this call runs (SHUT-8); after it returns, it is the caller's.
        shutdown_deadline: deadline_passed.signal(),
    });
    // The requests' signal fires with the caller's: one trigger per
    // connection, fired by the loop below.
    let requests_shutdown = ShutdownTrigger::new();
    let state = connection_state(&shared, &handle, info, &requests_shutdown);
    // The deadline is enforced here, by dropping the connection's future:
    // its own abort signal never fires.
    let never = ShutdownTrigger::new();
    let mut connection = pin!(serve_connection(
        protocols,
        io,
        None,
        state,
        requests_shutdown.signal(),
        never.signal(),
    ));
    let mut shutdown = shutdown;
    let mut deadline = pin!(None::<B::Sleep>);
    poll_fn(|cx| {
        if deadline.is_none() && Pin::new(&mut shutdown).poll(cx).is_ready() {
            requests_shutdown.trigger();
            deadline.set(Some(binding.sleep_until(deadline_after(
                Instant::now(),
                settings.graceful_shutdown_timeout,
            ))));
        }
        if connection.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if let Some(sleep) = deadline.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_ready() {
                tracing::debug!("closed by the graceful shutdown deadline");
                deadline_passed.trigger();
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
    drop(never);
    Ok(())
}
