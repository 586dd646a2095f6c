use std::io;

use albany::ConnectionInfo;
use albany_server::io::Compat;
use async_std::net::TcpStream;

/// A TCP listener on async-std's reactor, for the engine.
#[derive(Debug)]
pub struct TcpListener {
    inner: async_std::net::TcpListener,
}

impl TcpListener {
    /// Registers a standard listener with the reactor.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other adapters.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(TcpListener {
            inner: async_std::net::TcpListener::from(listener),
        })
    }
}

impl albany_server::Listener for TcpListener {
    type Io = Compat<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, ConnectionInfo)> {
        let (stream, peer_addr) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        Ok((
            Compat::new(stream),
            ConnectionInfo::new(peer_addr, local_addr),
        ))
    }
}
