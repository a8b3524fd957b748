//! [`ListenerHandle`]: a server's listening socket seen from another thread, to hand it
//! over to a new process (a binary upgrade) while the server serves.

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::Server;
use crate::endpoint::Endpoint;
use crate::transport::Listener;

/// The listener's descriptor while the server has it open, and whether the server
/// removes the Unix socket file when it closes.
pub(crate) struct Slot {
    fd: Mutex<Option<RawFd>>,
    owns_file: AtomicBool,
}

impl Slot {
    pub(crate) fn new(fd: RawFd, owns_file: bool) -> Arc<Slot> {
        Arc::new(Slot {
            fd: Mutex::new(Some(fd)),
            owns_file: AtomicBool::new(owns_file),
        })
    }

    /// The server is about to close its listener: no copy is made from now on.
    pub(crate) fn clear(&self) {
        *self.fd.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn set_owns_file(&self, owns: bool) {
        self.owns_file.store(owns, Ordering::Release);
    }
}

/// A server's listening socket, for another thread: a copy of it to pass to a new
/// process ([`pass_fds`](crate::transport::pass_fds)), while the server keeps serving. Cheap to
/// clone, `Send + Sync`; from [`Server::listener_handle`](crate::Server::listener_handle).
///
/// It holds no descriptor itself: once the server closes its listener, no copy can be
/// made, and nothing keeps the port open behind the server's back (nor in a child the
/// fork strategy makes).
#[derive(Clone)]
pub struct ListenerHandle {
    pub(crate) slot: Arc<Slot>,
    pub(crate) endpoint: Endpoint,
}

impl ListenerHandle {
    /// A new descriptor for the listening socket (close-on-exec), or `None` once the
    /// server has closed it.
    ///
    /// # Errors
    ///
    /// When the descriptor cannot be duplicated (`EMFILE`).
    pub fn try_clone_fd(&self) -> io::Result<Option<OwnedFd>> {
        let fd = self.slot.fd.lock().unwrap_or_else(PoisonError::into_inner);
        // The lock keeps the server from closing the descriptor while it is copied.
        fd.map(crate::sys::dup_cloexec).transpose()
    }

    /// Whether the server removes its Unix socket file when it closes (it created the
    /// file, or [adopted](crate::Server::adopt_socket_file) it).
    pub fn owns_socket_file(&self) -> bool {
        self.slot.owns_file.load(Ordering::Acquire)
    }

    /// The endpoint served.
    pub fn local_endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl std::fmt::Debug for ListenerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The hand-over, seen from the server: whose the Unix socket file is, and the handle.
impl Server {
    /// Leaves the Unix socket file on disk when the server closes, for a hand-over: another
    /// process was passed the listening socket (see [`pass_fds`](crate::transport::pass_fds)) and
    /// serves it on. Nothing changes for other endpoints, or after `close`.
    pub fn keep_socket_file(&mut self) {
        if let Some(listener) = &mut self.listener {
            listener.keep_socket_file();
            self.slot.set_owns_file(false);
        }
    }

    /// Whether closing the server removes a Unix socket file (its listener created it).
    pub fn owns_socket_file(&self) -> bool {
        self.listener
            .as_ref()
            .is_some_and(Listener::owns_socket_file)
    }

    /// Removes the Unix socket file when the server closes, as if it had created it: for
    /// the process a hand-over passed the socket to, once it is the one serving (see
    /// [`Listener::adopt_socket_file`]).
    pub fn adopt_socket_file(&mut self) {
        if let Some(listener) = &mut self.listener {
            listener.adopt_socket_file();
            self.slot.set_owns_file(listener.owns_socket_file());
        }
    }

    /// The listening socket, for another thread: copies of it to hand over to a new
    /// process while this server serves (see [`ListenerHandle`]).
    pub fn listener_handle(&self) -> ListenerHandle {
        ListenerHandle {
            slot: Arc::clone(&self.slot),
            endpoint: self.endpoint.clone(),
        }
    }
}
