#![doc = include_str!("../README.md")]

mod body;
mod client;
mod connect;
mod error;
mod io;
mod pool;
mod rt;

pub use client::{Builder, Client, LazyClient};
pub use error::Error;

pub use rustls;
