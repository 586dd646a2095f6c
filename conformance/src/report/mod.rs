//! Renders a [`Report`]: an adapter × case matrix with totals, as text,
//! Markdown, JSON, JUnit XML or one self-contained HTML page.

mod html;
mod json;
mod junit;
mod markdown;
mod text;

use std::fmt;
use std::str::FromStr;

use crate::verdict::{CaseResult, Report, Verdict};

/// An output format of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain-text matrix for terminals.
    Text,
    /// A Markdown document (conformance/REPORT.md is one).
    Markdown,
    /// A JSON document (schema in [`json`](self) module docs).
    Json,
    /// JUnit XML: one test suite per target, one test case per case.
    Junit,
    /// One self-contained HTML file.
    Html,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Format::Text),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "junit" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown format {other:?}: expected text, markdown, json, junit or html"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Html => "html",
        })
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text::render(report),
        Format::Markdown => markdown::render(report),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Html => html::render(report),
    }
}

/// The short cell text of a verdict: `pass`, `FAIL`, `waived`, `n/a`, and
/// `XFAIL` for an expected failure of a reference target.
fn cell(result: &CaseResult) -> &'static str {
    match result.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail(_) => "FAIL",
        Verdict::Waived { .. } => "waived",
        Verdict::Unsupported(_) => "n/a",
        Verdict::ExpectedFail { .. } => "XFAIL",
    }
}

/// Notes for the verdicts that are not passes: `(case id, target, text)`.
fn notes(report: &Report) -> Vec<(&'static str, &'static str, String)> {
    report
        .results
        .iter()
        .flatten()
        .filter(|result| result.verdict != Verdict::Pass)
        .map(|result| {
            (
                result.case.id,
                result.target,
                format!("{}: {}", result.verdict.label(), result.verdict.detail()),
            )
        })
        .collect()
}

/// Shortens `text` to at most `max` characters.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max).collect();
        short.push('…');
        short
    }
}
