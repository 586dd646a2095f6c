#![doc = include_str!("../README.md")]

mod body_ops;
mod connection;
mod validator;

pub use body_ops::body_ops;
pub use connection::{h1_connection, h2_connection, MAX_INPUT};
pub use validator::validator;

/// A fuzz target: its name, as its corpus folder (`fuzz/corpus/<name>/`)
/// and its fuzzer binary are named, and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target.
pub const TARGETS: [Target; 4] = [
    ("body_ops", body_ops),
    ("validator", validator),
    ("h1_connection", h1_connection),
    ("h2_connection", h2_connection),
];

/// A waker that does nothing, for futures polled in a loop by the targets.
pub(crate) fn noop_context() -> std::task::Context<'static> {
    std::task::Context::from_waker(std::task::Waker::noop())
}
