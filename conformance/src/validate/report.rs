//! How violations are reported (`VAL-11`): the typed [`Violation`], the
//! shared [`Violations`] collector, the [`Action`] taken, and the
//! per-response [`Reporter`] the checks write to.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use albany::http::{Method, Uri};

use super::Rule;

/// What the validator does with a violation, besides recording it in its
/// [`Violations`] collector (`VAL-11`).
///
/// The default is [`Action::Panic`] in builds with debug assertions (tests,
/// `cargo run`) and [`Action::Log`] otherwise (`--release`): loud where a
/// developer is looking, harmless in production.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Panic on the first violation, with a message that names the rule id,
    /// the request's method and target, and what was wrong.
    ///
    /// A violation found on the head panics in the future returned by
    /// `call`: a server answers `500` (ERR clauses). One found in the body
    /// panics in `poll_frame`: a server aborts the response. In a test, the
    /// panic fails the test where the response is checked or the body read.
    Panic,
    /// Log each violation with `tracing::warn!` (target `albany::validate`,
    /// fields `rule`, `clause`, `method`, `uri`) and let the response go on
    /// unchanged.
    Log,
}

impl Default for Action {
    fn default() -> Self {
        if cfg!(debug_assertions) {
            Action::Panic
        } else {
            Action::Log
        }
    }
}

/// One violation of a validator rule by one response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The rule violated.
    pub rule: Rule,
    /// The method of the request the response answered.
    pub method: Method,
    /// The target (path and query, or absolute URI) of that request.
    pub uri: Uri,
    /// What was wrong, in one sentence.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} {}: {} ({})",
            self.rule.id(),
            self.method,
            self.uri,
            self.detail,
            self.rule.clause()
        )
    }
}

impl std::error::Error for Violation {}

/// A shared, cloneable record of the violations a validator found.
///
/// Clones share one list: keep a clone (from
/// [`Validate::violations`](super::Validate::violations)) before handing the
/// validator to a server, and read it from a test.
#[derive(Clone, Default)]
pub struct Violations {
    list: Arc<Mutex<Vec<Violation>>>,
}

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Violations::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Violation>> {
        // A panic in `Action::Panic` mode never happens with the lock held,
        // but a poisoned list is still a valid list.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn push(&self, violation: Violation) {
        self.lock().push(violation);
    }

    /// The number of violations recorded and not yet taken.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns `true` when no violation is recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes and returns the violations recorded so far, oldest first.
    pub fn take(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.lock())
    }

    /// Returns a copy of the violations recorded so far, oldest first.
    pub fn to_vec(&self) -> Vec<Violation> {
        self.lock().clone()
    }

    /// Iterates over a snapshot of the violations recorded so far.
    pub fn iter(&self) -> std::vec::IntoIter<Violation> {
        self.to_vec().into_iter()
    }

    /// The rules of the violations recorded so far, in order, repeats kept.
    pub fn rules(&self) -> Vec<Rule> {
        self.lock().iter().map(|violation| violation.rule).collect()
    }

    /// Forgets the violations recorded so far.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

/// The reporting end of the checks of one response: knows the request, the
/// action and the collector, and which rules it already reported.
pub(super) struct Reporter {
    action: Action,
    violations: Violations,
    method: Method,
    uri: Uri,
    reported: u16,
}

impl Reporter {
    pub(super) fn new(action: Action, violations: Violations, method: Method, uri: Uri) -> Self {
        Reporter {
            action,
            violations,
            method,
            uri,
            reported: 0,
        }
    }

    /// Reports a violation of `rule`.
    pub(super) fn report(&mut self, rule: Rule, detail: impl Into<String>) {
        self.reported |= rule.bit();
        let violation = Violation {
            rule,
            method: self.method.clone(),
            uri: self.uri.clone(),
            detail: detail.into(),
        };
        self.violations.push(violation.clone());
        match self.action {
            Action::Panic => panic!("application validator: {violation}"),
            Action::Log => tracing::warn!(
                target: "albany::validate",
                rule = violation.rule.id(),
                clause = violation.rule.clause(),
                method = %violation.method,
                uri = %violation.uri,
                "{}",
                violation.detail
            ),
        }
    }

    /// Reports a violation of `rule` unless one was already reported for
    /// this response: for checks that would repeat frame after frame.
    pub(super) fn report_once(&mut self, rule: Rule, detail: impl FnOnce() -> String) {
        if self.reported & rule.bit() == 0 {
            self.report(rule, detail());
        }
    }
}
