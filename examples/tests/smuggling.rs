//! Request smuggling behind nginx, the http-garden way: every entry of the
//! differential corpus (`conformance/src/differential/corpus.rs`: its
//! smuggling set `smuggling/...`, pipelined requests, malformed heads,
//! byte mutations, bodies...) is sent as raw bytes to nginx (Debian's
//! package), which proxies over HTTP/1.1 keep-alive to a server on each
//! adapter. A recording TCP proxy between nginx and the server keeps the
//! bytes nginx forwarded; an application records what the server handed
//! it (method, target, body length). Read strictly, the forwarded bytes
//! say how many requests nginx sent and with what body; the server must
//! have read exactly those: not two where nginx sent one, not another body
//! length. The only other outcome allowed is the server refusing a
//! forwarded request itself (a 4xx, the application not called), for the
//! entries listed in [`REFUSED`], each for a reason given there.
//!
//! Two nginx set-ups: `buffered` (nginx's default: the request body read
//! whole, then forwarded with `Content-Length`) and `streaming`
//! (`proxy_request_buffering off`, as in `nginx.rs`), where the client
//! sends the first request head alone and the rest 50 ms later, so that
//! nginx forwards the head before the body has arrived: a chunked body
//! is forwarded chunked, as it arrives, and a body found malformed
//! part-way is cut short on the upstream connection.
//!
//! Each test prints its table (RELIABILITY.md has them). One entry:
//! `ALBANY_SMUGGLING_ENTRY=smuggling/cl-te cargo test -p albany-examples
//! --test smuggling -- --nocapture`; some sets:
//! `ALBANY_SMUGGLING_SETS=smuggling/,pipelined/`. Skipped, saying so,
//! where nginx is not installed (`.ci/run` installs it).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use albany::{from_fn, Body, Request, Response};
use albany_conformance::differential::{corpus, Entry};
use albany_examples::testing::{nginx_installed, serve_with, Nginx, ServerThread, ADAPTERS};
use albany_server::Settings;
use futures_lite::AsyncReadExt;

/// How long the client waits for more from nginx after the last byte it
/// got (nginx may still answer a pipelined request).
const IDLE: Duration = Duration::from_millis(250);
/// The longest one entry's exchange with nginx may take (an entry nginx
/// does not answer, waiting for more, takes this long).
const EXCHANGE: Duration = Duration::from_secs(3);
/// The longest the test waits for nginx and the server to settle after the
/// client has gone (it waits 100 ms of stillness when the readings agree,
/// 500 ms when they do not).
const SETTLE: Duration = Duration::from_secs(2);
/// In the `streaming` set-up, the pause between the first request head
/// and the rest of the entry.
const PAUSE: Duration = Duration::from_millis(50);

/// A body as read: its length in bytes, and whether it ended as framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Length {
    /// The whole body, this many bytes.
    Complete(u64),
    /// The body ended early (the connection closed, or it was malformed).
    Incomplete,
}

/// One request: as nginx forwarded it, or as the application saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Message {
    method: String,
    target: String,
    body: Length,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.body {
            Length::Complete(n) => write!(f, "{} {} ({n} B)", self.method, self.target),
            Length::Incomplete => write!(f, "{} {} (incomplete body)", self.method, self.target),
        }
    }
}

fn list(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "none".to_owned();
    }
    messages
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The application: reads each body to its end and records the request.
fn application(seen: Arc<Mutex<Vec<Message>>>) -> impl albany::Application {
    from_fn(move |request: Request| {
        let seen = seen.clone();
        async move {
            let method = request.method().to_string();
            let target = request
                .uri()
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut reader = request.into_body().into_reader();
            let mut buffer = vec![0; 16 * 1024];
            let mut total = 0u64;
            let body = loop {
                match reader.read(&mut buffer).await {
                    Ok(0) => break Length::Complete(total),
                    Ok(n) => total += n as u64,
                    Err(_) => break Length::Incomplete,
                }
            };
            seen.lock().expect("seen").push(Message {
                method,
                target,
                body,
            });
            Response::new(Body::from("seen"))
        }
    })
}

