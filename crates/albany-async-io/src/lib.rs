#![doc = include_str!("../README.md")]

mod net;
mod process;
mod stream;
mod timer;

#[cfg(unix)]
pub use net::connect_unix;
pub use net::{connect_tcp, listen, poll_accept};
pub use process::{process_driver, spawn_process};
pub use stream::AsyncIoStream;
pub use timer::Timer;
