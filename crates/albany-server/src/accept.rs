//! The listeners the accept loop takes connections from: TCP, and Unix
//! domain sockets, each as the binding registered it.

use std::io;
use std::task::{Context, Poll};

use albany::ConnectionInfo;

use crate::Binding;

/// A registered listener: what the accept loop needs of it.
pub(crate) trait Accept<B: Binding>: Send + Sync + 'static {
    /// An accepted connection as hyper reads and writes it.
    type Connection: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// The next connection and its [`ConnectionInfo`].
    fn poll_accept(
        &self,
        binding: &B,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Connection, ConnectionInfo)>>;
}

/// A TCP listener on the binding's reactor.
pub(crate) struct Tcp<B: Binding>(pub(crate) B::Listener);

impl<B: Binding> Accept<B> for Tcp<B> {
    type Connection = B::Connection;

    fn poll_accept(
        &self,
        binding: &B,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(B::Connection, ConnectionInfo)>> {
        binding.poll_accept(&self.0, cx)
    }
}

/// A Unix domain socket listener on the binding's reactor.
#[cfg(unix)]
pub(crate) struct Unix<B: Binding>(pub(crate) B::UnixListener);

#[cfg(unix)]
impl<B: Binding> Accept<B> for Unix<B> {
    type Connection = B::UnixConnection;

    fn poll_accept(
        &self,
        binding: &B,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(B::UnixConnection, ConnectionInfo)>> {
        binding.poll_accept_unix(&self.0, cx)
    }
}
