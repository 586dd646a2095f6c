//! The TCP listener: smol's reactor is `async-io`'s, so the engine's
//! [`AsyncIoListener`](albany_server::AsyncIoListener) serves it, reading
//! straight into hyper's buffers.

/// A TCP listener on smol's reactor (`async-io`), for the engine.
pub type TcpListener = albany_server::AsyncIoListener;