// ---------------------------------------------------------------------
// The reference reading of nginx's output: strict HTTP/1.1 framing.

/// The requests in `bytes` (what nginx wrote on one upstream connection
/// during one entry), framed strictly by RFC 9112 §6: exactly one of
/// `Content-Length` (one valid value) or `Transfer-Encoding: chunked`, or
/// neither. An ambiguous head is an error: nginx would have forwarded a
/// request that two readers may frame differently.
fn requests(mut bytes: &[u8]) -> Result<Vec<(Message, Framing)>, String> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 256];
        let mut request = httparse::Request::new(&mut headers);
        let head = match request.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                return Err(format!(
                    "an incomplete request head ({} bytes)",
                    bytes.len()
                ))
            }
            Err(error) => return Err(format!("an invalid request head ({error})")),
        };
        let method = request.method.unwrap_or_default().to_owned();
        let target = request.path.unwrap_or_default().to_owned();
        let framing = framing(request.headers)?;
        bytes = &bytes[head..];
        let (body, used) = body(framing, bytes)?;
        bytes = &bytes[used..];
        messages.push((
            Message {
                method,
                target,
                body,
            },
            framing,
        ));
    }
    Ok(messages)
}

/// How a message's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the connection closes (responses only).
    Close,
}

/// The framing of a request with `headers`, or why it is ambiguous.
fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, String> {
    let named = |name: &str| -> Vec<&[u8]> {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect()
    };
    match (
        &named("content-length")[..],
        &named("transfer-encoding")[..],
    ) {
        ([], []) => Ok(Framing::Length(0)),
        ([value], []) => std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .map(Framing::Length)
            .ok_or_else(|| {
                format!(
                    "ambiguous framing: Content-Length {:?}",
                    String::from_utf8_lossy(value)
                )
            }),
        ([], [b"chunked"]) => Ok(Framing::Chunked),
        (lengths, codings) => Err(format!(
            "ambiguous framing: {} Content-Length and {} Transfer-Encoding lines ({codings:?})",
            lengths.len(),
            codings.len()
        )),
    }
}

/// The body framed by `framing` at the start of `bytes`: its length and
/// how many bytes it took; an incomplete body takes every byte.
fn body(framing: Framing, bytes: &[u8]) -> Result<(Length, usize), String> {
    match framing {
        Framing::Length(n) => match usize::try_from(n) {
            Ok(n) if n <= bytes.len() => Ok((Length::Complete(n as u64), n)),
            _ => Ok((Length::Incomplete, bytes.len())),
        },
        Framing::Close => Ok((Length::Complete(bytes.len() as u64), bytes.len())),
        Framing::Chunked => {
            let mut at = 0;
            let mut total = 0u64;
            loop {
                let size = match httparse::parse_chunk_size(&bytes[at..]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        at += used;
                        size
                    }
                    Ok(httparse::Status::Partial) => return Ok((Length::Incomplete, bytes.len())),
                    Err(_) => return Err(format!("a bad chunk size at byte {at}")),
                };
                if size == 0 {
                    break;
                }
                let end = usize::try_from(size)
                    .ok()
                    .and_then(|size| at.checked_add(size))
                    .and_then(|end| end.checked_add(2))
                    .filter(|&end| end <= bytes.len());
                let Some(end) = end else {
                    return Ok((Length::Incomplete, bytes.len()));
                };
                if &bytes[end - 2..end] != b"\r\n" {
                    return Err(format!("chunk data without its CRLF at byte {}", end - 2));
                }
                total += size;
                at = end;
            }
            // Trailer fields, then the empty line.
            let mut headers = [httparse::EMPTY_HEADER; 64];
            match httparse::parse_headers(&bytes[at..], &mut headers) {
                Ok(httparse::Status::Complete((used, _))) => {
                    Ok((Length::Complete(total), at + used))
                }
                Ok(httparse::Status::Partial) => Ok((Length::Incomplete, bytes.len())),
                Err(error) => Err(format!("bad trailers: {error}")),
            }
        }
    }
}

