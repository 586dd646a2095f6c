#![doc = include_str!("../README.md")]

mod binding;
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

/// The server's listener: a TCP listener on the async-io reactor.
pub type Listener = async_io::Async<std::net::TcpListener>;
