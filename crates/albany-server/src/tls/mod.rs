//! HTTPS: TLS 1.2 and 1.3 with rustls (the `ring` provider), the protocol
//! chosen by ALPN (spec TLS-1 to TLS-8).
//!
//! [`Tls`] is the configuration a server is given with
//! [`Server::tls`](crate::Server::tls): its certificate chain and private
//! key, optionally the roots that client certificates are checked against.
//! It is a handle: keep a clone and call [`Tls::reload`] to read the files
//! again; the connections accepted after a successful reload use the new
//! certificate, and a failed reload changes nothing.

mod error;
mod handshake;
mod io;
mod pem;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::server::{ServerConfig, WebPkiClientVerifier};

pub use error::TlsError;
pub(crate) use handshake::{accept, Handshake};
pub(crate) use io::TlsIo;

/// ALPN protocol ids (RFC 7301 §6).
const H2: &[u8] = b"h2";
const HTTP1: &[u8] = b"http/1.1";

/// A server's TLS configuration: certificates, private key, and client
/// authentication. Cloning gives another handle to the same configuration.
///
/// ```no_run
/// # fn example() -> Result<(), albany_server::TlsError> {
/// use albany_server::Tls;
///
/// let tls = Tls::from_pem_files("cert.pem", "key.pem")?;
/// // Later, when the files have been renewed:
/// tls.reload()?;
/// # Ok(())
/// # }
/// ```
///
/// ALPN offers `h2` and `http/1.1` (only `http/1.1` when the server's
/// `http2` setting is off); a client that offers neither is refused by the
/// handshake, and one that uses no ALPN is served HTTP/1.1 or, if it opens
/// with the HTTP/2 preface, HTTP/2 (spec TLS-2).
#[derive(Clone)]
pub struct Tls {
    inner: Arc<Inner>,
}

struct Inner {
    /// The files the configuration was read from, for [`Tls::reload`].
    files: Option<Files>,
    /// How client certificates are checked, kept across reloads.
    client_auth: RwLock<Option<ClientAuth>>,
    /// The configurations in use, replaced whole by a reload.
    current: RwLock<Arc<Configs>>,
}

#[derive(Clone)]
struct Files {
    certificates: PathBuf,
    private_key: PathBuf,
}

/// The same configuration with two ALPN lists.
pub(crate) struct Configs {
    /// Offers `h2` and `http/1.1`.
    with_http2: Arc<ServerConfig>,
    /// Offers `http/1.1` only.
    http1_only: Arc<ServerConfig>,
}

impl Configs {
    /// The configuration for a server that serves HTTP/2 or not.
    pub(crate) fn get(&self, http2: bool) -> Arc<ServerConfig> {
        if http2 {
            self.with_http2.clone()
        } else {
            self.http1_only.clone()
        }
    }
}

/// Whether clients must present a certificate (mutual TLS), and the roots
/// it is checked against.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A client may present a certificate; if it does, it must chain to one
    /// of the roots in this PEM file. A client without one is served too.
    Optional(PathBuf),
    /// A client must present a certificate that chains to one of the roots
    /// in this PEM file; the handshake fails otherwise.
    Required(PathBuf),
}

impl Tls {
    /// Reads a certificate chain (PEM, the server's certificate first) and
    /// its private key (PEM: PKCS #8, PKCS #1 or SEC1) from files.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file: it cannot be read, holds no
    /// certificate or no private key, is malformed, or the key does not
    /// match the certificate.
    pub fn from_pem_files(
        certificates: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Tls, TlsError> {
        let files = Files {
            certificates: certificates.as_ref().to_path_buf(),
            private_key: private_key.as_ref().to_path_buf(),
        };
        let configs = build(&files.read()?, None)?;
        Ok(Tls::new(Some(files), configs))
    }

    /// As [`from_pem_files`](Tls::from_pem_files), from PEM text in memory
    /// ([`reload`](Tls::reload) then has no files to read).
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Tls::from_pem_files), without a file name.
    pub fn from_pem(certificates: &[u8], private_key: &[u8]) -> Result<Tls, TlsError> {
        let pem = pem::Pem::parse(certificates, None, private_key, None)?;
        Ok(Tls::new(None, build(&pem, None)?))
    }

