//! I/O through the runtime (spec §11): the reference application's
//! `/io/…` routes ([`crate::app::io`]) connect, listen and spawn through the
//! request's `Handle`, against peers the case runs on plain `std` sockets
//! and threads, so that nothing on the client side shares the target's
//! runtime.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::case;
use crate::case::eventually;
use crate::{ensure, ensure_eq, h1, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!("io.connect-addr", Must, ["IO-1", "IO-2", "EXT-1"], [],
        "Handle::connect to a socket address: the stream writes, half-closes, reads and knows its peer", connect_addr),
    case!("io.connect-name", Must, ["IO-2"], [],
        "Handle::connect to localhost:PORT resolves the name and connects", connect_name),
    case!("io.connect-in-order", Must, ["IO-2", "IO-4"], [],
        "several addresses are tried in order, a refused one and a silent one (bounded) before the one that answers", connect_in_order),
    case!("io.connect-refused", Must, ["IO-3"], [],
        "a refused connection is an io::Error of kind ConnectionRefused", connect_refused),
    case!("io.connect-timeout", Must, ["IO-3", "IO-4"], [],
        "an attempt that gets no answer ends at its bound with TimedOut", connect_timeout),
    case!("io.lookup-failure", Must, ["IO-3", "IO-4"], ["RFC 6761 §6.4"],
        "a name that does not resolve is an error (NotFound, or TimedOut at the lookup bound), not a panic or a hang", lookup_failure),
    case!("io.invalid-destination", Must, ["IO-3"], [],
        "a destination that is not host:port is InvalidInput", invalid_destination),
    case!("io.unix", Must, ["IO-8"], [],
        "Handle::connect_unix: a round trip over a Unix domain socket", unix),
    case!("io.process", Must, ["IO-6"], [],
        "a child process with piped stdin, stdout and stderr, and its exit status", process),
    case!("io.process-kill", Must, ["IO-6"], [],
        "Child::kill ends the process; wait reports the signal", process_kill),
    case!("io.process-missing", Must, ["IO-3", "IO-6"], [],
        "spawning a program that does not exist is NotFound", process_missing),
    case!("io.listener", Must, ["IO-5"], [],
        "Handle::bind: a listener on the runtime accepts a connection", listener),
    case!("io.cancel-closes-connection", Must, ["IO-7", "CANCEL-1"], [],
        "when the client leaves, the dropped application future's outbound connection closes within 1 s", cancel_closes_connection),
    case!("io.cancel-kills-child", Must, ["IO-7", "IO-6"], [],
        "a Child with kill_on_drop is killed and reaped when the client leaves", cancel_kills_child),
    case!("io.from-any-thread", Must, ["IO-9", "RT-6"], [],
        "a connect made on a thread of the blocking pool, outside the runtime's threads", from_any_thread),
];

/// How long a peer thread waits for the application before giving up.
const PEER_WAIT: Duration = Duration::from_secs(10);

/// A one-connection upstream on a `std` listener: accepts, reads to the end
/// of what the application sends, answers `reply`, closes; its thread
/// returns what it read.
fn upstream(reply: &'static [u8]) -> Result<(SocketAddr, JoinHandle<Vec<u8>>), Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let peer = thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(PEER_WAIT));
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        let _ = stream.write_all(reply);
        received
    });
    Ok((addr, peer))
}

/// An address on which nothing listens: connecting is refused.
fn refused_addr() -> Result<SocketAddr, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A listener that never accepts, with its backlog full: a connection
/// attempt to it gets no answer (its SYN is dropped) until it times out.
/// Keep the returned sockets alive while it is used.
fn silent_listener() -> Result<(SocketAddr, Silent), Failure> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(0)?;
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr()?;
    // With a backlog of 0 the queue holds one connection; fill it.
    let mut filling = Vec::new();
    for _ in 0..4 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => filling.push(stream),
            Err(_) => break,
        }
    }
    Ok((addr, Silent(listener, filling)))
}

/// The sockets of [`silent_listener`]: the listener and the connections
/// that fill its backlog.
struct Silent(
    #[allow(dead_code)] TcpListener,
    #[allow(dead_code)] Vec<TcpStream>,
);

/// `GET target` on a new connection; the response.
fn get(addr: crate::Endpoint, target: &str) -> Result<h1::Response, Failure> {
    Ok(h1::exchange(addr, &h1::get(target))?)
}

fn body(response: &h1::Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// The value of the line `key: value` of an `/io/…` answer.
fn line<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
}

/// Expects a `502` whose `kind:` line is one of `kinds`.
fn expect_error(response: &h1::Response, kinds: &[&str]) -> Result<(), Failure> {
    let body = body(response);
    ensure_eq!(response.status(), 502, "status (body {body:?})");
    let kind = line(&body, "kind").unwrap_or("");
    ensure!(
        kinds.contains(&kind),
        "expected an error of kind {kinds:?}, got {body:?}"
    );
    Ok(())
}

