//! What a node's bridge threads and its [`RedisBus`](crate::RedisBus) handle share.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use sockserv::bus::{BusHandler, Presence};

use crate::keys::Keys;
use crate::link::Stopper;
use crate::outbox::Outbox;
use crate::BusConfig;

/// What the threads share.
pub(crate) struct Shared {
    pub(crate) client: redis::Client,
    pub(crate) keys: Keys,
    pub(crate) node: String,
    pub(crate) config: BusConfig,
    pub(crate) handler: Arc<dyn BusHandler>,
    pub(crate) outbox: Mutex<Outbox>,
    /// Signalled when the outbox gets work (or the bus stops).
    pub(crate) work: Condvar,
    /// Names on the other nodes: name -> node.
    pub(crate) remote: Mutex<BTreeMap<String, String>>,
    /// Numbers reserved from the room's counter, not handed out yet.
    pub(crate) numbers: Mutex<VecDeque<u64>>,
    pub(crate) stopper: Stopper,
    pub(crate) connected: AtomicBool,
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) lag_ms: AtomicU64,
    pub(crate) disconnects: AtomicU64,
}

impl Shared {
    pub(crate) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Only in-memory queue operations happen under these locks.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn remote(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.remote.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn numbers(&self) -> MutexGuard<'_, VecDeque<u64>> {
        self.numbers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a link change and tells the handler, once per change; `why` is the
    /// error that took the link down.
    pub(crate) fn set_connected(&self, up: bool, why: Option<&redis::RedisError>) {
        if self.connected.swap(up, Ordering::AcqRel) != up {
            if up {
                tracing::info!(node = %self.node, "bus: link to Redis is back");
            } else {
                self.disconnects.fetch_add(1, Ordering::Relaxed);
                let error = why.map(ToString::to_string).unwrap_or_default();
                tracing::warn!(node = %self.node, %error, "bus: link to Redis lost; retrying");
            }
            self.handler.link_changed(up);
        }
    }

    /// Applies a membership change seen from `node` to the view of the other nodes.
    pub(crate) fn apply_remote(&self, node: &str, change: &Presence) {
        let mut remote = self.remote();
        match change {
            Presence::Joined(name) => {
                remote.insert(name.clone(), node.to_owned());
            }
            Presence::Left(name) => {
                remote.remove(name);
            }
            Presence::Renamed { from, to } => {
                remote.remove(from);
                remote.insert(to.clone(), node.to_owned());
            }
            _ => {}
        }
    }
}
