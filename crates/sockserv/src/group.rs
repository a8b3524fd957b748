//! 1:N broadcast: a [`Group`] of connections with a bounded outbound queue per [`Member`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::output::Output;
use crate::session::SessionWaker;

pub mod bus;

/// A broadcast group: messages sent to it are queued for every member, and each
/// member's session drains its queue into its connection when woken.
///
/// `Group` is a cheap handle (`Clone`, `Send + Sync`); all clones are the same group.
/// A session joins with [`Group::join`], passing its [`SessionWaker`], and gets a
/// [`Member`]; dropping the `Member` leaves the group.
///
/// # Guarantees
///
/// * **Sending never blocks on a member.** A send only pushes the message (one shared
///   allocation, not a copy per member) into each recipient's in-memory queue and calls
///   its [`SessionWaker::wake`]. The group lock is held only for those pushes, never
///   across I/O, and wakers are called after it is released.
/// * **Bounded memory, slow members are dropped.** A member's *backlog* — what the group
///   holds for it plus what its connection's [`Output`] has not sent yet — stays within
///   `max_queue_bytes`. If queueing a message would take a member past that bound, that
///   member is *evicted* instead: it is removed from the group at once, its queue is
///   dropped, [`Member::is_evicted`] becomes true, and it is woken; its next
///   [`Member::drain_into`] discards the unsent output and closes the connection without
///   waiting to flush it. Other recipients of the same message are not affected. (So a
///   message larger than `max_queue_bytes` evicts every recipient.) The group counts
///   what the connection has sent through the member's [`SessionWaker`], so a member
///   joins with the waker of the `Output` it drains into (the pattern below).
/// * **No loss, no duplication, one order.** Sends are totally ordered (one group
///   lock). A member receives every message sent while it was a member and not evicted,
///   exactly once, in that order, which includes each sender's own order. It receives
///   nothing sent before it joined or after it left or was evicted.
/// * A member never receives its own [`Member::send_others`].
///
/// Empty messages are ignored: they are not queued and wake nobody.
///
/// A group can span several processes through a [`bus::Bus`] (see [`bus`]).
///
/// # Strategies
///
/// A group lives in one process's memory, so it works under the `Threads`, `Pool` and
/// `Events` strategies (across event loops too: a wake-up reaches another loop through
/// its mailbox). It cannot work under `Fork` — processes share no memory, so members in
/// different children could never reach each other: declare
/// [`Builder::needs_shared_state`](crate::Builder::needs_shared_state) and `bind` refuses
/// fork with a clear error. Under `Pool { workers: N }` each member holds a worker, so at
/// most N members are served at once.
///
/// # Examples
///
/// ```
/// use sockserv::driver::OutputExt; // the drivers' view: wake-ups, what was written
/// use sockserv::{Group, Output};
///
/// let group = Group::new(1 << 20);
/// let (mut out_a, mut out_b) = (Output::new(), Output::new());
/// let a = group.join(out_a.waker());
/// let b = group.join(out_b.waker());
///
/// a.send_others(b"hello\n");
/// assert!(out_b.wake_source().unwrap().take()); // b's driver would call on_wake
/// b.drain_into(&mut out_b);
/// assert_eq!(out_b.pending(), b"hello\n");
/// a.drain_into(&mut out_a);
/// assert!(out_a.pending().is_empty()); // no self-delivery
/// ```
///
/// A broadcast server's Session: join on open with the connection's waker, drain when
/// woken (a slow member's connection is closed there once it falls past the bound), send
/// what comes in.
///
/// ```
/// use sockserv::{Group, Member, Output, Session};
///
/// struct Broadcast {
///     group: Group,
///     member: Option<Member>,
/// }
///
/// impl Session for Broadcast {
///     fn on_open(&mut self, out: &mut Output) {
///         self.member = Some(self.group.join(out.waker()));
///     }
///     fn on_data(&mut self, data: &[u8], _out: &mut Output) {
///         self.group.send_all(data);
///     }
///     fn on_wake(&mut self, out: &mut Output) {
///         if let Some(member) = &self.member {
///             member.drain_into(out); // closes `out` if this member was evicted
///         }
///     }
/// }
///
/// let group = Group::new(1 << 20);
/// let server = sockserv::Server::builder("127.0.0.1:0")
///     .session(move |_peer| Broadcast { group: group.clone(), member: None });
/// ```
#[derive(Clone)]
pub struct Group {
    inner: Arc<Inner>,
}

