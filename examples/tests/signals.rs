//! `run`'s signal handling, on each adapter, in real processes (spec
//! ADAPT-8, ADAPT-9): this file is its own test harness. Started with
//! `ALBANY_SIGNALS_SERVE=<adapter>`, it is the server: it serves a slow
//! streaming response with `Server::run` and prints its address; otherwise
//! it starts such servers, sends them signals with kill(1) while a
//! response is streaming, and checks what the client receives.
//!
//! A server started from a shell as a background job (`server &`) has
//! SIGINT ignored; the servers here are started that way with
//! `sh -c 'trap "" INT; exec ...'`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use albany::http::StatusCode;
use albany::{from_fn, Body, Request, RequestExt, Response};

/// The adapters, by the names the server side accepts.
const ADAPTERS: [&str; 3] = ["tokio", "async-std", "smol"];

/// The time between two chunks of the streaming response.
const TICK: Duration = Duration::from_millis(100);

fn main() {
    if let Ok(adapter) = std::env::var("ALBANY_SIGNALS_SERVE") {
        serve(&adapter);
        return;
    }
    for adapter in ADAPTERS {
        sigterm_lets_the_response_finish_with_sigint_ignored(adapter);
        sigterm_ends_the_response_at_the_graceful_deadline(adapter);
        a_second_signal_exits_at_once(adapter);
        println!("signals: {adapter}: ok");
    }
}

