//! What can be wrong with a TLS configuration.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A TLS configuration that cannot be used, from [`Tls`](super::Tls)'s
/// constructors and [`Tls::reload`](super::Tls::reload). Its message names
/// the file (spec TLS-4).
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The PEM text holds no certificate (`BEGIN CERTIFICATE`).
    NoCertificate {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
    },
    /// The PEM text holds no private key (`BEGIN PRIVATE KEY`,
    /// `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`).
    NoPrivateKey {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
    },
    /// The PEM text is malformed.
    Malformed {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// What is wrong, from the PEM parser.
        message: String,
    },
    /// rustls refuses the certificate and key: the key does not match the
    /// certificate, or is of an unsupported kind.
    KeyMismatch {
        /// The key's file, if it came from one.
        path: Option<PathBuf>,
        /// rustls's reason.
        message: String,
    },
    /// The client roots file holds a certificate that is not a usable root.
    Roots {
        /// The file.
        path: PathBuf,
        /// The reason.
        message: String,
    },
    /// [`reload`](super::Tls::reload) or
    /// [`client_auth`](super::Tls::client_auth) on a configuration that
    /// was not read from files.
    NoFiles,
    /// rustls cannot build a configuration with its `ring` provider.
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = |path: &Option<PathBuf>| {
            path.as_deref()
                .map_or_else(|| "the PEM text".to_owned(), display)
        };
        match self {
            TlsError::Read { path, source } => write!(f, "cannot read {}: {source}", display(path)),
            TlsError::NoCertificate { path } => write!(f, "{}: no certificate in it", file(path)),
            TlsError::NoPrivateKey { path } => write!(f, "{}: no private key in it", file(path)),
            TlsError::Malformed { path, message } => {
                write!(f, "{}: malformed PEM: {message}", file(path))
            }
            TlsError::KeyMismatch { path, message } => {
                write!(
                    f,
                    "{}: the private key cannot be used with the certificate: {message}",
                    file(path)
                )
            }
            TlsError::Roots { path, message } => {
                write!(
                    f,
                    "{}: not usable as client roots: {message}",
                    display(path)
                )
            }
            TlsError::NoFiles => f.write_str("the TLS configuration was not read from files"),
            TlsError::Rustls(error) => write!(f, "rustls: {error}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Rustls(error) => Some(error),
            _ => None,
        }
    }
}

impl From<TlsError> for io::Error {
    /// `NotFound` or the read error's kind for an unreadable file,
    /// `InvalidData` otherwise; the message is the [`TlsError`]'s.
    fn from(error: TlsError) -> io::Error {
        let kind = match &error {
            TlsError::Read { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

fn display(path: &Path) -> String {
    format!("TLS file {}", path.display())
}
