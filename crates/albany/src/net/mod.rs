//! Network I/O through the runtime: outbound TCP and Unix connections, and
//! TCP listeners (spec chapter "I/O", clauses IO-1 to IO-9).
//!
//! Every type here is backed by the reactor of the runtime that serves the
//! request (tokio's, or async-io's for smol and async-std) and reached
//! through the request's [`Handle`]; none names a runtime, so an application
//! that calls other servers stays portable. Streams are
//! [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`], the traits that
//! runtime-neutral libraries (async-tungstenite, futures-rustls, the
//! `albany-client` HTTP client) read and write.
//!
//! ```
//! use albany::{Body, Request, RequestExt, Response};
//!
//! async fn whois(request: Request) -> Response {
//!     let Some(handle) = request.runtime() else {
//!         return Response::new(Body::from("no runtime"));
//!     };
//!     // By name: resolved on the blocking pool, each address tried in turn.
//!     match handle.connect("localhost:4343").await {
//!         Ok(stream) => Response::new(Body::from(format!("connected to {:?}", stream.peer_addr()))),
//!         Err(error) => Response::new(Body::from(format!("{:?}: {error}", error.kind()))),
//!     }
//! }
//! ```
//!
//! Dropping a stream closes its connection, and dropping a pending connect
//! abandons it (the socket is closed): when a client goes away and the
//! server drops the application's future, its outbound connections close
//! with it (IO-7).

mod connect;
mod listener;
mod stream;

pub(crate) use connect::lookup_blocking;
pub use connect::{Connector, Destination, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_RESOLVE_TIMEOUT};
pub use listener::{Accept, TcpListener};
#[cfg(unix)]
pub use stream::UnixStream;
pub use stream::{Socket, TcpStream};

#[allow(unused_imports)] // for the docs
use crate::rt::Handle;
