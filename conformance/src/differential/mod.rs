//! The differential run: one corpus of raw requests sent to every target;
//! any disagreement in status, framing, or what the application observed is
//! a failure.
//!
//! Each entry goes on a new connection to a server of the target's own (one
//! per worker thread), over TLS for a TLS target ([`crate::transport`]):
//! plain and TLS targets can be compared with each other, and agree. The outcome recorded is, for each response, the
//! status, how the body was framed, the header fields (without `Date`) and
//! the body, and then whether the connection closed; plus the requests the
//! application was called with (its [`AppState::seen`] list) and, for
//! `/inspect`, what it observed in the request.
//!
//! Every entry is sent twice: as it is, and half-closed (the client shuts
//! down its write side after the entry's bytes, spec H1-24); the second is
//! reported as `NAME (half-closed)`. The two may differ from each other
//! (an application still pending at the end of file is cancelled,
//! CANCEL-5); each must agree across targets. The entries of
//! [`HALF_CLOSE_RACES`] are sent half-closed but not compared.

mod corpus;

pub use corpus::{corpus, Entry};

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use crate::app::AppState;
use crate::h1::{self, Framing};
use crate::Target;

/// How long the run waits for more bytes after the expected responses, or
/// for a response at all, in milliseconds.
const SETTLE: Duration = Duration::from_millis(300);
/// How long one entry may take before its outcome is "timeout".
const ENTRY_TIMEOUT: Duration = Duration::from_secs(3);

/// A disagreement: the outcome of one entry on each target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The entry's name.
    pub entry: String,
    /// `(target, outcome)` for every target.
    pub outcomes: Vec<(&'static str, String)>,
}

/// The result of a differential run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The targets compared.
    pub targets: Vec<&'static str>,
    /// How many entries were sent to each target: twice the corpus, each
    /// entry as it is and half-closed.
    pub entries: usize,
    /// How many entries got at least one response with a 4xx or 5xx status,
    /// or none, on the first target (malformed input, handled).
    pub rejected: usize,
    /// The entries whose outcomes differ between Albany's targets (every
    /// target that is not a [reference](crate::Target::is_reference) one).
    pub disagreements: Vec<Disagreement>,
    /// The entries a reference target answered otherwise than the first of
    /// Albany's targets: expected differences, shown and not failing the
    /// run. Each lists the first Albany target's outcome, then the
    /// reference targets'.
    pub reference_differences: Vec<Disagreement>,
}

/// Stops the panic hook from printing the reference application's
/// deliberate panics (`/panic`, reached by some entries), which the servers
/// turn into responses; any other panic is printed as before.
fn quiet_deliberate_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<&str>().copied();
            if !message.is_some_and(|m| m.starts_with("deliberate panic")) {
                previous(info);
            }
        }));
    });
}

/// Sends every entry of `entries` to every target, with `jobs` connections
/// at a time per target, and compares the outcomes.
pub fn run(targets: &[&'static dyn Target], entries: &[Entry], jobs: usize) -> Summary {
    quiet_deliberate_panics();
    let names: Vec<String> = Mode::ALL
        .iter()
        .flat_map(|mode| entries.iter().map(move |entry| mode.name(entry)))
        .collect();
    let outcomes: Vec<Vec<String>> = thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&target| scope.spawn(move || run_target(target, entries, jobs.max(1))))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| vec!["the run panicked".to_owned(); names.len()])
            })
            .collect()
    });
    // Albany's targets are compared with each other; reference targets
    // with the first of them (or, without any, with each other).
    let (albany, reference): (Vec<_>, Vec<_>) = targets
        .iter()
        .zip(&outcomes)
        .partition(|(target, _)| !target.is_reference());
    let (albany, reference) = if albany.is_empty() {
        (reference, Vec::new())
    } else {
        (albany, reference)
    };
    let mut disagreements = Vec::new();
    let mut reference_differences = Vec::new();
    let mut rejected = 0;
    for (index, name) in names.iter().enumerate() {
        let first = albany.first().map(|(_, o)| o[index].as_str()).unwrap_or("");
        if first.contains("status 4") || first.contains("status 5") || !first.contains("status") {
            rejected += 1;
        }
        let race = index >= entries.len()
            && HALF_CLOSE_RACES.contains(&entries[index % entries.len()].name.as_str());
        if !race && albany.iter().any(|(_, o)| o[index] != first) {
            disagreements.push(Disagreement {
                entry: name.clone(),
                outcomes: albany
                    .iter()
                    .map(|(target, o)| (target.name(), o[index].clone()))
                    .collect(),
            });
        }
        if !race && reference.iter().any(|(_, o)| o[index] != first) {
            reference_differences.push(Disagreement {
                entry: name.clone(),
                outcomes: albany
                    .iter()
                    .take(1)
                    .chain(&reference)
                    .map(|(target, o)| (target.name(), o[index].clone()))
                    .collect(),
            });
        }
    }
    Summary {
        targets: targets.iter().map(|t| t.name()).collect(),
        entries: names.len(),
        rejected,
        disagreements,
        reference_differences,
    }
}

/// The entries whose half-closed outcome depends on timing on every
/// target, so it is not compared: their response body is produced by a
/// task the application spawns, after the response head, and that task
/// races the end of file the server reads (CANCEL-1: a client that has
/// gone before the response is complete gets the rest cut off).
pub const HALF_CLOSE_RACES: &[&str] = &["connection/trailers", "connection/trailers-no-te"];

