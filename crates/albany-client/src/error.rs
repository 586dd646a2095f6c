//! [`Error`]: why a request got no response.

use std::fmt;
use std::time::Duration;

use albany::BoxError;

/// Why [`Client::request`](crate::Client::request) gave no response.
///
/// Ask what kind of failure it was with [`is_connect`](Error::is_connect)
/// (no connection: the address does not resolve or refuses, the TLS
/// handshake failed, or connecting took too long) and
/// [`is_timeout`](Error::is_timeout) (a bound of the client's passed): a
/// reverse proxy answers the first with `502 Bad Gateway` and a timeout
/// with `504 Gateway Timeout` (RFC 9110 §15.6.3, §15.6.5). The error's
/// [`source`](std::error::Error::source) is the `io::Error`, TLS or hyper
/// error underneath; its `Display` is the client's own message only, as the
/// Rust API guidelines ask (print the chain to see both).
pub struct Error {
    kind: Kind,
    source: Option<BoxError>,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The URI is not `http://` or `https://` with a host.
    InvalidUri(String),
    /// No connection could be made to the authority.
    Connect(String),
    /// Connecting took longer than the connect timeout.
    ConnectTimeout(String, Duration),
    /// No response head within the request timeout.
    RequestTimeout(Duration),
    /// The exchange failed (hyper's error: the connection closed, the
    /// response was malformed, ...).
    Http,
}

impl Error {
    pub(crate) fn invalid_uri(reason: impl Into<String>) -> Self {
        Error {
            kind: Kind::InvalidUri(reason.into()),
            source: None,
        }
    }

    pub(crate) fn connect(target: &impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error {
            kind: Kind::Connect(target.to_string()),
            source: Some(source.into()),
        }
    }

    pub(crate) fn connect_timeout(target: &impl fmt::Display, bound: Duration) -> Self {
        Error {
            kind: Kind::ConnectTimeout(target.to_string(), bound),
            source: None,
        }
    }

    pub(crate) fn request_timeout(bound: Duration) -> Self {
        Error {
            kind: Kind::RequestTimeout(bound),
            source: None,
        }
    }

    pub(crate) fn http(source: hyper::Error) -> Self {
        Error {
            kind: Kind::Http,
            source: Some(Box::new(source)),
        }
    }

    /// No connection could be made: the name did not resolve, the
    /// connection was refused, the TLS handshake failed, or connecting took
    /// longer than the connect timeout (then [`is_timeout`](Error::is_timeout)
    /// too).
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect(_) | Kind::ConnectTimeout(..))
    }

    /// A bound of the client passed: the connect timeout or the request
    /// timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            Kind::ConnectTimeout(..) | Kind::RequestTimeout(_)
        )
    }

    /// The request's URI cannot be sent: not `http` or `https`, or no host.
    pub fn is_invalid_uri(&self) -> bool {
        matches!(self.kind, Kind::InvalidUri(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InvalidUri(reason) => write!(f, "invalid request URI: {reason}"),
            Kind::Connect(authority) => write!(f, "cannot connect to {authority}"),
            Kind::ConnectTimeout(authority, bound) => {
                write!(f, "no connection to {authority} within {bound:?}")
            }
            Kind::RequestTimeout(bound) => write!(f, "no response within {bound:?}"),
            Kind::Http => f.write_str("the HTTP exchange failed"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