/// The status codes of the responses in `bytes`, the last one's body
/// possibly cut short (the connection was closed). `to_heads[i]` tells
/// whether the `i`th final response answers a `HEAD` request (it has no
/// body).
fn statuses(bytes: &[u8], to_heads: &[bool]) -> Vec<String> {
    responses(bytes, to_heads).0
}

/// [`statuses`], and how many final responses are complete. Bytes that do
/// not start with `HTTP/` are an HTTP/0.9 response (only a body, until the
/// connection closes: RFC 9112 Appendix C.1); other unparsable bytes end
/// the list with `"garbage"`.
fn responses(mut bytes: &[u8], to_heads: &[bool]) -> (Vec<String>, usize) {
    let mut statuses = Vec::new();
    let mut complete = 0;
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                statuses.push("an incomplete head".to_owned());
                break;
            }
            Err(_) if !bytes.starts_with(b"HTTP/") => {
                statuses.push("an HTTP/0.9 response (no status line)".to_owned());
                break;
            }
            Err(_) => {
                statuses.push("garbage".to_owned());
                break;
            }
        };
        let code = response.code.unwrap_or_default();
        let to_head = to_heads.get(complete).copied().unwrap_or(false);
        statuses.push(code.to_string());
        let framing = if code < 200 || code == 204 || code == 304 || to_head {
            Framing::Length(0)
        } else {
            match framing(response.headers) {
                Ok(Framing::Length(0))
                    if !response
                        .headers
                        .iter()
                        .any(|h| h.name.eq_ignore_ascii_case("content-length")) =>
                {
                    Framing::Close
                }
                Ok(framing) => framing,
                Err(_) => Framing::Close,
            }
        };
        bytes = &bytes[head..];
        match body(framing, bytes) {
            Ok((Length::Complete(_), used)) if !matches!(framing, Framing::Close) => {
                bytes = &bytes[used..];
                if code >= 200 {
                    complete += 1;
                }
            }
            Ok((_, used)) => bytes = &bytes[used..],
            Err(_) => break,
        }
    }
    (statuses, complete)
}

// ---------------------------------------------------------------------
// The recording proxy between nginx and the server.

/// What passed through one upstream connection, each way, and how much of
/// it has been looked at.
#[derive(Default)]
struct Recorded {
    /// nginx to the server.
    up: Vec<u8>,
    up_seen: usize,
    /// The server to nginx.
    down: Vec<u8>,
    down_seen: usize,
}

