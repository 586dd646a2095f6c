//! `Tls`'s errors at start: each names the file and says what is wrong
//! with it (spec TLS-4); a failed reload keeps the configuration (TLS-5).

use std::path::PathBuf;

use albany_server::{ClientAuth, Tls, TlsError};

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(test: &str) -> Files {
        let dir =
            std::env::temp_dir().join(format!("albany-tls-config-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pair() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// The error of `Tls::from_pem_files(cert, key)`, and its message.
fn load_error(cert: &PathBuf, key: &PathBuf) -> (TlsError, String) {
    let error = Tls::from_pem_files(cert, key).unwrap_err();
    let message = error.to_string();
    (error, message)
}

#[test]
fn a_good_pair_loads_and_reloads() {
    let files = Files::new("good");
    let (cert, key) = pair();
    let tls =
        Tls::from_pem_files(files.write("cert.pem", &cert), files.write("key.pem", &key)).unwrap();
    tls.reload().unwrap();
    assert!(format!("{tls:?}").contains("cert.pem"));
}

#[test]
fn a_missing_file_is_named() {
    let files = Files::new("missing");
    let (_, key) = pair();
    let cert = files.dir.join("nowhere.pem");
    let (error, message) = load_error(&cert, &files.write("key.pem", &key));
    assert!(matches!(error, TlsError::Read { .. }), "{error:?}");
    assert!(message.contains(&cert.display().to_string()), "{message}");
    assert_eq!(
        std::io::Error::from(error).kind(),
        std::io::ErrorKind::NotFound
    );
}

#[test]
fn a_file_without_a_certificate_or_key_is_named() {
    let files = Files::new("empty");
    let (cert, key) = pair();
    let cert_file = files.write("cert.pem", &cert);
    let key_file = files.write("key.pem", &key);
    let empty = files.write("empty.pem", "nothing here\n");
    let (error, message) = load_error(&empty, &key_file);
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error:?}");
    assert!(
        message.contains("empty.pem") && message.contains("no certificate"),
        "{message}"
    );
    // The certificate where the key should be: no key in it.
    let (error, message) = load_error(&cert_file, &cert_file);
    assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error:?}");
    assert!(
        message.contains("cert.pem") && message.contains("no private key"),
        "{message}"
    );
    let (error, _) = load_error(&cert_file, &empty);
    assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error:?}");
}

#[test]
fn malformed_pem_is_named() {
    let files = Files::new("malformed");
    let (_, key) = pair();
    let broken = files.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    );
    let (error, message) = load_error(&broken, &files.write("key.pem", &key));
    assert!(matches!(error, TlsError::Malformed { .. }), "{error:?}");
    assert!(
        message.contains("broken.pem") && message.contains("malformed"),
        "{message}"
    );
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let files = Files::new("mismatch");
    let (cert, _) = pair();
    let (_, other_key) = pair();
    let (error, message) = load_error(
        &files.write("cert.pem", &cert),
        &files.write("other-key.pem", &other_key),
    );
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error:?}");
    assert!(message.contains("other-key.pem"), "{message}");
}

#[test]
fn client_roots_must_hold_a_certificate() {
    let files = Files::new("roots");
    let (cert, key) = pair();
    let tls =
        Tls::from_pem_files(files.write("cert.pem", &cert), files.write("key.pem", &key)).unwrap();
    let roots = files.write("roots.pem", "no roots\n");
    let error = tls.client_auth(ClientAuth::Required(roots)).unwrap_err();
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error:?}");
    assert!(error.to_string().contains("roots.pem"), "{error}");
}

#[test]
fn a_failed_reload_keeps_the_last_good_configuration() {
    let files = Files::new("reload");
    let (cert, key) = pair();
    let cert_file = files.write("cert.pem", &cert);
    let tls = Tls::from_pem_files(&cert_file, files.write("key.pem", &key)).unwrap();
    std::fs::remove_file(&cert_file).unwrap();
    let error = tls.reload().unwrap_err();
    assert!(error.to_string().contains("cert.pem"), "{error}");
    // Nothing to reload from: said so.
    let in_memory = Tls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    assert!(matches!(in_memory.reload(), Err(TlsError::NoFiles)));
}
