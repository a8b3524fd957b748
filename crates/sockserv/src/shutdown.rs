//! [`ShutdownHandle`]: stop a serving server from anywhere, at once.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio::Waker;

pub(crate) struct Control {
    stop: AtomicBool,
    waker: Waker,
}

impl Control {
    pub(crate) fn new(waker: Waker) -> Arc<Control> {
        Arc::new(Control {
            stop: AtomicBool::new(false),
            waker,
        })
    }

    pub(crate) fn wake(&self) {
        // Fails only if the eventfd is gone, i.e. the server is closed: nothing to wake.
        let _ = self.waker.wake();
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Consumes a stop request so a later `serve` runs again (Python resets its flag too).
    pub(crate) fn reset(&self) {
        self.stop.store(false, Ordering::Release);
    }
}

/// Stops a server's [`serve`](crate::Server::serve) loop. Cheap to clone, `Send + Sync`.
///
/// [`shutdown`](ShutdownHandle::shutdown) never blocks: it sets a flag and wakes the loop
/// through an eventfd, so `serve` returns within microseconds, not after a polling
/// interval. It is safe to call from any thread, from inside a handler (even under the
/// sequential strategy), before `serve` starts (then `serve` returns at once), and any
/// number of times. Requests already being served are not interrupted; `close` decides
/// how long to wait for them.
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) control: Arc<Control>,
}

impl ShutdownHandle {
    /// Asks the server to stop accepting and return from `serve`.
    pub fn shutdown(&self) {
        self.control.stop.store(true, Ordering::Release);
        self.control.wake();
    }

    /// Whether a shutdown was asked for and `serve` has not consumed it yet.
    pub fn is_shutdown_requested(&self) -> bool {
        self.control.stop_requested()
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.is_shutdown_requested())
            .finish()
    }
}
