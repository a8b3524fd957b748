//! Unix stream and datagram sockets bound to filesystem paths.

use std::io;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

pub(super) fn socket(ty: Type) -> io::Result<Socket> {
    Socket::new(Domain::UNIX, ty, None)
}

/// Binds `socket` to `path`. With `replace_stale`, a leftover socket file that nobody
/// accepts on (connect is refused) is removed first; a live server's file never is.
pub(super) fn bind(
    socket: &Socket,
    path: &Path,
    stream: bool,
    replace_stale: bool,
) -> io::Result<()> {
    let addr = SockAddr::unix(path)?;
    match socket.bind(&addr) {
        Err(e)
            if e.kind() == io::ErrorKind::AddrInUse && replace_stale && is_stale(path, stream) =>
        {
            std::fs::remove_file(path)?;
            socket.bind(&addr)
        }
        other => other,
    }
}

/// A socket file (never a regular file: connecting to one is refused too) on which
/// nobody accepts.
fn is_stale(path: &Path, stream: bool) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return false;
    }
    if stream {
        matches!(UnixStream::connect(path), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
    } else {
        let probe = match std::os::unix::net::UnixDatagram::unbound() {
            Ok(p) => p,
            Err(_) => return false,
        };
        matches!(probe.connect(path), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
    }
}

pub(super) fn path_of(addr: &SocketAddr) -> PathBuf {
    addr.as_pathname().map(PathBuf::from).unwrap_or_default()
}

/// A socket file this process created: removed when dropped, unless kept.
#[derive(Debug, Default)]
pub(crate) struct SocketFile {
    path: Option<PathBuf>,
}

impl SocketFile {
    pub(super) fn new(path: PathBuf) -> Self {
        SocketFile { path: Some(path) }
    }

    /// The file removed on drop, if any.
    pub(super) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Forgets the file: it stays on disk.
    pub(super) fn keep(mut self) -> Self {
        self.path = None;
        self
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Already gone (removed by hand) is fine.
            let _ = std::fs::remove_file(path);
        }
    }
}
