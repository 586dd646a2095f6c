//! The differential run: the whole corpus (at least 200 raw requests) to
//! tokio, async-std and smol; any disagreement fails.

use std::process::ExitCode;

use albany_conformance::{differential, ALBANY_TARGETS};

fn main() -> ExitCode {
    let corpus = differential::corpus();
    let summary = differential::run(&ALBANY_TARGETS, &corpus, 4);
    println!(
        "differential: {} requests ({} rejected or answered with an error) to {}: {} disagreement(s)",
        summary.entries,
        summary.rejected,
        summary.targets.join(", "),
        summary.disagreements.len()
    );
    if summary.entries < 200 {
        eprintln!("the corpus has only {} entries", summary.entries);
        return ExitCode::FAILURE;
    }
    for disagreement in &summary.disagreements {
        eprintln!("DISAGREE {}", disagreement.entry);
        for (target, outcome) in &disagreement.outcomes {
            eprintln!("  {target}: {outcome}");
        }
    }
    if summary.disagreements.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
