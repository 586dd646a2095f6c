//! A listening Unix domain socket and its file: bound over a stale file
//! left by a server that died, with the mode set, and removed when the
//! server stops if it is still the one this server made (spec ADAPT-15,
//! ADAPT-16).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A Unix domain socket listener and its file.
#[derive(Debug)]
pub(crate) struct UnixSocket {
    pub(crate) listener: UnixListener,
    pub(crate) file: SocketFile,
}

/// The file of a Unix domain socket, and whether this server created it
/// (not for a listener inherited or bound elsewhere, whose file belongs to
/// whoever made it).
#[derive(Debug)]
pub(crate) struct SocketFile {
    /// The socket's path, if it has one.
    pub(crate) path: Option<PathBuf>,
    /// The file this server created, to tell it from a file a successor
    /// bound at the same path: its device, inode and modification time (an
    /// inode number is reused at once on some file systems; `chmod` leaves
    /// the modification time alone).
    created: Option<Identity>,
}

impl UnixSocket {
    /// Binds a Unix domain socket at `path`. An existing socket file that
    /// nothing listens on (a server that died leaves one) is removed first;
    /// a socket something listens on is `AddrInUse`, and a file that is not
    /// a socket is left alone and is `AlreadyExists`. Every error names
    /// `path`.
    pub(crate) fn bind(path: &Path) -> io::Result<UnixSocket> {
        remove_stale(path)?;
        let listener = UnixListener::bind(path).map_err(|error| named(path, error))?;
        let meta = fs::symlink_metadata(path).map_err(|error| named(path, error))?;
        let file = SocketFile {
            path: Some(path.to_path_buf()),
            created: Some(identity(&meta)),
        };
        Ok(UnixSocket { listener, file })
    }

    /// A listener bound elsewhere, whose file this server leaves in place.
    pub(crate) fn inherited(listener: UnixListener) -> io::Result<UnixSocket> {
        let path = listener.local_addr()?.as_pathname().map(Path::to_path_buf);
        let file = SocketFile {
            path,
            created: None,
        };
        Ok(UnixSocket { listener, file })
    }
}

impl SocketFile {
    /// Sets the socket file's permission bits (`mode & 0o7777`, as
    /// `chmod(2)`): who may connect (connecting needs write permission).
    pub(crate) fn set_mode(&self, mode: u32) -> io::Result<()> {
        let path = self.path.as_deref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the Unix socket has no path whose mode could be set",
            )
        })?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|error| named(path, error))
    }

    /// Removes the socket file if this server created it, it is still that
    /// file, and nothing accepts on it (a successor may have bound the path
    /// since). Call it once the listener is closed. A failure is logged,
    /// never fatal.
    pub(crate) fn remove(&self) {
        let (Some(path), Some(created)) = (&self.path, self.created) else {
            return;
        };
        match fs::symlink_metadata(path) {
            // The same file, and nothing accepts on it: a successor's
            // socket (one could have reused the inode within the file
            // system's timestamp granularity) accepts.
            Ok(meta)
                if identity(&meta) == created
                    && UnixStream::connect(path)
                        .is_err_and(|error| error.kind() == io::ErrorKind::ConnectionRefused) =>
            {
                if let Err(error) = fs::remove_file(path) {
                    tracing::warn!(path = %path.display(), %error, "cannot remove the Unix socket file");
                }
            }
            // Gone, or another server's now.
            _ => {}
        }
    }
}

/// What tells one file from another at the same path.
type Identity = (u64, u64, i64, i64);

fn identity(meta: &fs::Metadata) -> Identity {
    (meta.dev(), meta.ino(), meta.mtime(), meta.mtime_nsec())
}

/// Removes a socket file at `path` that no server listens on.
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(named(path, error)),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: the file exists and is not a socket; it is left in place",
                path.display()
            ),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: a server is listening on this socket", path.display()),
        )),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing the stale Unix socket file");
            match fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(named(path, error)),
                _ => Ok(()),
            }
        }
        Err(error) => Err(named(path, error)),
    }
}

/// `error` with `path` in its message.
fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("albany-unix-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("server.sock")
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let path = temp_path("stale");
        let _ = fs::remove_file(&path);
        // A listener dropped without removing its file leaves a stale one.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let socket = UnixSocket::bind(&path).unwrap();
        UnixStream::connect(&path).unwrap();
        drop(socket.listener);
        socket.file.remove();
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_is_in_use() {
        let path = temp_path("live");
        let _ = fs::remove_file(&path);
        let _first = UnixSocket::bind(&path).unwrap();
        let error = UnixSocket::bind(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(
            error.to_string().contains(&*path.to_string_lossy()),
            "{error}"
        );
    }

    #[test]
    fn a_regular_file_is_left_alone() {
        let path = temp_path("regular");
        fs::write(&path, "data").unwrap();
        let error = UnixSocket::bind(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"data");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn mode_is_set_and_a_successors_file_is_kept() {
        let path = temp_path("mode");
        let _ = fs::remove_file(&path);
        let first = UnixSocket::bind(&path).unwrap();
        first.file.set_mode(0o600).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // The first server stops listening; a successor binds the path.
        drop(first.listener);
        let second = UnixSocket::bind(&path).unwrap();
        first.file.remove();
        assert!(path.exists(), "the successor's socket file was removed");
        drop(second.listener);
        second.file.remove();
        assert!(!path.exists());
    }
}
