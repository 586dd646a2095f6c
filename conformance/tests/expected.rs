//! Expected failures of reference targets: a failure the target lists is
//! reported as `ExpectedFail` and does not fail the run; one it does not
//! list does; Albany's own targets list none.

use std::io;

use albany::BoxApplication;
use albany_conformance::{
    cases, ExpectedFailure, Runner, RunningServer, Target, Verdict, ALBANY_TARGETS,
    ALBANY_TLS_TARGETS, TOKIO,
};
use albany_server::Settings;

/// tokio with keep-alive off, which fails `connection.keep-alive`; a
/// reference target when it lists that case.
struct NoKeepAlive {
    expected: &'static [ExpectedFailure],
}

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

    fn expected_failures(&self) -> &'static [ExpectedFailure] {
        self.expected
    }

    fn is_reference(&self) -> bool {
        !self.expected.is_empty()
    }
}

static LISTED: NoKeepAlive = NoKeepAlive {
    expected: &[ExpectedFailure {
        case: "connection.keep-alive",
        reason: "keep-alive is off",
    }],
};

static UNLISTED: NoKeepAlive = NoKeepAlive { expected: &[] };

fn run(target: &'static dyn Target) -> albany_conformance::Report {
    let cases: Vec<_> = cases::all()
        .into_iter()
        .filter(|case| case.id == "connection.keep-alive")
        .collect();
    assert_eq!(cases.len(), 1);
    Runner::new(cases, vec![target]).run()
}

#[test]
fn a_listed_failure_is_expected_and_does_not_fail_the_run() {
    let report = run(&LISTED);
    let verdict = &report.results[0][0].verdict;
    assert!(
        matches!(
            verdict,
            Verdict::ExpectedFail {
                reason: "keep-alive is off",
                ..
            }
        ),
        "{verdict:?}"
    );
    assert_eq!(verdict.label(), "expected-fail");
    assert!(report.is_success());
    assert_eq!(report.totals(0).expected_fail, 1);
    assert_eq!(
        report.expected_failures(),
        vec![(
            "connection.keep-alive",
            "tokio-no-keep-alive",
            "keep-alive is off"
        )]
    );
    let markdown =
        albany_conformance::report::render(&report, albany_conformance::report::Format::Markdown);
    assert!(markdown.contains("| XFAIL |"), "{markdown}");
    assert!(
        markdown.contains(
            "| `connection.keep-alive` | LIMIT-4 | tokio-no-keep-alive | keep-alive is off |"
        ),
        "{markdown}"
    );
}

#[test]
fn an_unlisted_failure_fails_the_run() {
    let report = run(&UNLISTED);
    assert!(matches!(report.results[0][0].verdict, Verdict::Fail(_)));
    assert!(!report.is_success());
}

#[test]
fn albany_targets_expect_no_failure() {
    for target in ALBANY_TARGETS.into_iter().chain(ALBANY_TLS_TARGETS) {
        assert!(target.expected_failures().is_empty(), "{}", target.name());
        assert!(!target.is_reference(), "{}", target.name());
    }
    let reference = &albany_conformance::HYPER_UTIL_TOWER;
    assert!(reference.is_reference());
    // Every listed case exists.
    let ids: Vec<&str> = cases::all().iter().map(|case| case.id).collect();
    for expected in reference.expected_failures() {
        assert!(
            ids.contains(&expected.case),
            "{} is not a case",
            expected.case
        );
    }
}
