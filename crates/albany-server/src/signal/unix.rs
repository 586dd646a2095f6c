//! The signal listener on Unix: `signal-hook`'s self-pipe, read by a
//! thread of its own.

use std::io;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::disposition::ignored_at_start;

/// Installs the handlers for SIGTERM and for SIGINT and SIGHUP unless they
/// are ignored, and starts the thread that delivers them.
pub(super) fn install() -> io::Result<()> {
    let mut set = vec![SIGTERM];
    for (signal, name) in [(SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
        if ignored_at_start(signal) {
            tracing::info!("{name} is ignored by this process (started in the background or by nohup); it stays ignored, SIGTERM shuts down");
        } else {
            set.push(signal);
        }
    }
    let mut signals = Signals::new(&set)?;
    let handle = signals.handle();
    let started = std::thread::Builder::new()
        .name("albany-signal".into())
        .spawn(move || {
            for signal in signals.forever() {
                super::deliver(name(signal), signal);
            }
        });
    started.map(drop).inspect_err(|_| handle.close())
}

/// The name of `signal`, one of the three installed.
fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGHUP => "SIGHUP",
        _ => "SIGTERM",
    }
}
