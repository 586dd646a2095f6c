use std::io;

use albany::shutdown::ShutdownTrigger;

/// Starts graceful shutdown through `trigger` (a server's
/// [`shutdown_trigger`](crate::Server::shutdown_trigger)) when the process receives Ctrl-C
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
pub fn shutdown_on_signal(trigger: ShutdownTrigger) -> io::Result<()> {
    ctrlc::try_set_handler(move || {
        if trigger.is_triggered() {
            std::process::exit(130);
        }
        tracing::info!("signal received; shutting down gracefully");
        trigger.trigger();
    })
    .map_err(io::Error::other)
}
