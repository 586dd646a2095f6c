#![doc = include_str!("../README.md")]

mod body_ops;
mod connection;
mod validator;

pub use body_ops::body_ops;
pub use connection::{h1_connection, h2_connection, MAX_INPUT};
pub use validator::validator;

/// The names of the targets, as the corpus folders (`fuzz/corpus/<name>/`)
/// and the fuzzer binaries are named, each with its function.
pub const TARGETS: [(&str, fn(&[u8])); 4] = [
    ("body_ops", body_ops),
    ("validator", validator),
    ("h1_connection", h1_connection),
    ("h2_connection", h2_connection),
];

/// A waker that does nothing, for futures polled in a loop by the targets.
pub(crate) fn noop_context() -> std::task::Context<'static> {
    std::task::Context::from_waker(std::task::Waker::noop())
}
