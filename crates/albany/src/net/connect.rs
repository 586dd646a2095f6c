//! Connecting: [`Destination`] (where) and [`Connector`] (with which
//! bounds), on the runtime of a [`Handle`].

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::TcpStream;
use crate::rt::Handle;

/// The default bound of one connection attempt: 10 seconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default bound of a name lookup: 10 seconds.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect: socket addresses, or a host name (or IP literal) and a
/// port.
///
/// Made with `From`: from a [`SocketAddr`], several (`Vec<SocketAddr>` or
/// `&[SocketAddr]`, tried in order), an `(IpAddr, u16)`, a `(&str, u16)` or
/// `(String, u16)` host and port, or a `"host:port"` string (`"localhost:8080"`, `"192.0.2.1:80"`, `"[::1]:443"`). A string
/// that is not `host:port` with a decimal port is an error of kind
/// `InvalidInput` when the connection is attempted, never a panic.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    Addrs(Vec<SocketAddr>),
    Host { host: String, port: u16 },
    Invalid(String),
}

impl Destination {
    /// A host name or IP literal, and a port.
    pub fn host(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        let repr = match host.parse::<IpAddr>() {
            Ok(ip) => Repr::Addrs(vec![SocketAddr::new(ip, port)]),
            Err(_) => Repr::Host { host, port },
        };
        Destination { repr }
    }

    /// Parses `host:port`; IPv6 literals in brackets (`[::1]:443`).
    fn parse(text: &str) -> Self {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return addr.into();
        }
        let invalid = || Destination {
            repr: Repr::Invalid(text.to_owned()),
        };
        let Some((host, port)) = text.rsplit_once(':') else {
            return invalid();
        };
        let Ok(port) = port.parse::<u16>() else {
            return invalid();
        };
        if host.is_empty() || host.contains(':') || host.contains(['[', ']']) {
            // An unbracketed IPv6 literal or a malformed one.
            return invalid();
        }
        Destination::host(host, port)
    }

    /// The addresses to try, in order: the address itself, or the host's
    /// addresses from a lookup on the runtime's blocking pool, bounded by
    /// `resolve_timeout`.
    async fn addrs(
        &self,
        handle: &Handle,
        resolve_timeout: Option<Duration>,
    ) -> io::Result<Vec<SocketAddr>> {
        match &self.repr {
            Repr::Addrs(addrs) => Ok(addrs.clone()),
            Repr::Host { host, port } => {
                bounded(handle, resolve_timeout, handle.resolve(host, *port))
                    .await
                    .map_err(|error| match error.kind() {
                        io::ErrorKind::TimedOut => io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("looking up `{host}`: {error}"),
                        ),
                        _ => error,
                    })
            }
            Repr::Invalid(text) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{text}` is not HOST:PORT (such as localhost:8080 or [::1]:443)"),
            )),
        }
    }
}

impl From<SocketAddr> for Destination {
    fn from(addr: SocketAddr) -> Self {
        Destination {
            repr: Repr::Addrs(vec![addr]),
        }
    }
}

impl From<Vec<SocketAddr>> for Destination {
    fn from(addrs: Vec<SocketAddr>) -> Self {
        Destination {
            repr: Repr::Addrs(addrs),
        }
    }
}

impl From<&[SocketAddr]> for Destination {
    fn from(addrs: &[SocketAddr]) -> Self {
        addrs.to_vec().into()
    }
}

impl From<(IpAddr, u16)> for Destination {
    fn from((ip, port): (IpAddr, u16)) -> Self {
        SocketAddr::new(ip, port).into()
    }
}

impl From<(&str, u16)> for Destination {
    fn from((host, port): (&str, u16)) -> Self {
        Destination::host(host, port)
    }
}

impl From<(String, u16)> for Destination {
    fn from((host, port): (String, u16)) -> Self {
        Destination::host(host, port)
    }
}

impl From<&str> for Destination {
    fn from(text: &str) -> Self {
        Destination::parse(text)
    }
}

impl From<String> for Destination {
    fn from(text: String) -> Self {
        Destination::parse(&text)
    }
}

impl From<&String> for Destination {
    fn from(text: &String) -> Self {
        Destination::parse(text)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Addrs(addrs) => match addrs.as_slice() {
                [addr] => write!(f, "{addr}"),
                addrs => {
                    for (i, addr) in addrs.iter().enumerate() {
                        let separator = if i == 0 { "" } else { ", " };
                        write!(f, "{separator}{addr}")?;
                    }
                    Ok(())
                }
            },
            Repr::Host { host, port } => write!(f, "{host}:{port}"),
            Repr::Invalid(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Destination({self})")
    }
}

/// Connects with bounds the caller sets: how long a name lookup and each
/// connection attempt may take (spec IO-3, IO-4).
///
/// [`Handle::connect`] and [`Handle::connect_unix`] use
/// `Connector::new()`: 10 seconds for the lookup and 10 seconds per
/// attempt. A `None` bound leaves the wait to the operating system (for an
/// unanswered TCP connect on Linux, about two minutes of SYN retries).
///
/// ```
/// use std::time::Duration;
/// use albany::net::Connector;
/// use albany::rt::Handle;
///
/// async fn probe(handle: &Handle) -> std::io::Result<()> {
///     let stream = Connector::new()
///         .attempt_timeout(Some(Duration::from_millis(500)))
///         .connect(handle, "localhost:5432")
///         .await?;
///     stream.set_nodelay(true)?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connector {
    attempt_timeout: Option<Duration>,
    resolve_timeout: Option<Duration>,
}

