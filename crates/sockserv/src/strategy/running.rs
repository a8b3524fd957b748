//! [`Running`]: how many requests are being served, with room checks and joins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{ClosePolicy, CloseReport};

/// How long a handler whose connection a drain closed has to return before it is left
/// running (one busy computing, not doing I/O, does not notice the close).
pub(crate) const CUT_GRACE: Duration = Duration::from_secs(1);

/// The number of requests running (or queued for a worker), a condvar signalled whenever
/// one ends, and a wake-up for a serve loop that stopped accepting for lack of room.
/// Finished requests leave nothing behind (CPython bpo-37193 kept every thread until
/// close).
pub(crate) struct Running {
    count: Mutex<usize>,
    changed: Condvar,
    /// The serve loop found no room and waits for `wake`.
    waiting: AtomicBool,
    /// `close` waits for the count to drop: only then do ends signal the condvar (a
    /// signal is a futex syscall, otherwise paid on every connection).
    joining: AtomicBool,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Running {
    pub(super) fn new(wake: Arc<dyn Fn() + Send + Sync>) -> Running {
        Running {
            count: Mutex::new(0),
            changed: Condvar::new(),
            waiting: AtomicBool::new(false),
            joining: AtomicBool::new(false),
            wake,
        }
    }

    pub(super) fn get(&self) -> usize {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether fewer than `limit` run; if not, the next end wakes the serve loop.
    pub(super) fn has_room(&self, limit: usize) -> bool {
        let count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let room = *count < limit;
        if !room {
            // Set under the lock: an end that decrements after this sees the flag.
            self.waiting.store(true, Ordering::Release);
        }
        room
    }

    pub(super) fn start(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    pub(super) fn end(&self) {
        {
            let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
            *count = count.saturating_sub(1);
            if self.joining.load(Ordering::Acquire) {
                self.changed.notify_all();
            }
        }
        if self.waiting.swap(false, Ordering::AcqRel) {
            (self.wake)();
        }
    }

    /// Waits until nothing runs, or the policy's deadline; reports what it saw.
    pub(super) fn wait_idle(&self, policy: ClosePolicy) -> CloseReport {
        let deadline = match policy {
            ClosePolicy::Detach => Some(Instant::now()),
            ClosePolicy::JoinTimeout(d) | ClosePolicy::Drain(d) => Some(Instant::now() + d),
            ClosePolicy::Join => None,
        };
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        // Set under the lock: an end that decrements after this sees it and signals.
        self.joining.store(true, Ordering::Release);
        let at_start = *count;
        while *count > 0 {
            count = match deadline {
                None => self
                    .changed
                    .wait(count)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    self.changed
                        .wait_timeout(count, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        CloseReport {
            finished: at_start - *count,
            cut: 0,
            left: *count,
        }
    }

    /// [`ClosePolicy::Drain`], once the Sessions were told (`Dispatch::begin_drain`):
    /// waits up to `limit`; then `cut` closes the connections still served, and their
    /// handlers get [`CUT_GRACE`] to return.
    pub(super) fn drain(&self, limit: Duration, cut: impl FnOnce()) -> CloseReport {
        let first = self.wait_idle(ClosePolicy::JoinTimeout(limit));
        if first.left == 0 {
            return first;
        }
        cut();
        let after = self.wait_idle(ClosePolicy::JoinTimeout(CUT_GRACE));
        CloseReport {
            finished: first.finished,
            // Not `after.finished`: a handler may end before that wait even begins.
            cut: first.left.saturating_sub(after.left),
            left: after.left,
        }
    }
}
