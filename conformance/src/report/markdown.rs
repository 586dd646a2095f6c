//! The Markdown document.

use std::fmt::Write;

use super::{cell, notes, shorten};
use crate::verdict::{Report, Verdict};
use crate::{Group, Level};

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Albany conformance report\n");
    let _ = writeln!(
        out,
        "Specification {}; {} cases on {} target(s). Produced by `cargo run -p albany-conformance -- --adapter all,all-tls,hyper-util-tower --format markdown` (the three adapters over TCP, then over TLS, then the reference target `hyper-util-tower`: the same application on plain hyper-util through `albany::tower`, no Albany engine, whose known failures are `XFAIL`: failures, explained in the notes, that do not fail the run).\n",
        report.spec_version,
        report.cases.len(),
        report.targets.len()
    );
    let _ = writeln!(out, "## Totals\n");
    let _ = writeln!(
        out,
        "| target | pass | fail | waived | unsupported | expected fail | MUST pass | SHOULD pass |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (column, target) in report.targets.iter().enumerate() {
        let totals = report.totals(column);
        let must = report.totals_at(column, Level::Must);
        let should = report.totals_at(column, Level::Should);
        let _ = writeln!(
            out,
            "| {target} | {} | {} | {} | {} | {} | {}/{} | {}/{} |",
            totals.pass,
            totals.fail,
            totals.waived,
            totals.unsupported,
            totals.expected_fail,
            must.pass,
            must.total(),
            should.pass,
            should.total()
        );
    }
    if let Some(summary) = &report.differential {
        let _ = writeln!(
            out,
            "\nDifferential run: {} raw requests ({} rejected as malformed or answered with an error) sent to {}: **{} disagreement(s)**.",
            summary.entries,
            summary.rejected,
            summary.targets.join(", "),
            summary.disagreements.len()
        );
        for disagreement in &summary.disagreements {
            let _ = writeln!(out, "\n- `{}`", disagreement.entry);
            for (target, outcome) in &disagreement.outcomes {
                let _ = writeln!(out, "  - {target}: `{}`", escape(&shorten(outcome, 300)));
            }
        }
        if !summary.reference_differences.is_empty() {
            let _ = writeln!(
                out,
                "\nReference targets (not Albany's engine; expected differences, which do not fail the run): {} of the {} requests answered otherwise than by Albany:",
                summary.reference_differences.len(),
                summary.entries
            );
            for difference in &summary.reference_differences {
                let _ = writeln!(out, "\n- `{}`", difference.entry);
                for (target, outcome) in &difference.outcomes {
                    let _ = writeln!(out, "  - {target}: `{}`", escape(&shorten(outcome, 200)));
                }
            }
        }
    }
    let _ = writeln!(out, "\n## Cases by group\n");
    let _ = writeln!(out, "| group | cases | MUST | SHOULD |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
    for group in Group::ALL {
        let cases: Vec<_> = report.cases.iter().filter(|c| c.group() == group).collect();
        if cases.is_empty() {
            continue;
        }
        let must = cases.iter().filter(|c| c.level == Level::Must).count();
        let _ = writeln!(
            out,
            "| {} | {} | {must} | {} |",
            group.name(),
            cases.len(),
            cases.len() - must
        );
    }
    let _ = writeln!(out, "\n## Matrix\n");
    let _ = write!(out, "| case | level | clauses | RFC |");
    for target in &report.targets {
        let _ = write!(out, " {target} |");
    }
    let _ = write!(out, "\n| --- | --- | --- | --- |");
    for _ in &report.targets {
        out.push_str(" --- |");
    }
    out.push('\n');
    for row in &report.results {
        let case = row[0].case;
        let _ = write!(
            out,
            "| `{}` {} | {} | {} | {} |",
            case.id,
            escape(case.title),
            case.level.as_str(),
            case.clauses.join(", "),
            case.rfc.join(", ")
        );
        for result in row {
            let _ = write!(out, " {} |", cell(result));
        }
        out.push('\n');
    }
    let expected: Vec<_> = report
        .results
        .iter()
        .flatten()
        .filter_map(|result| match &result.verdict {
            Verdict::ExpectedFail { reason, detail } => Some((result, *reason, detail)),
            _ => None,
        })
        .collect();
    if !expected.is_empty() {
        let _ = writeln!(out, "\n## Expected failures of reference targets\n");
        let _ = writeln!(
            out,
            "Failures (`XFAIL` above) of targets that are not Albany's engine, which each target lists with the reason; they do not fail the run. Albany's own targets list none.\n"
        );
        let _ = writeln!(out, "| case | clauses | target | why | what happened |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for (result, reason, detail) in expected {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                result.case.id,
                result.case.clauses.join(", "),
                result.target,
                escape(reason),
                escape(&shorten(detail, 200))
            );
        }
    }
    let notes: Vec<_> = notes(report)
        .into_iter()
        .filter(|(_, _, note)| !note.starts_with("expected-fail:"))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for (id, target, note) in notes {
            let _ = writeln!(
                out,
                "- `{id}` on {target}: {}",
                escape(&shorten(&note, 400))
            );
        }
    }
    out
}