/// A TCP proxy on 127.0.0.1 that forwards every connection to `upstream`
/// and records the bytes; stopped (every thread joined) when dropped.
struct Recorder {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl Recorder {
    fn start(upstream: SocketAddr) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the recorder's port");
        listener.set_nonblocking(true).expect("non-blocking accept");
        let addr = listener.local_addr().expect("the recorder's address");
        let connections = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (connections, stop) = (connections.clone(), stop.clone());
            thread::spawn(move || {
                let mut pumps = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let Ok((nginx, _)) = listener.accept() else {
                        thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let _ = nginx.set_nonblocking(false);
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let index = {
                        let mut connections = connections.lock().expect("recorded");
                        connections.push(Recorded::default());
                        connections.len() - 1
                    };
                    let (nginx2, server2) = (
                        nginx.try_clone().expect("a clone"),
                        server.try_clone().expect("a clone"),
                    );
                    for (from, to, up) in [(nginx, server, true), (server2, nginx2, false)] {
                        let (connections, stop) = (connections.clone(), stop.clone());
                        pumps.push(thread::spawn(move || {
                            pump(from, to, &stop, |bytes| {
                                let mut connections = connections.lock().expect("recorded");
                                let recorded = &mut connections[index];
                                if up {
                                    &mut recorded.up
                                } else {
                                    &mut recorded.down
                                }
                                .extend_from_slice(bytes);
                            });
                        }));
                    }
                }
                pumps
            })
        };
        Recorder {
            addr,
            connections,
            stop,
            accept: Some(accept),
        }
    }

    /// How many bytes have passed, both ways, on every connection.
    fn total(&self) -> usize {
        let connections = self.connections.lock().expect("recorded");
        connections.iter().map(|c| c.up.len() + c.down.len()).sum()
    }

    /// What passed since the last call to `take` (which `advance` sets),
    /// per connection that had traffic: `(nginx to the server, the server
    /// to nginx)`.
    fn take(&self, advance: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut connections = self.connections.lock().expect("recorded");
        let mut taken = Vec::new();
        for recorded in connections.iter_mut() {
            let up = recorded.up[recorded.up_seen..].to_vec();
            let down = recorded.down[recorded.down_seen..].to_vec();
            if advance {
                recorded.up_seen = recorded.up.len();
                recorded.down_seen = recorded.down.len();
            }
            if !up.is_empty() || !down.is_empty() {
                taken.push((up, down));
            }
        }
        taken
    }
}

/// Copies `from` to `to`, giving `record` each piece first, until `from`
/// ends (then `to`'s write side is shut) or fails, or `stop` is set (it is
/// looked at every 50 ms).
fn pump(mut from: TcpStream, mut to: TcpStream, stop: &AtomicBool, mut record: impl FnMut(&[u8])) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buffer = vec![0; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                record(&buffer[..n]);
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            for pump in accept.join().unwrap_or_default() {
                let _ = pump.join();
            }
        }
    }
}

// ---------------------------------------------------------------------
// One entry through nginx.

/// How the server's reading compares with what nginx forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The same requests, with the same bodies.
    Agree,
    /// The server answered some forwarded requests with an error itself,
    /// and read the rest as forwarded: nothing read otherwise.
    Refused,
    /// The server read a request nginx did not forward, or another body.
    Disagree,
}

/// The entries whose forwarded request the server refuses (see
/// RELIABILITY.md): nginx forwards what RFC 9110 does not allow, or more
/// than the server's limit.
const REFUSED: [&str; 5] = [
    // A field value with DEL or ESC: nginx rejects only NUL, CR and LF in
    // field values; RFC 9110 §5.5 allows no control character but HTAB
    // (H1-11).
    "malformed/del-value",
    "malformed/esc-value",
    "mutation/del-in-field-value",
    // A byte 0xFF in the request target: nginx passes it; RFC 9112 §3.2
    // and RFC 3986 §2 allow only ASCII (H1-12).
    "mutation/xff-in-target",
    // 101 fields, over the server's default limit of 100 (LIMIT-2): 431.
    "malformed/too-many-fields",
];

/// What happened to one entry on one adapter.
#[derive(Debug, Clone)]
struct Outcome {
    /// The statuses nginx answered the client with, and whether it then
    /// closed the connection.
    answered: String,
    /// What nginx forwarded, read strictly, and how each was framed (an
    /// error: an invalid head, or ambiguous framing).
    forwarded: Result<Vec<(Message, Framing)>, String>,
    /// What the server answered nginx with.
    upstream_statuses: Vec<String>,
    /// What the application saw.
    seen: Vec<Message>,
}

