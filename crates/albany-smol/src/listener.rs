use std::io;
use std::net::TcpStream;

use albany::ConnectionInfo;
use albany_server::io::Compat;
use async_io::Async;

/// A TCP listener on smol's reactor (`async-io`), for the engine.
#[derive(Debug)]
pub struct TcpListener {
    inner: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Registers a standard listener with the reactor.
    ///
    /// # Errors
    ///
    /// The reactor's error if it cannot register the listener.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }
}

impl albany_server::Listener for TcpListener {
    type Io = Compat<Async<TcpStream>>;

    async fn accept(&mut self) -> io::Result<(Self::Io, ConnectionInfo)> {
        let (stream, peer_addr) = self.inner.accept().await?;
        stream.get_ref().set_nodelay(true)?;
        let local_addr = stream.get_ref().local_addr()?;
        Ok((
            Compat::new(stream),
            ConnectionInfo::new(peer_addr, local_addr),
        ))
    }
}
