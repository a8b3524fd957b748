//! The chat room: a line protocol over a [`Group`], written as a sans-IO [`Session`].
//!
//! Protocol (UTF-8 lines ending in `\n`; a `\r` before it is dropped; invalid UTF-8
//! becomes U+FFFD). Every line the server sends ends in `\n`; its own notices start
//! with `* `.
//!
//! | client sends | effect |
//! |---|---|
//! | `TEXT` | every other member gets `NICK: TEXT` (empty lines are ignored) |
//! | `/nick NAME` | everyone gets `* OLD is now NAME`; errors: `* error: invalid nick`, `* error: nick NAME is taken` (also when NAME is your own nick) |
//! | `/who` | the asker gets `* online (COUNT): NICK, NICK, ...` (sorted) |
//! | `/me TEXT` | every other member gets `* NICK TEXT` |
//! | `/quit` | the connection closes; everyone else gets `* NICK left` |
//! | `/help` | the asker gets the command list |
//!
//! Nicks are 1–32 of `A-Z a-z 0-9 _ -`, case-sensitive. A newcomer is `guestN` (N counts
//! up from 1, skipping names someone already took). A line over `max_line` bytes is
//! dropped (never buffered whole) and answered with an error. A member that cannot keep
//! up (more than `max_queue` bytes waiting) is disconnected: `* NICK left (too slow)`.
//! A final line without `\n` before EOF is still handled.
//!
//! With a [`Bus`] (`--bus`), the room spans every node on it and behaves as one: lines,
//! notices and `/me` reach the members of every node, `/who` lists them all, and a nick
//! is unique across nodes (a `/nick` is answered once the other nodes agree, through
//! the bus). Newcomers are `guestN` with N unique across nodes. When the bus's link is
//! lost and when it is back, every local member is told once.

mod bus;
mod nick;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use sockserv::bus::{Bus, BusHandler, Presence};
use sockserv::{Group, Line, LineBuffer, Member, Output, PeerAddr, Session, SessionFactory};
use sockserv_redis::BusStats;

use self::bus::{announcement, BusLink, Claim, NOT_RELAYED};

const SHUTDOWN_NOTICE: &str = "* server shutting down\n";
const HELP: &str = "\
* commands:
* /nick NAME   change your nick (1-32 of A-Z a-z 0-9 _ -)
* /who         list who is online
* /me TEXT     send an action
* /quit        leave
* /help        this list
";

/// Limits of a chat room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatConfig {
    /// Longest accepted line in bytes, without its `\r\n`.
    pub max_line: usize,
    /// Most bytes a member may have waiting (queued or unsent) before it is dropped.
    pub max_queue: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            max_line: 4096,
            max_queue: 1 << 20,
        }
    }
}

/// A chat room: a cheap handle (`Clone`); it makes one [`ChatSession`] per connection.
#[derive(Clone)]
pub struct ChatRoom {
    room: Arc<Room>,
}

struct Room {
    config: ChatConfig,
    group: Group,
    /// Nick registry; also serializes joins, renames and leaves with their notices.
    nicks: Mutex<Nicks>,
    shutting_down: AtomicBool,
    /// Members dropped as too slow, for `sockserv_chat_dropped_total`.
    dropped: AtomicU64,
    /// The other nodes of the room, with `--bus`.
    bus: OnceLock<BusLink>,
}

#[derive(Default)]
struct Nicks {
    next_guest: u64,
    taken: BTreeSet<String>,
    /// Nicks asked for through the bus and not answered yet: taken for local askers.
    pending: BTreeSet<String>,
}

impl Room {
    fn nicks(&self) -> MutexGuard<'_, Nicks> {
        // Only in-memory updates happen under this lock; a panic cannot leave it torn.
        self.nicks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn bus(&self) -> Option<&dyn Bus> {
        self.bus.get().map(|link| &*link.bus)
    }

    /// Relays a line to the other nodes; `false` if the bus refused it.
    fn relay(&self, line: &str, change: Option<Presence>) -> bool {
        self.bus()
            .map_or(true, |bus| bus.publish(line.as_bytes(), change))
    }
}

impl ChatRoom {
    /// An empty room with the given limits.
    pub fn new(config: ChatConfig) -> Self {
        Self {
            room: Arc::new(Room {
                config,
                group: Group::new(config.max_queue),
                nicks: Mutex::new(Nicks::default()),
                shutting_down: AtomicBool::new(false),
                dropped: AtomicU64::new(0),
                bus: OnceLock::new(),
            }),
        }
    }

