#![doc = include_str!("../README.md")]

pub mod app;
mod case;
pub mod cases;
pub mod coverage;
pub mod differential;
pub mod h1;
pub mod h2;
pub mod h2_frames;
mod hosted;
pub mod report;
mod runner;
pub mod spec;
mod target;
pub mod transport;
pub mod validate;
mod verdict;

pub use case::{eventually, suite_settings, Case, Context, Failure, Group, Level};
pub use hosted::{HyperUtilTower, HYPER_UTIL_TOWER, HYPER_UTIL_TOWER_EXPECTED};
pub use runner::{Runner, CASE_TIMEOUT};
pub use target::{
    AlbanyTarget, RunningServer, Target, ASYNC_STD, ASYNC_STD_TLS, SMOL, SMOL_TLS, TOKIO, TOKIO_TLS,
};
pub use transport::Endpoint;
pub use verdict::{CaseResult, ExpectedFailure, Report, Totals, Verdict, Waiver, WAIVERS};

/// Albany's own targets: tokio, async-std and smol, over plain TCP.
pub const ALBANY_TARGETS: [&dyn Target; 3] = [&TOKIO, &ASYNC_STD, &SMOL];

/// Albany's own targets over TLS: tokio-tls, async-std-tls and smol-tls.
pub const ALBANY_TLS_TARGETS: [&dyn Target; 3] = [&TOKIO_TLS, &ASYNC_STD_TLS, &SMOL_TLS];

/// The reference targets: servers that are not Albany's engine hosting the
/// same application, run beside Albany's to show the difference; their
/// known failures are expected ([`Target::expected_failures`]).
pub const REFERENCE_TARGETS: [&dyn Target; 1] = [&HYPER_UTIL_TOWER];