/// Starts the reference application, lets `route` connect to an upstream
/// of the case's that reads `send` and answers `reply`, and checks both
/// directions; returns the answer's body and the upstream's address.
fn round_trip(
    context: &mut Context<'_>,
    route: &str,
    send: &str,
    reply: &'static str,
) -> Result<(String, SocketAddr), Failure> {
    let (server, _) = context.start()?;
    let (upstream, peer) = upstream(reply.as_bytes())?;
    let response = get(
        server.endpoint(),
        &format!("{route}?to={upstream}&send={send}"),
    )?;
    let received = peer.join().unwrap_or_default();
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(
        received,
        send.as_bytes().to_vec(),
        "what the upstream read before the end of file"
    );
    ensure_eq!(
        line(&body, "reply"),
        Some(reply),
        "the reply the application read"
    );
    server.shutdown()?;
    Ok((body, upstream))
}

fn connect_addr(context: &mut Context<'_>) -> Result<(), Failure> {
    let (body, upstream) = round_trip(context, "/io/connect", "ping", "pong")?;
    ensure_eq!(
        line(&body, "peer"),
        Some(upstream.to_string().as_str()),
        "peer_addr"
    );
    ensure_eq!(
        line(&body, "nodelay"),
        Some("true"),
        "nodelay after set_nodelay(true)"
    );
    Ok(())
}

fn connect_name(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let (upstream, peer) = upstream(b"pong")?;
    let target = format!("/io/connect?to=localhost:{}&send=ping", upstream.port());
    let response = get(server.endpoint(), &target)?;
    let _ = peer.join();
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(line(&body, "reply"), Some("pong"), "the reply");
    server.shutdown()?;
    Ok(())
}

fn connect_in_order(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let refused = refused_addr()?;
    let (silent, _keep) = silent_listener()?;
    let (upstream, peer) = upstream(b"third time lucky")?;
    let started = Instant::now();
    let response = get(
        server.endpoint(),
        &format!("/io/connect?to={refused},{silent},{upstream}&send=x&attempt_ms=300"),
    )?;
    let elapsed = started.elapsed();
    let _ = peer.join();
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(
        line(&body, "peer"),
        Some(upstream.to_string().as_str()),
        "the address that answered"
    );
    ensure!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "the silent address should cost its 300 ms bound, took {elapsed:?}"
    );
    server.shutdown()?;
    Ok(())
}

/// Starts the reference application, sends it `target`, and expects a
/// failure of one of `kinds` within `within`.
fn expect_failure(
    context: &mut Context<'_>,
    targets: &[String],
    kinds: &[&str],
    within: Duration,
) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    for target in targets {
        let started = Instant::now();
        let response = get(server.endpoint(), target)?;
        let elapsed = started.elapsed();
        expect_error(&response, kinds)?;
        ensure!(
            elapsed < within,
            "{target} took {elapsed:?}, more than {within:?}"
        );
    }
    server.shutdown()?;
    Ok(())
}

fn connect_refused(context: &mut Context<'_>) -> Result<(), Failure> {
    let refused = refused_addr()?;
    let target = format!("/io/connect?to={refused}");
    expect_failure(
        context,
        &[target],
        &["ConnectionRefused"],
        Duration::from_secs(5),
    )
}

fn connect_timeout(context: &mut Context<'_>) -> Result<(), Failure> {
    let (silent, _keep) = silent_listener()?;
    let target = format!("/io/connect?to={silent}&attempt_ms=300");
    expect_failure(context, &[target], &["TimedOut"], Duration::from_secs(5))
}

fn lookup_failure(context: &mut Context<'_>) -> Result<(), Failure> {
    // RFC 6761 §6.4: names under .invalid never resolve.
    let target = "/io/connect?to=albany-no-such-host.invalid:80&resolve_ms=3000".to_owned();
    expect_failure(
        context,
        &[target],
        &["NotFound", "TimedOut"],
        Duration::from_secs(8),
    )
}

fn invalid_destination(context: &mut Context<'_>) -> Result<(), Failure> {
    let targets = ["nonsense", "localhost", "host:99999"].map(|to| format!("/io/connect?to={to}"));
    expect_failure(context, &targets, &["InvalidInput"], Duration::from_secs(5))
}

#[cfg(unix)]
fn unix(context: &mut Context<'_>) -> Result<(), Failure> {
    use std::os::unix::net::UnixListener;

    let (server, _) = context.start()?;
    let directory = std::env::temp_dir().join(format!(
        "albany-conformance-{}-{}",
        std::process::id(),
        context.target().name()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory)?;
    let path = directory.join("upstream.sock");
    let listener = UnixListener::bind(&path)?;
    let peer = thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(PEER_WAIT));
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        let _ = stream.write_all(b"over unix");
        received
    });
    let response = get(
        server.endpoint(),
        &format!("/io/unix?path={}&send=hello", path.display()),
    )?;
    let received = peer.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&directory);
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(received, b"hello".to_vec(), "what the Unix peer read");
    ensure_eq!(line(&body, "reply"), Some("over unix"), "the reply");
    server.shutdown()?;
    Ok(())
}