impl Outcome {
    /// Whether the server read exactly what nginx forwarded: as many
    /// requests, each with the same method, target and body length; or
    /// refused some of them itself (a 4xx or 5xx without calling the
    /// application), having read the others exactly.
    fn verdict(&self) -> Verdict {
        let refused = self
            .upstream_statuses
            .iter()
            .filter(|s| s.starts_with('4') || s.starts_with('5'))
            .count();
        match &self.forwarded {
            Ok(forwarded) => {
                let mut forwarded: Vec<Message> =
                    forwarded.iter().map(|(m, _)| m.clone()).collect();
                let mut seen = self.seen.clone();
                forwarded.sort();
                seen.sort();
                if forwarded == seen {
                    return Verdict::Agree;
                }
                // Every request seen was forwarded; the ones not seen were
                // answered by the server itself.
                let mut unseen = forwarded;
                for message in &seen {
                    match unseen.iter().position(|m| m == message) {
                        Some(at) => {
                            unseen.remove(at);
                        }
                        None => return Verdict::Disagree,
                    }
                }
                if refused >= unseen.len() {
                    Verdict::Refused
                } else {
                    Verdict::Disagree
                }
            }
            // An invalid request forwarded: the server must refuse it.
            Err(_) if self.seen.is_empty() && refused > 0 => Verdict::Refused,
            Err(_) => Verdict::Disagree,
        }
    }

    fn nginx_verdict(&self) -> String {
        match &self.forwarded {
            Ok(forwarded) if forwarded.is_empty() => "rejected: nothing forwarded".to_owned(),
            Ok(forwarded) => {
                let messages: Vec<Message> = forwarded.iter().map(|(m, _)| m.clone()).collect();
                let framings: Vec<&str> = forwarded
                    .iter()
                    .map(|(_, framing)| match framing {
                        Framing::Chunked => "chunked",
                        Framing::Length(0) => "no body",
                        Framing::Length(_) => "Content-Length",
                        Framing::Close => "close",
                    })
                    .collect();
                format!(
                    "forwarded {} ({}): {}",
                    forwarded.len(),
                    framings.join(", "),
                    list(&messages)
                )
            }
            Err(error) => format!("forwarded {error}"),
        }
    }

    fn reading(&self) -> String {
        let mut reading = list(&self.seen);
        let by_server: Vec<&str> = self
            .upstream_statuses
            .iter()
            .map(String::as_str)
            .filter(|s| !s.starts_with('2'))
            .collect();
        if !by_server.is_empty() {
            reading.push_str(&format!("; answered {}", by_server.join(", ")));
        }
        reading
    }
}

/// Where the first request head in `bytes` ends (after its empty line),
/// or 0 when it does not.
fn head_end(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |at| at + 4)
}

