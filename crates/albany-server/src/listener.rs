//! Where a server's listener comes from: bound here (optionally with
//! `SO_REUSEPORT`), inherited from a service manager (systemd socket
//! activation), or bound where the environment's `HOST` and `PORT` say
//! (spec ADAPT-11 to ADAPT-13); TCP or a Unix domain socket (ADAPT-15).

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

#[cfg(unix)]
use crate::unix_socket::UnixSocket;

/// A server's listening socket, before the binding registers it.
#[derive(Debug)]
pub(crate) enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix domain socket listener, with its file.
    #[cfg(unix)]
    Unix(UnixSocket),
}

impl Listener {
    /// Switches the socket to non-blocking mode.
    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(listener) => listener.set_nonblocking(true),
            #[cfg(unix)]
            Listener::Unix(socket) => socket.listener.set_nonblocking(true),
        }
    }

    /// Listens again with `backlog`, which updates it (Linux, the BSDs,
    /// macOS).
    pub(crate) fn set_backlog(&self, backlog: u32) -> io::Result<()> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        match self {
            Listener::Tcp(listener) => socket2::SockRef::from(listener).listen(backlog),
            #[cfg(unix)]
            Listener::Unix(socket) => socket2::SockRef::from(&socket.listener).listen(backlog),
        }
    }
}

/// How to bind a listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bind {
    pub(crate) backlog: u32,
    pub(crate) reuse_port: bool,
}

/// Binds the first of `addrs` that binds.
pub(crate) fn bind_first(addrs: impl ToSocketAddrs, options: Bind) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in addrs.to_socket_addrs()? {
        match bind(addr, options) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

fn bind(addr: SocketAddr, options: Bind) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        reuse_port(&socket)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(options.backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn reuse_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn reuse_port(_: &socket2::Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not available on this platform",
    ))
}

/// The first listener a service manager passed (`LISTEN_FDS`, and
/// `LISTEN_PID` naming this process, as systemd's socket activation and
/// `systemfd` set them), if any: a TCP listener or, on Unix, a Unix domain
/// socket listener. The variables are removed once read, so child
/// processes do not take the listener for theirs.
pub(crate) fn inherited() -> io::Result<Option<Listener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let named = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("LISTEN_FDS: the first inherited descriptor: {error}"),
        )
    };
    match fds.take_tcp_listener(0) {
        Ok(listener) => Ok(listener.map(Listener::Tcp)),
        #[cfg(unix)]
        Err(error) => match fds.take_unix_listener(0) {
            Ok(Some(listener)) => Ok(Some(Listener::Unix(
                UnixSocket::inherited(listener).map_err(named)?,
            ))),
            Ok(None) => Ok(None),
            // Neither: say why it is not the TCP listener expected first.
            Err(_) => Err(named(error)),
        },
        #[cfg(not(unix))]
        Err(error) => Err(named(error)),
    }
}

/// The addresses to bind: `default`'s, with the host replaced by `HOST`
/// and the port by `PORT` where those are set.
pub(crate) fn from_env(default: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let port = match std::env::var("PORT") {
        Ok(port) => Some(port.trim().parse::<u16>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("PORT={port:?}: not a port number (0 to 65535)"),
            )
        })?),
        Err(_) => None,
    };
    let host = std::env::var("HOST").ok().filter(|host| !host.is_empty());
    let defaults: Vec<SocketAddr> = default.to_socket_addrs()?.collect();
    let port = port
        .or_else(|| defaults.first().map(SocketAddr::port))
        .unwrap_or(0);
    match host {
        Some(host) => {
            // An IPv6 literal may come with or without brackets.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let addrs: Vec<SocketAddr> = (bare, port)
                .to_socket_addrs()
                .map_err(|error| io::Error::new(error.kind(), format!("HOST={host:?}: {error}")))?
                .collect();
            Ok(addrs)
        }
        None => Ok(defaults
            .into_iter()
            .map(|mut addr| {
                addr.set_port(port);
                addr
            })
            .collect()),
    }
}
