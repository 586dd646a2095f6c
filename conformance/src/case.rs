//! What a conformance case is: an id, the clauses it checks, and a check
//! that runs against one [`Target`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use albany_server::Settings;

use crate::app::{self, AppState};
use crate::{RunningServer, Target};

/// The level of the clauses a case checks (spec/README.md, "Conformance
/// levels"): a failing `Must` case means the adapter does not conform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// MUST or MUST NOT.
    Must,
    /// SHOULD or SHOULD NOT.
    Should,
}

impl Level {
    /// `"MUST"` or `"SHOULD"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// The groups of the server suite, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Message framing and request-smuggling defences (RFC 9112 §2–§7).
    Framing,
    /// Request semantics: targets, Host, HEAD, 204/304, `Expect`, `Date`.
    Semantics,
    /// Connection management: keep-alive, pipelining, `Connection: close`.
    Connection,
    /// Streaming, timeliness, backpressure and trailers.
    Streaming,
    /// Client disconnects and cancellation.
    Cancellation,
    /// Errors and panics before and after the response head.
    Errors,
    /// Limits and timeouts.
    Limits,
    /// Concurrency between requests.
    Concurrency,
    /// Graceful shutdown.
    Shutdown,
    /// HTTP/2 specifics.
    Http2,
    /// Upgrades, the runtime service and the extensions.
    Interface,
    /// I/O through the runtime: connections, listeners, child processes.
    Io,
}

impl Group {
    /// Every group, in report order.
    pub const ALL: [Group; 12] = [
        Group::Framing,
        Group::Semantics,
        Group::Connection,
        Group::Streaming,
        Group::Cancellation,
        Group::Errors,
        Group::Limits,
        Group::Concurrency,
        Group::Shutdown,
        Group::Http2,
        Group::Interface,
        Group::Io,
    ];

    /// The group's name: the first part of its cases' ids.
    pub fn name(self) -> &'static str {
        match self {
            Group::Framing => "framing",
            Group::Semantics => "semantics",
            Group::Connection => "connection",
            Group::Streaming => "streaming",
            Group::Cancellation => "cancellation",
            Group::Errors => "errors",
            Group::Limits => "limits",
            Group::Concurrency => "concurrency",
            Group::Shutdown => "shutdown",
            Group::Http2 => "http2",
            Group::Interface => "interface",
            Group::Io => "io",
        }
    }
}

/// One conformance case.
///
/// A case starts the reference application ([`crate::app`]) on the target
/// under test through its [`Context`], talks to it with a client that does
/// not run on the target's runtime, and returns `Ok(())` when the target
/// behaved as the cited clauses require.
#[derive(Clone, Copy)]
pub struct Case {
    /// The stable id, `group.name` (for example `framing.cl-and-te`); ids are
    /// never reused for another check.
    pub id: &'static str,
    /// The level of the clauses checked.
    pub level: Level,
    /// The spec clause ids checked (for example `["H1-1", "REQ-15"]`).
    pub clauses: &'static [&'static str],
    /// The RFC sections checked (for example `["RFC 9112 §6.1"]`).
    pub rfc: &'static [&'static str],
    /// One line: what the case checks.
    pub title: &'static str,
    /// Runs alone, not beside other cases: it opens many connections or
    /// measures time.
    pub serial: bool,
    /// The check.
    pub check: fn(&mut Context<'_>) -> Result<(), Failure>,
}

impl Case {
    /// The group, from the id's first part.
    ///
    /// # Panics
    ///
    /// If the id names no group (the suite's own tests rule this out).
    pub fn group(&self) -> Group {
        let name = self.id.split('.').next().unwrap_or("");
        Group::ALL
            .into_iter()
            .find(|group| group.name() == name)
            .unwrap_or_else(|| panic!("case {} names no group", self.id))
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("clauses", &self.clauses)
            .finish_non_exhaustive()
    }
}

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The target broke a clause: what was expected and what happened.
    Fail(String),
    /// The target does not offer what the case needs (TLS, say).
    Unsupported(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Fail(message) => f.write_str(message),
            Failure::Unsupported(reason) => write!(f, "unsupported: {reason}"),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Fail(format!("I/O error: {error} ({:?})", error.kind()))
    }
}

/// Fails the case with a formatted message unless `condition` holds.
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::Failure::Fail(format!($($message)+)));
        }
    };
}

/// Fails the case unless `left == right`, showing both.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::Failure::Fail(format!(
                        "{}: expected {:?}, got {:?}",
                        format!($($message)+),
                        right,
                        left
                    )));
                }
            }
        }
    };
}

/// What a check works with: the target under test, and servers it started.
pub struct Context<'a> {
    target: &'a dyn Target,
}

impl<'a> Context<'a> {
    /// A context for running one case on `target`.
    pub fn new(target: &'a dyn Target) -> Self {
        Context { target }
    }

    /// The target under test.
    pub fn target(&self) -> &'a dyn Target {
        self.target
    }

    /// Starts the reference application with [`suite_settings`].
    ///
    /// # Errors
    ///
    /// A failure if the server does not start.
    pub fn start(&mut self) -> Result<(RunningServer, Arc<AppState>), Failure> {
        self.start_with(|_| {})
    }

    /// Starts the reference application with [`suite_settings`] changed by
    /// `configure`.
    ///
    /// # Errors
    ///
    /// A failure if the server does not start.
    pub fn start_with(
        &mut self,
        configure: impl FnOnce(&mut Settings),
    ) -> Result<(RunningServer, Arc<AppState>), Failure> {
        let mut settings = suite_settings();
        configure(&mut settings);
        let state = Arc::new(AppState::default());
        let server = self
            .target
            .start(app::application(state.clone()), settings)
            .map_err(|error| Failure::Fail(format!("the server did not start: {error}")))?;
        Ok((server, state))
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("target", &self.target.name())
            .finish()
    }
}

/// The settings every case starts from: the defaults, except a graceful
/// shutdown deadline of 5 seconds so that a case never waits 30.
pub fn suite_settings() -> Settings {
    let mut settings = Settings::default();
    settings.graceful_shutdown_timeout = Duration::from_secs(5);
    settings
}

/// Polls `condition` every 10 ms for at most `limit`; `true` as soon as it
/// holds.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    condition()
}
