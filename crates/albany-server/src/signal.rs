use std::io;

use crate::ShutdownHandle;

/// Starts graceful shutdown of `server` when the process receives Ctrl-C
/// (SIGINT), SIGTERM or SIGHUP (on Windows, Ctrl-C and Ctrl-Break).
///
/// The handler runs on a thread of its own, so this works on every runtime.
/// A second signal exits the process at once, with status 130.
///
/// # Errors
///
/// Fails, installing nothing, if a handler for these signals is already
/// installed in this process, by this function or by other code (spec
/// ADAPT-10): an application's own handler is never replaced.
pub fn shutdown_on_signal(server: ShutdownHandle) -> io::Result<()> {
    ctrlc::try_set_handler(move || {
        if server.is_shutting_down() {
            std::process::exit(130);
        }
        tracing::info!("signal received; shutting down gracefully");
        server.shutdown();
    })
    .map_err(io::Error::other)
}
