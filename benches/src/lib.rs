#![doc = include_str!("../README.md")]

pub mod servers;

pub use servers::{Family, Runtime, ServerKind};

/// The body of `GET /`: 13 bytes, answered by every server.
pub const HELLO: &str = "Hello, world!";

/// The size of the chunks of `GET /download?size=N`, in bytes (64 KiB).
pub const CHUNK_SIZE: usize = 64 * 1024;

/// The connection limit the servers are configured with, where they have
/// one: far above the 10,000 idle connections the driver opens.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// How long the proxies wait for the upstream's response head, in seconds
/// (`proxy --timeout`, and the raw hyper proxy's bound): the
/// `albany-client` default, so that both proxies arm the same timer for
/// every request.
pub const PROXY_TIMEOUT_SECS: u64 = 30;
