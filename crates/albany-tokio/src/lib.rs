#![doc = include_str!("../README.md")]

mod binding;
mod server;

pub use albany_server::{MinDataRate, Settings};
pub use binding::{handle, TokioBinding};
pub use server::{run, Server};
