#![doc = include_str!("../README.md")]

pub mod app;
pub mod h1;
pub mod h2;
mod target;

pub use target::{AlbanyTarget, RunningServer, Target, ASYNC_STD, SMOL, TOKIO};
