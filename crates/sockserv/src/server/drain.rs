//! The connections a close may have to tell or cut: [`Live`] tracks the sockets blocking
//! workers are serving, so [`ClosePolicy::Drain`](crate::ClosePolicy::Drain) can tell their
//! Sessions the drain began and close those still open at its deadline. A Session's
//! driver hears it through a [`Notice`].

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use slab::Slab;
use socket2::Socket;

use crate::session::{wake_pair, SessionWaker, WakeSource};
use crate::strategy::CloseReport;
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
    /// Signalled when a drain ends, for [`Live::cut_at`] waiting on its deadline.
    ended: Condvar,
}

#[derive(Debug, Default)]
struct Tracking {
    conns: Slab<(RawFd, Option<SessionWaker>)>,
    /// The drain began: a Session registered from now on hears it at once.
    draining: bool,
    /// Drains begun so far: a deadline's cut reaches only the connections of its own.
    drains: u64,
    /// The last drain: the connections it found, and those its [`Live::cut_at`] cut.
    kept: CloseReport,
    /// In a forked child: the end of the parent's drain broadcast every child watches.
    parent: Option<Arc<Socket>>,
}

/// What a blocking Session driver hears of a drain: a wake-up from this process, or (in a
/// forked child) the parent's broadcast.
#[derive(Debug)]
pub(crate) struct Notice {
    source: WakeSource,
    parent: Option<Arc<Socket>>,
}

impl Notice {
    /// Installs what a drain notice in this process calls (the driver's waker).
    pub(crate) fn set_notify(&self, notify: impl Fn() + Send + Sync + 'static) {
        self.source.set_notify(notify);
    }

    /// Whether the drain began in this process since the last call.
    pub(crate) fn take(&self) -> bool {
        self.source.take()
    }

    /// The parent's broadcast, for a forked child's driver to watch (readable: see
    /// [`Notice::parent_said`]).
    pub(crate) fn parent(&self) -> Option<RawFd> {
        self.parent.as_deref().map(AsRawFd::as_raw_fd)
    }

    /// What the readable broadcast says: `Some(true)` the drain began (the parent's
    /// byte, peeked, so one byte tells every child), `Some(false)` the parent went without
    /// a drain (EOF; nothing more will come), `None` nothing yet.
    pub(crate) fn parent_said(&self) -> Option<bool> {
        let parent = self.parent.as_deref()?;
        let mut byte = [MaybeUninit::uninit()];
        match parent.peek(&mut byte) {
            Ok(0) => Some(false),
            Ok(_) => Some(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(_) => Some(false),
        }
    }
}

/// A registration in [`Live`]; give it back with [`Live::remove`] before closing.
#[derive(Debug)]
#[must_use = "remove the socket before closing it"]
pub(crate) struct Tracked(usize);

/// One drain begun by [`Live::begin_drain`], for [`Live::cut_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DrainId(u64);

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tracks `stream` until [`remove`](Live::remove).
    pub(crate) fn add(&self, stream: &Stream) -> Tracked {
        Tracked(self.lock().conns.insert((stream.as_raw_fd(), None)))
    }

    /// Tracks `stream`, served by a Session, until [`remove`](Live::remove); the notice
    /// returned is woken when the drain begins (at once if it already has).
    pub(crate) fn add_session(&self, stream: &Stream) -> (Tracked, Notice) {
        let (waker, source) = wake_pair();
        let mut tracking = self.lock();
        if tracking.draining {
            waker.wake();
        }
        let key = tracking.conns.insert((stream.as_raw_fd(), Some(waker)));
        let notice = Notice {
            source,
            parent: tracking.parent.clone(),
        };
        (Tracked(key), notice)
    }

    /// In a forked child: the drain is announced by the parent on `parent` (see
    /// [`Notice::parent_said`]).
    pub(crate) fn listen_to_parent(&self, parent: Arc<Socket>) {
        self.lock().parent = Some(parent);
    }

    /// Stops tracking a socket; call before closing it.
    pub(crate) fn remove(&self, tracked: Tracked) {
        self.lock().conns.try_remove(tracked.0);
    }

    /// The drain began: wakes every Session's driver to tell it (`on_shutdown`), and
    /// those registered later hear it at once. Once per drain: while it lasts, a second
    /// call changes nothing.
    pub(crate) fn begin_drain(&self) -> DrainId {
        let mut tracking = self.lock();
        if tracking.draining {
            return DrainId(tracking.drains);
        }
        tracking.draining = true;
        tracking.drains += 1;
        tracking.kept = CloseReport {
            finished: tracking.conns.len(),
            cut: 0,
            left: 0,
        };
        for (_, (_, waker)) in &tracking.conns {
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        DrainId(tracking.drains)
    }

    /// The drain is over (the server serves again): later Sessions are not told, and its
    /// deadline cuts nothing.
    pub(crate) fn end_drain(&self) {
        self.lock().draining = false;
        self.ended.notify_all();
    }

    /// Waits for `drain`'s deadline; if it has not ended by then, cuts the connections
    /// still served ([`Live::cut_all`]), and counts them for [`Live::take_kept`].
    pub(crate) fn cut_at(&self, drain: DrainId, deadline: Instant) {
        let mut tracking = self.lock();
        while tracking.draining && tracking.drains == drain.0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                let cut = shutdown_all(&tracking);
                let found = tracking.kept.finished;
                tracking.kept = CloseReport {
                    finished: found.saturating_sub(cut),
                    cut,
                    left: 0,
                };
                return;
            };
            tracking = self
                .ended
                .wait_timeout(tracking, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// What the last drain found and cut (once; then nothing).
    pub(crate) fn take_kept(&self) -> CloseReport {
        std::mem::take(&mut self.lock().kept)
    }

    /// Shuts down every tracked socket (both directions): blocked reads return EOF and
    /// writes fail, so the handlers serving them return. Returns how many there were.
    pub(crate) fn cut_all(&self) -> usize {
        shutdown_all(&self.lock())
    }
}

fn shutdown_all(tracking: &Tracking) -> usize {
    for (_, &(fd, _)) in &tracking.conns {
        sys::shutdown_socket(fd);
    }
    tracking.conns.len()
}
