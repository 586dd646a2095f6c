//! Connected streams: [`TcpStream`] and [`UnixStream`], over a runtime's
//! [`Socket`].

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use socket2::SockRef;

use crate::io_forward::{forward_read, forward_write};

/// A connected socket registered with a runtime's reactor: what a runtime
/// binding hands to [`TcpStream::new`] or [`UnixStream::new`].
///
/// It reads and writes through [`futures_io`] and exposes its descriptor
/// (`AsFd` on Unix, `AsSocket` on Windows) so that addresses and options are
/// read from the socket itself. Its `poll_close` is never called: the
/// streams flush it and then shut down the write half themselves
/// (`shutdown(2)` with `SHUT_WR`), because runtimes disagree on what closing
/// means (async-io's `Async<TcpStream>` only flushes). Implemented for every
/// type with these traits, such as `async_io::Async<std::net::TcpStream>`; a
/// tokio stream needs a wrapper that converts tokio's I/O traits to
/// `futures_io`.
#[cfg(unix)]
pub trait Socket:
    AsyncRead + AsyncWrite + std::os::fd::AsFd + Send + Sync + Unpin + 'static
{
}

#[cfg(unix)]
impl<T> Socket for T where
    T: AsyncRead + AsyncWrite + std::os::fd::AsFd + Send + Sync + Unpin + 'static
{
}

/// A connected socket registered with a runtime's reactor: what a runtime
/// binding hands to [`TcpStream::new`].
///
/// See the Unix documentation of this trait; on Windows the descriptor is an
/// `AsSocket`.
#[cfg(windows)]
pub trait Socket:
    AsyncRead + AsyncWrite + std::os::windows::io::AsSocket + Send + Sync + Unpin + 'static
{
}

#[cfg(windows)]
impl<T> Socket for T where
    T: AsyncRead + AsyncWrite + std::os::windows::io::AsSocket + Send + Sync + Unpin + 'static
{
}

/// The socket behind a boxed [`Socket`], for `getsockname(2)`,
/// `getpeername(2)`, `setsockopt(2)` and `shutdown(2)`.
fn with_socket<T>(io: &dyn Socket, f: impl FnOnce(SockRef<'_>) -> io::Result<T>) -> io::Result<T> {
    #[cfg(unix)]
    let borrowed = io.as_fd();
    #[cfg(windows)]
    let borrowed = io.as_socket();
    f(SockRef::from(&borrowed))
}

/// Flushes, then shuts down the write half: the peer reads end of file;
/// reading goes on. Already shut down or reset (`NotConnected`) counts as
/// closed. The `poll_close` of [`TcpStream`] and [`UnixStream`].
fn poll_shutdown_write(io: &mut Box<dyn Socket>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    std::task::ready!(Pin::new(&mut **io).poll_flush(cx))?;
    match with_socket(&**io, |socket| socket.shutdown(Shutdown::Write)) {
        Err(error) if error.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(error)),
        _ => Poll::Ready(Ok(())),
    }
}

/// Implements `futures_io` and the descriptor traits for a stream type
/// whose field `io` is a boxed [`Socket`].
macro_rules! socket_stream {
    ($stream:ident) => {
        forward_read!($stream);
        forward_write!($stream, |this: &mut $stream, cx: &mut Context<'_>| {
            poll_shutdown_write(&mut this.io, cx)
        });

        #[cfg(unix)]
        impl std::os::fd::AsFd for $stream {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.as_fd()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $stream {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                self.io.as_socket()
            }
        }
    };
}

/// A TCP connection on the runtime's reactor, from
/// [`Handle::connect`](crate::rt::Handle::connect) or
/// [`TcpListener::accept`](super::TcpListener::accept).
///
/// [`AsyncRead`] and [`AsyncWrite`] from `futures_io`; [`AsyncWrite::poll_close`]
/// (`close().await`) flushes and shuts down the write half (the peer reads
/// end of file) and keeps the read half open, on every runtime. Dropping the stream closes the connection. `Send`, `Sync` and
/// `Unpin`.
pub struct TcpStream {
    io: Box<dyn Socket>,
}

