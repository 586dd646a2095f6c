//! Graceful shutdown on the process's termination signals (spec ADAPT-8,
//! ADAPT-9, ADAPT-10).
//!
//! One listener per process, installed the first time a server asks for
//! it, delivers every signal to the servers waiting for one: the servers
//! it reaches start graceful shutdown; a signal that finds none (they are
//! all shutting down already, or have finished) exits the process.

#[cfg(unix)]
mod disposition;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::io;
use std::sync::{Mutex, PoisonError};

use albany::shutdown::ShutdownTrigger;

/// Starts graceful shutdown through `trigger` (a server's
/// [`shutdown_trigger`](crate::Server::shutdown_trigger)) when the process
/// receives a termination signal:
///
/// - SIGTERM, always;
/// - SIGINT (Ctrl-C) and SIGHUP, unless the process started with that
///   signal ignored: a shell starts a background job (`server &`) with
///   SIGINT ignored and `nohup` starts its command with SIGHUP ignored, and
///   such a signal stays ignored;
/// - on Windows, Ctrl-C and Ctrl-Break.
///
/// A signal that arrives when every trigger given here has already fired
/// (a second Ctrl-C during graceful shutdown, or a signal after the server
/// has finished) exits the process at once with status 128 + the signal's
/// number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP (spec ADAPT-9).
///
/// The signals are read on a thread of its own, started by the first call
/// and kept for the life of the process, so this works on every runtime and
/// for several servers in one process (one signal starts the shutdown of
/// all of them). On Unix the handlers are added with `signal-hook`, which
/// keeps any handler the process already has and calls it too: an
/// application's own handler is never replaced (spec ADAPT-10). Libraries
/// that insist on being the only handler (`ctrlc`) refuse to install after
/// this.
///
/// # Errors
///
/// The operating system's error if a handler cannot be installed or the
/// thread cannot be started; nothing is installed then, and a later call
/// tries again.
pub fn shutdown_on_signal(trigger: ShutdownTrigger) -> io::Result<()> {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if !*installed {
        install()?;
        *installed = true;
    }
    waiting().push(trigger);
    Ok(())
}

/// The triggers that have not fired yet, as of the last signal.
fn waiting() -> std::sync::MutexGuard<'static, Vec<ShutdownTrigger>> {
    static WAITING: Mutex<Vec<ShutdownTrigger>> = Mutex::new(Vec::new());
    WAITING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Delivers the signal `name` (number `number`): fires every trigger that
/// has not fired, or exits the process if there is none.
fn deliver(name: &str, number: i32) {
    let triggers: Vec<ShutdownTrigger> = waiting()
        .drain(..)
        .filter(|trigger| !trigger.is_triggered())
        .collect();
    if triggers.is_empty() {
        tracing::info!("{name} received during shutdown; exiting at once");
        std::process::exit(128 + number);
    }
    tracing::info!("{name} received; shutting down gracefully (a second one exits at once)");
    for trigger in triggers {
        trigger.trigger();
    }
}

#[cfg(unix)]
use unix::install;
#[cfg(windows)]
use windows::install;

#[cfg(not(any(unix, windows)))]
fn install() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no signal handling on this platform",
    ))
}
