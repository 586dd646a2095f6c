//! Making a connection for a request: TCP through the runtime's `Handle`,
//! TLS with rustls, then hyper's HTTP/1.1 or HTTP/2 handshake.

use std::sync::Arc;

use albany::net::Connector;
use albany::rt::Handle;
use albany::Body;
use http::uri::Scheme;
use http::Uri;
use hyper::client::conn::{http1, http2};
use rustls::pki_types::ServerName;

use crate::io::HyperIo;
use crate::rt::HandleExecutor;
use crate::Error;

/// Where a request goes: its scheme, host and port, and the pool key they
/// make.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `scheme://host:port`: connections are shared by requests with the
    /// same key.
    pub(crate) key: String,
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
        let host = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| Error::invalid_uri(format!("`{uri}` has no host")))?;
        // An IPv6 literal comes in brackets, which name lookup and TLS do
        // not take.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let key = format!(
            "{}://{}:{port}",
            if tls { "https" } else { "http" },
            uri.host().unwrap_or_default()
        );
        Ok(Target {
            tls,
            host,
            port,
            key,
        })
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
            .connect(handle, (target.host.as_str(), target.port))
            .await
            .map_err(|error| Error::connect(&target.key, error))?;
        stream
            .set_nodelay(true)
            .map_err(|error| Error::connect(&target.key, error))?;
        if !target.tls {
            let io = HyperIo::new(stream);
            return if self.http2_prior_knowledge {
                http2_handshake(handle, io, target).await
            } else {
                http1_handshake(handle, io, target).await
            };
        }
        let name = ServerName::try_from(target.host.clone())
            .map_err(|error| Error::connect(&target.key, error))?;
        let tls = futures_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|error| Error::connect(&target.key, error))?;
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
        .map_err(|error| Error::connect(&target.key, error))?;
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
        .map_err(|error| Error::connect(&target.key, error))?;
    spawn_connection(handle, connection, target, "HTTP/2");
    Ok(Sender::Http2(sender))
}

/// Runs hyper's connection task on the runtime until the connection ends.
fn spawn_connection<C>(handle: &Handle, connection: C, target: &Target, protocol: &'static str)
where
    C: std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    let key = target.key.clone();
    drop(handle.spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, upstream = %key, protocol, "client connection ended");
        }
    }));
}
