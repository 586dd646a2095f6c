//! Making a connection for a request: TCP through the runtime's `Handle`,
//! TLS with rustls, then hyper's HTTP/1.1 or HTTP/2 handshake.

use std::fmt;
use std::sync::Arc;

use albany::net::Connector;
use albany::rt::Handle;
use albany::Body;
use http::uri::{Authority, Scheme};
use http::Uri;
use hyper::client::conn::{http1, http2};
use rustls::pki_types::ServerName;

use crate::io::HyperIo;
use crate::rt::HandleExecutor;
use crate::Error;

/// Where a request goes: its scheme and authority, which are also the pool
/// key (requests with the same target share connections). Cheap to make
/// and clone: the authority shares the URI's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub(crate) tls: bool,
    authority: Authority,
}

impl Target {
    /// The target of an absolute `http` or `https` URI.
    pub(crate) fn of(uri: &Uri) -> Result<Target, Error> {
        let tls = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => false,
            Some(scheme) if *scheme == Scheme::HTTPS => true,
            Some(scheme) => {
                return Err(Error::invalid_uri(format!(
                    "the scheme `{scheme}` is not http or https"
                )))
            }
            None => {
                return Err(Error::invalid_uri(format!(
                    "`{uri}` is not absolute (http://host/...)"
                )))
            }
        };
        match uri.authority() {
            Some(authority) if !authority.host().is_empty() => Ok(Target {
                tls,
                authority: authority.clone(),
            }),
            _ => Err(Error::invalid_uri(format!("`{uri}` has no host"))),
        }
    }

    /// The host to look up and to name in TLS: an IPv6 literal without its
    /// brackets.
    fn host(&self) -> &str {
        let host = self.authority.host();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(if self.tls { 443 } else { 80 })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.authority)
    }
}

/// A connection's request sender.
pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// How connections are made, from the client's settings.
pub(crate) struct Connect {
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) http2_prior_knowledge: bool,
    pub(crate) connector: Connector,
}

impl Connect {
    /// Connects to `target` and performs the HTTP handshake: HTTP/2 when
    /// TLS negotiated `h2` by ALPN (RFC 7301, RFC 9113 §3.2) or, over plain
    /// TCP, with prior knowledge (RFC 9113 §3.3); HTTP/1.1 otherwise. The
    /// connection's task is spawned on `handle`.
    pub(crate) async fn connect(&self, handle: &Handle, target: &Target) -> Result<Sender, Error> {
        let stream = self
            .connector
            .connect(handle, (target.host(), target.port()))
            .await
            .map_err(|error| Error::connect(target, error))?;
        stream
            .set_nodelay(true)
            .map_err(|error| Error::connect(target, error))?;
        if !target.tls {
            let io = HyperIo::new(stream);
            return if self.http2_prior_knowledge {
                http2_handshake(handle, io, target).await
            } else {
                http1_handshake(handle, io, target).await
            };
        }
        let name = ServerName::try_from(target.host().to_owned())
            .map_err(|error| Error::connect(target, error))?;
        let tls = futures_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|error| Error::connect(target, error))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = HyperIo::new(tls);
        if h2 {
            http2_handshake(handle, io, target).await
        } else {
            http1_handshake(handle, io, target).await
        }
    }
}

async fn http1_handshake<T>(handle: &Handle, io: T, target: &Target) -> Result<Sender, Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|error| Error::connect(target, error))?;
    spawn_connection(handle, connection, target, "HTTP/1.1");
    Ok(Sender::Http1(sender))
}

async fn http2_handshake<T>(handle: &Handle, io: T, target: &Target) -> Result<Sender, Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (sender, connection) = http2::Builder::new(HandleExecutor(handle.clone()))
        .handshake(io)
        .await
        .map_err(|error| Error::connect(target, error))?;
    spawn_connection(handle, connection, target, "HTTP/2");
    Ok(Sender::Http2(sender))
}

/// Runs hyper's connection task on the runtime until the connection ends.
fn spawn_connection<C>(handle: &Handle, connection: C, target: &Target, protocol: &'static str)
where
    C: std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    let target = target.clone();
    drop(handle.spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, upstream = %target, protocol, "client connection ended");
        }
    }));
}
