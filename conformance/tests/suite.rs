//! `cargo test` runs the whole server suite on tokio, async-std and smol,
//! over plain TCP and over TLS (tokio-tls, async-std-tls, smol-tls), and on
//! the reference target hyper-util-tower (plain hyper-util through
//! `albany::tower`), and fails on any failure that is not waived or, on the
//! reference target, listed as expected. A positional argument filters
//! cases by id: `cargo test -p albany-conformance --test suite -- framing.`.

use std::process::ExitCode;

use albany_conformance::report::{render, Format};
use albany_conformance::{
    cases, Runner, Target, ALBANY_TARGETS, ALBANY_TLS_TARGETS, REFERENCE_TARGETS,
};

fn main() -> ExitCode {
    // Arguments that libtest would take (`--nocapture`, `--test-threads=2`)
    // are ignored; the others filter by id.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cases = cases::matching(&filters);
    let targets: Vec<&'static dyn Target> = ALBANY_TARGETS
        .into_iter()
        .chain(ALBANY_TLS_TARGETS)
        .chain(REFERENCE_TARGETS)
        .collect();
    println!(
        "running {} cases on {} targets (3 adapters, over TCP and over TLS, and the reference target)",
        cases.len(),
        targets.len()
    );
    let report = Runner::new(cases, targets)
        .jobs(4)
        .on_result(|result| {
            println!(
                "{} [{}] ... {} ({} ms)",
                result.case.id,
                result.target,
                result.verdict.label(),
                result.duration.as_millis()
            );
        })
        .run();
    println!("\n{}", render(&report, Format::Text));
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        for (id, target, message) in report.failures() {
            eprintln!("FAILED {id} [{target}]: {message}");
        }
        ExitCode::FAILURE
    }
}
