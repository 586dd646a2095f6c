//! Where `run` gets its listener, on each adapter, in real processes (spec
//! ADAPT-11 to ADAPT-14): an inherited one (systemd socket activation,
//! `LISTEN_FDS`, TCP or a Unix domain socket), one bound where `HOST` and `PORT` say, and readiness
//! told to a service manager (`NOTIFY_SOCKET`); and several servers on one
//! port with `SO_REUSEPORT`. This file is its own test harness: started
//! with `ALBANY_LISTENERS_SERVE=<adapter>` it is the server, calling
//! `run(ALBANY_LISTENERS_DEFAULT, app)`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use albany::{from_fn, Body, Response};

const ADAPTERS: [&str; 3] = ["tokio", "async-std", "smol"];

fn main() {
    if let Ok(adapter) = std::env::var("ALBANY_LISTENERS_SERVE") {
        serve(&adapter);
        return;
    }
    for adapter in ADAPTERS {
        an_inherited_listener_is_served_and_readiness_told(adapter);
        an_inherited_unix_listener_is_served(adapter);
        host_and_port_from_the_environment(adapter);
        a_bad_port_is_an_error_naming_it(adapter);
        two_servers_share_a_port_with_reuse_port(adapter);
        println!("listeners: {adapter}: ok");
    }
}

