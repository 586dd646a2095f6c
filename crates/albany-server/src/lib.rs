#![doc = include_str!("../README.md")]

mod accept;
mod binding;
mod body;
mod connection;
mod counters;
mod forwarded;
mod listener;
mod notify;
mod observe;
mod preface;
mod request;
mod request_body;
mod request_checks;
mod response_checks;
mod rt;
mod serve_io;
mod server;
mod service;
mod settings;
mod signal;
mod tls;
mod tracker;
#[cfg(unix)]
mod unix_socket;
mod upgrade_io;

pub use binding::Binding;
pub use counters::Counters;
/// An IP network (`10.0.0.0/8`, `::1/128`), from the `ipnet` crate: the
/// type of [`Settings::trusted_proxies`].
pub use ipnet::IpNet;
pub use rt::handle;
pub use serve_io::serve_io;
pub use server::Server;
pub use settings::{InvalidSetting, MinDataRate, Settings};
pub use signal::shutdown_on_signal;
pub use tls::{ClientAuth, Tls, TlsError};
