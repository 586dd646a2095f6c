//! The JSON document:
//!
//! ```json
//! { "spec_version": "1.0-draft", "targets": ["tokio", …],
//!   "totals": {"tokio": {"pass": 1, "fail": 0, "waived": 0, "unsupported": 0, "expected_fail": 0}, …},
//!   "cases": [{"id": "…", "group": "…", "level": "MUST", "clauses": […], "rfc": […],
//!              "title": "…", "results": {"tokio": {"verdict": "pass", "detail": "", "ms": 12}}}],
//!   "differential": {"entries": 230, "rejected": 90, "disagreements": [{"entry": "…", "outcomes": {…}}]} }
//! ```

use serde_json::{json, Map, Value};

use crate::verdict::Report;

pub(super) fn render(report: &Report) -> String {
    let mut totals = Map::new();
    for (column, target) in report.targets.iter().enumerate() {
        let t = report.totals(column);
        totals.insert(
            (*target).to_owned(),
            json!({"pass": t.pass, "fail": t.fail, "waived": t.waived, "unsupported": t.unsupported, "expected_fail": t.expected_fail}),
        );
    }
    let cases: Vec<Value> = report
        .results
        .iter()
        .map(|row| {
            let case = row[0].case;
            let mut results = Map::new();
            for result in row {
                results.insert(
                    result.target.to_owned(),
                    json!({
                        "verdict": result.verdict.label(),
                        "detail": result.verdict.detail(),
                        "ms": result.duration.as_millis() as u64,
                    }),
                );
            }
            json!({
                "id": case.id,
                "group": case.group().name(),
                "level": case.level.as_str(),
                "clauses": case.clauses,
                "rfc": case.rfc,
                "title": case.title,
                "results": results,
            })
        })
        .collect();
    let differential = report.differential.as_ref().map(|summary| {
        json!({
            "entries": summary.entries,
            "rejected": summary.rejected,
            "targets": summary.targets,
            "disagreements": summary.disagreements.iter().map(|d| json!({
                "entry": d.entry,
                "outcomes": d.outcomes.iter().map(|(t, o)| (t.to_string(), Value::from(o.as_str()))).collect::<Map<_, _>>(),
            })).collect::<Vec<_>>(),
        })
    });
    let document = json!({
        "spec_version": report.spec_version,
        "targets": report.targets,
        "totals": totals,
        "cases": cases,
        "differential": differential,
    });
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
