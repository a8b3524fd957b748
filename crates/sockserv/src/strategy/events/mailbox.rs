//! [`Mailbox`]: what the serving thread and the session wakers share with one loop.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use mio::Waker;

use crate::endpoint::PeerAddr;
use crate::transport::Stream;

/// Keep serving.
pub(super) const RUN: u8 = 0;
/// Stop when the last connection has closed.
pub(super) const DRAIN: u8 = 1;
/// As [`DRAIN`], telling every Session first (`on_shutdown`): a [`ClosePolicy::Drain`](crate::ClosePolicy::Drain).
pub(super) const DRAIN_TELLING: u8 = 2;
/// Close every connection and stop.
pub(super) const STOP_NOW: u8 = 3;

/// New connections and woken sessions for one loop, and how it should stop. Producers
/// lock a list only to push; the loop locks them only when something was posted.
pub(super) struct Mailbox {
    waker: Waker,
    incoming: Mutex<Vec<(Stream, PeerAddr)>>,
    woken: Mutex<Vec<usize>>,
    /// Something was posted since the loop last looked; a burst costs one wake-up.
    posted: AtomicBool,
    stop: AtomicU8,
}

impl Mailbox {
    pub(super) fn new(waker: Waker) -> Mailbox {
        Mailbox {
            waker,
            incoming: Mutex::default(),
            woken: Mutex::default(),
            posted: AtomicBool::new(false),
            stop: AtomicU8::new(RUN),
        }
    }

    fn wake(&self) {
        // Fails only once the loop's poller is gone, when nothing is left to wake.
        let _ = self.waker.wake();
    }

    fn post(&self) {
        if !self.posted.swap(true, Ordering::AcqRel) {
            self.wake();
        }
    }

    /// Hands a new connection to the loop.
    pub(super) fn send(&self, stream: Stream, peer: PeerAddr) {
        self.incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((stream, peer));
        self.post();
    }

    /// The session of connection `key` was woken.
    pub(super) fn woke(&self, key: usize) {
        self.woken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        self.post();
    }

    /// Whether anything was posted since the last call (the loop then takes both lists).
    pub(super) fn take_posted(&self) -> bool {
        self.posted.swap(false, Ordering::AcqRel)
    }

    pub(super) fn take_incoming(&self) -> Vec<(Stream, PeerAddr)> {
        std::mem::take(&mut *self.incoming.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(super) fn take_woken(&self) -> Vec<usize> {
        std::mem::take(&mut *self.woken.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Asks the loop to stop `how` ([`DRAIN`], [`DRAIN_TELLING`] or [`STOP_NOW`]; a
    /// stronger request wins).
    pub(super) fn stop(&self, how: u8) {
        self.stop.fetch_max(how, Ordering::AcqRel);
        self.wake();
    }

    pub(super) fn stopping(&self) -> u8 {
        self.stop.load(Ordering::Acquire)
    }
}
