#![doc = include_str!("../README.md")]

/// Implements hyper's [`Write`](hyper::rt::Write) for the I/O wrapper
/// `$wrapper<I>` by forwarding every method to its `inner` field; the
/// wrappers only change how a connection is read.
macro_rules! forward_write {
    ($wrapper:ident) => {
        impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for $wrapper<I> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}

#[cfg(feature = "async-io")]
mod async_io;
mod binding;
mod body;
mod connection;
mod head_timeout;
pub mod io;
mod preface;
mod request_body;
mod request_checks;
mod rt;
mod server;
mod service;
mod settings;
mod signal;
mod tracker;

#[cfg(feature = "async-io")]
pub use async_io::{AsyncIoListener, AsyncIoStream};
pub use binding::{Binding, Listener, Spawn};
pub use rt::{HyperExecutor, HyperTimer};
pub use server::{Server, ShutdownHandle};
pub use settings::Settings;
pub use signal::shutdown_on_signal;
