//! The server's transport: an accepted TCP (or Unix domain socket)
//! connection on the `async-io` reactor, read and written by hyper
//! directly.
//!
//! A generic `futures_io`-to-hyper adapter would cost two things on this
//! reactor: it zero-fills hyper's read buffer before every read, and
//! `futures_io` readers try a `recv` before every wait for readiness, which
//! fails with `EAGAIN` whenever the previous read emptied the socket. [`AsyncIoStream`] reads straight into hyper's
//! uninitialised buffer and, as tokio does, waits for readiness first when
//! the previous read returned less than it asked for or would have blocked.
//! Writes follow the same rule: after a write that would have blocked, the
//! next one waits for the reactor to report the socket writable.
//! `async-io`'s own `poll_write` tries the write again whenever the task is
//! polled, and a task is polled for other reasons too (a timer of the
//! connection): each such try found whatever room the kernel had made in
//! the send buffer (it grows it now and then), without the socket being
//! reported writable, and counted as write progress, which restarted the
//! response write timeout (spec LIMIT-17) of a client that had read nothing
//! (RELIABILITY.md, "Slow readers on async-io").
//! Every wait goes through `poll_readable`, which also consumes the
//! reactor's readiness event: the common pattern of reading first and
//! waiting only on `WouldBlock` leaves that event unconsumed whenever the
//! read succeeds, and the next wait then returns at once for a `recv` that
//! fails (one per request under keep-alive, before this was found).
#![allow(unsafe_code)]

use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_io::Async;
use futures_io::AsyncWrite;

/// A stream socket the server's transport can be: a TCP stream, or on Unix
/// a Unix domain stream. Sealed.
pub trait StreamSocket:
    io::Write + async_io::IoSafe + sealed::Sealed + Send + Sync + 'static
{
    /// The socket, for `recv(2)`.
    fn sock_ref(&self) -> socket2::SockRef<'_>;

    /// Writes `buf` through a shared reference, as the standard library's
    /// `io::Write for &S` does (on Linux, `send(2)` with `MSG_NOSIGNAL`).
    fn write_ref(&self, buf: &[u8]) -> io::Result<usize>;

    /// Writes `bufs` through a shared reference, as the standard library's
    /// `io::Write for &S` does (`writev(2)`).
    fn write_vectored_ref(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

/// The [`StreamSocket`] methods of a standard library stream, whose
/// `io::Write` is implemented for shared references.
macro_rules! stream_socket {
    ($stream:ty) => {
        impl StreamSocket for $stream {
            fn sock_ref(&self) -> socket2::SockRef<'_> {
                socket2::SockRef::from(self)
            }

            fn write_ref(&self, buf: &[u8]) -> io::Result<usize> {
                io::Write::write(&mut &*self, buf)
            }

            fn write_vectored_ref(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                io::Write::write_vectored(&mut &*self, bufs)
            }
        }
    };
}

stream_socket!(TcpStream);
#[cfg(unix)]
stream_socket!(std::os::unix::net::UnixStream);

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::net::TcpStream {}
    #[cfg(unix)]
    impl Sealed for std::os::unix::net::UnixStream {}
}

/// A stream socket registered with the `async-io` reactor (a TCP stream
/// unless `S` says otherwise), as hyper's [`Read`](hyper::rt::Read) and
/// [`Write`](hyper::rt::Write).
#[derive(Debug)]
pub struct AsyncIoStream<S = TcpStream> {
    inner: Async<S>,
    /// The last read returned less than it asked for or would have
    /// blocked: the socket is probably empty, so the next read waits for
    /// readiness first.
    drained: bool,
    /// The last write would have blocked: the next one waits for the
    /// reactor to report the socket writable first.
    write_blocked: bool,
    /// Reads that failed with `WouldBlock`, for the tests.
    #[cfg(test)]
    failed_reads: usize,
    /// Writes that failed with `WouldBlock`, for the tests.
    #[cfg(test)]
    failed_writes: usize,
}

