//! Whether a signal was ignored when the process started: the one
//! `sigaction(2)` query the listener needs, which `signal-hook` does not
//! offer.
#![allow(unsafe_code)]

/// Returns `true` if `signal`'s action is `SIG_IGN`, as a shell sets it for
/// a background job (SIGINT) and `nohup` for its command (SIGHUP). Any
/// error reads as not ignored.
pub(super) fn ignored_at_start(signal: libc::c_int) -> bool {
    let mut action = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, sigaction(2) only writes the current
    // action of `signal` into `action`, which is valid writable memory of
    // the right type and size; it changes no process state.
    let result = unsafe { libc::sigaction(signal, std::ptr::null(), action.as_mut_ptr()) };
    if result != 0 {
        return false;
    }
    // SAFETY: sigaction returned 0, so it filled in `action` (and zeroed
    // memory is a valid `sigaction` anyway).
    let action = unsafe { action.assume_init() };
    action.sa_sigaction == libc::SIG_IGN
}
