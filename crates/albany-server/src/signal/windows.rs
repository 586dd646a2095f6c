//! The signal listener on Windows: `ctrlc`'s console handler (Ctrl-C and
//! Ctrl-Break), which runs on a thread of its own.

use std::io;

/// Installs the console handler.
pub(super) fn install() -> io::Result<()> {
    ctrlc::try_set_handler(|| super::deliver("Ctrl-C", 2)).map_err(io::Error::other)
}
