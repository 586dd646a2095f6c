//! One self-contained HTML page: inline style, no scripts or external
//! resources; failures and notes expand with `<details>`.

use std::fmt::Write;

use super::cell;
use crate::verdict::{Report, Verdict};
use crate::{Group, Level};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.pass{background:#e6f4ea}td.fail{background:#fce8e6;font-weight:bold}td.xfail{background:#fdf0e0}\
td.waived{background:#fef7e0}td.na{background:#eee;color:#666}code{font-size:.95em}\
.group{background:#fafafa;font-weight:bold}details{margin:.2em 0}summary{cursor:pointer}small{color:#666}";

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Albany conformance report</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(
        out,
        "<h1>Albany conformance report</h1><p>Specification {}; {} cases on {} target(s).</p>",
        escape(report.spec_version),
        report.cases.len(),
        report.targets.len()
    );
    out.push_str("<h2>Totals</h2><table><tr><th>target</th><th>pass</th><th>fail</th><th>waived</th><th>unsupported</th><th>expected fail</th><th>MUST pass</th></tr>\n");
    for (column, target) in report.targets.iter().enumerate() {
        let totals = report.totals(column);
        let must = report.totals_at(column, Level::Must);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td></tr>",
            escape(target),
            totals.pass,
            totals.fail,
            totals.waived,
            totals.unsupported,
            totals.expected_fail,
            must.pass,
            must.total()
        );
    }
    out.push_str("</table>\n");
    if let Some(summary) = &report.differential {
        let _ = writeln!(
            out,
            "<p>Differential run: {} raw requests sent to {}: <strong>{} disagreement(s)</strong>.</p>",
            summary.entries,
            escape(&summary.targets.join(", ")),
            summary.disagreements.len()
        );
        for disagreement in &summary.disagreements {
            let _ = write!(
                out,
                "<details><summary><code>{}</code></summary><ul>",
                escape(&disagreement.entry)
            );
            for (target, outcome) in &disagreement.outcomes {
                let _ = write!(
                    out,
                    "<li>{}: <code>{}</code></li>",
                    escape(target),
                    escape(outcome)
                );
            }
            out.push_str("</ul></details>\n");
        }
    }
    out.push_str("<h2>Matrix</h2><table><tr><th>case</th><th>level</th><th>clauses</th>");
    for target in &report.targets {
        let _ = write!(out, "<th>{}</th>", escape(target));
    }
    out.push_str("</tr>\n");
    for group in Group::ALL {
        let rows: Vec<_> = report
            .results
            .iter()
            .filter(|row| row[0].case.group() == group)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<tr><td class=\"group\" colspan=\"{}\">{}</td></tr>",
            3 + report.targets.len(),
            group.name()
        );
        for row in rows {
            let case = row[0].case;
            let _ = write!(
                out,
                "<tr><td><code>{}</code><br><small>{}</small></td><td>{}</td><td>{}<br><small>{}</small></td>",
                escape(case.id),
                escape(case.title),
                case.level.as_str(),
                escape(&case.clauses.join(", ")),
                escape(&case.rfc.join(", "))
            );
            for result in row {
                let class = match result.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail(_) => "fail",
                    Verdict::Waived { .. } => "waived",
                    Verdict::Unsupported(_) => "na",
                    Verdict::ExpectedFail { .. } => "xfail",
                };
                if result.verdict == Verdict::Pass {
                    let _ = write!(out, "<td class=\"{class}\">{}</td>", cell(result));
                } else {
                    let _ = write!(
                        out,
                        "<td class=\"{class}\"><details><summary>{}</summary>{}</details></td>",
                        cell(result),
                        escape(&result.verdict.detail())
                    );
                }
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table></body></html>\n");
    out
}