    /// Joins the room to the other nodes on `bus`: what members here say is published
    /// on it. `stats` reads the bus's counters for `--metrics`. Call it before serving,
    /// once; the bus must deliver to [`ChatRoom::bus_handler`].
    pub fn attach_bus(
        &self,
        bus: Arc<dyn Bus>,
        stats: impl Fn() -> BusStats + Send + Sync + 'static,
    ) {
        let link = BusLink {
            bus,
            stats: Box::new(stats),
        };
        if self.room.bus.set(link).is_err() {
            tracing::warn!("chat: a second bus for the room was ignored");
        }
    }

    /// What a bus delivers the other nodes' lines to.
    pub fn bus_handler(&self) -> Arc<dyn BusHandler> {
        Arc::clone(&self.room) as Arc<dyn BusHandler>
    }

    /// The bus's counters, with `--bus`.
    pub fn bus_stats(&self) -> Option<BusStats> {
        self.room.bus.get().map(|link| (link.stats)())
    }

    /// A session for a new connection from `peer`.
    pub fn session(&self, peer: &PeerAddr) -> ChatSession {
        ChatSession {
            room: Arc::clone(&self.room),
            peer: peer.clone(),
            member: None,
            nick: String::new(),
            lines: LineBuffer::new(self.room.config.max_line),
            done: false,
            claim: None,
        }
    }

    /// The nicks online now, sorted.
    #[cfg(test)]
    pub fn online(&self) -> Vec<String> {
        self.room.nicks().taken.iter().cloned().collect()
    }

    /// Whether [`shutdown`](ChatRoom::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.room.is_shutting_down()
    }

    /// How many members the room has now.
    pub fn members(&self) -> usize {
        self.room.group.len()
    }

    /// How many members were dropped so far because they could not keep up.
    pub fn dropped(&self) -> u64 {
        self.room.dropped.load(Ordering::Relaxed)
    }

    /// Tells every member `* server shutting down` and makes each session close once
    /// that is sent. Connections opened afterwards get the notice and close at once.
    pub fn shutdown(&self) {
        let room = &self.room;
        {
            let _nicks = room.nicks();
            if room.is_shutting_down() {
                return;
            }
            // Queue the notice before raising the flag: a session that sees the flag
            // (loaded before it drains) is sure to drain the notice too.
            room.group.send_all(SHUTDOWN_NOTICE.as_bytes());
            room.shutting_down.store(true, Ordering::Release);
        }
        // Sessions woken by the send may have looked before the flag went up.
        room.group.wake_all();
    }
}

impl SessionFactory for ChatRoom {
    type Session = ChatSession;

    fn open(&self, peer: &PeerAddr) -> ChatSession {
        self.session(peer)
    }
}

/// One connection to a [`ChatRoom`].
pub struct ChatSession {
    room: Arc<Room>,
    peer: PeerAddr,
    /// `Some` from `on_open` until the member leaves.
    member: Option<Member>,
    nick: String,
    /// Line framing: at most `max_line + 1` bytes of an unfinished line are kept.
    lines: LineBuffer,
    /// Left the room (quit, EOF, eviction, shutdown): ignore everything from now on.
    done: bool,
    /// A `/nick` the other nodes have not answered yet (with `--bus`).
    claim: Option<Claim>,
}

