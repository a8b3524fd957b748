//! The connections a close may have to tell or cut: [`Live`] tracks the sockets blocking
//! workers are serving, so [`ClosePolicy::Drain`](crate::ClosePolicy::Drain) can tell their
//! Sessions the drain began and close those still open at its deadline.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, PoisonError};

use slab::Slab;

use crate::session::{wake_pair, SessionWaker, WakeSource};
use crate::sys;
use crate::transport::Stream;

/// The sockets being served by blocking workers in this process.
///
/// A worker registers its socket before serving it and [`Live::remove`]s it before
/// closing it; [`Live::cut_all`] shuts down the registered sockets under the same lock,
/// so it can never touch a descriptor that was closed (and perhaps reused) meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Live {
    inner: Mutex<Tracking>,
}

#[derive(Debug, Default)]
struct Tracking {
    conns: Slab<(RawFd, Option<SessionWaker>)>,
    /// The drain began: a Session registered from now on hears it at once.
    draining: bool,
}

/// A registration in [`Live`]; give it back with [`Live::remove`] before closing.
#[derive(Debug)]
#[must_use = "remove the socket before closing it"]
pub(crate) struct Tracked(usize);

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tracks `stream` until [`remove`](Live::remove).
    pub(crate) fn add(&self, stream: &Stream) -> Tracked {
        Tracked(self.lock().conns.insert((stream.as_raw_fd(), None)))
    }

    /// Tracks `stream`, served by a Session, until [`remove`](Live::remove); the source
    /// returned is woken when the drain begins (at once if it already has).
    pub(crate) fn add_session(&self, stream: &Stream) -> (Tracked, WakeSource) {
        let (waker, source) = wake_pair();
        let mut tracking = self.lock();
        if tracking.draining {
            waker.wake();
        }
        let key = tracking.conns.insert((stream.as_raw_fd(), Some(waker)));
        (Tracked(key), source)
    }

    /// Stops tracking a socket; call before closing it.
    pub(crate) fn remove(&self, tracked: Tracked) {
        self.lock().conns.try_remove(tracked.0);
    }

    /// The drain began: wakes every Session's driver to tell it (`on_shutdown`), and
    /// those registered later hear it at once.
    pub(crate) fn notify_all(&self) {
        let mut tracking = self.lock();
        tracking.draining = true;
        for (_, (_, waker)) in &tracking.conns {
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Shuts down every tracked socket (both directions): blocked reads return EOF and
    /// writes fail, so the handlers serving them return. Returns how many there were.
    pub(crate) fn cut_all(&self) -> usize {
        let tracking = self.lock();
        for (_, &(fd, _)) in &tracking.conns {
            sys::shutdown_socket(fd);
        }
        tracking.conns.len()
    }
}
