//! [`reactor!`](crate::reactor): the part of `albany_server::Binding` that
//! belongs to the async-io reactor, written once for every binding on it.

/// Expands, inside an `impl albany_server::Binding for …` block, to the
/// items that belong to the async-io reactor and are the same for every
/// runtime on it (smol, async-std): the `Sleep`, `Listener`, `Connection`,
/// `UnixListener` and `UnixConnection` types, and `sleep_until`, `reset`,
/// `connect_tcp`, `connect_unix`, `listen`, `poll_accept`, `listen_unix`,
/// `poll_accept_unix` and `into_tcp_stream`. The
/// binding writes what its executor decides itself: `spawn`,
/// `spawn_blocking`, `spawn_process` (where the reaper task runs) and
/// `block_on`.
///
/// A complete binding on one `async_executor::Executor`:
///
/// ```
/// use std::future::Future;
/// use std::io;
/// use std::sync::Arc;
///
/// use albany::process::{Child, Command};
///
/// #[derive(Clone)]
/// struct OneExecutor(Arc<async_executor::Executor<'static>>);
///
/// impl albany_server::Binding for OneExecutor {
///     albany_async_io::reactor!();
///
///     fn spawn<F>(&self, task: F)
///     where
///         F: Future<Output = ()> + Send + 'static,
///     {
///         self.0.spawn(task).detach();
///     }
///
///     fn spawn_blocking<F>(&self, f: F)
///     where
///         F: FnOnce() + Send + 'static,
///     {
///         blocking::unblock(f).detach();
///     }
///
///     fn spawn_process(&self, command: Command) -> io::Result<Child> {
///         albany_async_io::spawn_process(command)
///     }
///
///     fn block_on<F>(self, main: impl FnOnce(Self) -> F) -> io::Result<F::Output>
///     where
///         F: Future,
///     {
///         let executor = self.0.clone();
///         Ok(async_io::block_on(executor.run(main(self))))
///     }
/// }
///
/// let binding = OneExecutor(Arc::new(async_executor::Executor::new()));
/// let server = albany_server::Server::with_binding(
///     std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
///     binding,
/// );
/// let trigger = server.shutdown_trigger();
/// trigger.trigger(); // shut down at once: this example only builds and starts it
/// server
///     .serve_blocking(albany::from_fn(|_| async { albany::Response::new(albany::Body::empty()) }))
///     .unwrap();
/// ```
#[macro_export]
macro_rules! reactor {
    () => {
        type Sleep = $crate::Timer;
        type Listener = $crate::Listener;
        type Connection = $crate::AsyncIoStream;
        #[cfg(unix)]
        type UnixListener = $crate::UnixListener;
        #[cfg(unix)]
        type UnixConnection = $crate::AsyncIoStream<::std::os::unix::net::UnixStream>;

        fn sleep_until(&self, deadline: ::std::time::Instant) -> $crate::Timer {
            $crate::Timer::at(deadline)
        }

        fn reset(sleep: ::std::pin::Pin<&mut $crate::Timer>, deadline: ::std::time::Instant) {
            sleep.get_mut().reset(deadline);
        }

        fn connect_tcp(
            &self,
            addr: ::std::net::SocketAddr,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<::albany::net::TcpStream>>
               + Send
               + 'static {
            $crate::connect_tcp(addr)
        }

        #[cfg(unix)]
        fn connect_unix(
            &self,
            path: ::std::path::PathBuf,
        ) -> impl ::std::future::Future<Output = ::std::io::Result<::albany::net::UnixStream>>
               + Send
               + 'static {
            $crate::connect_unix(path)
        }

        fn listen(&self, listener: ::std::net::TcpListener) -> ::std::io::Result<$crate::Listener> {
            $crate::listen(listener)
        }

        fn poll_accept(
            &self,
            listener: &$crate::Listener,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<($crate::AsyncIoStream, ::albany::ConnectionInfo)>>
        {
            $crate::poll_accept(listener, cx)
        }

        #[cfg(unix)]
        fn listen_unix(
            &self,
            listener: ::std::os::unix::net::UnixListener,
        ) -> ::std::io::Result<$crate::UnixListener> {
            $crate::listen_unix(listener)
        }

        #[cfg(unix)]
        fn poll_accept_unix(
            &self,
            listener: &$crate::UnixListener,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<
            ::std::io::Result<(
                $crate::AsyncIoStream<::std::os::unix::net::UnixStream>,
                ::albany::ConnectionInfo,
            )>,
        > {
            $crate::poll_accept_unix(listener, cx)
        }

        fn into_tcp_stream(connection: $crate::AsyncIoStream) -> ::albany::net::TcpStream {
            ::albany::net::TcpStream::new(connection.into_inner())
        }
    };
}
