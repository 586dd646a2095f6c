#![doc = include_str!("../README.md")]

#[cfg(feature = "async-io")]
mod async_io;
mod binding;
mod body;
mod connection;
mod head_timeout;
pub mod io;
mod preface;
mod request_body;
mod request_checks;
mod rt;
mod server;
mod service;
mod settings;
mod signal;
mod tracker;

#[cfg(feature = "async-io")]
pub use async_io::{AsyncIoListener, AsyncIoStream};
pub use binding::{Binding, Listener};
pub use rt::{HyperExecutor, HyperTimer};
pub use server::{Server, ShutdownHandle};
pub use settings::Settings;
pub use signal::shutdown_on_signal;