/// The server side: `run` on the default address the test gives.
fn serve(adapter: &str) {
    let default = std::env::var("ALBANY_LISTENERS_DEFAULT").expect("a default address");
    let app =
        from_fn(|_| async { Response::new(Body::from(format!("pid {}", std::process::id()))) });
    let served = match adapter {
        "tokio" => albany_tokio::run(default, app),
        "async-std" => albany_async_std::run(default, app),
        "smol" => albany_smol::run(default, app),
        other => panic!("no adapter {other}"),
    };
    if let Err(error) = served {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

/// A server process.
struct Server {
    child: Child,
    adapter: &'static str,
}

impl Server {
    fn wait_within(&mut self, bound: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < bound,
                "{}: the server did not exit within {bound:?}",
                self.adapter
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success());
        self.wait_within(Duration::from_secs(10))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(adapter: &str, default: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .env("ALBANY_LISTENERS_SERVE", adapter)
        .env("ALBANY_LISTENERS_DEFAULT", default)
        .env_remove("HOST")
        .env_remove("PORT")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// `GET /` on a new connection; the response.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    get_on(stream)
}

/// `GET /` with `Connection: close` on `stream`; the response.
fn get_on(mut stream: impl Read + Write) -> std::io::Result<String> {
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// `GET /` until the server answers (at most 10 s).
fn get_when_up(adapter: &str, addr: SocketAddr) -> String {
    let started = Instant::now();
    loop {
        match get(addr) {
            Ok(response) if !response.is_empty() => return response,
            _ if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => panic!("{adapter}: no answer on {addr}: {result:?}"),
        }
    }
}

/// Reads one datagram from the notify socket (at most 10 s).
fn notification(socket: &UnixDatagram) -> String {
    let mut buffer = [0; 512];
    let n = socket
        .recv(&mut buffer)
        .expect("a notification within 10 s");
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

/// A listener bound by the "service manager" (this test) in blocking mode
/// and passed as descriptor 3 with `LISTEN_FDS=1` and `LISTEN_PID` set to
/// the server's pid; its default address is the listener's own, so
/// binding it instead would fail. `NOTIFY_SOCKET` gets `READY=1` and
/// `STOPPING=1`.
fn an_inherited_listener_is_served_and_readiness_told(adapter: &'static str) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    socket2::SockRef::from(&listener)
        .set_cloexec(false)
        .unwrap();
    let dir =
        std::env::temp_dir().join(format!("albany-listeners-{}-{adapter}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let notify_path = dir.join("notify");
    let _ = std::fs::remove_file(&notify_path);
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let child = command(adapter, &addr.to_string())
        .arg("-c")
        .arg(
            r#"exec 3<&"$1"; LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$0""#,
        )
        .arg(std::env::current_exe().unwrap())
        .arg(listener.as_raw_fd().to_string())
        .env("NOTIFY_SOCKET", &notify_path)
        .spawn()
        .expect("the server process");
    drop(listener);
    let mut server = Server { child, adapter };
    assert_eq!(notification(&notify), "READY=1\n", "{adapter}");
    for _ in 0..2 {
        let response = get(addr).unwrap_or_else(|error| panic!("{adapter}: {error}"));
        assert!(
            response.starts_with("HTTP/1.1 200")
                && response.ends_with(&format!("pid {}", server.child.id())),
            "{adapter}: {response}"
        );
    }
    let status = server.terminate();
    assert_eq!(notification(&notify), "STOPPING=1\n", "{adapter}");
    assert_eq!(status.code(), Some(0), "{adapter}: {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET /` on a new connection to the Unix domain socket at `path`; the
/// response.
fn get_unix(path: &Path) -> std::io::Result<String> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    get_on(stream)
}

/// A Unix domain socket listener passed as descriptor 3 (systemd's
/// `ListenStream=/run/app.sock`) is served, and its file, the service
/// manager's, stays in place after the server stops.
fn an_inherited_unix_listener_is_served(adapter: &'static str) {
    let dir = std::env::temp_dir().join(format!(
        "albany-listeners-unix-{}-{adapter}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    socket2::SockRef::from(&listener)
        .set_cloexec(false)
        .unwrap();
    // The default address is in use: only the inherited socket can serve.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let child = command(adapter, &taken.local_addr().unwrap().to_string())
        .arg("-c")
        .arg(
            r#"exec 3<&"$1"; LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$0""#,
        )
        .arg(std::env::current_exe().unwrap())
        .arg(listener.as_raw_fd().to_string())
        .spawn()
        .expect("the server process");
    drop(listener);
    let mut server = Server { child, adapter };
    let response = get_unix(&path).unwrap_or_else(|error| panic!("{adapter}: {error}"));
    assert!(
        response.starts_with("HTTP/1.1 200")
            && response.ends_with(&format!("pid {}", server.child.id())),
        "{adapter}: {response}"
    );
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "{adapter}: {status}");
    assert!(
        path.exists(),
        "{adapter}: the inherited socket's file was removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `HOST` and `PORT` replace the default address's host and port.
fn host_and_port_from_the_environment(adapter: &'static str) {
    let port = free_port();
    let child = command(adapter, "[::1]:1")
        .arg("-c")
        .arg(r#"exec "$0""#)
        .arg(std::env::current_exe().unwrap())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .spawn()
        .expect("the server process");
    let mut server = Server { child, adapter };
    let response = get_when_up(adapter, SocketAddr::from(([127, 0, 0, 1], port)));
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{adapter}: {response}"
    );
    assert_eq!(server.terminate().code(), Some(0), "{adapter}");
}

/// `PORT=http`: the server does not start, and says why.
fn a_bad_port_is_an_error_naming_it(adapter: &'static str) {
    let child = command(adapter, "127.0.0.1:0")
        .arg("-c")
        .arg(r#"exec "$0""#)
        .arg(std::env::current_exe().unwrap())
        .env("PORT", "http")
        .spawn()
        .expect("the server process");
    let mut server = Server { child, adapter };
    let status = server.wait_within(Duration::from_secs(10));
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{adapter}: {stderr}");
    assert!(
        stderr.contains("PORT=\"http\": not a port number"),
        "{adapter}: {stderr}"
    );
}

/// Two servers of this process on one port (`bind_reuse_port`): both get
/// connections; a plain `bind` of the port fails.
fn two_servers_share_a_port_with_reuse_port(adapter: &'static str) {
    fn start<B: albany_server::Binding + Default>(
        addr: SocketAddr,
        name: &'static str,
    ) -> (
        SocketAddr,
        albany::shutdown::ShutdownTrigger,
        std::thread::JoinHandle<std::io::Result<()>>,
    ) {
        let server = albany_server::Server::<B>::bind_reuse_port(addr).unwrap();
        let addr = server.local_addr().unwrap();
        let trigger = server.shutdown_trigger();
        let app = from_fn(move |_| async move { Response::new(Body::from(name)) });
        (
            addr,
            trigger,
            std::thread::spawn(move || server.serve_blocking(app)),
        )
    }
    fn plain_bind<B: albany_server::Binding + Default>(addr: SocketAddr) -> std::io::Result<()> {
        albany_server::Server::<B>::bind(addr).map(drop)
    }
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (first, second, plain) = match adapter {
        "tokio" => {
            let first = start::<albany_tokio::TokioBinding>(any, "first");
            let second = start::<albany_tokio::TokioBinding>(first.0, "second");
            let plain = plain_bind::<albany_tokio::TokioBinding>(first.0);
            (first, second, plain)
        }
        "async-std" => {
            let first = start::<albany_async_std::AsyncStdBinding>(any, "first");
            let second = start::<albany_async_std::AsyncStdBinding>(first.0, "second");
            let plain = plain_bind::<albany_async_std::AsyncStdBinding>(first.0);
            (first, second, plain)
        }
        _ => {
            let first = start::<albany_smol::SmolBinding>(any, "first");
            let second = start::<albany_smol::SmolBinding>(first.0, "second");
            let plain = plain_bind::<albany_smol::SmolBinding>(first.0);
            (first, second, plain)
        }
    };
    assert_eq!(first.0, second.0);
    assert_eq!(
        plain.map_err(|error| error.kind()),
        Err(std::io::ErrorKind::AddrInUse),
        "{adapter}: a plain bind shared the port"
    );
    // The kernel picks a listener by a hash of each connection's
    // addresses: 64 connections reach both but with a chance of 2^-63.
    let (mut seen_first, mut seen_second) = (false, false);
    for _ in 0..64 {
        let response = get_when_up(adapter, first.0);
        seen_first |= response.ends_with("first");
        seen_second |= response.ends_with("second");
    }
    assert!(
        seen_first && seen_second,
        "{adapter}: first {seen_first}, second {seen_second}"
    );
    for (_, trigger, thread) in [first, second] {
        trigger.trigger();
        thread.join().unwrap().unwrap();
    }
}
