//! The Markdown report: how the run was made, the Targets table, then one
//! table per scenario with a row per server.

use std::process::Command;
use std::time::Duration;

use albany_bench::ServerKind;

use crate::outcome::Outcome;
use crate::scenarios::Scenario;
use crate::{is_reference, Plan};

/// When and where the run was made.
pub(crate) struct RunInfo {
    date: String,
    load_before: String,
    load_after: String,
    cores: usize,
    took: Duration,
}

impl RunInfo {
    /// The date and load average now.
    pub(crate) fn now(_plan: &Plan) -> RunInfo {
        RunInfo {
            date: Command::new("date")
                .args(["-u", "+%Y-%m-%d %H:%M UTC"])
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            load_before: load_average(),
            load_after: String::new(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            took: Duration::ZERO,
        }
    }

    /// The load average at the end, and the run's length.
    pub(crate) fn finish(mut self, took: Duration) -> RunInfo {
        self.load_after = load_average();
        self.took = took;
        self
    }
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn server_name(kind: ServerKind) -> String {
    if is_reference(kind) {
        format!("{kind} (reference)")
    } else {
        kind.name().to_owned()
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The Targets table: a row per scenario and target, a column per server.
pub(crate) fn targets_table(
    plan: &Plan,
    results: &[(Scenario, Vec<(ServerKind, Outcome)>)],
) -> String {
    let mut out = String::new();
    out.push_str("| scenario | target | hard |");
    for kind in &plan.servers {
        out.push_str(&format!(" {} |", server_name(*kind)));
    }
    out.push_str("\n| --- | --- | --- |");
    for _ in &plan.servers {
        out.push_str(" --- |");
    }
    out.push('\n');
    for (scenario, row) in results {
        // The targets in the order the first server lists them, then any
        // another server adds.
        let mut targets: Vec<(String, bool)> = Vec::new();
        for (_, outcome) in row {
            for check in &outcome.checks {
                if !targets.iter().any(|(t, _)| *t == check.target) {
                    targets.push((check.target.clone(), check.hard));
                }
            }
        }
        for (target, hard) in targets {
            out.push_str(&format!(
                "| {} | {} | {} |",
                scenario.name(),
                cell(&target),
                if hard { "yes" } else { "no" }
            ));
            for (_, outcome) in row {
                let text = match outcome.checks.iter().find(|c| c.target == target) {
                    Some(check) => format!(
                        "{}: {}",
                        match check.pass {
                            Some(true) => "pass",
                            Some(false) => "**fail**",
                            None => "not checked",
                        },
                        check.value
                    ),
                    None => "-".into(),
                };
                out.push_str(&format!(" {} |", cell(&text)));
            }
            out.push('\n');
        }
    }
    out
}

/// The whole report.
pub(crate) fn markdown(
    plan: &Plan,
    info: &RunInfo,
    results: &[(Scenario, Vec<(ServerKind, Outcome)>)],
) -> String {
    let mut out = String::new();
    out.push_str("# Stress harness results\n\n");
    out.push_str(&format!(
        "Measured by `benches/stress.sh{}` on {} ({} cores, shared; load average {} at the start, {} at the end; {:.0} s in all). \
         Servers: `bench-server` with {} worker threads, a fresh process per scenario (per flood in h2-floods), on 127.0.0.1; \
         the clients are the driver's own std threads. hyper-tokio is raw hyper (hyper-util's `auto` builder) as the reference: \
         its hard targets are reported but do not fail the run.\n\n",
        if plan.quick { " --quick" } else { "" },
        info.date,
        info.cores,
        info.load_before,
        info.load_after,
        info.took.as_secs_f64(),
        plan.threads,
    ));
    out.push_str("A hard target (crash, lost response, panic not answered 500) that fails on an Albany server makes the run exit non-zero; the others are reported. \"not checked\": the run is shorter than the timeout the target checks (the quick mode's slow bodies and readers).\n\n");
    out.push_str("## Targets\n\n");
    out.push_str(&targets_table(plan, results));
    for (i, (scenario, row)) in results.iter().enumerate() {
        out.push_str(&format!("\n## {}. {}\n\n", i + 1, scenario.name()));
        out.push_str(&format!("{}.\n\n", scenario.title(plan)));
        let mut columns: Vec<String> = Vec::new();
        for (_, outcome) in row {
            for f in &outcome.figures {
                if !columns.contains(&f.name) {
                    columns.push(f.name.clone());
                }
            }
        }
        // Many columns (the floods) read better transposed.
        if columns.len() > 8 {
            out.push_str("| figure |");
            for (kind, _) in row {
                out.push_str(&format!(" {} |", server_name(*kind)));
            }
            out.push_str("\n| --- |");
            for _ in row {
                out.push_str(" --- |");
            }
            out.push('\n');
            for column in &columns {
                out.push_str(&format!("| {} |", cell(column)));
                for (_, outcome) in row {
                    let value = outcome
                        .figures
                        .iter()
                        .find(|f| &f.name == column)
                        .map_or("-", |f| f.value.as_str());
                    out.push_str(&format!(" {} |", cell(value)));
                }
                out.push('\n');
            }
        } else {
            out.push_str("| server |");
            for column in &columns {
                out.push_str(&format!(" {} |", cell(column)));
            }
            out.push_str("\n| --- |");
            for _ in &columns {
                out.push_str(" --- |");
            }
            out.push('\n');
            for (kind, outcome) in row {
                out.push_str(&format!("| {} |", server_name(*kind)));
                for column in &columns {
                    let value = outcome
                        .figures
                        .iter()
                        .find(|f| &f.name == column)
                        .map_or("-", |f| f.value.as_str());
                    out.push_str(&format!(" {} |", cell(value)));
                }
                out.push('\n');
            }
        }
    }
    out
}
