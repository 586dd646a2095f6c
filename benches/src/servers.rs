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
}

impl ServerKind {
    /// Every server, in the order of the report's columns.
    pub const ALL: [ServerKind; 10] = [
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
        }
    }

    /// The runtime the server runs on.
    pub fn runtime(self) -> Runtime {
        match self {
            ServerKind::AlbanyTokio
            | ServerKind::HyperTokio
            | ServerKind::AxumTokio
            | ServerKind::TrilliumTokio => Runtime::Tokio,
            ServerKind::AlbanyAsyncStd
            | ServerKind::HyperAsyncStd
            | ServerKind::TrilliumAsyncStd => Runtime::AsyncStd,
            ServerKind::AlbanySmol | ServerKind::HyperSmol | ServerKind::TrilliumSmol => {
                Runtime::Smol
            }
        }
    }

    /// Whether the server is Albany, a hyper baseline or a peer.
    pub fn family(self) -> Family {
        match self {
            ServerKind::AlbanyTokio | ServerKind::AlbanyAsyncStd | ServerKind::AlbanySmol => {
                Family::Albany
            }
            ServerKind::HyperTokio | ServerKind::HyperAsyncStd | ServerKind::HyperSmol => {
                Family::Hyper
            }
            _ => Family::Peer,
        }
    }

    /// The environment variable that sets the number of worker threads,
    /// when the server's executor reads one (trillium-smol runs on
    /// `async-global-executor`, not on smol's own global executor).
    pub fn threads_env_var(self) -> Option<&'static str> {
        match self {
            ServerKind::TrilliumSmol => Some("ASYNC_GLOBAL_EXECUTOR_THREADS"),
            _ => self.runtime().threads_env_var(),
        }
    }

    /// Whether the server serves HTTP/2 with prior knowledge (h2c) on its
    /// HTTP/1.1 port. Every server of the catalogue does today; a server
    /// that did not would get `n/a` in the HTTP/2 rows.
    pub fn http2(self) -> bool {
        true
    }

    /// Whether the server answers `GET /alloc` with the process's
    /// allocation count (Albany and the hyper baselines).
    pub fn alloc_route(self) -> bool {
        matches!(self.family(), Family::Albany | Family::Hyper)
    }

    /// The hyper baseline on the same runtime.
    pub fn hyper_baseline(self) -> ServerKind {
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
}
