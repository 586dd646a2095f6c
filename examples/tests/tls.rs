//! HTTPS on each adapter (spec TLS-1 to TLS-8), against curl (OpenSSL and
//! nghttp2: a client that shares nothing with the server): HTTP/2 and
//! HTTP/1.1 by ALPN, what `ConnectionInfo::tls` reports, client
//! certificates, reloading the certificate, and connections that fail
//! without harming the server. Certificates are made at test time (rcgen).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use albany::http::{StatusCode, Version};
use albany::{from_fn, Request, RequestExt, Response};
use albany_examples::testing::{serve_tls, ADAPTERS};
use albany_examples::text;
use albany_server::{ClientAuth, Settings, Tls};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// Answers what the connection negotiated, one `name=value` per line.
fn report(request: Request) -> impl std::future::Future<Output = Response> {
    let body = match request.connection_info() {
        Some(info) => {
            let tls = info.tls.clone().unwrap_or_default();
            let version = if request.version() == Version::HTTP_2 {
                "2"
            } else {
                "1.1"
            };
            format!(
                "http={version}\nscheme={}\nalpn={}\nversion={}\ncipher={}\nsni={}\nclient_certificates={}\n",
                info.scheme(),
                String::from_utf8_lossy(tls.alpn_protocol.as_deref().unwrap_or(b"-")),
                tls.protocol_version.as_deref().unwrap_or("-"),
                tls.cipher_suite.as_deref().unwrap_or("-"),
                tls.server_name.as_deref().unwrap_or("-"),
                tls.client_certificates.len(),
            )
        }
        None => "no connection info\n".to_owned(),
    };
    async move { text(StatusCode::OK, body) }
}

/// A directory of PEM files for one test.
struct Pems {
    dir: PathBuf,
}

