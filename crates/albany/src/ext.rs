use crate::rt::Handle;
use crate::shutdown::ShutdownSignal;
use crate::upgrade::OnUpgrade;
use crate::ConnectionInfo;

/// Reads the extensions an adapter puts in every request.
///
/// Every conforming adapter inserts, in each request's
/// [`Extensions`](http::Extensions):
///
/// | type | what |
/// | --- | --- |
/// | [`Handle`] | the event-loop service: spawn, sleep, timeout, spawn_blocking |
/// | [`ConnectionInfo`] | peer and local address, TLS |
/// | [`ShutdownSignal`] | resolves when graceful shutdown starts |
/// | [`OnUpgrade`] | on requests that ask for an upgrade: the connection after a `101` |
///
/// Each method returns `None` when the extension is missing, as it is for a
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
}

impl<B> RequestExt for http::Request<B> {
    fn runtime(&self) -> Option<&Handle> {
        self.extensions().get::<Handle>()
    }

    fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.extensions().get::<ConnectionInfo>()
    }

    fn shutdown_signal(&self) -> Option<ShutdownSignal> {
        self.extensions().get::<ShutdownSignal>().cloned()
    }

    fn take_upgrade(&mut self) -> Option<OnUpgrade> {
        self.extensions_mut().remove::<OnUpgrade>()
    }
}
