use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What the server knows about the connection a request came in on.
///
/// Adapters insert one in every request's extensions; get it with
/// [`RequestExt::connection_info`](crate::RequestExt::connection_info).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The transport the connection runs on, with its addresses: TCP or a
    /// Unix domain socket (spec EXT-2).
    pub transport: Transport,
    /// TLS parameters, when the connection is secured; `None` otherwise.
    pub tls: Option<TlsInfo>,
}

/// The transport of a connection and the addresses of its two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// A TCP connection.
    Tcp {
        /// The client's address (the TCP peer).
        peer_addr: SocketAddr,
        /// The server's address on this connection (the TCP local address).
        local_addr: SocketAddr,
    },
    /// A connection on a Unix domain socket (`AF_UNIX`, `SOCK_STREAM`).
    /// Its peer is a local process, usually a front server such as nginx,
    /// whose socket is unnamed.
    Unix {
        /// The path the peer's socket is bound to; `None` for an unnamed
        /// socket, which a connecting client's usually is.
        peer_path: Option<PathBuf>,
        /// The path of the server's listening socket; `None` for an
        /// unnamed or abstract one.
        local_path: Option<PathBuf>,
    },
}

impl ConnectionInfo {
    /// Describes a plain TCP connection.
    pub fn new(peer_addr: SocketAddr, local_addr: SocketAddr) -> Self {
        ConnectionInfo {
            transport: Transport::Tcp {
                peer_addr,
                local_addr,
            },
            tls: None,
        }
    }

    /// Describes a plain connection on a Unix domain socket, with the paths
    /// of its peer's and its own socket where they have one.
    pub fn unix(peer_path: Option<PathBuf>, local_path: Option<PathBuf>) -> Self {
        ConnectionInfo {
            transport: Transport::Unix {
                peer_path,
                local_path,
            },
            tls: None,
        }
    }

    /// Describes a connection accepted on a Unix domain socket from the
    /// peer's address (from `accept(2)`) and the connection's own
    /// (`getsockname(2)`): their paths, where the sockets are named. For
    /// adapters' `poll_accept_unix` (spec ADAPT-4). Unix only.
    #[cfg(unix)]
    pub fn from_unix_addrs(
        peer: &std::os::unix::net::SocketAddr,
        local: &std::os::unix::net::SocketAddr,
    ) -> Self {
        ConnectionInfo::unix(
            peer.as_pathname().map(std::path::Path::to_path_buf),
            local.as_pathname().map(std::path::Path::to_path_buf),
        )
    }

    /// Adds TLS parameters.
    pub fn with_tls(mut self, tls: TlsInfo) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The client's TCP address; `None` on a Unix domain socket, whose peer
    /// has no IP address (behind a trusted front server, the client's
    /// address is [`RequestExt::client_ip`](crate::RequestExt::client_ip)).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self.transport {
            Transport::Tcp { peer_addr, .. } => Some(peer_addr),
            Transport::Unix { .. } => None,
        }
    }

    /// The server's TCP address on this connection; `None` on a Unix
    /// domain socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.transport {
            Transport::Tcp { local_addr, .. } => Some(local_addr),
            Transport::Unix { .. } => None,
        }
    }

    /// The scheme the client used to reach the server: `"https"` when the
    /// connection is secured by TLS, `"http"` otherwise. Over HTTP/1.1 a
    /// request in origin-form carries no scheme in its URI (spec REQ-2): the
    /// target URI is this scheme, the `Host` field and the path (RFC 9112
    /// §3.3).
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// TLS parameters of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The server name the client asked for (SNI, RFC 6066 §3), if any.
    pub server_name: Option<String>,
    /// The protocol agreed by ALPN (RFC 7301), such as `b"h2"`, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The TLS version, such as `"TLSv1.3"`.
    pub protocol_version: Option<String>,
    /// The cipher suite agreed, by its IANA name, such as
    /// `"TLS13_AES_128_GCM_SHA256"`.
    pub cipher_suite: Option<String>,
    /// The certificate chain the client presented (mutual TLS), each
    /// certificate DER-encoded, the client's own first; empty when it
    /// presented none.
    pub client_certificates: Vec<Vec<u8>>,
}

impl TlsInfo {
    /// TLS parameters with every field unknown.
    pub fn new() -> Self {
        TlsInfo::default()
    }
}

/// What a trusted front server (a reverse proxy such as nginx) says about
/// the client of one request: from the `Forwarded` field (RFC 7239) or, if
/// there is none, `X-Forwarded-For`, `X-Forwarded-Proto` and
/// `X-Forwarded-Host`.
///
/// A server inserts it in the request's extensions only when the request
/// came from a peer it was configured to trust, and never by default; read
/// it with [`RequestExt::forwarded`](crate::RequestExt::forwarded), or take
/// the client's address, forwarded or not, with
/// [`RequestExt::client_ip`](crate::RequestExt::client_ip).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Forwarded {
    /// The client's address: the nearest address in the chain that is not
    /// itself a trusted proxy. `None` when the front server said nothing
    /// usable (`unknown`, an obfuscated identifier).
    pub client: Option<IpAddr>,
    /// The scheme the client used with the front server (`proto=`,
    /// `X-Forwarded-Proto`), lowercase, such as `"https"`.
    pub proto: Option<String>,
    /// The `Host` the client sent to the front server (`host=`,
    /// `X-Forwarded-Host`).
    pub host: Option<String>,
}

impl Forwarded {
    /// Nothing forwarded.
    pub fn new() -> Self {
        Forwarded::default()
    }
}
