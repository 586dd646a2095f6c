//! Verdicts, waivers and the results of a run.

use std::fmt;
use std::time::Duration;

use crate::case::{Case, Level};

/// The outcome of one case on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target behaved as the clauses require.
    Pass,
    /// The target broke a clause: what was expected and what happened.
    Fail(String),
    /// The case failed, and a [`Waiver`] explains why that is accepted.
    Waived {
        /// Why the failure is accepted.
        reason: &'static str,
        /// The upstream issue or pull request that tracks it.
        link: &'static str,
        /// The failure message.
        detail: String,
    },
    /// The target does not offer what the case needs.
    Unsupported(String),
    /// The case failed on a reference target (a server that is not Albany's
    /// engine, such as `hyper-util-tower`) that is known to fail it: a
    /// failure, reported as one, which the target lists with the reason
    /// ([`Target::expected_failures`](crate::Target::expected_failures)). It
    /// does not fail the run; Albany's own targets list none.
    ExpectedFail {
        /// Why the target fails the case.
        reason: &'static str,
        /// The failure message.
        detail: String,
    },
}

impl Verdict {
    /// `"pass"`, `"fail"`, `"waived"`, `"unsupported"` or
    /// `"expected-fail"`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Waived { .. } => "waived",
            Verdict::Unsupported(_) => "unsupported",
            Verdict::ExpectedFail { .. } => "expected-fail",
        }
    }

    /// The message that goes with the verdict: the failure, the waiver's
    /// reason and link, or why the case is unsupported; empty for a pass.
    pub fn detail(&self) -> String {
        match self {
            Verdict::Pass => String::new(),
            Verdict::Fail(message) | Verdict::Unsupported(message) => message.clone(),
            Verdict::Waived {
                reason,
                link,
                detail,
            } => format!("{reason} ({link}); {detail}"),
            Verdict::ExpectedFail { reason, detail } => format!("{reason}; {detail}"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An accepted failure: a case that fails on a target for a reason outside
/// Albany's control, with the upstream link that tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiver {
    /// The case id.
    pub case: &'static str,
    /// The target's name, or `None` for every target.
    pub target: Option<&'static str>,
    /// Why the failure is accepted.
    pub reason: &'static str,
    /// The upstream issue or pull request.
    pub link: &'static str,
}

impl Waiver {
    /// Whether the waiver covers `case` on `target`.
    pub fn covers(&self, case: &str, target: &str) -> bool {
        self.case == case && self.target.is_none_or(|name| name == target)
    }
}

/// A case that a reference target is known to fail, with the reason: its
/// failure is reported as [`Verdict::ExpectedFail`] and does not fail the
/// run. A reference target is a server that is not Albany's engine, run to
/// show what Albany guarantees that it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// The case id.
    pub case: &'static str,
    /// Why the target fails it.
    pub reason: &'static str,
}

/// The waivers of Albany's own adapters. Empty: every case passes.
pub const WAIVERS: &[Waiver] = &[];

/// One case run on one target.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// The target's name.
    pub target: &'static str,
    /// The outcome.
    pub verdict: Verdict,
    /// How long the case took.
    pub duration: Duration,
}

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Failed, waived.
    pub waived: usize,
    /// Not applicable to the target.
    pub unsupported: usize,
    /// Failed as the (reference) target said it would.
    pub expected_fail: usize,
}

impl Totals {
    /// Adds one verdict.
    pub fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail(_) => self.fail += 1,
            Verdict::Waived { .. } => self.waived += 1,
            Verdict::Unsupported(_) => self.unsupported += 1,
            Verdict::ExpectedFail { .. } => self.expected_fail += 1,
        }
    }

    /// All verdicts counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.waived + self.unsupported + self.expected_fail
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pass, {} fail, {} waived, {} unsupported",
            self.pass, self.fail, self.waived, self.unsupported
        )?;
        if self.expected_fail > 0 {
            write!(f, ", {} expected fail", self.expected_fail)?;
        }
        Ok(())
    }
}

/// The results of a run: every case on every target.
#[derive(Debug, Clone)]
pub struct Report {
    /// The targets' names, in column order.
    pub targets: Vec<&'static str>,
    /// The cases, in row order.
    pub cases: Vec<Case>,
    /// `results[row][column]`.
    pub results: Vec<Vec<CaseResult>>,
    /// The differential run, when it was part of the run.
    pub differential: Option<crate::differential::Summary>,
    /// The specification version checked.
    pub spec_version: &'static str,
}

impl Report {
    /// The verdict counts of one target (a column).
    pub fn totals(&self, column: usize) -> Totals {
        let mut totals = Totals::default();
        for row in &self.results {
            totals.add(&row[column].verdict);
        }
        totals
    }

    /// The verdict counts of the cases at `level` on one target.
    pub fn totals_at(&self, column: usize, level: Level) -> Totals {
        let mut totals = Totals::default();
        for row in self
            .results
            .iter()
            .filter(|row| row[column].case.level == level)
        {
            totals.add(&row[column].verdict);
        }
        totals
    }

    /// Every expected failure of a reference target, as `(case id, target,
    /// reason)`.
    pub fn expected_failures(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        self.results
            .iter()
            .flatten()
            .filter_map(|result| match &result.verdict {
                Verdict::ExpectedFail { reason, .. } => {
                    Some((result.case.id, result.target, *reason))
                }
                _ => None,
            })
            .collect()
    }

    /// Every failure (not waived, not expected), as `(case id, target,
    /// message)`.
    pub fn failures(&self) -> Vec<(&'static str, &'static str, String)> {
        self.results
            .iter()
            .flatten()
            .filter_map(|result| match &result.verdict {
                Verdict::Fail(message) => Some((result.case.id, result.target, message.clone())),
                _ => None,
            })
            .collect()
    }

    /// `true` when no case failed unwaived (expected failures of reference
    /// targets do not count) and the differential run, if any, found no
    /// disagreement.
    pub fn is_success(&self) -> bool {
        self.failures().is_empty()
            && self
                .differential
                .as_ref()
                .is_none_or(|summary| summary.disagreements.is_empty())
    }
}
