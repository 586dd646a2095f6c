//! [`TcpListener`]: accepting TCP connections through the runtime.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use super::TcpStream;

/// How a runtime accepts connections on a listening socket: what a runtime
/// binding hands to [`TcpListener::new`]. Object safe.
pub trait Accept: Send + Sync + 'static {
    /// Accepts the next connection, with the peer's address.
    ///
    /// Returns `Pending` (and wakes the task of the most recent call) until
    /// a connection is ready.
    ///
    /// # Errors
    ///
    /// The operating system's error for `accept(2)`: one that concerns one
    /// connection (`ConnectionAborted`, `ConnectionReset`), or one that
    /// concerns the listener (such as running out of file descriptors).
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>>;
}

/// A TCP listener on the runtime's reactor, from
/// [`Handle::bind`](crate::rt::Handle::bind) or
/// [`Handle::listen`](crate::rt::Handle::listen) (spec IO-5).
///
/// For applications that need a socket of their own: a test upstream, a
/// side channel. Dropping it closes the listening socket.
///
/// ```
/// use albany::rt::Handle;
/// use futures_lite::AsyncWriteExt;
///
/// async fn greeter(handle: Handle) -> std::io::Result<()> {
///     let mut listener = handle.bind("127.0.0.1:0".parse().unwrap())?;
///     println!("listening on {}", listener.local_addr());
///     let (mut stream, peer) = listener.accept().await?;
///     stream.write_all(format!("hello, {peer}\n").as_bytes()).await?;
///     stream.close().await // shuts down the write half
/// }
/// ```
pub struct TcpListener {
    accept: Box<dyn Accept>,
    local_addr: SocketAddr,
}

impl TcpListener {
    /// Wraps a runtime's accepting socket, listening on `local_addr`; for
    /// runtime bindings.
    pub fn new(accept: impl Accept, local_addr: SocketAddr) -> Self {
        TcpListener {
            accept: Box::new(accept),
            local_addr,
        }
    }

    /// The address the listener is bound to (with the port the system picked
    /// when it was bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the next connection and returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// As [`Accept::poll_accept`]; the listener stays usable after an error.
    pub async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.accept.poll_accept(cx)).await
    }

    /// Polls for the next connection: [`accept`](TcpListener::accept) as a
    /// poll function.
    ///
    /// # Errors
    ///
    /// As [`Accept::poll_accept`].
    pub fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.accept.poll_accept(cx)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
