//! TLS: `Hello, world!` over HTTPS, HTTP/2 or HTTP/1.1 as ALPN agrees,
//! telling the client what its connection negotiated.
//!
//! The server's certificate and key come from `--cert` and `--key` (PEM
//! files). Without them the example makes a self-signed certificate for
//! `localhost` and `127.0.0.1` at start and writes it to a file it names,
//! for the client to trust:
//!
//! ```text
//! cargo run --example tls -- --runtime smol --addr 127.0.0.1:3443
//! curl --http2 --cacert /tmp/albany-tls-example/cert.pem https://localhost:3443/
//! ```
//!
//! With `--reload-every 60` it reads the certificate files again every 60
//! seconds (`albany_server::Tls::reload`), so a renewed certificate is used
//! without a restart; a failed reload keeps the last good one and logs why.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use albany::http::{StatusCode, Version};
use albany::{from_fn, Request, RequestExt, Response};
use albany_examples::{text, Runtime, Serve};
use albany_server::Tls;
use clap::Parser;

/// TLS: `Hello, world!` over HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
    /// The certificate chain, PEM, the server's certificate first (with
    /// --key; default: a self-signed certificate made at start).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The certificate's private key, PEM (PKCS #8, PKCS #1 or SEC1).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Read the certificate and key again every this many seconds (0:
    /// never).
    #[arg(long, default_value_t = 0)]
    reload_every: u64,
}

/// The application: greets, and says what the connection negotiated.
async fn hello(request: Request) -> Response {
    let Some(info) = request.connection_info() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no connection info\n");
    };
    let Some(tls) = &info.tls else {
        return text(StatusCode::OK, "Hello, world! (not over TLS)\n");
    };
    let version = match request.version() {
        Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    };
    let unknown = || "-".to_owned();
    let alpn = tls
        .alpn_protocol
        .as_deref()
        .map_or_else(unknown, |alpn| String::from_utf8_lossy(alpn).into_owned());
    text(
        StatusCode::OK,
        format!(
            "Hello, world! {version} over {} ({}), ALPN {alpn}, SNI {}, scheme {}, client certificates {}\n",
            tls.protocol_version.clone().unwrap_or_else(unknown),
            tls.cipher_suite.clone().unwrap_or_else(unknown),
            tls.server_name.clone().unwrap_or_else(unknown),
            info.scheme(),
            tls.client_certificates.len(),
        ),
    )
}

/// The certificate files: the ones given, or a self-signed pair written to
/// the temporary directory.
fn certificate_files(args: &Args) -> Result<(PathBuf, PathBuf), String> {
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|error| format!("cannot make a certificate: {error}"))?;
    let dir = std::env::temp_dir().join("albany-tls-example");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&cert, certified.cert.pem()))
        .and_then(|()| std::fs::write(&key, certified.signing_key.serialize_pem()))
        .map_err(|error| format!("cannot write {}: {error}", dir.display()))?;
    println!(
        "self-signed certificate for localhost: {} (curl --cacert {} ...)",
        cert.display(),
        cert.display()
    );
    Ok((cert, key))
}

/// Reloads `tls` every `every` on a thread of its own.
fn reload_periodically(tls: Tls, every: Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        if let Err(error) = tls.reload() {
            tracing::warn!(%error, "TLS reload failed; the last good certificate stays in use");
        }
    });
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let tls = match certificate_files(&args)
        .and_then(|(cert, key)| Tls::from_pem_files(cert, key).map_err(|error| error.to_string()))
    {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if args.reload_every > 0 {
        reload_periodically(tls.clone(), Duration::from_secs(args.reload_every));
    }
    let addr = args.serve.addr;
    let app = from_fn(hello);
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::Server::bind(addr).and_then(|s| s.tls(tls).run(app)),
        Runtime::AsyncStd => albany_async_std::Server::bind(addr).and_then(|s| s.tls(tls).run(app)),
        Runtime::Smol => albany_smol::Server::bind(addr).and_then(|s| s.tls(tls).run(app)),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use albany::from_fn;
    use albany_examples::testing::{serve_tls, ADAPTERS};
    use albany_server::{Settings, Tls};

    /// `curl --http2` against the example on each adapter, trusting its
    /// self-signed certificate: HTTP/2 over TLS 1.3, agreed by ALPN.
    #[test]
    fn curl_http2_over_tls() {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir =
            std::env::temp_dir().join(format!("albany-tls-example-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        let tls = Tls::from_pem(
            certified.cert.pem().as_bytes(),
            certified.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        for adapter in ADAPTERS {
            let server = serve_tls(
                adapter,
                from_fn(super::hello),
                tls.clone(),
                Settings::default(),
            );
            let port = server.addr().port();
            let output = Command::new("curl")
                .args([
                    "--silent",
                    "--show-error",
                    "--max-time",
                    "20",
                    "--http2",
                    "--cacert",
                ])
                .arg(&cert)
                .arg("--resolve")
                .arg(format!("localhost:{port}:127.0.0.1"))
                .arg(format!("https://localhost:{port}/"))
                .output()
                .expect("curl");
            let body = String::from_utf8_lossy(&output.stdout);
            assert!(
                body.starts_with("Hello, world! HTTP/2 over TLSv1.3 (TLS13_")
                    && body.contains("ALPN h2, SNI localhost, scheme https"),
                "{adapter}: {body} {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