/// How an entry is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The bytes, then the client reads.
    AsIs,
    /// The bytes, then the client shuts down its write side and reads.
    HalfClosed,
}

impl Mode {
    const ALL: [Mode; 2] = [Mode::AsIs, Mode::HalfClosed];

    fn name(self, entry: &Entry) -> String {
        match self {
            Mode::AsIs => entry.name.clone(),
            Mode::HalfClosed => format!("{} (half-closed)", entry.name),
        }
    }
}

fn run_target(target: &'static dyn Target, entries: &[Entry], jobs: usize) -> Vec<String> {
    let sends = entries.len() * Mode::ALL.len();
    let results = Mutex::new(vec![String::new(); sends]);
    let next = Mutex::new(0usize);
    thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let state = std::sync::Arc::new(AppState::default());
                let server = match target.start(
                    crate::app::application(state.clone()),
                    crate::suite_settings(),
                ) {
                    Ok(server) => server,
                    Err(error) => {
                        let mut results = results.lock().expect("results");
                        for slot in results.iter_mut().filter(|s| s.is_empty()) {
                            *slot = format!("the server did not start: {error}");
                        }
                        return;
                    }
                };
                loop {
                    let index = {
                        let mut next = next.lock().expect("the next entry");
                        let index = *next;
                        *next += 1;
                        index
                    };
                    if index >= sends {
                        break;
                    }
                    let entry = &entries[index % entries.len()];
                    let mode = Mode::ALL[index / entries.len()];
                    let seen_before = state.calls();
                    let mut outcome = send(server.endpoint(), entry, mode);
                    // Let the application finish what the entry started.
                    thread::sleep(Duration::from_millis(5));
                    let seen = state.seen.lock().expect("seen")[seen_before..].join(", ");
                    outcome.push_str(&format!("; application saw [{seen}]"));
                    results.lock().expect("results")[index] = outcome;
                }
                drop(server);
            });
        }
    });
    results.into_inner().expect("results")
}

/// Sends one entry and describes what came back.
fn send(addr: crate::Endpoint, entry: &Entry, mode: Mode) -> String {
    let mut connection = match h1::Connection::open(addr) {
        Ok(connection) => connection,
        Err(error) => return format!("connect error: {}", error.kind()),
    };
    if let Err(error) = connection.send(&entry.bytes) {
        return format!("write error: {}", error.kind());
    }
    if mode == Mode::HalfClosed {
        // An error here means that the server has already closed (a fast
        // 400): what it sent is read below all the same.
        let _ = connection.shutdown_write();
    }
    let head_request = entry.bytes.starts_with(b"HEAD ");
    let mut parts = Vec::new();
    let _ = connection.stream().set_read_timeout(Some(ENTRY_TIMEOUT));
    for i in 0..entry.requests {
        if i > 0 {
            let _ = connection.stream().set_read_timeout(Some(ENTRY_TIMEOUT));
        }
        let head = match connection.read_head() {
            Ok(head) => head,
            Err(error) => {
                parts.push(match error.kind() {
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                        "closed".to_owned()
                    }
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        "timeout".to_owned()
                    }
                    kind => format!("read error: {kind}"),
                });
                return parts.join("; ");
            }
        };
        let head_request = head_request && i == 0;
        let head = if head.status == 100 {
            match connection.read_head() {
                Ok(head) => head,
                Err(_) => {
                    parts.push("100 then nothing".to_owned());
                    return parts.join("; ");
                }
            }
        } else {
            head
        };
        parts.push(describe(&mut connection, &head, head_request));
    }
    // Anything after the expected responses (the status line of each
    // further response), then whether the connection closed.
    let _ = connection.stream().set_read_timeout(Some(SETTLE));
    let mut extra = Vec::new();
    let end = loop {
        match connection.read_some(64 * 1024) {
            Ok(bytes) if bytes.is_empty() => break "closed",
            Ok(bytes) => extra.extend(bytes),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break "open"
            }
            Err(_) => break "closed",
        }
        if extra.len() > 1024 * 1024 {
            break "flooding";
        }
    };
    if !extra.is_empty() {
        let text = String::from_utf8_lossy(&extra);
        let status_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("HTTP/")).collect();
        parts.push(format!("then {status_lines:?}"));
    }
    parts.push(end.to_owned());
    parts.join("; ")
}

fn describe(connection: &mut h1::Connection, head: &h1::Head, head_request: bool) -> String {
    let framing = match head.framing(head_request) {
        Framing::None => "none".to_owned(),
        Framing::Length(n) => format!("length {n}"),
        Framing::Chunked => "chunked".to_owned(),
        Framing::Close => "close".to_owned(),
    };
    let mut fields: Vec<String> = head
        .headers
        .iter()
        .filter(|(name, _)| name != "date")
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    fields.sort();
    let body = match connection.read_body(head, head_request) {
        Ok(response) => format!(
            "{} body {:?}{}",
            if response.complete {
                "complete"
            } else {
                "incomplete"
            },
            String::from_utf8_lossy(&response.body),
            if response.trailers.is_empty() {
                String::new()
            } else {
                format!(" trailers {:?}", response.trailers)
            }
        ),
        Err(error) => format!("body error {}", error.kind()),
    };
    format!(
        "status {} HTTP/1.{} framing {framing} [{}] {body}",
        head.status,
        head.minor_version,
        fields.join(", ")
    )
}