struct Inner {
    max_queue_bytes: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Sorted by id: ids only grow and joins push at the end.
    members: Vec<Slot>,
}

struct Slot {
    id: MemberId,
    waker: SessionWaker,
    queue: VecDeque<Arc<[u8]>>,
    queued_bytes: usize,
    /// Where the member's output ended after its last drain, counted in bytes that ever
    /// entered it; what of that is still unsent is this minus what has left it since
    /// (the waker's count). See [`Member::drain_into`].
    drained_to: u64,
    evicted: Arc<AtomicBool>,
}

impl Slot {
    /// Bytes handed to the member's output that its connection has not sent yet.
    fn unsent(&self) -> u64 {
        self.drained_to.saturating_sub(self.waker.gone())
    }

    /// Whether `more` bytes still fit in this member's backlog under `max`.
    fn fits(&self, more: usize, max: usize) -> bool {
        (self.queued_bytes as u64)
            .checked_add(self.unsent())
            .and_then(|total| total.checked_add(more as u64))
            .is_some_and(|total| total <= max as u64)
    }
}

impl State {
    fn position(&self, id: MemberId) -> Option<usize> {
        self.members.binary_search_by_key(&id, |slot| slot.id).ok()
    }
}

/// Identifies a member within its group: unique per group, increasing in join order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u64);

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl Group {
    /// A new, empty group whose members may each have up to `max_queue_bytes` queued
    /// (sent, not yet drained) before they are evicted.
    pub fn new(max_queue_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_queue_bytes,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The per-member queue bound given to [`Group::new`].
    pub fn max_queue_bytes(&self) -> usize {
        self.inner.max_queue_bytes
    }

    /// Adds a member; `waker` is woken whenever a message is queued for it or it is
    /// evicted. From the moment this returns, the member receives every send.
    pub fn join(&self, waker: SessionWaker) -> Member {
        let evicted = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        let id = MemberId(state.next_id);
        state.next_id += 1;
        state.members.push(Slot {
            id,
            waker,
            queue: VecDeque::new(),
            queued_bytes: 0,
            drained_to: 0,
            evicted: Arc::clone(&evicted),
        });
        drop(state);
        Member {
            group: self.clone(),
            id,
            evicted,
        }
    }

    /// Queues `msg` for every current member. Returns how many members it was queued
    /// for (members evicted by this send are not counted).
    pub fn send_all(&self, msg: &[u8]) -> usize {
        self.send(None, msg)
    }

    /// Wakes every current member's session (for example to make it notice a flag).
    pub fn wake_all(&self) {
        let wakers: Vec<SessionWaker> = self
            .lock()
            .members
            .iter()
            .map(|s| s.waker.clone())
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// How many members the group has now.
    pub fn len(&self) -> usize {
        self.lock().members.len()
    }

    /// Whether the group has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the current members, in join order.
    pub fn member_ids(&self) -> Vec<MemberId> {
        self.lock().members.iter().map(|slot| slot.id).collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No foreign code runs under the lock and every update leaves the state
        // consistent, so a poisoned lock is still sound to use.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, except: Option<MemberId>, msg: &[u8]) -> usize {
        if msg.is_empty() {
            return 0;
        }
        let msg: Arc<[u8]> = Arc::from(msg);
        let max = self.inner.max_queue_bytes;
        let mut delivered = 0;
        let mut to_wake = Vec::new();
        {
            let mut state = self.lock();
            to_wake.reserve(state.members.len());
            state.members.retain_mut(|slot| {
                if Some(slot.id) == except {
                    return true;
                }
                to_wake.push(slot.waker.clone());
                if !slot.fits(msg.len(), max) {
                    // Evicted: dropping the slot drops its queue.
                    slot.evicted.store(true, Ordering::Release);
                    return false;
                }
                slot.queue.push_back(Arc::clone(&msg));
                slot.queued_bytes += msg.len();
                delivered += 1;
                true
            });
        }
        // Outside the lock: a waker's notify is driver code.
        for waker in to_wake {
            waker.wake();
        }
        delivered
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("members", &self.len())
            .field("max_queue_bytes", &self.inner.max_queue_bytes)
            .finish()
    }
}

/// One connection's membership in a [`Group`]; dropping it (or [`Member::leave`])
/// leaves the group.
///
/// The owning session drains the member's queue with [`Member::drain_into`] from
/// [`Session::on_wake`](crate::Session::on_wake), and closes its connection once
/// [`Member::is_evicted`] is true.
pub struct Member {
    group: Group,
    id: MemberId,
    evicted: Arc<AtomicBool>,
}

impl Member {
    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The group this member belongs (or belonged) to.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Queues `msg` for every current member except this one. Returns how many members
    /// it was queued for. An evicted member can still send: it simply is no longer a
    /// recipient.
    pub fn send_others(&self, msg: &[u8]) -> usize {
        self.group.send(Some(self.id), msg)
    }

    /// Queues `msg` for every current member, this one included (if not evicted).
    /// Returns how many members it was queued for.
    pub fn send_all(&self, msg: &[u8]) -> usize {
        self.group.send(None, msg)
    }

    /// Whether the group evicted this member because its queue would have overflowed.
    /// An evicted member receives nothing more; its session should close.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Bytes queued for this member and not yet drained.
    pub fn queued_bytes(&self) -> usize {
        let state = self.group.lock();
        state
            .position(self.id)
            .map_or(0, |i| state.members[i].queued_bytes)
    }

    /// Removes and returns the queued messages, oldest first.
    pub fn drain(&self) -> Vec<Arc<[u8]>> {
        let mut state = self.group.lock();
        match state.position(self.id) {
            Some(i) => {
                let slot = &mut state.members[i];
                slot.queued_bytes = 0;
                std::mem::take(&mut slot.queue).into()
            }
            None => Vec::new(),
        }
    }

    /// Moves the queued messages into `out` (this member's connection output), oldest
    /// first, and returns how many bytes were moved — keeping the bound on the whole path
    /// to the socket:
    ///
    /// * if the member was evicted, or the queued messages plus what `out` has not sent
    ///   yet pass `max_queue_bytes` (which evicts it now), `out`'s unsent output is
    ///   discarded and `out` is closed: the connection ends at once, without waiting to
    ///   flush a backlog its peer is not reading. Nothing is moved (0 is returned);
    /// * otherwise the messages move, and until they are sent they count against the
    ///   bound: the group follows what `out` sends through the waker the member joined
    ///   with, which must be `out`'s.
    ///
    /// Call it from [`on_wake`](crate::Session::on_wake) (see the [`Group`] example).
    /// The copy into `out` happens after the group lock is released.
    pub fn drain_into(&self, out: &mut Output) -> usize {
        let msgs = {
            let mut state = self.group.lock();
            let max = self.group.inner.max_queue_bytes as u64;
            let unsent = out.queued();
            match state.position(self.id) {
                Some(i) => {
                    let slot = &mut state.members[i];
                    let backlog = (slot.queued_bytes as u64).saturating_add(unsent);
                    if backlog <= max {
                        // From now on, what of this is unsent is known from the waker.
                        slot.drained_to = out.gone() + backlog;
                        slot.queued_bytes = 0;
                        Some(std::mem::take(&mut slot.queue))
                    } else {
                        self.evicted.store(true, Ordering::Release);
                        state.members.remove(i);
                        None
                    }
                }
                None => None,
            }
        };
        let Some(msgs) = msgs else {
            if self.is_evicted() {
                out.discard();
                out.close();
            }
            return 0;
        };
        let mut moved = 0;
        for msg in msgs {
            out.write(&msg);
            moved += msg.len();
        }
        moved
    }

    /// Leaves the group (same as dropping the member). Queued messages are discarded.
    pub fn leave(self) {}
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        if let Some(i) = state.position(self.id) {
            state.members.remove(i);
        }
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("evicted", &self.is_evicted())
            .finish()
    }
}

#[cfg(test)]
mod tests;