/// The server side: `GET /?chunks=N` streams N chunks, one per [`TICK`],
/// paying no attention to graceful shutdown (as a long download would).
/// `ALBANY_SIGNALS_GRACE` is the graceful shutdown timeout in milliseconds.
fn serve(adapter: &str) {
    let grace = std::env::var("ALBANY_SIGNALS_GRACE")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis);
    let app = from_fn(|request: Request| async move {
        let chunks: u32 = request
            .uri()
            .query()
            .and_then(|query| query.strip_prefix("chunks="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(10);
        let Some(handle) = request.runtime().cloned() else {
            let mut response = Response::new(Body::from("no runtime\n"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        };
        let (mut sender, body) = Body::channel(1024);
        handle.clone().spawn(async move {
            for chunk in 0..chunks {
                if sender.send(format!("chunk {chunk}\n")).await.is_err() {
                    return;
                }
                handle.sleep(TICK).await;
            }
            sender.finish();
        });
        Response::new(body)
    });
    let addr = "127.0.0.1:0";
    let served = match adapter {
        "tokio" => albany_tokio::Server::bind(addr).and_then(|server| {
            announce(server.local_addr()?);
            server.graceful_shutdown_timeout(grace).run(app)
        }),
        "async-std" => albany_async_std::Server::bind(addr).and_then(|server| {
            announce(server.local_addr()?);
            server.graceful_shutdown_timeout(grace).run(app)
        }),
        "smol" => albany_smol::Server::bind(addr).and_then(|server| {
            announce(server.local_addr()?);
            server.graceful_shutdown_timeout(grace).run(app)
        }),
        other => panic!("no adapter {other}"),
    };
    served.expect("serving failed");
}

/// Tells the test the server's address (its first line of output).
fn announce(addr: SocketAddr) {
    println!("{addr}");
    std::io::stdout().flush().expect("stdout");
}

/// A server process and its address.
struct Server {
    child: Child,
    addr: SocketAddr,
    adapter: &'static str,
}

impl Server {
    /// Starts this file as a server on `adapter` with a graceful shutdown
    /// timeout of `grace`; with SIGINT ignored if `ignore_sigint`.
    fn start(adapter: &'static str, grace: Duration, ignore_sigint: bool) -> Self {
        let exe = std::env::current_exe().expect("the test's own path");
        let trap = if ignore_sigint { "trap '' INT; " } else { "" };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{trap}exec \"$0\""))
            .arg(exe)
            .env("ALBANY_SIGNALS_SERVE", adapter)
            .env("ALBANY_SIGNALS_GRACE", grace.as_millis().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the server's address");
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{adapter}: no address in {line:?}"));
        Self {
            child,
            addr,
            adapter,
        }
    }

    /// Sends `signal` (a kill(1) name: `INT`, `TERM`) to the server.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Starts `GET /?chunks=N` and returns the connection once the first
    /// chunk has arrived.
    fn stream(&self, chunks: u32) -> Stream {
        let mut connection = TcpStream::connect(self.addr).expect("connect");
        connection
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        write!(
            connection,
            "GET /?chunks={chunks} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .expect("request");
        let mut stream = Stream {
            connection,
            received: Vec::new(),
        };
        while stream.chunks() < 1 {
            assert!(stream.read(), "{}: no first chunk", self.adapter);
        }
        stream
    }

    /// Waits at most `bound` for the process to exit.
    fn exit_within(&mut self, bound: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > bound {
                let _ = self.child.kill();
                panic!("{}: the server did not exit within {bound:?}", self.adapter);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A streaming response being read.
struct Stream {
    connection: TcpStream,
    received: Vec<u8>,
}

impl Stream {
    /// Reads once; `false` at the end of the connection.
    fn read(&mut self) -> bool {
        let mut buffer = [0; 4096];
        match self.connection.read(&mut buffer) {
            Ok(0) => false,
            Ok(n) => {
                self.received.extend_from_slice(&buffer[..n]);
                true
            }
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(error) => panic!("reading the response: {error}"),
        }
    }

    /// Reads until the connection ends.
    fn read_to_end(&mut self) {
        while self.read() {}
    }

    /// The chunks of the response received so far.
    fn chunks(&self) -> usize {
        String::from_utf8_lossy(&self.received)
            .matches("chunk ")
            .count()
    }

    /// Whether the response's chunked body ended with its last chunk.
    fn is_complete(&self) -> bool {
        self.received.ends_with(b"\r\n0\r\n\r\n")
    }
}

/// With SIGINT ignored, SIGINT changes nothing; SIGTERM starts graceful
/// shutdown: the listener closes, the streaming response runs to its end,
/// and the process exits with status 0.
fn sigterm_lets_the_response_finish_with_sigint_ignored(adapter: &'static str) {
    let mut server = Server::start(adapter, Duration::from_secs(20), true);
    let mut stream = server.stream(12);
    server.signal("INT");
    std::thread::sleep(3 * TICK);
    assert!(
        server.is_running(),
        "{adapter}: SIGINT, ignored, stopped the server"
    );
    server.signal("TERM");
    std::thread::sleep(3 * TICK);
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "{adapter}: still accepting after SIGTERM"
    );
    stream.read_to_end();
    assert!(
        stream.is_complete() && stream.chunks() == 12,
        "{adapter}: the response was cut: {}",
        String::from_utf8_lossy(&stream.received)
    );
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{adapter}: exit status {status}");
}

/// SIGTERM during a response longer than the graceful shutdown timeout:
/// chunks keep coming after the signal, and the response ends at the
/// deadline (the connection closes before the last chunk).
fn sigterm_ends_the_response_at_the_graceful_deadline(adapter: &'static str) {
    let grace = Duration::from_secs(1);
    let mut server = Server::start(adapter, grace, true);
    let mut stream = server.stream(200);
    let before = stream.chunks();
    let signalled = Instant::now();
    server.signal("TERM");
    stream.read_to_end();
    let ended = signalled.elapsed();
    assert!(
        stream.chunks() > before && !stream.is_complete(),
        "{adapter}: expected more chunks, then the end at the deadline: {} chunks before, {} in all",
        before,
        stream.chunks()
    );
    assert!(
        ended >= grace,
        "{adapter}: the response ended {ended:?} after SIGTERM, before the {grace:?} deadline"
    );
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{adapter}: exit status {status}");
}

/// SIGINT (not ignored) starts graceful shutdown; a second signal during
/// it exits at once with status 128 + its number (143 for SIGTERM).
fn a_second_signal_exits_at_once(adapter: &'static str) {
    let mut server = Server::start(adapter, Duration::from_secs(60), false);
    let mut stream = server.stream(600);
    server.signal("INT");
    std::thread::sleep(3 * TICK);
    assert!(
        server.is_running(),
        "{adapter}: SIGINT exited at once instead of shutting down gracefully"
    );
    server.signal("TERM");
    let status = server.exit_within(Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "{adapter}: exit status {status}");
    stream.read_to_end();
    assert!(!stream.is_complete(), "{adapter}: the response finished");
}