impl Pems {
    fn new(test: &str) -> Pems {
        let dir = std::env::temp_dir().join(format!("albany-tls-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Pems { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, pem: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, pem).unwrap();
        path
    }
}

impl Drop for Pems {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A certificate authority.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Albany test CA");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `name` and its private key, PEM.
    fn issue(&self, name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The result of one curl call.
struct Curl {
    success: bool,
    stdout: String,
    stderr: String,
}

/// `curl ARGS https://localhost:PORT/` (localhost resolved to 127.0.0.1,
/// so SNI is `localhost`), trusting `ca`.
fn curl(addr: SocketAddr, ca: &Path, args: &[&str]) -> Curl {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", addr.port()))
        .args(args)
        .arg(format!("https://localhost:{}/", addr.port()))
        .output()
        .expect("curl (Debian's curl package; .ci/run installs it)");
    Curl {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn served(adapter: &str, curl: &Curl) -> String {
    assert!(curl.success, "{adapter}: curl failed: {}", curl.stderr);
    curl.stdout.clone()
}

/// A directory with a new authority's certificate (`ca.pem`) and, issued
/// by it for `localhost`, the server's certificate and key, loaded.
fn localhost(test: &str) -> (Pems, PathBuf, Tls) {
    let pems = Pems::new(test);
    let ca = Ca::new();
    let (cert, key) = ca.issue("localhost");
    let ca_file = pems.write("ca.pem", &ca.pem());
    let tls =
        Tls::from_pem_files(pems.write("cert.pem", &cert), pems.write("key.pem", &key)).unwrap();
    (pems, ca_file, tls)
}

#[test]
fn http2_and_http1_by_alpn_with_the_connection_reported() {
    let (_pems, ca_file, tls) = localhost("alpn");
    for adapter in ADAPTERS {
        let server = serve_tls(adapter, from_fn(report), tls.clone(), Settings::default());
        let h2 = served(adapter, &curl(server.addr(), &ca_file, &["--http2"]));
        for line in [
            "http=2",
            "scheme=https",
            "alpn=h2",
            "version=TLSv1.3",
            "sni=localhost",
            "client_certificates=0",
        ] {
            assert!(
                h2.lines().any(|l| l == line),
                "{adapter}: no {line} in\n{h2}"
            );
        }
        assert!(h2.contains("cipher=TLS13_"), "{adapter}: {h2}");
        let h1 = served(adapter, &curl(server.addr(), &ca_file, &["--http1.1"]));
        assert!(
            h1.contains("http=1.1\n") && h1.contains("alpn=http/1.1\n"),
            "{adapter}: {h1}"
        );
        // TLS 1.2 is offered too.
        let tls12 = served(
            adapter,
            &curl(server.addr(), &ca_file, &["--http1.1", "--tls-max", "1.2"]),
        );
        assert!(tls12.contains("version=TLSv1.2\n"), "{adapter}: {tls12}");
        // No ALPN: HTTP/1.1, told from the bytes.
        let no_alpn = served(
            adapter,
            &curl(server.addr(), &ca_file, &["--no-alpn", "--http1.1"]),
        );
        assert!(
            no_alpn.contains("http=1.1\n") && no_alpn.contains("alpn=-\n"),
            "{adapter}: {no_alpn}"
        );
    }
}

#[test]
fn http1_only_when_http2_is_off() {
    let (_pems, ca_file, tls) = localhost("h1only");
    let mut settings = Settings::default();
    settings.http2 = false;
    for adapter in ADAPTERS {
        let server = serve_tls(adapter, from_fn(report), tls.clone(), settings.clone());
        let body = served(adapter, &curl(server.addr(), &ca_file, &["--http2"]));
        assert!(
            body.contains("http=1.1\n") && body.contains("alpn=http/1.1\n"),
            "{adapter}: {body}"
        );
    }
}

/// Reads from `stream` until the server closes it; panics if that takes
/// longer than `bound`.
fn closed_within(adapter: &str, mut stream: TcpStream, bound: Duration) {
    stream.set_read_timeout(Some(bound)).unwrap();
    let started = Instant::now();
    let mut buffer = [0; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(error) => panic!(
                "{adapter}: not closed after {:?}: {error}",
                started.elapsed()
            ),
        }
    }
}

#[test]
fn failed_handshakes_close_that_connection_only() {
    let (pems, ca_file, tls) = localhost("failed");
    let mut settings = Settings::default();
    settings.tls_handshake_timeout = Duration::from_millis(300);
    for adapter in ADAPTERS {
        let server = serve_tls(adapter, from_fn(report), tls.clone(), settings.clone());
        // Plain HTTP on the TLS port.
        let mut plain = TcpStream::connect(server.addr()).unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        closed_within(adapter, plain, Duration::from_secs(5));
        // Bytes that are not TLS at all.
        let mut garbage = TcpStream::connect(server.addr()).unwrap();
        garbage
            .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0])
            .unwrap();
        closed_within(adapter, garbage, Duration::from_secs(5));
        // A client that says nothing: closed by the handshake timeout.
        let silent = TcpStream::connect(server.addr()).unwrap();
        closed_within(adapter, silent, Duration::from_secs(5));
        // A client that does not trust the certificate fails; the server
        // does not notice.
        let other_ca = pems.write("other-ca.pem", &Ca::new().pem());
        assert!(
            !curl(server.addr(), &other_ca, &[]).success,
            "{adapter}: an untrusted certificate passed"
        );
        let body = served(adapter, &curl(server.addr(), &ca_file, &[]));
        assert!(body.contains("scheme=https"), "{adapter}: {body}");
    }
}

#[test]
fn client_certificates_required_and_optional() {
    let pems = Pems::new("mtls");
    let ca = Ca::new();
    let (cert, key) = ca.issue("localhost");
    let (client_cert, client_key) = ca.issue("client.example");
    let ca_file = pems.write("ca.pem", &ca.pem());
    let cert_file = pems.write("cert.pem", &cert);
    let key_file = pems.write("key.pem", &key);
    let client_cert_file = pems.write("client.pem", &client_cert);
    let client_key_file = pems.write("client-key.pem", &client_key);
    // A client certificate from another authority is refused.
    let (stranger_cert, stranger_key) = Ca::new().issue("stranger.example");
    let stranger_cert_file = pems.write("stranger.pem", &stranger_cert);
    let stranger_key_file = pems.write("stranger-key.pem", &stranger_key);
    let with_cert = |cert: &Path, key: &Path| {
        vec![
            "--cert".to_owned(),
            cert.display().to_string(),
            "--key".to_owned(),
            key.display().to_string(),
        ]
    };
    let client = with_cert(&client_cert_file, &client_key_file);
    let client: Vec<&str> = client.iter().map(String::as_str).collect();
    let stranger = with_cert(&stranger_cert_file, &stranger_key_file);
    let stranger: Vec<&str> = stranger.iter().map(String::as_str).collect();

    let required = Tls::from_pem_files(&cert_file, &key_file)
        .unwrap()
        .client_auth(ClientAuth::Required(ca_file.clone()))
        .unwrap();
    let optional = Tls::from_pem_files(&cert_file, &key_file)
        .unwrap()
        .client_auth(ClientAuth::Optional(ca_file.clone()))
        .unwrap();
    for adapter in ADAPTERS {
        let server = serve_tls(
            adapter,
            from_fn(report),
            required.clone(),
            Settings::default(),
        );
        assert!(
            !curl(server.addr(), &ca_file, &[]).success,
            "{adapter}: served without a client certificate"
        );
        assert!(
            !curl(server.addr(), &ca_file, &stranger).success,
            "{adapter}: served a stranger's certificate"
        );
        // curl (OpenSSL) sends its certificate and the authority's.
        let body = served(adapter, &curl(server.addr(), &ca_file, &client));
        assert!(
            !body.contains("client_certificates=0\n"),
            "{adapter}: {body}"
        );
        drop(server);

        let server = serve_tls(
            adapter,
            from_fn(report),
            optional.clone(),
            Settings::default(),
        );
        let body = served(adapter, &curl(server.addr(), &ca_file, &[]));
        assert!(
            body.contains("client_certificates=0\n"),
            "{adapter}: {body}"
        );
        let body = served(adapter, &curl(server.addr(), &ca_file, &client));
        assert!(
            !body.contains("client_certificates=0\n"),
            "{adapter}: {body}"
        );
    }
}

#[test]
fn reload_uses_the_new_certificate_and_keeps_the_last_good_one() {
    for adapter in ADAPTERS {
        let pems = Pems::new(&format!("reload-{adapter}"));
        let (old_ca, new_ca) = (Ca::new(), Ca::new());
        let old_ca_file = pems.write("old-ca.pem", &old_ca.pem());
        let new_ca_file = pems.write("new-ca.pem", &new_ca.pem());
        let (cert, key) = old_ca.issue("localhost");
        let cert_file = pems.write("cert.pem", &cert);
        let key_file = pems.write("key.pem", &key);
        let tls = Tls::from_pem_files(&cert_file, &key_file).unwrap();
        let server = serve_tls(adapter, from_fn(report), tls.clone(), Settings::default());
        served(adapter, &curl(server.addr(), &old_ca_file, &[]));

        // Renewed by another authority: new connections get the new one.
        let (cert, key) = new_ca.issue("localhost");
        pems.write("cert.pem", &cert);
        pems.write("key.pem", &key);
        tls.reload().unwrap();
        served(adapter, &curl(server.addr(), &new_ca_file, &[]));
        assert!(
            !curl(server.addr(), &old_ca_file, &[]).success,
            "{adapter}: the old certificate is still served"
        );

        // A broken file: the reload fails, naming it, and nothing changes.
        pems.write("cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n");
        let error = tls.reload().unwrap_err().to_string();
        assert!(
            error.contains(&cert_file.display().to_string()),
            "{adapter}: {error}"
        );
        served(adapter, &curl(server.addr(), &new_ca_file, &[]));
    }
}
