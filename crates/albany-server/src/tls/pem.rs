//! Reading certificates and keys from PEM (RFC 7468) with rustls-pki-types.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::TlsError;

/// A certificate chain and its private key, and where they came from.
pub(super) struct Pem {
    pub(super) certificates: Vec<CertificateDer<'static>>,
    pub(super) private_key: PrivateKeyDer<'static>,
    pub(super) private_key_path: Option<PathBuf>,
}

impl Pem {
    /// Parses a chain and a key; the paths name them in errors.
    pub(super) fn parse(
        certificates: &[u8],
        certificates_path: Option<&Path>,
        private_key: &[u8],
        private_key_path: Option<&Path>,
    ) -> Result<Pem, TlsError> {
        let path = |path: Option<&Path>| path.map(Path::to_path_buf);
        let chain = CertificateDer::pem_slice_iter(certificates)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsError::Malformed {
                path: path(certificates_path),
                message: error.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: path(certificates_path),
            });
        }
        let private_key =
            PrivateKeyDer::from_pem_slice(private_key).map_err(|error| match error {
                rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
                    path: path(private_key_path),
                },
                error => TlsError::Malformed {
                    path: path(private_key_path),
                    message: error.to_string(),
                },
            })?;
        Ok(Pem {
            certificates: chain,
            private_key,
            private_key_path: path(private_key_path),
        })
    }
}

/// Reads the file at `path`.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the root certificates that client certificates chain to.
pub(super) fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = read(path)?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|error| TlsError::Malformed {
            path: Some(path.to_path_buf()),
            message: error.to_string(),
        })?;
        roots.add(certificate).map_err(|error| TlsError::Roots {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate {
            path: Some(path.to_path_buf()),
        });
    }
    Ok(roots)
}
