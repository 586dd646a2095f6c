//! For the examples' tests: an application served on each adapter, on
//! 127.0.0.1 port 0, and plain HTTP/1.1 exchanges with it from `std`
//! sockets (no client shares the server's runtime).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use albany::shutdown::ShutdownTrigger;
use albany_server::{Binding, Counters, Settings, Tls};

use albany::{Application, BoxApplication};
pub use albany_conformance::h1::{self, Response};
pub use albany_conformance::{RunningServer, Target, ASYNC_STD, SMOL, TOKIO};

/// The three adapters.
pub const TARGETS: [&dyn Target; 3] = [&TOKIO, &ASYNC_STD, &SMOL];

/// Serves `application` on `target` with the default settings.
///
/// # Panics
///
/// If the server cannot start (a test failure).
pub fn serve(target: &dyn Target, application: impl Application) -> RunningServer {
    target
        .start(
            BoxApplication::new(application),
            albany_server::Settings::default(),
        )
        .unwrap_or_else(|error| panic!("{}: the server did not start: {error}", target.name()))
}

/// Sends `request` (raw HTTP/1.1 bytes) on a new connection to `addr` and
/// reads one response.
///
/// # Panics
///
/// If the exchange fails (a test failure).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    h1::exchange(addr, request).unwrap_or_else(|error| panic!("no response from {addr}: {error}"))
}

/// `GET target` with `Host: localhost`.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    exchange(addr, &h1::get(target))
}

/// `POST target` with `body` and its `Content-Length`.
pub fn post(addr: SocketAddr, target: &str, body: &[u8]) -> Response {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    exchange(addr, &request)
}

/// The adapters by name, for [`serve_tls`].
pub const ADAPTERS: [&str; 3] = ["tokio", "async-std", "smol"];

