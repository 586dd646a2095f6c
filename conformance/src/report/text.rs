//! The plain-text matrix.

use std::fmt::Write;

use super::{cell, notes, shorten};
use crate::verdict::Report;
use crate::Level;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let id_width = report
        .cases
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "Albany conformance: specification {}",
        report.spec_version
    );
    let widths: Vec<usize> = report.targets.iter().map(|t| t.len().max(10)).collect();
    let _ = write!(out, "{:id_width$}  {:6}", "case", "level");
    for (target, width) in report.targets.iter().zip(&widths) {
        let _ = write!(out, "  {target:>width$}");
    }
    out.push('\n');
    for row in &report.results {
        let case = row[0].case;
        let _ = write!(out, "{:id_width$}  {:6}", case.id, case.level.as_str());
        for (result, width) in row.iter().zip(&widths) {
            let _ = write!(out, "  {:>width$}", cell(result));
        }
        out.push('\n');
    }
    out.push('\n');
    for (column, target) in report.targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "{target}: {} ({} cases; MUST: {}; SHOULD: {})",
            report.totals(column),
            report.totals(column).total(),
            report.totals_at(column, Level::Must),
            report.totals_at(column, Level::Should),
        );
    }
    if let Some(summary) = &report.differential {
        let _ = writeln!(
            out,
            "differential: {} requests to {}: {} disagreement(s)",
            summary.entries,
            summary.targets.join(", "),
            summary.disagreements.len()
        );
        for disagreement in &summary.disagreements {
            let _ = writeln!(out, "  {}", disagreement.entry);
            for (target, outcome) in &disagreement.outcomes {
                let _ = writeln!(out, "    {target}: {}", shorten(outcome, 300));
            }
        }
        if !summary.reference_differences.is_empty() {
            let _ = writeln!(
                out,
                "reference targets: {} request(s) answered otherwise than by Albany (expected)",
                summary.reference_differences.len()
            );
        }
    }
    let notes = notes(report);
    if !notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for (id, target, note) in notes {
            let _ = writeln!(out, "  {id} [{target}] {}", shorten(&note, 400));
        }
    }
    out
}
