//! A minimal `futures-io` → hyper binding for the smol and async-std
//! baselines, as hyper's documentation suggests writing one: a wrapper
//! implementing `hyper::rt::Read` and `hyper::rt::Write`, and executors
//! for HTTP/2's stream tasks.
//!
//! Reads zero the unfilled part of hyper's buffer before handing it to
//! the `futures-io` reader, which wants initialised bytes (as the
//! `smol-hyper` crate does, and as `albany_server::io::Compat` does).
#![allow(unsafe_code)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// A `futures-io` connection presented to hyper.
#[derive(Debug)]
pub(crate) struct FuturesIo<T>(pub(crate) T);

impl<T: AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the unfilled bytes are only written (zeroed) here before
        // being viewed as `u8`, and never de-initialised.
        let unfilled = unsafe { buf.as_mut() };
        unfilled.fill(std::mem::MaybeUninit::new(0));
        // SAFETY: every byte of `unfilled` is initialised just above, and
        // `MaybeUninit<u8>` has the layout of `u8`.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(unfilled.as_mut_ptr().cast::<u8>(), unfilled.len())
        };
        match Pin::new(&mut self.0).poll_read(cx, bytes) {
            Poll::Ready(Ok(n)) => {
                // SAFETY: the reader filled (initialised) the first `n` bytes.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// hyper's executor (HTTP/2 stream tasks) on smol's global executor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SmolExecutor;

impl<F> hyper::rt::Executor<F> for SmolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// hyper's executor on async-std's global executor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AsyncStdExecutor;

impl<F> hyper::rt::Executor<F> for AsyncStdExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(async_std::task::spawn(future));
    }
}
