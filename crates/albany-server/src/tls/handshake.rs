//! The TLS handshake of an accepted connection, and what it agreed.

use std::io;
use std::sync::Arc;

use albany::TlsInfo;
use futures_rustls::TlsAcceptor;
use rustls::ServerConfig;

use super::{TlsIo, H2, HTTP1};
use crate::preface::Protocol;
use crate::upgrade_io::FromHyper;

/// A finished handshake.
pub(crate) struct Handshake<C> {
    /// The connection, decrypted.
    pub(crate) io: TlsIo<C>,
    /// What the handshake agreed, for `ConnectionInfo::tls`.
    pub(crate) info: TlsInfo,
    /// The protocol ALPN chose; `None` when the client used no ALPN.
    pub(crate) protocol: Option<Protocol>,
}

/// Runs the server side of the handshake on `io` with `config`. Unbounded:
/// the caller bounds it with the handshake timeout.
pub(crate) async fn accept<C>(config: Arc<ServerConfig>, io: C) -> io::Result<Handshake<C>>
where
    C: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    let stream = TlsAcceptor::from(config).accept(FromHyper::new(io)).await?;
    let (_, connection) = stream.get_ref();
    let protocol = match connection.alpn_protocol() {
        Some(H2) => Some(Protocol::Http2),
        Some(HTTP1) => Some(Protocol::Http1),
        _ => None,
    };
    let mut info = TlsInfo::new();
    info.server_name = connection.server_name().map(str::to_owned);
    info.alpn_protocol = connection.alpn_protocol().map(<[u8]>::to_vec);
    info.protocol_version = connection.protocol_version().map(version_name);
    info.cipher_suite = connection
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .map(str::to_owned);
    info.client_certificates = connection
        .peer_certificates()
        .map(|chain| chain.iter().map(|der| der.to_vec()).collect())
        .unwrap_or_default();
    Ok(Handshake {
        io: TlsIo::new(stream),
        info,
        protocol,
    })
}

/// `TLSv1.3`, `TLSv1.2`, as OpenSSL and nginx's `$ssl_protocol` name them.
fn version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}
