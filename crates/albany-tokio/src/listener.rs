use std::io;

use albany::ConnectionInfo;
use hyper_util::rt::TokioIo;

/// A TCP listener on tokio's reactor, for the engine.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
}

impl TcpListener {
    /// Registers a non-blocking standard listener with the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// tokio's error if it cannot register the listener.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(TcpListener {
            inner: tokio::net::TcpListener::from_std(listener)?,
        })
    }
}

impl albany_server::Listener for TcpListener {
    type Io = TokioIo<tokio::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, ConnectionInfo)> {
        let (stream, peer_addr) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        Ok((
            TokioIo::new(stream),
            ConnectionInfo::new(peer_addr, local_addr),
        ))
    }
}