#[cfg(not(unix))]
fn unix(_context: &mut Context<'_>) -> Result<(), Failure> {
    Err(Failure::Unsupported(
        "Unix domain sockets exist on Unix only".into(),
    ))
}

fn process(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = get(server.endpoint(), "/io/process?send=through-the-pipe")?;
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(line(&body, "stdout"), Some("through-the-pipe"), "stdout");
    ensure_eq!(line(&body, "stderr"), Some("err"), "stderr");
    ensure_eq!(line(&body, "status"), Some("3"), "exit status");
    server.shutdown()?;
    Ok(())
}

fn process_kill(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let started = Instant::now();
    let response = get(server.endpoint(), "/io/process-kill")?;
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    ensure_eq!(line(&body, "signal"), Some("9"), "the signal that ended it");
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "kill and wait took {:?}",
        started.elapsed()
    );
    server.shutdown()?;
    Ok(())
}

fn process_missing(context: &mut Context<'_>) -> Result<(), Failure> {
    let target = "/io/process-missing".to_owned();
    expect_failure(context, &[target], &["NotFound"], Duration::from_secs(5))
}

fn listener(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = get(server.endpoint(), "/io/listen")?;
    let body = body(&response);
    ensure_eq!(response.status(), 200, "status (body {body:?})");
    let port: u16 = line(&body, "port")
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| Failure::Fail(format!("no port in {body:?}")))?;
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(PEER_WAIT))?;
    let mut greeting = String::new();
    stream.read_to_string(&mut greeting)?;
    let local = stream.local_addr()?;
    ensure_eq!(
        greeting,
        format!("hello from the listener, {local}\n"),
        "the greeting, naming the peer address the listener saw"
    );
    server.shutdown()?;
    Ok(())
}

fn cancel_closes_connection(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let upstream = listener.local_addr()?;
    let mut client = h1::Connection::open(server.endpoint())?;
    client.send(&h1::get(&format!("/io/hold?to={upstream}")))?;
    listener.set_nonblocking(false)?;
    let (mut held, _) = accept_within(&listener, PEER_WAIT)?;
    // The application holds its connection; now its client leaves.
    client.stream().shutdown(Shutdown::Both)?;
    drop(client);
    let left = Instant::now();
    held.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut byte = [0u8; 1];
    let closed = match held.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => {
            return Err(Failure::Fail(
                "the application wrote to its upstream".into(),
            ))
        }
        Err(error) => matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    };
    ensure!(
        closed,
        "the outbound connection was still open {:?} after the client left",
        left.elapsed()
    );
    server.shutdown()?;
    Ok(())
}

/// Accepts one connection, waiting at most `wait`.
fn accept_within(
    listener: &TcpListener,
    wait: Duration,
) -> Result<(TcpStream, SocketAddr), Failure> {
    listener.set_nonblocking(true)?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(false)?;
                return Ok((stream, peer));
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if start.elapsed() > wait {
                    return Err(Failure::Fail(format!(
                        "the application did not connect within {wait:?}"
                    )));
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

fn cancel_kills_child(context: &mut Context<'_>) -> Result<(), Failure> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return Err(Failure::Unsupported(
            "the check reads /proc, which this system lacks".into(),
        ));
    }
    let (server, state) = context.start()?;
    let mut client = h1::Connection::open(server.endpoint())?;
    client.send(&h1::get("/io/child-hold"))?;
    ensure!(
        eventually(PEER_WAIT, || state.child_pid.load(Ordering::SeqCst) != 0),
        "the application did not spawn its child"
    );
    let pid = state.child_pid.load(Ordering::SeqCst);
    let proc = format!("/proc/{pid}");
    ensure!(
        std::path::Path::new(&proc).exists(),
        "the child {pid} is not running"
    );
    client.stream().shutdown(Shutdown::Both)?;
    drop(client);
    // Killed, then reaped: /proc/PID disappears (a zombie would keep it).
    ensure!(
        eventually(Duration::from_secs(2), || !std::path::Path::new(&proc)
            .exists()),
        "the child {pid} was neither killed nor reaped 2 s after its request was dropped ({})",
        std::fs::read_to_string(format!("{proc}/stat")).unwrap_or_default()
    );
    server.shutdown()?;
    Ok(())
}

fn from_any_thread(context: &mut Context<'_>) -> Result<(), Failure> {
    round_trip(context, "/io/connect-from-blocking", "hi", "from the pool").map(drop)
}
