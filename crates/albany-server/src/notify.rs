//! Readiness for a service manager: systemd's `sd_notify(3)` protocol,
//! when `NOTIFY_SOCKET` is set (spec ADAPT-14).

/// Tells the service manager that the server accepts connections
/// (`READY=1`).
pub(crate) fn ready() {
    #[cfg(unix)]
    send(sd_notify::NotifyState::Ready);
}

/// Tells the service manager that graceful shutdown has started
/// (`STOPPING=1`).
pub(crate) fn stopping() {
    #[cfg(unix)]
    send(sd_notify::NotifyState::Stopping);
}

#[cfg(unix)]
fn send(state: sd_notify::NotifyState<'_>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    // The variable is kept: every server of the process notifies.
    if let Err(error) = sd_notify::notify(false, &[state]) {
        tracing::warn!(%error, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}