    /// Uses a rustls configuration built elsewhere. Its ALPN list is used
    /// as it is if it has one; otherwise the server's (`h2`, `http/1.1`).
    pub fn from_rustls(config: ServerConfig) -> Tls {
        Tls::new(None, with_alpn(config))
    }

    fn new(files: Option<Files>, configs: Configs) -> Tls {
        Tls {
            inner: Arc::new(Inner {
                files,
                client_auth: RwLock::new(None),
                current: RwLock::new(Arc::new(configs)),
            }),
        }
    }

    /// Asks clients for a certificate (mutual TLS, RFC 8446 §4.3.2),
    /// checked against the roots in `client_auth`'s PEM file; the client's
    /// chain is in each request's `ConnectionInfo::tls` (spec TLS-6).
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the roots file if it cannot be read or holds
    /// no usable certificate; [`TlsError::NoFiles`] for a configuration
    /// from [`from_pem`](Tls::from_pem) or [`from_rustls`](Tls::from_rustls)
    /// (give those their verifier in the rustls configuration).
    pub fn client_auth(self, client_auth: ClientAuth) -> Result<Tls, TlsError> {
        let files = self.inner.files.as_ref().ok_or(TlsError::NoFiles)?;
        let configs = build(&files.read()?, Some(&client_auth))?;
        *write(&self.inner.client_auth) = Some(client_auth);
        *write(&self.inner.current) = Arc::new(configs);
        Ok(self)
    }

    /// Reads the certificate, the key and the client roots again from the
    /// files this configuration was made from. Connections accepted after
    /// it returns `Ok` use them; connections already open keep theirs. On
    /// an error nothing changes: the last good configuration stays in use
    /// (spec TLS-5).
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Tls::from_pem_files); [`TlsError::NoFiles`]
    /// when the configuration was not read from files.
    pub fn reload(&self) -> Result<(), TlsError> {
        let files = self.inner.files.as_ref().ok_or(TlsError::NoFiles)?;
        let client_auth = read(&self.inner.client_auth).clone();
        let configs = build(&files.read()?, client_auth.as_ref())?;
        *write(&self.inner.current) = Arc::new(configs);
        tracing::info!(
            certificates = %files.certificates.display(),
            "TLS configuration reloaded"
        );
        Ok(())
    }

    /// The configurations in use now.
    pub(crate) fn current(&self) -> Arc<Configs> {
        read(&self.inner.current).clone()
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Tls");
        if let Some(files) = &self.inner.files {
            debug
                .field("certificates", &files.certificates)
                .field("private_key", &files.private_key);
        }
        debug
            .field("client_auth", &*read(&self.inner.client_auth))
            .finish_non_exhaustive()
    }
}

impl Files {
    fn read(&self) -> Result<pem::Pem, TlsError> {
        let certificates = pem::read(&self.certificates)?;
        let private_key = pem::read(&self.private_key)?;
        pem::Pem::parse(
            &certificates,
            Some(&self.certificates),
            &private_key,
            Some(&self.private_key),
        )
    }
}

/// Builds the rustls configurations from `pem`, with `client_auth`.
fn build(pem: &pem::Pem, client_auth: Option<&ClientAuth>) -> Result<Configs, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(ClientAuth::Optional(path) | ClientAuth::Required(path)) => {
            let roots = pem::roots(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match client_auth {
                Some(ClientAuth::Optional(_)) => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier.build().map_err(|error| TlsError::Roots {
                path: path.clone(),
                message: error.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(pem.certificates.clone(), pem.private_key.clone_key())
        .map_err(|error| TlsError::KeyMismatch {
            path: pem.private_key_path.clone(),
            message: error.to_string(),
        })?;
    Ok(with_alpn(config))
}

/// The two ALPN variants of `config`; an ALPN list already set is kept.
fn with_alpn(mut config: ServerConfig) -> Configs {
    if config.alpn_protocols.is_empty() {
        config.alpn_protocols = vec![H2.to_vec(), HTTP1.to_vec()];
    }
    let mut http1_only = config.clone();
    http1_only.alpn_protocols.retain(|protocol| protocol != H2);
    Configs {
        with_http2: Arc::new(config),
        http1_only: Arc::new(http1_only),
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
