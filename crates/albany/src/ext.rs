use std::sync::Arc;

use crate::rt::Handle;
use crate::shutdown::ShutdownSignal;
use crate::upgrade::OnUpgrade;
use crate::{ConnectionInfo, Forwarded};

/// Reads what an adapter gives every request (spec EXT-1 to EXT-4, EXT-6).
///
/// | method | type | what |
/// | --- | --- | --- |
/// | [`runtime`](RequestExt::runtime) | [`Handle`] | the event-loop service: spawn, sleep, timeout, spawn_blocking |
/// | [`connection_info`](RequestExt::connection_info) | [`ConnectionInfo`] | transport (TCP or Unix socket) and its addresses, TLS |
/// | [`shutdown_signal`](RequestExt::shutdown_signal) | [`ShutdownSignal`] | resolves when graceful shutdown starts |
/// | [`take_upgrade`](RequestExt::take_upgrade) | [`OnUpgrade`] | on requests that ask for an upgrade: the connection after a `101` |
/// | [`forwarded`](RequestExt::forwarded) | [`Forwarded`] | on requests from a trusted front server: the client it forwards for |
/// | [`client_ip`](RequestExt::client_ip) | `IpAddr` | the forwarded client's address, else the peer's |
///
/// A server gives the first three as one [`ConnectionContext`] extension (one
/// insert per request instead of three); each method also finds its type
/// inserted on its own, which takes precedence (middleware and tests insert
/// them so). Each method returns `None` when neither is there, as for a
/// request built by hand in a unit test.
pub trait RequestExt {
    /// The event-loop service.
    fn runtime(&self) -> Option<&Handle>;
    /// The connection this request came in on.
    fn connection_info(&self) -> Option<&ConnectionInfo>;
    /// A signal that resolves when graceful shutdown starts.
    fn shutdown_signal(&self) -> Option<ShutdownSignal>;
    /// Takes the upgrade handle out of the request; see
    /// [`upgrade`](crate::upgrade).
    fn take_upgrade(&mut self) -> Option<OnUpgrade>;
    /// What a trusted front server says about the client (spec EXT-13);
    /// `None` from peers the server does not trust.
    fn forwarded(&self) -> Option<&Forwarded>;
    /// The client's address: the one a trusted front server forwarded
    /// ([`Forwarded::client`]) when there is one, otherwise the
    /// connection's TCP peer address; `None` without either (a Unix domain
    /// socket peer with nothing forwarded).
    fn client_ip(&self) -> Option<std::net::IpAddr>;
}

impl<B> RequestExt for http::Request<B> {
    fn runtime(&self) -> Option<&Handle> {
        let extensions = self.extensions();
        extensions.get::<Handle>().or_else(|| {
            extensions
                .get::<ConnectionContext>()
                .map(ConnectionContext::runtime)
        })
    }

    fn connection_info(&self) -> Option<&ConnectionInfo> {
        let extensions = self.extensions();
        extensions.get::<ConnectionInfo>().or_else(|| {
            extensions
                .get::<ConnectionContext>()
                .map(ConnectionContext::connection_info)
        })
    }

    fn shutdown_signal(&self) -> Option<ShutdownSignal> {
        let extensions = self.extensions();
        extensions
            .get::<ShutdownSignal>()
            .or_else(|| {
                extensions
                    .get::<ConnectionContext>()
                    .map(|c| &c.inner.shutdown)
            })
            .cloned()
    }

    fn take_upgrade(&mut self) -> Option<OnUpgrade> {
        self.extensions_mut().remove::<OnUpgrade>()
    }

    fn forwarded(&self) -> Option<&Forwarded> {
        self.extensions().get::<Forwarded>()
    }

    fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.forwarded()
            .and_then(|forwarded| forwarded.client)
            .or_else(|| self.connection_info()?.peer_addr().map(|addr| addr.ip()))
    }
}

/// What a server gives every request of one connection, as one extension
/// (spec EXT-12): the runtime [`Handle`], the [`ConnectionInfo`] and the
/// [`ShutdownSignal`]. Read it through [`RequestExt`].
///
/// It is a reference-counted value made once per connection: cloning it
/// into each request's extensions costs one insert, where three separate
/// extensions cost three (each a heap allocation).
///
/// ```
/// use albany::rt::Handle;
/// use albany::{ConnectionInfo, RequestExt, ConnectionContext, ShutdownSignal};
/// # fn runtime() -> Handle { unimplemented!() }
/// # fn example(handle: Handle, signal: ShutdownSignal) {
/// let info = ConnectionInfo::new("127.0.0.1:50000".parse().unwrap(), "127.0.0.1:3000".parse().unwrap());
/// let context = ConnectionContext::new(handle, info, signal);
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(context.clone());
/// assert_eq!(request.connection_info().unwrap().local_addr().unwrap().port(), 3000);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionContext {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    runtime: Handle,
    connection: ConnectionInfo,
    shutdown: ShutdownSignal,
}

impl ConnectionContext {
    /// Bundles what a server gives each request of one connection.
    pub fn new(runtime: Handle, connection: ConnectionInfo, shutdown: ShutdownSignal) -> Self {
        ConnectionContext {
            inner: Arc::new(Shared {
                runtime,
                connection,
                shutdown,
            }),
        }
    }

    /// The runtime's event-loop service.
    pub fn runtime(&self) -> &Handle {
        &self.inner.runtime
    }

    /// The connection the requests came in on.
    pub fn connection_info(&self) -> &ConnectionInfo {
        &self.inner.connection
    }

    /// A signal that resolves when graceful shutdown starts.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.inner.shutdown.clone()
    }
}