/// Sends `entry` to nginx and gathers what nginx answered, what it
/// forwarded and what the application saw. With `split_head`, the first
/// request head is sent alone, then the rest after [`PAUSE`]: nginx has
/// started forwarding before the body arrives.
fn send(
    nginx: SocketAddr,
    recorder: &Recorder,
    seen: &Mutex<Vec<Message>>,
    entry: &Entry,
    split_head: bool,
) -> Outcome {
    recorder.take(true);
    let seen_before = seen.lock().expect("seen").len();
    let mut answer = Vec::new();
    let mut closed = false;
    let mut client = TcpStream::connect(nginx).expect("connecting to nginx");
    // nginx may close the connection before it has read everything.
    let split = if split_head {
        head_end(&entry.bytes)
    } else {
        0
    };
    let _ = client.write_all(&entry.bytes[..split]);
    if split > 0 {
        thread::sleep(PAUSE);
    }
    let _ = client.write_all(&entry.bytes[split..]);
    let _ = client.set_read_timeout(Some(Duration::from_millis(25)));
    let started = Instant::now();
    let mut last = Instant::now();
    let mut buffer = vec![0; 64 * 1024];
    // Until nginx closes, or has answered every request of the entry and
    // then sent nothing for IDLE, or EXCHANGE has passed: closing earlier
    // would make nginx abort a request in flight (and the server drop it).
    let to_heads = [entry.bytes.starts_with(b"HEAD ")];
    while started.elapsed() < EXCHANGE
        && (last.elapsed() < IDLE || responses(&answer, &to_heads).1 < entry.requests)
    {
        match client.read(&mut buffer) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                last = Instant::now();
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    drop(client);
    // The statuses nginx answered with; the corpus's only HEAD requests
    // come first in their entry.
    let statuses = statuses(&answer, &to_heads);
    let answered = format!(
        "{}{}",
        if statuses.is_empty() {
            "nothing".to_owned()
        } else {
            statuses.join(", ")
        },
        if closed { ", closed" } else { "" }
    );
    // Wait until nothing has moved (no byte through the recorder, no new
    // request at the application) for 100 ms and the readings agree, or
    // for 500 ms whatever they say, at most SETTLE.
    let started = Instant::now();
    let mut state = (usize::MAX, usize::MAX);
    let mut still = 0;
    loop {
        thread::sleep(Duration::from_millis(25));
        let now = (recorder.total(), seen.lock().expect("seen").len());
        still = if now == state { still + 1 } else { 0 };
        state = now;
        let settled = still >= 4
            && outcome(recorder.take(false), seen, seen_before, &answered).verdict()
                != Verdict::Disagree;
        if settled || still >= 20 || started.elapsed() > SETTLE {
            return outcome(recorder.take(true), seen, seen_before, &answered);
        }
    }
}

/// The outcome of an entry from what passed through the recorder (as
/// [`Recorder::take`] gives it), the requests the application saw from
/// `seen_before` on, and what nginx answered.
fn outcome(
    recorded: Vec<(Vec<u8>, Vec<u8>)>,
    seen: &Mutex<Vec<Message>>,
    seen_before: usize,
    answered: &str,
) -> Outcome {
    let mut forwarded = Ok(Vec::new());
    let mut upstream_statuses = Vec::new();
    for (up, down) in recorded {
        let on_this = requests(&up);
        let head: Vec<bool> = match &on_this {
            Ok(messages) => messages.iter().map(|(m, _)| m.method == "HEAD").collect(),
            Err(_) => Vec::new(),
        };
        upstream_statuses.extend(statuses(&down, &head));
        forwarded = forwarded.and_then(|mut all: Vec<(Message, Framing)>| {
            all.extend(on_this?);
            Ok(all)
        });
    }
    Outcome {
        answered: answered.to_owned(),
        forwarded,
        upstream_statuses,
        seen: seen.lock().expect("seen")[seen_before..].to_vec(),
    }
}

/// The `location /` of each nginx set-up: HTTP/1.1 keep-alive upstream.
fn location(mode: &str) -> String {
    format!(
        "
            proxy_pass http://albany;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_request_buffering {};",
        if mode == "streaming" { "off" } else { "on" }
    )
}

/// Every entry through nginx (set up as `mode`) to `adapter`.
fn run_adapter(adapter: &str, mode: &str, entries: &[Entry]) -> Vec<Outcome> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server: ServerThread = serve_with(adapter, application(seen.clone()), Settings::default());
    let recorder = Recorder::start(server.addr());
    let nginx = Nginx::start(
        &recorder.addr.to_string(),
        &format!("smuggling-{mode}-{adapter}"),
        &location(mode),
    );
    let outcomes = entries
        .iter()
        .map(|entry| send(nginx.addr(), &recorder, &seen, entry, mode == "streaming"))
        .collect();
    drop(nginx);
    drop(recorder);
    server.stop().expect("the server stopped");
    outcomes
}

