//! The Unix socket the server listens on: making its path ready, binding it with the asked mode,
//! and removing it on shutdown.
//!
//! A file already at the path is replaced only if it is a socket nobody listens on (a connect
//! is refused: a logmill that died left it). A socket someone answers on, or a file that is not
//! a socket, is an error: logmill never takes over another server's socket nor deletes data.
//! The file is removed on shutdown only if it is still the one we bound (same device and inode).

use super::ServeError;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A bound Unix socket file, removed when dropped.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), "removing the socket: {e}");
                }
            }
            _ => {}
        }
    }
}

/// Parse a mode given in octal (`0660`, `660`, `0o660`).
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "--unix_socket_mode must be an octal file mode such as 0660, not {text:?}"
        )),
    }
}

/// Make `path` free to bind: nothing there, or a stale socket (removed).
fn clear_stale(path: &Path) -> Result<(), ServeError> {
    let io = |source| ServeError::Socket {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ServeError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ServeError::SocketInUse(path.to_path_buf())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "replacing a stale socket nobody listens on");
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// Bind a listening socket at `path` with file mode `mode`.
pub fn bind(
    path: &Path,
    mode: u32,
) -> Result<(std::os::unix::net::UnixListener, SocketFile), ServeError> {
    let io = |source| ServeError::Socket {
        path: path.to_path_buf(),
        source,
    };
    clear_stale(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(io)?;
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    // From here on the guard removes the file if anything below fails.
    let file = SocketFile {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    Ok((listener, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("0980").is_err());
        assert!(parse_mode("").is_err());
        assert!(parse_mode("17777").is_err());
    }
}
