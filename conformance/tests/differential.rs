//! The differential run: the whole corpus (at least 200 raw requests) to
//! tokio, async-std and smol, over plain TCP and over TLS, all six compared
//! with each other; any disagreement fails.

use std::process::ExitCode;

use std::io;

use albany::BoxApplication;
use albany_conformance::{
    differential, RunningServer, Target, ALBANY_TARGETS, ALBANY_TLS_TARGETS, TOKIO,
};
use albany_server::Settings;

/// tokio with keep-alive off: a target that behaves differently, to show
/// that the comparison sees a difference.
struct NoKeepAlive;

impl Target for NoKeepAlive {
    fn name(&self) -> &'static str {
        "tokio-no-keep-alive"
    }

    fn start(
        &self,
        application: BoxApplication,
        mut settings: Settings,
    ) -> io::Result<RunningServer> {
        settings.keep_alive = false;
        TOKIO.start(application, settings)
    }
}

fn main() -> ExitCode {
    let corpus = differential::corpus();
    let targets: Vec<&'static dyn Target> = ALBANY_TARGETS
        .into_iter()
        .chain(ALBANY_TLS_TARGETS)
        .collect();
    let summary = differential::run(&targets, &corpus, 4);
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
    if !summary.disagreements.is_empty() {
        return ExitCode::FAILURE;
    }
    // The comparison itself: a target that closes every connection must
    // disagree with one that keeps them open.
    let sample: Vec<_> = corpus
        .iter()
        .filter(|e| e.name.starts_with("valid/"))
        .cloned()
        .collect();
    let skewed = differential::run(&[&TOKIO, &NoKeepAlive], &sample, 2);
    println!(
        "control: keep-alive on vs off over {} requests: {} disagreement(s)",
        skewed.entries,
        skewed.disagreements.len()
    );
    if skewed.disagreements.is_empty() {
        eprintln!("the differential run did not see keep-alive off");
        ExitCode::FAILURE
    } else if summary.disagreements.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
