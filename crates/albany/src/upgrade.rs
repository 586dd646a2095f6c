//! Protocol upgrades: the raw connection after a `101 Switching Protocols`.
//!
//! A request that asks for an upgrade (HTTP/1.1 `Connection: upgrade` with an
//! `Upgrade` header, RFC 9110 §7.8) carries an [`OnUpgrade`] in its
//! extensions. The application takes it, answers `101`, and awaits it in a
//! spawned task: it resolves, once the server has written the `101`, to the
//! connection as an [`Upgraded`] value, a `futures_io::AsyncRead +
//! AsyncWrite`. Runtime-neutral protocol libraries (async-tungstenite, for
//! WebSockets) work on it on every adapter.
//!
//! Over HTTP/2 the same handle comes with a `CONNECT` request (spec UPG-7)
//! and with an extended `CONNECT` (RFC 8441, spec UPG-8), whose
//! `:protocol` pseudo-header the server gives as a [`Protocol`] extension
//! (`websocket` for a WebSocket). A `2xx` answer to either hands over the
//! stream. Servers offer extended `CONNECT` only when configured to
//! (`albany_server::Settings::http2_extended_connect`).
//!
//! ```
//! use albany::{Body, Request, RequestExt, Response};
//! use albany::http::{header, StatusCode};
//!
//! async fn upgrade(mut request: Request) -> Response {
//!     let (Some(on_upgrade), Some(handle)) = (request.take_upgrade(), request.runtime().cloned())
//!     else {
//!         let mut response = Response::new(Body::from("upgrade required"));
//!         *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
//!         return response;
//!     };
//!     handle.spawn(async move {
//!         if let Ok(connection) = on_upgrade.await {
//!             // Speak the new protocol: read from and write to `connection`.
//!             let (mut reader, mut writer) = futures_lite::io::split(connection);
//!             let _ = futures_lite::io::copy(&mut reader, &mut writer).await;
//!         }
//!     });
//!     let mut response = Response::new(Body::empty());
//!     *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
//!     response.headers_mut().insert(header::CONNECTION, "upgrade".parse().unwrap());
//!     response.headers_mut().insert(header::UPGRADE, "echo".parse().unwrap());
//!     response
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use sync_wrapper::SyncWrapper;

use crate::error::BoxError;
use crate::io_forward::{forward_read, forward_write};

type UpgradeFuture = Pin<Box<dyn Future<Output = Result<Upgraded, UpgradeError>> + Send>>;

/// A future that resolves to the upgraded connection after a `101` response.
///
/// Clones share one connection: the first clone to be polled claims it and
/// resolves to it; every other clone, polled before or after that, resolves
/// at once to an [`UpgradeError`] (spec UPG-6). A claiming clone dropped
/// before the connection is ready gives its claim back, so that a clone
/// polled later can claim it.
pub struct OnUpgrade {
    /// The adapter's future until a clone claims it.
    shared: Arc<Mutex<Option<UpgradeFuture>>>,
    /// The future, once this clone has claimed it; `None` again after it
    /// resolved. (`SyncWrapper`: extensions are `Sync`, and only `&mut`
    /// reaches it.)
    claimed: Option<SyncWrapper<UpgradeFuture>>,
}

impl OnUpgrade {
    /// Wraps the adapter's future for the upgraded connection.
    pub fn new(
        future: impl Future<Output = Result<Upgraded, UpgradeError>> + Send + 'static,
    ) -> Self {
        OnUpgrade {
            shared: Arc::new(Mutex::new(Some(Box::pin(future)))),
            claimed: None,
        }
    }
}

/// A clone shares the connection, not a claim on it: it starts unclaimed.
impl Clone for OnUpgrade {
    fn clone(&self) -> Self {
        OnUpgrade {
            shared: self.shared.clone(),
            claimed: None,
        }
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let future = match &mut this.claimed {
            Some(future) => future.get_mut(),
            None => {
                let unclaimed = this
                    .shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                let Some(future) = unclaimed else {
                    return Poll::Ready(Err(UpgradeError::new(
                        "the upgraded connection was already taken by another clone",
                    )));
                };
                this.claimed.insert(SyncWrapper::new(future)).get_mut()
            }
        };
        let output = future.as_mut().poll(cx);
        if output.is_ready() {
            this.claimed = None;
        }
        output
    }
}

/// An unresolved claim goes back to the clones.
impl Drop for OnUpgrade {
    fn drop(&mut self) {
        if let Some(future) = self.claimed.take() {
            *self.shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(future.into_inner());
        }
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

/// The `:protocol` pseudo-header of an HTTP/2 extended `CONNECT` request
/// (RFC 8441 §4): the protocol the client wants the stream to carry, such
/// as `websocket` (RFC 8441 §5).
///
/// The server inserts it in the request's extensions (spec UPG-8); it is
/// absent from every other request. Read it with
/// `request.extensions().get::<Protocol>()`.
///
/// ```
/// use albany::upgrade::Protocol;
///
/// let protocol = Protocol::new("websocket");
/// assert_eq!(protocol.as_str(), "websocket");
/// assert_eq!(protocol, "websocket");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Protocol {
    name: Box<str>,
}

impl Protocol {
    /// A protocol named `name`, as the client sent it (compare it
    /// case-sensitively: RFC 8441 takes the values of the HTTP Upgrade
    /// Token registry, which are).
    pub fn new(name: impl Into<Box<str>>) -> Self {
        Protocol { name: name.into() }
    }

    /// The protocol's name.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl PartialEq<str> for Protocol {
    fn eq(&self, other: &str) -> bool {
        &*self.name == other
    }
}

impl PartialEq<&str> for Protocol {
    fn eq(&self, other: &&str) -> bool {
        &*self.name == *other
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The I/O an [`Upgraded`] connection wraps.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// An upgraded connection: the bytes after the `101` response, both ways.
///
/// Implements [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]; bytes
/// the client sent right after its request are read first.
pub struct Upgraded {
    io: Box<dyn Io>,
}

impl Upgraded {
    /// Wraps the adapter's connection.
    pub fn new(io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static) -> Self {
        Upgraded { io: Box::new(io) }
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}

forward_read!(Upgraded);
forward_write!(Upgraded);

/// Why an upgrade did not happen: the response was not `101`, the
/// connection closed first, or the connection was already taken.
pub struct UpgradeError {
    inner: BoxError,
}

impl UpgradeError {
    /// Wraps the reason.
    pub fn new(reason: impl Into<BoxError>) -> Self {
        UpgradeError {
            inner: reason.into(),
        }
    }
}

impl fmt::Debug for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UpgradeError").field(&self.inner).finish()
    }
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upgrade failed: {}", self.inner)
    }
}

impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.inner)
    }
}
