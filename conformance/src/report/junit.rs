//! JUnit XML: one `<testsuite>` per target, one `<testcase>` per case; a
//! failure is `<failure>`, a waived, unsupported or expected-to-fail case
//! `<skipped>` (its message says which).

use std::fmt::Write;

use crate::verdict::{Report, Verdict};

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn render(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"albany-conformance {}\">",
        escape(report.spec_version)
    );
    for (column, target) in report.targets.iter().enumerate() {
        let totals = report.totals(column);
        let seconds: f64 = report
            .results
            .iter()
            .map(|row| row[column].duration.as_secs_f64())
            .sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\">",
            escape(target),
            totals.total(),
            totals.fail,
            totals.waived + totals.unsupported + totals.expected_fail
        );
        for row in &report.results {
            let result = &row[column];
            let case = result.case;
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(target),
                case.group().name(),
                escape(case.id),
                result.duration.as_secs_f64()
            );
            match &result.verdict {
                Verdict::Pass => out.push_str("/>\n"),
                Verdict::Fail(message) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">{} {}: {}</failure>\n    </testcase>",
                        escape(message),
                        case.level.as_str(),
                        escape(&case.clauses.join(", ")),
                        escape(message)
                    );
                }
                verdict => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>",
                        verdict.label(),
                        escape(&verdict.detail())
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    if let Some(summary) = &report.differential {
        let _ = writeln!(
            out,
            "  <testsuite name=\"differential\" tests=\"{}\" failures=\"{}\">",
            summary.entries,
            summary.disagreements.len()
        );
        for disagreement in &summary.disagreements {
            let detail: Vec<String> = disagreement
                .outcomes
                .iter()
                .map(|(t, o)| format!("{t}: {o}"))
                .collect();
            let _ = writeln!(
                out,
                "    <testcase classname=\"differential\" name=\"{}\">\n      <failure message=\"the targets disagree\">{}</failure>\n    </testcase>",
                escape(&disagreement.entry),
                escape(&detail.join("\n"))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