/// A server on an adapter in a thread of its own, shut down gracefully
/// (and joined) when dropped.
pub struct ServerThread {
    /// The TCP address, or the Unix domain socket's path.
    listening: Result<SocketAddr, PathBuf>,
    shutdown: ShutdownTrigger,
    counters: Counters,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerThread {
    /// The address it listens on (127.0.0.1, a free port).
    ///
    /// # Panics
    ///
    /// If the server listens on a Unix domain socket (a test failure).
    pub fn addr(&self) -> SocketAddr {
        match &self.listening {
            Ok(addr) => *addr,
            Err(path) => panic!("the server listens on the Unix socket {}", path.display()),
        }
    }

    /// The server's live counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops the server gracefully and returns what serving returned.
    ///
    /// # Panics
    ///
    /// If the server's thread panicked (a test failure).
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.trigger();
        let thread = self.thread.take().expect("a running server");
        thread.join().expect("the server's thread")
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `application` over TLS with `tls` and `settings` on the adapter
/// named `adapter` (one of [`ADAPTERS`]), on 127.0.0.1 port 0.
///
/// # Panics
///
/// If the adapter is unknown or the port cannot be bound (a test failure).
pub fn serve_tls(
    adapter: &str,
    application: impl Application,
    tls: Tls,
    settings: Settings,
) -> ServerThread {
    serve_on(adapter, application, Some(tls), settings, None)
}

/// Serves `application` with `settings` (plain HTTP) on the adapter named
/// `adapter` (one of [`ADAPTERS`]), on 127.0.0.1 port 0.
///
/// # Panics
///
/// If the adapter is unknown or the port cannot be bound (a test failure).
pub fn serve_with(
    adapter: &str,
    application: impl Application,
    settings: Settings,
) -> ServerThread {
    serve_on(adapter, application, None, settings, None)
}

/// Serves `application` with `settings` (plain HTTP) on the adapter named
/// `adapter`, on a Unix domain socket at `path` with file mode `mode`.
///
/// # Panics
///
/// If the adapter is unknown or the socket cannot be bound (a test
/// failure).
pub fn serve_unix(
    adapter: &str,
    application: impl Application,
    settings: Settings,
    path: &Path,
    mode: u32,
) -> ServerThread {
    serve_on(adapter, application, None, settings, Some((path, mode)))
}

fn serve_on(
    adapter: &str,
    application: impl Application,
    tls: Option<Tls>,
    settings: Settings,
    unix: Option<(&Path, u32)>,
) -> ServerThread {
    fn start<B: Binding + Default>(
        application: impl Application,
        tls: Option<Tls>,
        settings: Settings,
        unix: Option<(&Path, u32)>,
    ) -> ServerThread {
        let (server, listening) = match unix {
            None => {
                let server =
                    albany_server::Server::<B>::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
                let addr = server.local_addr().expect("the bound address");
                (server, Ok(addr))
            }
            Some((path, mode)) => {
                let server = albany_server::Server::<B>::bind_unix(path)
                    .and_then(|server| server.unix_socket_mode(mode))
                    .unwrap_or_else(|error| panic!("binding {}: {error}", path.display()));
                (server, Err(path.to_path_buf()))
            }
        };
        let mut server = server.settings(settings);
        if let Some(tls) = tls {
            server = server.tls(tls);
        }
        let shutdown = server.shutdown_trigger();
        let counters = server.counters();
        let thread = std::thread::spawn(move || server.serve_blocking(application));
        ServerThread {
            listening,
            shutdown,
            counters,
            thread: Some(thread),
        }
    }
    match adapter {
        "tokio" => start::<albany_tokio::TokioBinding>(application, tls, settings, unix),
        "async-std" => start::<albany_async_std::AsyncStdBinding>(application, tls, settings, unix),
        "smol" => start::<albany_smol::SmolBinding>(application, tls, settings, unix),
        other => panic!("no adapter {other}"),
    }
}

/// Answers an upgrade request (`Connection: upgrade`, `Upgrade: echo`)
/// with `101` and echoes every byte over the upgraded connection, in a task
/// on the request's runtime; `500` if the request cannot be upgraded.
pub fn echo_upgrade(mut request: albany::Request) -> albany::Response {
    use albany::http::{header, HeaderValue, StatusCode};
    use albany::RequestExt;
    let (Some(on_upgrade), Some(handle)) = (request.take_upgrade(), request.runtime().cloned())
    else {
        let mut response = albany::Response::new(albany::Body::from("not upgradable"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return response;
    };
    handle.spawn(async move {
        if let Ok(connection) = on_upgrade.await {
            let (mut reader, mut writer) = futures_lite::io::split(connection);
            let _ = futures_lite::io::copy(&mut reader, &mut writer).await;
        }
    });
    let mut response = albany::Response::new(albany::Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("echo"));
    response
}

/// Reads from `stream` until `text` has arrived; returns everything read.
///
/// # Panics
///
/// If the connection ends or a read fails first (a test failure).
pub fn read_until(stream: &mut std::net::TcpStream, text: &str) -> String {
    use std::io::Read;
    let mut seen = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&seen).contains(text) {
        let n = stream.read(&mut buffer).expect("reading the response");
        assert!(
            n > 0,
            "closed before {text:?}: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Where Debian's nginx package installs nginx.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Whether nginx is installed at [`NGINX`]; says the test is skipped when
/// it is not (`apt-get install nginx-light`; `.ci/run` installs it).
pub fn nginx_installed() -> bool {
    let installed = Path::new(NGINX).exists();
    if !installed {
        eprintln!(
            "skipped: {NGINX} is not installed (apt-get install nginx-light; .ci/run installs it)"
        );
    }
    installed
}

/// nginx as a reverse proxy on a loopback port of its own, run from a
/// generated configuration in a temporary directory (removed when
/// dropped): one worker, the upstream `albany` with 8 keep-alive
/// connections, and one `location /` with the given directives.
pub struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx in front of `upstream` (`127.0.0.1:PORT` or
    /// `unix:PATH`), `location` being the directives of `location /`
    /// (such as `proxy_pass http://albany;`); `name` tells runs apart in
    /// the temporary directory's name. Waits (at most 10 s) until nginx
    /// accepts connections.
    ///
    /// # Panics
    ///
    /// If nginx cannot be started or does not listen within 10 s (a test
    /// failure; the message has nginx's error log).
    pub fn start(upstream: &str, name: &str, location: &str) -> Nginx {
        use std::net::{TcpListener, TcpStream};
        use std::time::{Duration, Instant};
        let dir = std::env::temp_dir().join(format!("albany-nginx-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx's directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let d = dir.display();
        let config = format!(
            r#"
worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 0;
    upstream albany {{
        server {upstream};
        keepalive 8;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' '';
    }}
    server {{
        listen {addr};
        location / {{
{location}
        }}
    }}
}}
"#
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("nginx.conf");
        let child = std::process::Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx");
        let nginx = Nginx { child, addr, dir };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// The address nginx listens on (127.0.0.1, a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// nginx's error log so far (level `info`), empty if there is none.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// Stops nginx with SIGTERM, which makes the master stop its workers:
    /// killing the master (SIGKILL) leaves the workers running. SIGKILL
    /// only if it has not exited within 10 s.
    fn drop(&mut self) {
        use std::time::{Duration, Instant};
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None))
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
