//! The chat room across nodes: what the room does with a [`Bus`] (rooms on other nodes
//! through Redis), and the wait for a nick the other nodes must agree on.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sockserv::bus::{Bus, BusHandler, Presence};
use sockserv::SessionWaker;
use sockserv_redis::BusStats;

use super::Room;

/// Told to every local member when the link to the other nodes goes down, and when it
/// is back.
pub(super) const LINK_LOST: &str =
    "* link to the other nodes lost: messages reach this node only until it is back\n";
pub(super) const LINK_BACK: &str =
    "* link to the other nodes is back: what was said meanwhile is delivered\n";
/// Told to a sender whose line the bus could not even queue.
pub(super) const NOT_RELAYED: &str =
    "* error: the link to the other nodes is down and its queue is full: your line reached this node only\n";

/// A room's bus, and how to read its counters.
pub(super) struct BusLink {
    pub(super) bus: Arc<dyn Bus>,
    pub(super) stats: Box<dyn Fn() -> BusStats + Send + Sync>,
}

/// The line announcing a membership change, the same on every node.
pub(super) fn announcement(change: &Presence) -> String {
    match change {
        Presence::Joined(nick) => format!("* {nick} joined\n"),
        Presence::Left(nick) => format!("* {nick} left\n"),
        Presence::Renamed { from, to } => format!("* {from} is now {to}\n"),
        _ => String::new(),
    }
}

impl BusHandler for Room {
    fn deliver(&self, lines: &[u8]) {
        if !self.is_shutting_down() {
            self.group.send_all(lines);
        }
    }

    fn link_changed(&self, up: bool) {
        if !self.is_shutting_down() {
            self.group
                .send_all(if up { LINK_BACK } else { LINK_LOST }.as_bytes());
        }
    }

    fn announce(&self, change: &Presence) -> Vec<u8> {
        announcement(change).into_bytes()
    }
}

/// A `/nick` waiting for the other nodes' answer. The answer arrives on the bus's
/// thread; the session picks it up when woken. If the session left meanwhile, the
/// answer's side releases a name won for nobody.
#[derive(Clone)]
pub(super) struct Claim {
    state: Arc<Mutex<ClaimState>>,
}

struct ClaimState {
    nick: String,
    answer: Option<bool>,
    /// The session left before the answer came.
    abandoned: bool,
}

impl Claim {
    /// Asks the bus for `nick`; `waker` wakes the session when the answer is in.
    pub(super) fn start(room: &Arc<Room>, bus: &dyn Bus, nick: &str, waker: SessionWaker) -> Self {
        let claim = Claim {
            state: Arc::new(Mutex::new(ClaimState {
                nick: nick.to_owned(),
                answer: None,
                abandoned: false,
            })),
        };
        let answered = claim.clone();
        let room = Arc::clone(room);
        bus.claim(
            nick,
            Box::new(move |won| {
                let mut state = answered.lock();
                if state.abandoned {
                    let nick = std::mem::take(&mut state.nick);
                    drop(state);
                    room.forget_claim(&nick, won);
                    return;
                }
                state.answer = Some(won);
                drop(state);
                waker.wake();
            }),
        );
        claim
    }

    /// The nick asked for and the answer, once it is in.
    pub(super) fn answer(&self) -> Option<(String, bool)> {
        let state = self.lock();
        state.answer.map(|won| (state.nick.clone(), won))
    }

    /// The session leaves: a name already won is released; one still being asked for
    /// is released by the answer.
    pub(super) fn abandon(&self, room: &Room) {
        let mut state = self.lock();
        match state.answer {
            Some(won) => {
                let nick = std::mem::take(&mut state.nick);
                drop(state);
                room.forget_claim(&nick, won);
            }
            None => state.abandoned = true,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ClaimState> {
        // Plain field updates only; a panic cannot leave the state torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Room {
    /// A claimed-for-nobody nick: no longer pending here, and released on the bus if won.
    fn forget_claim(&self, nick: &str, won: bool) {
        self.nicks().pending.remove(nick);
        if let (true, Some(link)) = (won, self.bus.get()) {
            link.bus.publish(b"", Some(Presence::Left(nick.to_owned())));
        }
    }
}