impl ChatSession {
    /// Frames `data` into lines and handles each, until the member leaves.
    fn feed(&mut self, data: &[u8], out: &mut Output, eof: bool) {
        // Taken out for the duration, so the callback can use the rest of `self`.
        let mut lines = std::mem::replace(&mut self.lines, LineBuffer::new(0));
        let mut on_line = |line: Line<'_>| {
            if self.done {
                return;
            }
            match line {
                Line::Complete(bytes) => {
                    let text = String::from_utf8_lossy(bytes);
                    self.handle_line(&text, out);
                }
                Line::TooLong => {
                    let max = self.room.config.max_line;
                    out.write(format!("* error: line too long (max {max} bytes)\n").as_bytes());
                }
            }
        };
        lines.feed(data, &mut on_line);
        if eof {
            lines.finish(&mut on_line);
        }
        self.lines = lines;
    }

    fn handle_line(&mut self, text: &str, out: &mut Output) {
        if text.is_empty() || self.room.is_shutting_down() {
            return;
        }
        let Some(command) = text.strip_prefix('/') else {
            return self.send_others(&format!("{}: {text}\n", self.nick), out);
        };
        let (word, arg) = match command.split_once(char::is_whitespace) {
            Some((word, arg)) => (word, arg.trim()),
            None => (command, ""),
        };
        match word {
            "nick" => self.rename(arg, out),
            "who" => {
                let mut list = self.room.nicks().taken.clone();
                if let Some(bus) = self.room.bus() {
                    list.extend(bus.remote_names());
                }
                let list: Vec<&str> = list.iter().map(String::as_str).collect();
                let line = format!("* online ({}): {}\n", list.len(), list.join(", "));
                out.write(line.as_bytes());
            }
            "me" if !arg.is_empty() => {
                self.send_others(&format!("* {} {arg}\n", self.nick), out);
            }
            "me" => out.write(b"* error: usage: /me TEXT\n"),
            "quit" => {
                self.leave(Some("left"));
                out.close();
            }
            "help" => out.write(HELP.as_bytes()),
            _ => out.write(format!("* error: unknown command /{word}\n").as_bytes()),
        }
    }

    fn send_others(&self, line: &str, out: &mut Output) {
        if let Some(member) = &self.member {
            member.send_others(line.as_bytes());
            if !self.room.relay(line, None) {
                out.write(NOT_RELAYED.as_bytes());
            }
        }
    }

    /// Leaves the room once: releases the nick and tells the others `* NICK {how}`
    /// (unless the whole room is shutting down).
    fn leave(&mut self, how: Option<&str>) {
        self.done = true;
        let Some(member) = self.member.take() else {
            return;
        };
        if let Some(claim) = self.claim.take() {
            claim.abandon(&self.room);
        }
        let mut nicks = self.room.nicks();
        nicks.taken.remove(&self.nick);
        let notice = format!("* {} {}\n", self.nick, how.unwrap_or("left"));
        if how.is_some() && !self.room.is_shutting_down() {
            member.send_others(notice.as_bytes());
        }
        // The other nodes hear of every leave, this node's shutdown included.
        self.room
            .relay(&notice, Some(Presence::Left(self.nick.clone())));
        drop(nicks);
        tracing::debug!(peer = %self.peer, nick = %self.nick, "left the chat");
    }

    /// Drops a member that cannot keep up, and what it has not read.
    fn evict(&mut self, out: &mut Output) {
        self.room.dropped.fetch_add(1, Ordering::Relaxed);
        self.leave(Some("left (too slow)"));
        out.discard(); // the unsent backlog: nobody is reading it
        out.close();
    }

    fn over_limit(&self, out: &Output) -> bool {
        out.queued() > self.room.config.max_queue as u64
    }
}

impl Session for ChatSession {
    fn on_open(&mut self, out: &mut Output) {
        let waker = out.waker();
        let mut nicks = self.room.nicks();
        if self.room.is_shutting_down() {
            self.done = true;
            out.write(SHUTDOWN_NOTICE.as_bytes());
            return out.close();
        }
        let nick = self.room.guest_nick(&mut nicks);
        nicks.taken.insert(nick.clone());
        // Join before the notice: whoever sees it can already reach the newcomer.
        let member = self.room.group.join(waker);
        out.write(format!("* welcome, you are {nick}\n").as_bytes());
        let change = Presence::Joined(nick.clone());
        let notice = announcement(&change);
        member.send_others(notice.as_bytes());
        self.room.relay(&notice, Some(change));
        drop(nicks);
        tracing::debug!(peer = %self.peer, %nick, "joined the chat");
        self.nick = nick;
        self.member = Some(member);
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        self.feed(data, out, false);
        if !self.done && self.over_limit(out) {
            self.evict(out);
        }
    }

    fn on_eof(&mut self, out: &mut Output) {
        self.feed(&[], out, true);
        self.leave(Some("left"));
        out.close();
    }

    fn on_wake(&mut self, out: &mut Output) {
        if let Some((new, won)) = self.claim.as_ref().and_then(Claim::answer) {
            self.claim_answered(&new, won, out);
        }
        let Some(member) = &self.member else {
            return;
        };
        // Load the flag before draining (see `ChatRoom::shutdown`).
        let shutting_down = self.room.is_shutting_down();
        if member.is_evicted() || self.over_limit(out) {
            return self.evict(out);
        }
        member.drain_into(out);
        if shutting_down {
            self.leave(None);
            out.close();
        }
    }

    fn on_close(&mut self) {
        let evicted = self.member.as_ref().is_some_and(Member::is_evicted);
        if evicted {
            self.room.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.leave(Some(if evicted { "left (too slow)" } else { "left" }));
    }
}

pub mod web;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