impl<S> AsyncIoStream<S> {
    /// Wraps a stream registered with the reactor.
    pub fn new(inner: Async<S>) -> Self {
        AsyncIoStream {
            inner,
            drained: false,
            write_blocked: false,
            #[cfg(test)]
            failed_reads: 0,
            #[cfg(test)]
            failed_writes: 0,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The stream registered with the reactor, for applications (through
    /// `albany::net::TcpStream`, which reads it through `futures_io`).
    pub fn into_inner(self) -> Async<S> {
        self.inner
    }
}

impl<S: StreamSocket> hyper::rt::Read for AsyncIoStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.drained {
                // Waiting through `poll_readable` (not only reading) also
                // consumes the reactor's readiness event: an event left
                // unconsumed would make the next wait return at once and
                // cost a failed `recv`.
                ready!(this.inner.poll_readable(cx))?;
                this.drained = false;
            }
            // SAFETY: `recv` only writes into the slice (it never reads or
            // de-initialises it), and `advance` below counts only the bytes
            // it reported written.
            let unfilled = unsafe { buf.as_mut() };
            let wanted = unfilled.len();
            match this.inner.get_ref().sock_ref().recv(unfilled) {
                Ok(n) => {
                    this.drained = n < wanted;
                    // SAFETY: `recv` initialised the first `n` bytes.
                    unsafe { buf.advance(n) };
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    #[cfg(test)]
                    {
                        this.failed_reads += 1;
                    }
                    this.drained = true;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl<S: StreamSocket> AsyncIoStream<S> {
    /// Runs `write` (a write on the socket), waiting for the
    /// reactor to report the socket writable first when the last write
    /// would have blocked, as tokio's `TcpStream` does. A task woken for
    /// another reason (a timer) thus tries no write that the kernel did not
    /// announce room for (see the module's documentation).
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            if self.write_blocked {
                ready!(self.inner.poll_writable(cx))?;
                self.write_blocked = false;
            }
            match write(self.inner.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    #[cfg(test)]
                    {
                        self.failed_writes += 1;
                    }
                    self.write_blocked = true;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                written => return Poll::Ready(written),
            }
        }
    }
}

impl<S: StreamSocket> hyper::rt::Write for AsyncIoStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |socket| socket.write_ref(buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |socket| socket.write_vectored_ref(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Flushes, then shuts down the write side (`shutdown(2)` with
    /// `SHUT_WR`: a FIN), as tokio's `TcpStream` does. async-io's
    /// `Async<T>::poll_close` only flushes: through it, the lingering
    /// close (spec LIMIT-13) sent no FIN, and a client waiting for the end
    /// of the response (an HTTP/2 client after `GOAWAY`) waited for the
    /// linger's 100 ms idle timeout on albany-smol and albany-async-std
    /// (RELIABILITY.md, "HTTP/2 rapid reset").
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready(
            self.inner
                .get_ref()
                .sock_ref()
                .shutdown(std::net::Shutdown::Write),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use async_io::Async;
    use hyper::rt::{Read, ReadBuf};

    use super::AsyncIoStream;

    /// A loopback TCP connection: the client's end, and the server's as
    /// the transport.
    fn connected() -> (TcpStream, AsyncIoStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, AsyncIoStream::new(Async::new(server).unwrap()))
    }

    fn poll_read_once(stream: &mut AsyncIoStream, cx: &mut Context<'_>) -> Poll<usize> {
        let mut bytes = [0u8; 64];
        let mut buf = ReadBuf::new(&mut bytes);
        match Pin::new(&mut *stream).poll_read(cx, buf.unfilled()) {
            Poll::Ready(result) => {
                result.unwrap();
                Poll::Ready(buf.filled().len())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The keep-alive pattern: a request arrives, is read whole, and the
    /// next read finds the socket empty. Only the very first read (before
    /// any data) may fail with `WouldBlock`; every later wait must go
    /// through the reactor without a failed `recv`.
    #[test]
    fn keep_alive_reads_do_not_fail_with_would_block() {
        let (mut client, mut stream) = connected();
        let mut noop = Context::from_waker(Waker::noop());

        assert!(poll_read_once(&mut stream, &mut noop).is_pending());
        for request in 0..10 {
            client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            // As in a server: the reactor delivers the readiness event
            // before the task reads.
            async_io::block_on(async_io::Timer::after(Duration::from_millis(5)));
            let n = async_io::block_on(poll_fn(|cx| poll_read_once(&mut stream, cx)));
            assert_eq!(n, 18, "request {request}");
            assert!(poll_read_once(&mut stream, &mut noop).is_pending());
        }
        assert_eq!(stream.failed_reads, 1);
    }

    /// A write that would block is not tried again until the reactor
    /// reports the socket writable: a task polled again for another reason
    /// (a timer) makes no write (spec LIMIT-17; async-io's own
    /// `poll_write` tries one each time). Once the client reads, the write
    /// goes through.
    #[test]
    fn a_blocked_write_waits_for_the_reactor() {
        use hyper::rt::Write as _;
        use std::io::Read as _;
        let (mut client, mut stream) = connected();
        let mut noop = Context::from_waker(Waker::noop());
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0usize;
        while let Poll::Ready(n) = Pin::new(&mut stream).poll_write(&mut noop, &chunk) {
            written += n.unwrap();
            assert!(written < 1 << 30, "the socket never filled");
        }
        assert_eq!(stream.failed_writes, 1);
        for _ in 0..100 {
            assert!(Pin::new(&mut stream)
                .poll_write(&mut noop, &chunk)
                .is_pending());
        }
        assert_eq!(
            stream.failed_writes, 1,
            "a write was tried without readiness"
        );
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            let mut read = 0usize;
            while read < written + 1 {
                match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
            read
        });
        let n = async_io::block_on(poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &chunk)));
        assert!(n.unwrap() > 0);
        drop(stream);
        assert!(reader.join().unwrap() > written);
    }

    /// `poll_shutdown` sends a FIN: the client reads its end of file while
    /// the server still holds the socket (the lingering close, LIMIT-13).
    #[test]
    fn shutdown_sends_a_fin() {
        use hyper::rt::Write as _;
        use std::io::Read as _;
        let (mut client, mut stream) = connected();
        async_io::block_on(poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx))).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(client.read(&mut byte).unwrap(), 0, "an end of file");
        drop(stream);
    }
}
