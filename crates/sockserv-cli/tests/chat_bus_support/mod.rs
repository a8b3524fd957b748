//! Shared by the `--bus` end-to-end tests: chat nodes on a test's own Redis, members
//! that check every line arrives exactly once in order, and nick answers.

#![allow(dead_code)] // each bus test file uses a different part

use std::ops::Range;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use crate::chat_support::*;
use crate::redis_support::Redis;

pub const LINK_LOST: &str = "* link to the other nodes lost";
pub const LINK_BACK: &str = "* link to the other nodes is back";

/// A chat node on `redis`, listening on a free port.
pub fn node(redis: &Redis, mode: &str) -> Server {
    let url = redis.url();
    Server::start(
        &[
            "chat",
            "--mode",
            mode,
            "--listen",
            "tcp://127.0.0.1:0",
            "--bus",
            &url,
        ],
        1,
    )
}

/// Members spread over nodes, each sending numbered lines `m{I} {N}`; one reader thread
/// per member checks that it gets every other member's lines exactly once, in order.
pub struct Traffic {
    writers: Vec<Client>,
    notices: Vec<Receiver<String>>,
    readers: Vec<JoinHandle<Result<(), String>>>,
}

impl Traffic {
    /// `per_node` members on each endpoint, each to send `lines` lines in all.
    pub fn start(endpoints: &[&Endpoint], per_node: usize, lines: usize) -> Traffic {
        // Every member is in its node's room once welcomed, so it hears every line
        // sent after this (the other nodes' lines come through the bus).
        let chats: Vec<Chat> = endpoints
            .iter()
            .flat_map(|e| (0..per_node).map(|_| Chat::join(e)))
            .collect();
        let total = chats.len();
        let mut traffic = Traffic {
            writers: Vec::new(),
            notices: Vec::new(),
            readers: Vec::new(),
        };
        for (me, chat) in chats.into_iter().enumerate() {
            traffic.writers.push(chat.writer.duplicate());
            let (tx, rx) = channel();
            traffic.notices.push(rx);
            traffic
                .readers
                .push(thread::spawn(move || receive(chat, me, total, lines, &tx)));
        }
        traffic
    }

    /// Every member sends its lines `range`.
    pub fn send(&mut self, range: Range<usize>) {
        for (i, writer) in self.writers.iter_mut().enumerate() {
            let batch: String = range.clone().map(|n| format!("m{i} {n}\n")).collect();
            writer.write_all(batch.as_bytes()).expect("send lines");
        }
    }

    /// Waits until every member has been told a notice starting with `prefix`.
    pub fn wait_for_notice(&self, prefix: &str) {
        for (i, notices) in self.notices.iter().enumerate() {
            let deadline = Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match notices.recv_timeout(left) {
                    Ok(line) if line.starts_with(prefix) => break,
                    Ok(_) => {}
                    Err(e) => panic!("member {i}: no {prefix:?} notice: {e}"),
                }
            }
        }
    }

    /// Waits for every reader's verdict.
    pub fn finish(self) {
        for (i, reader) in self.readers.into_iter().enumerate() {
            match reader.join() {
                Ok(Ok(())) => {}
                Ok(Err(why)) => panic!("member {i}: {why}"),
                Err(_) => panic!("member {i}: the reader panicked (see above)"),
            }
        }
    }
}

/// Reads until member `me` has every other member's `lines` lines; each must be the
/// next of its sender. Then a `/who` round trip: nothing more may come before it.
fn receive(
    mut chat: Chat,
    me: usize,
    total: usize,
    lines: usize,
    notices: &Sender<String>,
) -> Result<(), String> {
    let mut next = vec![0; total];
    let mut left = (total - 1) * lines;
    while left > 0 {
        let line = chat.line();
        if line.starts_with("* ") {
            let _ = notices.send(line);
            continue;
        }
        let (sender, n) = parse_numbered(&line).ok_or(format!("unexpected line {line:?}"))?;
        if sender == me {
            return Err(format!("got its own line back: {line:?}"));
        }
        if n != next[sender] {
            return Err(format!(
                "from m{sender} got line {n}, expected {} (lost, doubled or out of order)",
                next[sender]
            ));
        }
        next[sender] += 1;
        left -= 1;
    }
    chat.send("/who");
    loop {
        let line = chat.line();
        if line.starts_with("* online") {
            return Ok(());
        }
        if !line.starts_with("* ") {
            return Err(format!("a line beyond the expected ones: {line:?}"));
        }
    }
}

/// `NICK: m{I} {N}` -> (I, N).
fn parse_numbered(line: &str) -> Option<(usize, usize)> {
    let (_, body) = line.split_once(": ")?;
    let (sender, n) = body.strip_prefix('m')?.split_once(' ')?;
    Some((sender.parse().ok()?, n.parse().ok()?))
}

/// Reads until the answer to this member's `/nick NEW`; true if it got the nick.
pub fn nick_answer(chat: &mut Chat, new: &str) -> bool {
    let won = format!("* {} is now {new}", chat.nick);
    let lost = format!("* error: nick {new} is taken");
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{}: no answer to /nick",
            chat.nick
        );
        let line = chat.line();
        if line == won {
            chat.nick = new.to_owned();
            return true;
        }
        if line == lost {
            return false;
        }
    }
}