/// The entries: the whole differential corpus, its smuggling set
/// included; only the one named by `ALBANY_SMUGGLING_ENTRY` when it is
/// set, or those whose names start with one of the comma-separated
/// prefixes in `ALBANY_SMUGGLING_SETS` (such as `smuggling/,pipelined/`).
fn entries() -> Vec<Entry> {
    let only = std::env::var("ALBANY_SMUGGLING_ENTRY").ok();
    let sets = std::env::var("ALBANY_SMUGGLING_SETS").unwrap_or_default();
    corpus()
        .into_iter()
        .filter(|e| match &only {
            Some(name) => &e.name == name,
            None => sets.split(',').any(|set| e.name.starts_with(set)),
        })
        .collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Runs every entry on every adapter behind nginx set up as `mode`,
/// prints the table and fails on any disagreement.
fn behind_nginx(mode: &str) {
    let entries = entries();
    assert!(!entries.is_empty(), "no entry to send");
    let outcomes: BTreeMap<&str, Vec<Outcome>> = thread::scope(|scope| {
        let runs: Vec<_> = ADAPTERS
            .iter()
            .map(|&adapter| {
                let entries = &entries;
                (
                    adapter,
                    scope.spawn(move || run_adapter(adapter, mode, entries)),
                )
            })
            .collect();
        runs.into_iter()
            .map(|(adapter, run)| (adapter, run.join().expect("the run")))
            .collect()
    });
    let mut table = format!(
        "nginx {mode}: {} entries\n\n| entry | nginx answered | nginx forwarded | {} | agree |\n| --- | --- | --- |{}\n",
        entries.len(),
        ADAPTERS.join(" | "),
        " --- |".repeat(ADAPTERS.len() + 1)
    );
    let mut failures = Vec::new();
    let (mut forwarded, mut cut_short, mut rejected) = (0, 0, 0);
    let mut per_adapter: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let reference = &outcomes[ADAPTERS[0]][index];
        match &reference.forwarded {
            Ok(messages) if messages.is_empty() => rejected += 1,
            Ok(messages) if messages.iter().any(|(m, _)| m.body == Length::Incomplete) => {
                cut_short += 1
            }
            _ => forwarded += 1,
        }
        let mut cells = Vec::new();
        let mut verdicts = Vec::new();
        for adapter in ADAPTERS {
            let outcome = &outcomes[adapter][index];
            let mut reading = outcome.reading();
            if outcome.forwarded != reference.forwarded {
                // nginx itself did otherwise in front of this adapter.
                reading.push_str(&format!(" (here nginx {})", outcome.nginx_verdict()));
            }
            let verdict = outcome.verdict();
            let counts = per_adapter.entry(adapter).or_default();
            match verdict {
                Verdict::Agree => {}
                Verdict::Refused => counts.1 += 1,
                Verdict::Disagree => counts.0 += 1,
            }
            let expected = verdict == Verdict::Agree
                || (verdict == Verdict::Refused && REFUSED.contains(&entry.name.as_str()));
            if !expected {
                failures.push(format!(
                    "{} on {adapter} ({verdict:?}): nginx {}; {adapter} saw {}",
                    entry.name,
                    outcome.nginx_verdict(),
                    outcome.reading()
                ));
            }
            verdicts.push(verdict);
            cells.push(cell(&reading));
        }
        let agree = if verdicts.contains(&Verdict::Disagree) {
            "**no**"
        } else if verdicts.contains(&Verdict::Refused) {
            "refused by Albany"
        } else {
            "yes"
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {agree} |\n",
            entry.name,
            cell(&reference.answered),
            cell(&reference.nginx_verdict()),
            cells.join(" | "),
        ));
    }
    let counts: Vec<String> = per_adapter
        .iter()
        .map(|(adapter, (disagree, refused))| {
            format!("{adapter} {disagree} disagreements, {refused} refused")
        })
        .collect();
    table.push_str(&format!(
        "\n{} entries: nginx forwarded {forwarded} whole, {cut_short} cut short, rejected {rejected} (nothing forwarded); {}\n",
        entries.len(),
        counts.join("; ")
    ));
    println!("{table}");
    assert!(
        failures.is_empty(),
        "the server read otherwise than nginx forwarded:\n{}",
        failures.join("\n")
    );
}

#[test]
fn each_adapter_reads_what_buffering_nginx_forwards() {
    if nginx_installed() {
        behind_nginx("buffered");
    }
}

#[test]
fn each_adapter_reads_what_streaming_nginx_forwards() {
    if nginx_installed() {
        behind_nginx("streaming");
    }
}

