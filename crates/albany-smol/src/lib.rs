#![doc = include_str!("../README.md")]

mod binding;
mod server;

pub use albany_server::Settings;
pub use binding::{handle, SmolBinding};
pub use server::{run, Server};
