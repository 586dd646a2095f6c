//! The TLS row's baseline: hyper on tokio over HTTPS with tokio-rustls,
//! the canonical way: `hyper-tokio`'s accept loop (`TokioIo`, hyper-util's
//! `auto` builder, `loop { accept; spawn(..) }`), each spawned task running
//! the TLS handshake (`TlsAcceptor::accept`) and then the connection, as
//! HTTP/2 or HTTP/1.1 as ALPN agreed.
//!
//! The rustls configuration is the engine's (`albany_server::Tls`): the
//! `ring` provider, rustls's safe default protocol versions (TLS 1.2 and
//! 1.3), no client authentication, one certificate chain, rustls's default
//! session cache and tickets, ALPN `h2` then `http/1.1`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::hyper_app::handle;
use crate::TlsFiles;

/// ALPN protocol ids (RFC 7301 §6).
const H2: &[u8] = b"h2";
const HTTP1: &[u8] = b"http/1.1";

/// Serves HTTPS on `addr` on a multi-threaded tokio runtime with `threads`
/// workers until the process is killed.
///
/// # Errors
///
/// When the certificate or key cannot be read or used, or `addr` cannot be
/// bound.
pub(crate) fn serve(threads: usize, addr: SocketAddr, tls: &TlsFiles) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(tls)?));
    crate::hyper_tokio::accept_loop(threads, addr, move |stream, builder| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            // ALPN decides, as in the engine; without ALPN the `auto`
            // builder reads the preface.
            let builder = match stream.get_ref().1.alpn_protocol() {
                Some(H2) => builder.http2_only(),
                Some(HTTP1) => builder.http1_only(),
                _ => builder,
            };
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        }
    })
}

/// The rustls configuration: the certificate chain and key of `tls`, with
/// the `ring` provider and ALPN `h2`, `http/1.1`.
fn server_config(tls: &TlsFiles) -> io::Result<ServerConfig> {
    let invalid = |what: &std::path::Path, error: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {error}", what.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| invalid(&tls.cert, &error))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|error| invalid(&tls.key, &error))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(&tls.cert, &error))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| invalid(&tls.key, &error))?;
    config.alpn_protocols = vec![H2.to_vec(), HTTP1.to_vec()];
    Ok(config)
}
