//! Nicks: who holds which (here and, with a bus, on the other nodes), newcomers'
//! `guestN`, and `/nick` (answered at once, or once the bus has agreed).

use std::sync::{Arc, MutexGuard};

use sockserv::bus::Presence;
use sockserv::Output;

use super::bus::Claim;
use super::{ChatSession, Nicks, Room};

impl Room {
    /// Whether `nick` is someone's here, asked for here, or someone's on another node.
    pub(super) fn is_taken(&self, nicks: &Nicks, nick: &str) -> bool {
        nicks.taken.contains(nick)
            || nicks.pending.contains(nick)
            || self
                .bus()
                .is_some_and(|bus| bus.remote_names().iter().any(|n| n == nick))
    }

    /// A fresh `guestN`: N from the bus's room-wide numbers when there is one (so two
    /// nodes never hand out the same), else counted here.
    pub(super) fn guest_nick(&self, nicks: &mut Nicks) -> String {
        loop {
            let nick = match self.bus().map(|bus| bus.unique_number()) {
                Some(Some(n)) => format!("guest{n}"),
                // The bus has no number to give (Redis away since long): the process id
                // keeps this node's guests apart from the other nodes'.
                Some(None) => {
                    nicks.next_guest += 1;
                    format!("guest{}-{}", nicks.next_guest, std::process::id())
                }
                None => {
                    nicks.next_guest += 1;
                    format!("guest{}", nicks.next_guest)
                }
            };
            if !self.is_taken(nicks, &nick) {
                return nick;
            }
        }
    }
}

impl ChatSession {
    /// `/nick NEW`.
    pub(super) fn rename(&mut self, new: &str, out: &mut Output) {
        let valid = (1..=32).contains(&new.len())
            && new
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return out.write(b"* error: invalid nick\n");
        }
        let room = Arc::clone(&self.room);
        let mut nicks = room.nicks();
        // Your own nick counts as taken: a rename always changes the name.
        if room.is_taken(&nicks, new) {
            return out.write(format!("* error: nick {new} is taken\n").as_bytes());
        }
        if let Some(bus) = room.bus() {
            if self.claim.is_some() {
                return out
                    .write(b"* error: your last /nick is still waiting for the other nodes\n");
            }
            // Only the bus can say whether another node took it at the same moment.
            nicks.pending.insert(new.to_owned());
            drop(nicks);
            self.claim = Some(Claim::start(&room, bus, new, out.waker()));
            return;
        }
        nicks.taken.insert(new.to_owned());
        self.renamed(nicks, new, out);
    }

    /// The bus answered this session's `/nick`.
    pub(super) fn claim_answered(&mut self, new: &str, won: bool, out: &mut Output) {
        self.claim = None;
        let room = Arc::clone(&self.room);
        let mut nicks = room.nicks();
        nicks.pending.remove(new);
        if !won {
            return out.write(format!("* error: nick {new} is taken\n").as_bytes());
        }
        nicks.taken.insert(new.to_owned());
        self.renamed(nicks, new, out);
    }

    /// Completes a rename to `new`, already in `nicks.taken`.
    fn renamed(&mut self, mut nicks: MutexGuard<'_, Nicks>, new: &str, out: &mut Output) {
        nicks.taken.remove(&self.nick);
        let old = std::mem::replace(&mut self.nick, new.to_owned());
        let notice = format!("* {old} is now {new}\n");
        // The renamer's copy is written at once, like every reply to a command: through
        // the room's queue it would wait for the next wake-up, so a `/who` or `/quit` in
        // the same read would overtake (or lose) it.
        out.write(notice.as_bytes());
        if let Some(member) = &self.member {
            member.send_others(notice.as_bytes());
        }
        let change = Presence::Renamed {
            from: old,
            to: new.to_owned(),
        };
        // A rename carries a membership change: the bus takes it even when its queue
        // is full.
        self.room.relay(&notice, Some(change));
    }
}
