#![doc = include_str!("../README.md")]

mod listener;
mod runtime;
mod server;

pub use albany_server::{Binding, Settings, ShutdownHandle};
pub use listener::TcpListener;
pub use runtime::SmolRuntime;
pub use server::{run, Server, SmolBinding};