impl TcpStream {
    /// Wraps a connected TCP socket registered with a runtime's reactor; for
    /// runtime bindings (spec IO-1).
    pub fn new(io: impl Socket) -> Self {
        TcpStream { io: Box::new(io) }
    }

    /// The address of the other end.
    ///
    /// # Errors
    ///
    /// The operating system's error for `getpeername(2)` (`NotConnected`
    /// once the peer has gone), or `InvalidInput` if the socket is not an
    /// IP socket.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        with_socket(&*self.io, |socket| socket.peer_addr()).and_then(|addr| ip_addr(&addr))
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// The operating system's error for `getsockname(2)`, or `InvalidInput`
    /// if the socket is not an IP socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        with_socket(&*self.io, |socket| socket.local_addr()).and_then(|addr| ip_addr(&addr))
    }

    /// Sets `TCP_NODELAY`: `true` sends small writes at once instead of
    /// coalescing them (Nagle's algorithm, RFC 896). Off by default.
    ///
    /// # Errors
    ///
    /// The operating system's error for `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        with_socket(&*self.io, |socket| socket.set_tcp_nodelay(nodelay))
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// The operating system's error for `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        with_socket(&*self.io, |socket| socket.tcp_nodelay())
    }

    /// Shuts down the read half, the write half or both (`shutdown(2)`).
    /// Shutting down the write half sends FIN: the peer reads end of file.
    /// [`AsyncWrite::poll_close`] does the same for the write half after
    /// flushing.
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotConnected`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        with_socket(&*self.io, |socket| socket.shutdown(how))
    }
}

fn ip_addr(addr: &socket2::SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket is not an IP socket",
        )
    })
}

socket_stream!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

/// A Unix domain stream socket on the runtime's reactor, from
/// [`Handle::connect_unix`](crate::rt::Handle::connect_unix). Unix only.
///
/// The same shape as [`TcpStream`]: `futures_io` reading and writing,
/// `poll_close` shuts down the write half, dropping it closes the
/// connection; `Send`, `Sync` and `Unpin`.
#[cfg(unix)]
pub struct UnixStream {
    io: Box<dyn Socket>,
}

#[cfg(unix)]
impl UnixStream {
    /// Wraps a connected Unix stream socket registered with a runtime's
    /// reactor; for runtime bindings (spec IO-2).
    pub fn new(io: impl Socket) -> Self {
        UnixStream { io: Box::new(io) }
    }

    /// The address of the other end (unnamed when the peer did not bind,
    /// as a connecting client usually does not).
    ///
    /// # Errors
    ///
    /// The operating system's error for `getpeername(2)`, or `InvalidInput`
    /// if the socket is not a Unix socket.
    pub fn peer_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        with_socket(&*self.io, |socket| socket.peer_addr()).and_then(|addr| unix_addr(&addr))
    }

    /// The local address (unnamed for a connecting client).
    ///
    /// # Errors
    ///
    /// The operating system's error for `getsockname(2)`, or `InvalidInput`
    /// if the socket is not a Unix socket.
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        with_socket(&*self.io, |socket| socket.local_addr()).and_then(|addr| unix_addr(&addr))
    }

    /// Shuts down the read half, the write half or both (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// The operating system's error, such as `NotConnected`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        with_socket(&*self.io, |socket| socket.shutdown(how))
    }
}

#[cfg(unix)]
fn unix_addr(addr: &socket2::SockAddr) -> io::Result<std::os::unix::net::SocketAddr> {
    addr.as_unix().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket is not a Unix socket",
        )
    })
}

#[cfg(unix)]
socket_stream!(UnixStream);

#[cfg(unix)]
impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
