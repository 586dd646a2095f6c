//! The catalogue of servers the harness measures, shared by the driver and
//! `bench-server`.

use std::fmt;
use std::str::FromStr;

/// The async runtime a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// tokio's multi-threaded runtime.
    Tokio,
    /// async-std's global executor.
    AsyncStd,
    /// smol's global executor.
    Smol,
}

impl Runtime {
    /// The runtime's name, as in server names: `tokio`, `async-std`, `smol`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::AsyncStd => "async-std",
            Runtime::Smol => "smol",
        }
    }

    /// The environment variable that sets the runtime's number of worker
    /// threads, for the runtimes whose global executor reads one (tokio's
    /// runtime is built by the server itself with the count).
    pub fn threads_env_var(self) -> Option<&'static str> {
        match self {
            Runtime::Tokio => None,
            Runtime::AsyncStd => Some("ASYNC_STD_THREAD_COUNT"),
            Runtime::Smol => Some("SMOL_THREADS"),
        }
    }
}

/// What a server is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Albany, through one of its adapters.
    Albany,
    /// hyper 1.x with the canonical accept loop: the baseline.
    Hyper,
    /// Another framework or server: axum, trillium.
    Peer,
}

/// A server that `bench-server --server NAME` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKind {
    /// Albany on tokio (`albany-tokio`).
    AlbanyTokio,
    /// Albany on async-std (`albany-async-std`).
    AlbanyAsyncStd,
    /// Albany on smol (`albany-smol`).
    AlbanySmol,
    /// hyper on tokio with `TokioIo`.
    HyperTokio,
    /// hyper on async-std through a `futures-io` binding.
    HyperAsyncStd,
    /// hyper on smol through a `futures-io` binding.
    HyperSmol,
    /// axum 0.8 on tokio.
    AxumTokio,
    /// trillium on tokio.
    TrilliumTokio,
    /// trillium on async-std.
    TrilliumAsyncStd,
    /// trillium on smol.
    TrilliumSmol,
    /// The `proxy` example (`examples/proxy.rs`, Albany with
    /// `albany-client`) on albany-tokio.
    ProxyAlbanyTokio,
    /// The `proxy` example on albany-async-std.
    ProxyAlbanyAsyncStd,
    /// The `proxy` example on albany-smol.
    ProxyAlbanySmol,
    /// A raw hyper reverse proxy on tokio (hyper-util's `auto` server and
    /// its legacy pooled `Client`): the proxies' baseline.
    ProxyHyperTokio,
    /// Albany on tokio over HTTPS (`Server::tls`).
    TlsAlbanyTokio,
    /// Albany on async-std over HTTPS.
    TlsAlbanyAsyncStd,
    /// Albany on smol over HTTPS.
    TlsAlbanySmol,
    /// Raw hyper on tokio over HTTPS with tokio-rustls (`ring`, ALPN `h2`
    /// and `http/1.1`): the TLS servers' baseline.
    TlsHyperTokio,
    /// `albany-tokio` serving the same application wrapped in
    /// `albany_compat::compat` (the tokio compatibility row).
    CompatAlbanyTokio,
    /// `albany-async-std` serving the application wrapped in
    /// `albany_compat::compat`.
    CompatAlbanyAsyncStd,
    /// `albany-smol` serving the application wrapped in
    /// `albany_compat::compat`.
    CompatAlbanySmol,
}

impl ServerKind {
    /// Every server, in the order of the report's columns: the origin
    /// servers, then the proxies, then the TLS servers, then the compat
    /// servers.
    pub const ALL: [ServerKind; 21] = [
        ServerKind::AlbanyTokio,
        ServerKind::AlbanyAsyncStd,
        ServerKind::AlbanySmol,
        ServerKind::HyperTokio,
        ServerKind::HyperAsyncStd,
        ServerKind::HyperSmol,
        ServerKind::AxumTokio,
        ServerKind::TrilliumTokio,
        ServerKind::TrilliumAsyncStd,
        ServerKind::TrilliumSmol,
        ServerKind::ProxyAlbanyTokio,
        ServerKind::ProxyAlbanyAsyncStd,
        ServerKind::ProxyAlbanySmol,
        ServerKind::ProxyHyperTokio,
        ServerKind::TlsAlbanyTokio,
        ServerKind::TlsAlbanyAsyncStd,
        ServerKind::TlsAlbanySmol,
        ServerKind::TlsHyperTokio,
        ServerKind::CompatAlbanyTokio,
        ServerKind::CompatAlbanyAsyncStd,
        ServerKind::CompatAlbanySmol,
    ];

