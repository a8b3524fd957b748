//! The connections a close may have to cut: [`Live`] tracks the sockets blocking workers
//! are serving, so [`ClosePolicy::Drain`](crate::ClosePolicy::Drain) can close those
//! still open at its deadline.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, PoisonError};

use slab::Slab;

use crate::sys;
use crate::transport::Stream;

/// The sockets being served by blocking workers in this process.
///
/// A worker registers its socket before serving it and [`Live::remove`]s it before
/// closing it; [`Live::cut_all`] shuts down the registered sockets under the same lock,
/// so it can never touch a descriptor that was closed (and perhaps reused) meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Live {
    fds: Mutex<Slab<RawFd>>,
}

/// A registration in [`Live`]; give it back with [`Live::remove`] before closing.
#[derive(Debug)]
#[must_use = "remove the socket before closing it"]
pub(crate) struct Tracked(usize);

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<RawFd>> {
        self.fds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tracks `stream` until [`remove`](Live::remove).
    pub(crate) fn add(&self, stream: &Stream) -> Tracked {
        Tracked(self.lock().insert(stream.as_raw_fd()))
    }

    /// Stops tracking a socket; call before closing it.
    pub(crate) fn remove(&self, tracked: Tracked) {
        self.lock().try_remove(tracked.0);
    }

    /// Shuts down every tracked socket (both directions): blocked reads return EOF and
    /// writes fail, so the handlers serving them return. Returns how many there were.
    pub(crate) fn cut_all(&self) -> usize {
        let fds = self.lock();
        for (_, &fd) in fds.iter() {
            sys::shutdown_socket(fd);
        }
        fds.len()
    }
}
