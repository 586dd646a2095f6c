#![doc = include_str!("../README.md")]

mod binding;
mod net;
mod process;
mod stream;
mod timer;

pub use net::{connect_tcp, listen, poll_accept};
#[cfg(unix)]
pub use net::{connect_unix, listen_unix, poll_accept_unix};
pub use process::{process_driver, spawn_process};
pub use stream::{AsyncIoStream, StreamSocket};
pub use timer::Timer;

/// The server's listener: a TCP listener on the async-io reactor.
pub type Listener = async_io::Async<std::net::TcpListener>;

/// The server's Unix domain socket listener, on the async-io reactor.
/// Unix only.
#[cfg(unix)]
pub type UnixListener = async_io::Async<std::os::unix::net::UnixListener>;
