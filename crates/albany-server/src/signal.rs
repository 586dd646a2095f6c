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
/// Fails if a signal handler was already installed in this process (only
/// one can be).
pub fn shutdown_on_signal(server: ShutdownHandle) -> io::Result<()> {
    ctrlc::set_handler(move || {
        if server.is_shutting_down() {
            std::process::exit(130);
        }
        tracing::info!("signal received; shutting down gracefully");
        server.shutdown();
    })
    .map_err(io::Error::other)
}