impl Default for Connector {
    fn default() -> Self {
        Connector::new()
    }
}

impl Connector {
    /// A connector with the default bounds: [`DEFAULT_RESOLVE_TIMEOUT`] for a
    /// lookup, [`DEFAULT_ATTEMPT_TIMEOUT`] for each attempt.
    pub const fn new() -> Self {
        Connector {
            attempt_timeout: Some(DEFAULT_ATTEMPT_TIMEOUT),
            resolve_timeout: Some(DEFAULT_RESOLVE_TIMEOUT),
        }
    }

    /// Bounds each connection attempt (one address); past it the attempt
    /// fails with `TimedOut` and the next address is tried. `None`: no
    /// bound of Albany's. Default: 10 seconds.
    #[must_use]
    pub const fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Bounds the name lookup; past it the connect fails with `TimedOut`.
    /// `None`: no bound of Albany's. Default: 10 seconds.
    #[must_use]
    pub const fn resolve_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.resolve_timeout = timeout;
        self
    }

    /// Connects to `destination` over TCP on `handle`'s runtime.
    ///
    /// A host name is looked up first ([`Handle::resolve`]); its addresses
    /// (or the addresses given) are tried in the order the lookup gave them, each attempt bounded by
    /// the attempt timeout, and the first connection made is returned.
    ///
    /// # Errors
    ///
    /// - `InvalidInput`: `destination` is not `host:port`;
    /// - `NotFound`: the name does not resolve, or resolves to (or was
    ///   given) no address;
    /// - `TimedOut`: the lookup or the last attempt took too long;
    /// - otherwise the last attempt's error, such as `ConnectionRefused`.
    ///
    /// The error's message names the destination.
    pub async fn connect(
        &self,
        handle: &Handle,
        destination: impl Into<Destination>,
    ) -> io::Result<TcpStream> {
        let destination = destination.into();
        let addrs = destination.addrs(handle, self.resolve_timeout).await?;
        let mut last_error = None;
        for addr in addrs {
            let attempt = handle.runtime().connect_tcp(addr);
            match bounded(handle, self.attempt_timeout, attempt).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last_error = Some((addr, error)),
            }
        }
        let (addr, error) = last_error.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("`{destination}` resolved to no address"),
            )
        })?;
        let via = match &destination.repr {
            Repr::Addrs(addrs) if addrs.len() == 1 => String::new(),
            _ => format!(" (last tried: {addr})"),
        };
        Err(io::Error::new(
            error.kind(),
            format!("connecting to {destination}{via}: {error}"),
        ))
    }

    /// Connects to the Unix domain socket at `path` on `handle`'s runtime,
    /// the attempt bounded by the attempt timeout. Unix only.
    ///
    /// # Errors
    ///
    /// - `NotFound`: no socket at `path`;
    /// - `ConnectionRefused`: nothing listens on it;
    /// - `TimedOut`: the listener's backlog stayed full past the bound;
    /// - otherwise the operating system's error.
    #[cfg(unix)]
    pub async fn connect_unix(
        &self,
        handle: &Handle,
        path: impl AsRef<std::path::Path>,
    ) -> io::Result<super::UnixStream> {
        let path = path.as_ref();
        let attempt = handle.runtime().connect_unix(path.to_path_buf());
        bounded(handle, self.attempt_timeout, attempt)
            .await
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("connecting to {}: {error}", path.display()),
                )
            })
    }
}

/// Runs `future` for at most `bound` (spec IO-4); past it, fails with
/// `TimedOut`.
async fn bounded<T>(
    handle: &Handle,
    bound: Option<Duration>,
    future: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match bound {
        Some(bound) => handle.timeout(bound, future).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {bound:?}"),
            ))
        }),
        None => future.await,
    }
}

/// Looks `host` up with the system's resolver (`getaddrinfo(3)`), on the
/// calling thread: the blocking part of [`Handle::resolve`].
pub(crate) fn lookup_blocking(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("`{host}` resolved to no address"),
                ))
            } else {
                Ok(addrs)
            }
        }
        // getaddrinfo's failures (EAI_NONAME, EAI_AGAIN, ...) come as
        // uncategorised errors; a name that does not resolve is NotFound.
        Err(error) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("cannot resolve `{host}`: {error}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(Destination::from("127.0.0.1:80"), Destination::from(addr));
        assert_eq!(
            Destination::from("[::1]:443").to_string(),
            "[::1]:443".to_owned()
        );
        assert_eq!(
            Destination::from("localhost:8080").repr,
            Repr::Host {
                host: "localhost".into(),
                port: 8080
            }
        );
        assert_eq!(Destination::from(("10.0.0.1", 5)), "10.0.0.1:5".into());
        for bad in [
            "localhost",
            "localhost:",
            "host:99999",
            ":80",
            "::1:80",
            "[::1:80",
        ] {
            assert!(
                matches!(Destination::from(bad).repr, Repr::Invalid(_)),
                "{bad}"
            );
        }
    }
}