/// The reference reading itself: what it frames, and what it calls
/// ambiguous.
#[test]
fn the_reference_reading_frames_strictly() {
    let post =
        |fields: &str, body: &str| format!("POST /a HTTP/1.1\r\nHost: h\r\n{fields}\r\n{body}");
    let one = |length, framing| {
        Ok(vec![(
            Message {
                method: "POST".to_owned(),
                target: "/a".to_owned(),
                body: length,
            },
            framing,
        )])
    };
    assert_eq!(
        requests(post("Content-Length: 3\r\n", "abc").as_bytes()),
        one(Length::Complete(3), Framing::Length(3))
    );
    assert_eq!(
        requests(post("Content-Length: 3\r\n", "ab").as_bytes()),
        one(Length::Incomplete, Framing::Length(3))
    );
    assert_eq!(
        requests(
            post(
                "Transfer-Encoding: chunked\r\n",
                "3\r\nabc\r\n0\r\nx: y\r\n\r\n"
            )
            .as_bytes()
        ),
        one(Length::Complete(3), Framing::Chunked)
    );
    assert_eq!(
        requests(post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n").as_bytes()),
        one(Length::Incomplete, Framing::Chunked)
    );
    let two = format!("{}{}", post("Content-Length: 1\r\n", "a"), post("", ""));
    assert_eq!(requests(two.as_bytes()).map(|m| m.len()), Ok(2));
    for ambiguous in [
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 3\r\nContent-Length: 3\r\n",
        "Content-Length: 3, 3\r\n",
        "Content-Length: +3\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ] {
        assert!(
            requests(post(ambiguous, "abc").as_bytes()).is_err(),
            "{ambiguous:?}"
        );
    }
    assert!(requests(post("Transfer-Encoding: chunked\r\n", "3\r\nabcd\r\n").as_bytes()).is_err());
    assert_eq!(
        statuses(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &[]),
        ["200", "400"]
    );
    assert_eq!(
        statuses(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &[true]),
        ["200", "200"]
    );
}

/// The comparison catches a server that reads otherwise: without nginx,
/// the recorder forwards the client's bytes as they are, so the reference
/// reading and the server differ on a request with both `Content-Length`
/// and `Transfer-Encoding` (ambiguous to the reference reading), and on a
/// second request the server rejects (`Host` missing, H1-13) that the
/// reference reading counts.
#[test]
fn a_reading_that_differs_is_caught() {
    for adapter in ADAPTERS {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = serve_with(adapter, application(seen.clone()), Settings::default());
        let recorder = Recorder::start(server.addr());
        let ambiguous = corpus()
            .into_iter()
            .find(|e| e.name == "smuggling/cl-te")
            .expect("the cl-te entry");
        let outcome = send(recorder.addr, &recorder, &seen, &ambiguous, false);
        assert!(
            matches!(&outcome.forwarded, Err(e) if e.contains("1 Content-Length and 1 Transfer-Encoding")),
            "{adapter}: {outcome:?}"
        );
        assert_eq!(
            outcome.verdict(),
            Verdict::Disagree,
            "{adapter}: {outcome:?}"
        );
        let two = Entry {
            name: "control/second-without-host".to_owned(),
            bytes: b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\n\r\n".to_vec(),
            requests: 2,
        };
        let outcome = send(recorder.addr, &recorder, &seen, &two, false);
        assert_eq!(
            outcome.forwarded.as_ref().map(Vec::len),
            Ok(2),
            "{adapter}: {outcome:?}"
        );
        assert_eq!(outcome.seen.len(), 1, "{adapter}: {outcome:?}");
        assert_eq!(outcome.upstream_statuses, ["200", "400"], "{adapter}");
        assert_eq!(
            outcome.verdict(),
            Verdict::Refused,
            "{adapter}: {outcome:?}"
        );
        drop(recorder);
        server.stop().expect("the server stopped");
    }
}
