//! Serving on a Unix domain socket, on each adapter (spec ADAPT-15,
//! ADAPT-16): requests over HTTP/1.1 from a `std` client and over HTTP/2
//! (prior knowledge) from curl, the connection described as a Unix one, the
//! socket file's mode, a stale file replaced, a live or foreign file
//! refused with an error naming it, and the file removed at shutdown.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use albany::{from_fn, Body, Request, RequestExt, Response, Transport};
use albany_examples::testing::{serve_unix, ADAPTERS};
use albany_server::Settings;

/// Says how the request came: the transport and the socket's path, the
/// client address and the protocol version.
fn application() -> impl albany::Application {
    from_fn(|request: Request| async move {
        let info = request.connection_info().expect("connection info");
        let transport = match &info.transport {
            Transport::Unix {
                peer_path,
                local_path,
            } => format!(
                "unix local={} peer={peer_path:?}",
                local_path.as_deref().unwrap_or(Path::new("?")).display()
            ),
            other => format!("{other:?}"),
        };
        Response::new(Body::from(format!(
            "{transport} client={:?} peer_addr={:?} {:?}",
            request.client_ip(),
            info.peer_addr(),
            request.version()
        )))
    })
}

fn socket_dir(adapter: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "albany-unix-{name}-{adapter}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `GET /` over HTTP/1.1 on a new connection to `path`; the response.
fn get(path: &Path) -> String {
    let mut stream = UnixStream::connect(path)
        .unwrap_or_else(|error| panic!("connecting to {}: {error}", path.display()));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn each_adapter_serves_on_a_unix_socket() {
    for adapter in ADAPTERS {
        let dir = socket_dir(adapter, "serve");
        let path = dir.join("app.sock");
        // A stale file, as a server that died leaves one.
        let _ = std::fs::remove_file(&path);
        drop(UnixListener::bind(&path).unwrap());
        let server = serve_unix(adapter, application(), Settings::default(), &path, 0o600);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{adapter}: mode {mode:o}");

        let response = get(&path);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "{adapter}: {response}"
        );
        let expected = format!(
            "unix local={} peer=None client=None peer_addr=None HTTP/1.1",
            path.display()
        );
        assert!(response.ends_with(&expected), "{adapter}: {response}");

        // HTTP/2 with prior knowledge, from curl, where it is installed.
        match Command::new("curl")
            .args(["-sS", "--max-time", "10", "--http2-prior-knowledge"])
            .arg("--unix-socket")
            .arg(&path)
            .arg("http://localhost/")
            .output()
        {
            Ok(output) => {
                let body = String::from_utf8_lossy(&output.stdout);
                assert!(
                    output.status.success() && body.ends_with("HTTP/2.0"),
                    "{adapter}: curl: {body} {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Err(_) => eprintln!("{adapter}: curl is not installed; the HTTP/2 check is skipped"),
        }

        // A second server on the live socket is refused, naming it.
        let error = albany_tokio::Server::bind_unix(&path).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{adapter}");
        assert!(
            error.to_string().contains(&*path.to_string_lossy()),
            "{adapter}: {error}"
        );

        server.stop().unwrap();
        assert!(
            !path.exists(),
            "{adapter}: the socket file is left after shutdown"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = socket_dir("any", "regular");
    let path = dir.join("app.sock");
    std::fs::write(&path, "important").unwrap();
    let error = albany_smol::Server::bind_unix(&path).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(
        error.to_string().contains(&*path.to_string_lossy()),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "important");
    let missing = dir.join("no-such-dir").join("app.sock");
    let error = albany_async_std::Server::bind_unix(&missing).unwrap_err();
    assert!(
        error.to_string().contains(&*missing.to_string_lossy()),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_socket_mode_on_a_tcp_server_is_an_error() {
    let server = albany_tokio::Server::bind("127.0.0.1:0").unwrap();
    let error = server.unix_socket_mode(0o600).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
