//! `futures_io` for the crate's I/O wrappers ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream), the child pipes,
//! [`Upgraded`](crate::upgrade::Upgraded)): each forwards to the boxed
//! reader or writer in its field `io`.

/// Implements `futures_io::AsyncRead` for `$type` by forwarding to
/// `self.io`.
macro_rules! forward_read {
    ($type:ty) => {
        impl futures_io::AsyncRead for $type {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut *self.io).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut *self.io).poll_read_vectored(cx, bufs)
            }
        }
    };
}

/// Implements `futures_io::AsyncWrite` for `$type` by forwarding to
/// `self.io`; `poll_close` too, or, with a second argument, through that
/// function (`fn(&mut $type, &mut Context) -> Poll<io::Result<()>>`).
macro_rules! forward_write {
    ($type:ty) => {
        forward_write!(
            $type,
            |this: &mut $type, cx: &mut std::task::Context<'_>| {
                std::pin::Pin::new(&mut *this.io).poll_close(cx)
            }
        );
    };
    ($type:ty, $close:expr) => {
        impl futures_io::AsyncWrite for $type {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut *self.io).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut *self.io).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut *self.io).poll_flush(cx)
            }

            fn poll_close(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                ($close)(&mut *self, cx)
            }
        }
    };
}

pub(crate) use {forward_read, forward_write};
