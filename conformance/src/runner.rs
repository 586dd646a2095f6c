//! Runs cases on targets: in parallel where a case allows it, each on a
//! thread of its own with a time limit, panics turned into failures.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use crate::case::{Case, Context, Failure};
use crate::verdict::{CaseResult, Report, Verdict, Waiver};
use crate::Target;

/// How long one case may run before it fails, in seconds.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A callback for each result as it comes.
type Progress<'a> = Box<dyn Fn(&CaseResult) + Send + Sync + 'a>;

/// A run of cases on targets.
pub struct Runner<'a> {
    cases: Vec<Case>,
    targets: Vec<&'static dyn Target>,
    waivers: Vec<Waiver>,
    jobs: usize,
    on_result: Option<Progress<'a>>,
}

impl<'a> Runner<'a> {
    /// A run of `cases` on `targets`, with Albany's [`WAIVERS`](crate::WAIVERS)
    /// and 4 cases at a time.
    pub fn new(cases: Vec<Case>, targets: Vec<&'static dyn Target>) -> Self {
        Runner {
            cases,
            targets,
            waivers: crate::WAIVERS.to_vec(),
            jobs: 4,
            on_result: None,
        }
    }

    /// Replaces the waivers (a third-party adapter lists its own).
    pub fn waivers(mut self, waivers: &[Waiver]) -> Self {
        self.waivers = waivers.to_vec();
        self
    }

    /// How many cases run at once (at least 1); cases marked `serial` always
    /// run alone.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Calls `f` with each result as it comes (for progress output).
    pub fn on_result(mut self, f: impl Fn(&CaseResult) + Send + Sync + 'a) -> Self {
        self.on_result = Some(Box::new(f));
        self
    }

    /// Runs every case on every target and returns the report (without a
    /// differential run).
    pub fn run(self) -> Report {
        quiet_panics();
        let columns = self.targets.len();
        let mut slots: Vec<Vec<Option<CaseResult>>> = vec![vec![None; columns]; self.cases.len()];
        let (parallel, serial): (Vec<_>, Vec<_>) = (0..self.cases.len())
            .flat_map(|row| (0..columns).map(move |column| (row, column)))
            .partition(|&(row, _)| !self.cases[row].serial);

        let queue = Mutex::new(VecDeque::from(parallel));
        let done = Mutex::new(Vec::new());
        thread::scope(|scope| {
            for _ in 0..self.jobs {
                scope.spawn(|| loop {
                    let Some((row, column)) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let result = self.run_one(row, column);
                    done.lock().unwrap().push((row, column, result));
                });
            }
        });
        for (row, column) in serial {
            let result = self.run_one(row, column);
            done.lock().unwrap().push((row, column, result));
        }
        for (row, column, result) in done.into_inner().unwrap() {
            slots[row][column] = Some(result);
        }
        Report {
            targets: self.targets.iter().map(|target| target.name()).collect(),
            cases: self.cases.clone(),
            results: slots
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|slot| slot.expect("every case ran"))
                        .collect()
                })
                .collect(),
            differential: None,
            spec_version: crate::spec::VERSION,
        }
    }

    fn run_one(&self, row: usize, column: usize) -> CaseResult {
        let case = self.cases[row];
        let target = self.targets[column];
        let started = Instant::now();
        let verdict = match run_isolated(case, target) {
            Ok(()) => Verdict::Pass,
            Err(Failure::Unsupported(reason)) => Verdict::Unsupported(reason),
            Err(Failure::Fail(message)) => match target
                .expected_failures()
                .iter()
                .find(|expected| expected.case == case.id)
            {
                Some(expected) => Verdict::ExpectedFail {
                    reason: expected.reason,
                    detail: message,
                },
                None => match self
                    .waivers
                    .iter()
                    .find(|waiver| waiver.covers(case.id, target.name()))
                {
                    Some(waiver) => Verdict::Waived {
                        reason: waiver.reason,
                        link: waiver.link,
                        detail: message,
                    },
                    None => Verdict::Fail(message),
                },
            },
        };
        let result = CaseResult {
            case,
            target: target.name(),
            verdict,
            duration: started.elapsed(),
        };
        if let Some(f) = &self.on_result {
            f(&result);
        }
        result
    }
}

/// Runs one case on a thread of its own, with [`CASE_TIMEOUT`]; a panic in
/// the check is a failure that carries the panic's message and location. A
/// case that times out is left running on its detached thread.
fn run_isolated(case: Case, target: &'static dyn Target) -> Result<(), Failure> {
    let (sender, receiver) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name(format!("case {}", case.id))
        .spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut context = Context::new(target);
                (case.check)(&mut context)
            }));
            let result = outcome.unwrap_or_else(|payload| {
                let location = LAST_PANIC.with(|last| last.borrow_mut().take());
                Err(Failure::Fail(format!(
                    "the check panicked: {}{}",
                    panic_message(payload.as_ref()),
                    location.map(|l| format!(" at {l}")).unwrap_or_default()
                )))
            });
            let _ = sender.send(result);
        });
    if let Err(error) = spawned {
        return Err(Failure::Fail(format!("could not start the case: {error}")));
    }
    match receiver.recv_timeout(CASE_TIMEOUT) {
        Ok(result) => result,
        Err(_) => Err(Failure::Fail(format!(
            "the case did not finish within {} s",
            CASE_TIMEOUT.as_secs()
        ))),
    }
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook, once per process, by one that prints nothing
/// and keeps the location for the failing case. The reference application
/// panics on purpose (`/panic`, `/body-panic`) and the servers turn those
/// panics into responses; printing each would bury the report.
fn quiet_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| l.to_string());
            LAST_PANIC.with(|last| *last.borrow_mut() = location);
        }));
    });
}
