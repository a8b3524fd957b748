//! Joining a [`Group`] to a bus: the seam through which one room spans several processes.
//!
//! A [`Group`] lives in one process. To make one room out of the groups of several nodes
//! (processes, machines), each node hands what its members send to a [`Bus`], and the bus
//! hands what the other nodes sent to the node's [`BusHandler`] (a [`Group`] is one: it
//! queues the line for every local member). Members also have *names* that must be unique
//! across every node (a chat nick); the bus keeps that registry, because only a shared
//! engine can decide who took a name first.
//!
//! The core crate holds only these traits; engines live in their own crates
//! (`sockserv-redis`: Redis Streams). A bus never blocks its caller: `publish` and
//! `claim` only queue work for the bus's own threads, and answers come back through
//! callbacks, so a member's session or an event loop never waits on the network.
//!
//! Contract of an implementation:
//!
//! * every line published by a node is delivered to every other node's handler exactly
//!   once, in the order that node published them, also across a lost and regained link
//!   (the bus queues while the link is down, within a bound, and catches up);
//! * a line is never delivered back to the node that published it;
//! * [`BusHandler::link_changed`] is called once when the link is lost and once when it
//!   is back.

use super::Group;

/// A change to the room's membership that travels with a published line, so every node
/// updates its view of who is in the room in the same order as it sees the notices.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Presence {
    /// A member with this (already claimed) name joined.
    Joined(String),
    /// The member with this name left; the name is free again.
    Left(String),
    /// A member renamed itself: `from` is released, `to` was claimed with [`Bus::claim`].
    Renamed {
        /// The old name, released.
        from: String,
        /// The new name.
        to: String,
    },
}

/// The answer to a [`Bus::claim`]: called once, on a bus thread, with whether the name
/// is now this node's.
pub type ClaimAnswer = Box<dyn FnOnce(bool) + Send>;

/// One node's side of a bus that joins the groups of several nodes into one room.
pub trait Bus: Send + Sync {
    /// Sends `line` to every other node (which deliver it to their members), together
    /// with the membership change it announces, if any. Never blocks. Returns `false`
    /// when the line could not even be queued (the link is down and the bounded queue is
    /// full): it is then lost for the other nodes, and the caller should say so.
    fn publish(&self, line: &[u8], change: Option<Presence>) -> bool;

    /// Asks for `name` across every node. Never blocks: `answer` is called later, once,
    /// with `true` if the name is now this node's (it stays so until a published
    /// [`Presence::Left`] or [`Presence::Renamed`] releases it).
    fn claim(&self, name: &str, answer: ClaimAnswer);

    /// The names of the members on the *other* nodes, as this node last heard of them.
    fn remote_names(&self) -> Vec<String>;

    /// A number unique across every node of the room, for a newcomer's default name
    /// (`guest42`), or `None` if the bus cannot hand one out now.
    fn unique_number(&self) -> Option<u64>;
}

/// What a bus calls on its node; implementations must not block for long (they run on
/// the bus's thread, and delay every later line).
pub trait BusHandler: Send + Sync {
    /// Other nodes published `lines` (one or more whole lines, in the order they were
    /// published): deliver them to the local members. A bus hands over what one read
    /// brought at once, so a member is woken once per batch, not once per line.
    fn deliver(&self, lines: &[u8]);

    /// The link to the other nodes was lost (`false`) or is back (`true`).
    fn link_changed(&self, up: bool);

    /// The line that tells members about `change`, for changes the bus itself makes
    /// (members of a dead node leaving, members of a node taken for dead coming back).
    /// Empty: not announced.
    fn announce(&self, change: &Presence) -> Vec<u8> {
        let _ = change;
        Vec::new()
    }
}

/// A plain group joined to a bus: lines from other nodes go to every member; link
/// changes are not announced.
impl BusHandler for Group {
    fn deliver(&self, lines: &[u8]) {
        self.send_all(lines);
    }

    fn link_changed(&self, _up: bool) {}
}
