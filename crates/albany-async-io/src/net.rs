//! Sockets on the `async-io` reactor: the server's listener, and outbound
//! connections for applications.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::task::{ready, Context, Poll};

use albany::ConnectionInfo;
use async_io::Async;

use crate::AsyncIoStream;

/// Registers a bound, listening `listener` with the reactor (switching it
/// to non-blocking mode).
///
/// # Errors
///
/// The reactor's error if it cannot register the socket.
pub fn listen(listener: TcpListener) -> io::Result<Async<TcpListener>> {
    Async::new(listener)
}

/// Accepts the next connection on `listener`, with `TCP_NODELAY` set and its
/// [`ConnectionInfo`] (spec ADAPT-4); wakes the task of the most recent call
/// when one is ready.
///
/// # Errors
///
/// The operating system's error for `accept(2)`, `setsockopt(2)` or
/// `getsockname(2)`, or the reactor's if it cannot register the connection.
pub fn poll_accept(
    listener: &Async<TcpListener>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(AsyncIoStream, ConnectionInfo)>> {
    loop {
        match listener.get_ref().accept() {
            Ok((stream, peer_addr)) => {
                return Poll::Ready(accepted(stream, peer_addr));
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                ready!(listener.poll_readable(cx))?;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Poll::Ready(Err(error)),
        }
    }
}

fn accepted(
    stream: TcpStream,
    peer_addr: SocketAddr,
) -> io::Result<(AsyncIoStream, ConnectionInfo)> {
    stream.set_nodelay(true)?;
    let local_addr = stream.local_addr()?;
    // `Async::new` switches the accepted socket to non-blocking mode.
    Ok((
        AsyncIoStream::new(Async::new(stream)?),
        ConnectionInfo::new(peer_addr, local_addr),
    ))
}

/// Registers a bound, listening Unix domain socket `listener` with the
/// reactor (switching it to non-blocking mode; spec ADAPT-15). Unix only.
///
/// # Errors
///
/// The reactor's error if it cannot register the socket.
#[cfg(unix)]
pub fn listen_unix(
    listener: std::os::unix::net::UnixListener,
) -> io::Result<Async<std::os::unix::net::UnixListener>> {
    Async::new(listener)
}

/// Accepts the next connection on the Unix domain socket `listener`, with
/// its [`ConnectionInfo`] (the peer's and the listener's socket paths);
/// wakes the task of the most recent call when one is ready. Unix only.
///
/// # Errors
///
/// The operating system's error for `accept(2)` or `getsockname(2)`, or
/// the reactor's if it cannot register the connection.
#[cfg(unix)]
pub fn poll_accept_unix(
    listener: &Async<std::os::unix::net::UnixListener>,
    cx: &mut Context<'_>,
) -> Poll<
    io::Result<(
        AsyncIoStream<std::os::unix::net::UnixStream>,
        ConnectionInfo,
    )>,
> {
    loop {
        match listener.get_ref().accept() {
            Ok((stream, peer)) => {
                return Poll::Ready((|| {
                    let local = stream.local_addr()?;
                    let info = ConnectionInfo::from_unix_addrs(&peer, &local);
                    Ok((AsyncIoStream::new(Async::new(stream)?), info))
                })());
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                ready!(listener.poll_readable(cx))?;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Poll::Ready(Err(error)),
        }
    }
}

/// One TCP connection attempt to `addr` (spec IO-1): a non-blocking
/// `connect(2)` completed on the reactor. Dropping the future closes the
/// socket.
pub async fn connect_tcp(addr: SocketAddr) -> io::Result<albany::net::TcpStream> {
    let stream = Async::<TcpStream>::connect(addr).await?;
    Ok(albany::net::TcpStream::new(stream))
}

/// A connection to the Unix domain socket at `path` (spec IO-2). Unix only.
#[cfg(unix)]
pub async fn connect_unix(path: std::path::PathBuf) -> io::Result<albany::net::UnixStream> {
    let stream = Async::<std::os::unix::net::UnixStream>::connect(path).await?;
    Ok(albany::net::UnixStream::new(stream))
}
