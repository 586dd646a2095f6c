#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod application;
mod blocking;
pub mod body;
mod connection;
mod error;
mod ext;
mod io_forward;
pub mod net;
pub mod process;
pub mod rt;
pub mod shutdown;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
pub mod upgrade;

pub use application::{from_fn, Application, BoxApplication, FromFn};
pub use blocking::{blocking, Blocking, DEFAULT_BLOCKING_BODY_LIMIT};
pub use body::Body;
pub use connection::{ConnectionInfo, Forwarded, TlsInfo, Transport};
pub use error::{BoxError, Error};
pub use ext::{ConnectionContext, RequestExt};
pub use shutdown::ShutdownSignal;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tower::{from_tower, FromTower};

pub use bytes;
pub use http;
pub use http_body;

/// An HTTP request as an [`Application`] receives it.
///
/// The adapter fills in the method, target, version, headers (order and
/// duplicates preserved) and the extensions listed in [`RequestExt`].
pub type Request<B = Body> = http::Request<B>;

/// An HTTP response as an [`Application`] produces it.
///
/// Framing (`Content-Length` or chunked transfer coding) is decided by the
/// server from the body's [`size_hint`](http_body::Body::size_hint).
pub type Response<B = Body> = http::Response<B>;
