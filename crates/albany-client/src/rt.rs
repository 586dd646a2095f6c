//! hyper's executor on the runtime [`Handle`] the client was built with.

use std::future::Future;

use albany::rt::Handle;

/// hyper's [`Executor`](hyper::rt::Executor) on a [`Handle`]: HTTP/2
/// connection tasks run on the runtime that serves the application.
#[derive(Clone)]
pub(crate) struct HandleExecutor(pub(crate) Handle);

impl<F> hyper::rt::Executor<F> for HandleExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        drop(self.0.spawn(future));
    }
}