    /// The compat servers: each adapter serving Albany's application
    /// wrapped in `albany_compat::compat`, compared with the same adapter
    /// without it ([`ServerKind::without_compat`]).
    pub const COMPAT: [ServerKind; 3] = [
        ServerKind::CompatAlbanyTokio,
        ServerKind::CompatAlbanyAsyncStd,
        ServerKind::CompatAlbanySmol,
    ];

    /// The proxies: the `proxy` example on each adapter, then the raw
    /// hyper baseline.
    pub const PROXIES: [ServerKind; 4] = [
        ServerKind::ProxyAlbanyTokio,
        ServerKind::ProxyAlbanyAsyncStd,
        ServerKind::ProxyAlbanySmol,
        ServerKind::ProxyHyperTokio,
    ];

    /// The TLS servers: Albany over HTTPS on each adapter, then the raw
    /// hyper with tokio-rustls baseline.
    pub const TLS: [ServerKind; 4] = [
        ServerKind::TlsAlbanyTokio,
        ServerKind::TlsAlbanyAsyncStd,
        ServerKind::TlsAlbanySmol,
        ServerKind::TlsHyperTokio,
    ];

    /// The name on the command line and in the report, such as
    /// `albany-tokio`.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::AlbanyTokio => "albany-tokio",
            ServerKind::AlbanyAsyncStd => "albany-async-std",
            ServerKind::AlbanySmol => "albany-smol",
            ServerKind::HyperTokio => "hyper-tokio",
            ServerKind::HyperAsyncStd => "hyper-async-std",
            ServerKind::HyperSmol => "hyper-smol",
            ServerKind::AxumTokio => "axum-tokio",
            ServerKind::TrilliumTokio => "trillium-tokio",
            ServerKind::TrilliumAsyncStd => "trillium-async-std",
            ServerKind::TrilliumSmol => "trillium-smol",
            ServerKind::ProxyAlbanyTokio => "proxy-albany-tokio",
            ServerKind::ProxyAlbanyAsyncStd => "proxy-albany-async-std",
            ServerKind::ProxyAlbanySmol => "proxy-albany-smol",
            ServerKind::ProxyHyperTokio => "proxy-hyper-tokio",
            ServerKind::TlsAlbanyTokio => "tls-albany-tokio",
            ServerKind::TlsAlbanyAsyncStd => "tls-albany-async-std",
            ServerKind::TlsAlbanySmol => "tls-albany-smol",
            ServerKind::TlsHyperTokio => "tls-hyper-tokio",
            ServerKind::CompatAlbanyTokio => "compat-albany-tokio",
            ServerKind::CompatAlbanyAsyncStd => "compat-albany-async-std",
            ServerKind::CompatAlbanySmol => "compat-albany-smol",
        }
    }

    /// The runtime the server runs on.
    pub fn runtime(self) -> Runtime {
        match self {
            ServerKind::AlbanyTokio
            | ServerKind::HyperTokio
            | ServerKind::AxumTokio
            | ServerKind::TrilliumTokio
            | ServerKind::ProxyAlbanyTokio
            | ServerKind::ProxyHyperTokio
            | ServerKind::TlsAlbanyTokio
            | ServerKind::TlsHyperTokio
            | ServerKind::CompatAlbanyTokio => Runtime::Tokio,
            ServerKind::AlbanyAsyncStd
            | ServerKind::HyperAsyncStd
            | ServerKind::TrilliumAsyncStd
            | ServerKind::ProxyAlbanyAsyncStd
            | ServerKind::TlsAlbanyAsyncStd
            | ServerKind::CompatAlbanyAsyncStd => Runtime::AsyncStd,
            ServerKind::AlbanySmol
            | ServerKind::HyperSmol
            | ServerKind::TrilliumSmol
            | ServerKind::ProxyAlbanySmol
            | ServerKind::TlsAlbanySmol
            | ServerKind::CompatAlbanySmol => Runtime::Smol,
        }
    }

    /// Whether the server is Albany, a hyper baseline or a peer (the
    /// proxies and TLS servers too: the `proxy` example is Albany, the raw
    /// hyper proxy a hyper baseline; likewise over TLS).
    pub fn family(self) -> Family {
        match self {
            ServerKind::AlbanyTokio
            | ServerKind::AlbanyAsyncStd
            | ServerKind::AlbanySmol
            | ServerKind::ProxyAlbanyTokio
            | ServerKind::ProxyAlbanyAsyncStd
            | ServerKind::ProxyAlbanySmol
            | ServerKind::TlsAlbanyTokio
            | ServerKind::TlsAlbanyAsyncStd
            | ServerKind::TlsAlbanySmol
            | ServerKind::CompatAlbanyTokio
            | ServerKind::CompatAlbanyAsyncStd
            | ServerKind::CompatAlbanySmol => Family::Albany,
            ServerKind::HyperTokio
            | ServerKind::HyperAsyncStd
            | ServerKind::HyperSmol
            | ServerKind::ProxyHyperTokio
            | ServerKind::TlsHyperTokio => Family::Hyper,
            ServerKind::AxumTokio
            | ServerKind::TrilliumTokio
            | ServerKind::TrilliumAsyncStd
            | ServerKind::TrilliumSmol => Family::Peer,
        }
    }

    /// Whether the server is a reverse proxy (the proxy row), which
    /// forwards every request to an upstream `hyper-tokio` server, rather
    /// than an origin server that answers the routes itself.
    pub fn is_proxy(self) -> bool {
        ServerKind::PROXIES.contains(&self)
    }

    /// Whether the server serves HTTPS (the TLS row): `bench-server
    /// --server tls-...` with `--tls-cert` and `--tls-key`.
    pub fn is_tls(self) -> bool {
        ServerKind::TLS.contains(&self)
    }

    /// Whether the server is one of the compat servers (the tokio
    /// compatibility row): an Albany adapter serving its application
    /// wrapped in `albany_compat::compat`.
    pub fn is_compat(self) -> bool {
        ServerKind::COMPAT.contains(&self)
    }

    /// For a compat server, the same adapter serving the same application
    /// without `albany_compat`: the ratio's reference.
    pub fn without_compat(self) -> Option<ServerKind> {
        match self {
            ServerKind::CompatAlbanyTokio => Some(ServerKind::AlbanyTokio),
            ServerKind::CompatAlbanyAsyncStd => Some(ServerKind::AlbanyAsyncStd),
            ServerKind::CompatAlbanySmol => Some(ServerKind::AlbanySmol),
            _ => None,
        }
    }

    /// Whether the server is the `proxy` example of `albany-examples`
    /// (started as `target/release/examples/proxy`), not a server of
    /// `bench-server`.
    pub fn is_proxy_example(self) -> bool {
        self.is_proxy() && self.family() == Family::Albany
    }

    /// The environment variable that sets the number of worker threads,
    /// when the server's executor reads one: trillium-smol runs on
    /// `async-global-executor`, not on smol's own global executor; the
    /// `proxy` example builds its tokio runtime without a thread count, so
    /// tokio reads `TOKIO_WORKER_THREADS`; albany-smol's `run` makes one
    /// executor per CPU the process may run on and reads no variable.
    pub fn threads_env_var(self) -> Option<&'static str> {
        match self {
            ServerKind::TrilliumSmol => Some("ASYNC_GLOBAL_EXECUTOR_THREADS"),
            ServerKind::ProxyAlbanyTokio => Some("TOKIO_WORKER_THREADS"),
            ServerKind::ProxyAlbanySmol | ServerKind::ProxyHyperTokio => None,
            _ => self.runtime().threads_env_var(),
        }
    }

    /// Whether the server serves HTTP/2 on its HTTP/1.1 port: with prior
    /// knowledge (h2c) for the origin servers, chosen by ALPN for the TLS
    /// servers. Every origin server of the catalogue does today; a server
    /// that did not would get `n/a` in the HTTP/2 rows. The proxy row is
    /// measured over HTTP/1.1 only.
    pub fn http2(self) -> bool {
        !self.is_proxy()
    }

    /// Whether the allocation count is measured: the Albany and hyper
    /// origin servers answer `GET /alloc` (a proxy would forward it; the
    /// TLS servers answer it too, but the TLS row measures load only).
    pub fn alloc_route(self) -> bool {
        !self.is_proxy()
            && !self.is_tls()
            && matches!(self.family(), Family::Albany | Family::Hyper)
    }

    /// The hyper baseline: the raw hyper server on the same runtime, for
    /// a proxy the raw hyper proxy on tokio, for a TLS server raw hyper
    /// with tokio-rustls.
    pub fn hyper_baseline(self) -> ServerKind {
        if self.is_proxy() {
            return ServerKind::ProxyHyperTokio;
        }
        if self.is_tls() {
            return ServerKind::TlsHyperTokio;
        }
        match self.runtime() {
            Runtime::Tokio => ServerKind::HyperTokio,
            Runtime::AsyncStd => ServerKind::HyperAsyncStd,
            Runtime::Smol => ServerKind::HyperSmol,
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ServerKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        ServerKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ServerKind::ALL.iter().map(|kind| kind.name()).collect();
                format!("unknown server `{name}` (one of: {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ServerKind::ALL {
            assert_eq!(kind.name().parse::<ServerKind>(), Ok(kind));
            assert!(kind.name().ends_with(kind.runtime().name()));
        }
        assert!("nginx".parse::<ServerKind>().is_err());
    }

    #[test]
    fn baselines() {
        assert_eq!(
            ServerKind::AlbanySmol.hyper_baseline(),
            ServerKind::HyperSmol
        );
        assert!(ServerKind::HyperTokio.alloc_route());
        assert!(!ServerKind::AxumTokio.alloc_route());
    }

    #[test]
    fn proxies() {
        for kind in ServerKind::ALL {
            assert_eq!(kind.is_proxy(), kind.name().starts_with("proxy-"), "{kind}");
        }
        assert_eq!(
            ServerKind::ProxyAlbanySmol.hyper_baseline(),
            ServerKind::ProxyHyperTokio
        );
        assert!(ServerKind::ProxyAlbanyAsyncStd.is_proxy_example());
        assert!(!ServerKind::ProxyHyperTokio.is_proxy_example());
        assert!(!ServerKind::ProxyAlbanyTokio.alloc_route());
        assert_eq!(
            ServerKind::ProxyAlbanyTokio.threads_env_var(),
            Some("TOKIO_WORKER_THREADS")
        );
        assert_eq!(
            ServerKind::ProxyAlbanyAsyncStd.threads_env_var(),
            Some("ASYNC_STD_THREAD_COUNT")
        );
        assert_eq!(ServerKind::ProxyAlbanySmol.threads_env_var(), None);
    }

    #[test]
    fn compat_servers() {
        for kind in ServerKind::ALL {
            assert_eq!(
                kind.is_compat(),
                kind.name().starts_with("compat-"),
                "{kind}"
            );
            assert_eq!(kind.is_compat(), kind.without_compat().is_some(), "{kind}");
        }
        for kind in ServerKind::COMPAT {
            let plain = kind.without_compat().unwrap();
            assert_eq!(kind.name(), format!("compat-{plain}"));
            assert_eq!(kind.runtime(), plain.runtime());
            assert_eq!(kind.family(), Family::Albany);
            assert!(kind.alloc_route() && kind.http2());
            assert_eq!(kind.hyper_baseline(), plain.hyper_baseline());
        }
    }

    #[test]
    fn tls_servers() {
        for kind in ServerKind::ALL {
            assert_eq!(kind.is_tls(), kind.name().starts_with("tls-"), "{kind}");
            assert!(!(kind.is_tls() && kind.is_proxy()), "{kind}");
        }
        for kind in ServerKind::TLS {
            assert_eq!(kind.hyper_baseline(), ServerKind::TlsHyperTokio);
            assert!(kind.http2());
            assert!(!kind.alloc_route());
        }
        assert_eq!(ServerKind::TlsHyperTokio.family(), Family::Hyper);
        assert_eq!(
            ServerKind::TlsAlbanyAsyncStd.threads_env_var(),
            Some("ASYNC_STD_THREAD_COUNT")
        );
    }
}
