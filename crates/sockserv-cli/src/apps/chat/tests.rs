//! The chat protocol, pumped in memory: every client is a session under
//! `sockserv::driver::InMemory`.

use super::*;
use sockserv::driver::{InMemory, OutputExt};

struct Client {
    conn: InMemory<ChatSession>,
    inbox: Vec<u8>,
    /// The peer reads what it is sent (otherwise output piles up in the session's output).
    reading: bool,
    /// The driver is stuck: wake-ups are not delivered.
    stalled: bool,
}

/// Several in-memory connections of one room.
struct Pump {
    room: ChatRoom,
    clients: Vec<Client>,
}

impl Pump {
    fn new(config: ChatConfig) -> Self {
        Self {
            room: ChatRoom::new(config),
            clients: Vec::new(),
        }
    }

    fn connect(&mut self) -> usize {
        let peer = PeerAddr::Inet(([127, 0, 0, 1], 4000).into());
        let conn = InMemory::open(self.room.session(&peer));
        assert!(
            conn.output().wake_source().is_some(),
            "chat sessions ask for a waker"
        );
        self.clients.push(Client {
            conn,
            inbox: Vec::new(),
            reading: true,
            stalled: false,
        });
        self.settle();
        self.clients.len() - 1
    }

    fn send(&mut self, i: usize, data: &[u8]) {
        let c = &mut self.clients[i];
        assert!(!c.conn.is_closed(), "client {i} is closed");
        c.conn.feed(data);
        self.settle();
    }

    fn eof(&mut self, i: usize) {
        self.clients[i].conn.eof();
        self.settle();
    }

    /// The connection breaks (reset): only `on_close`.
    fn reset(&mut self, i: usize) {
        self.clients[i].conn.close();
        self.settle();
    }

    /// Delivers wake-ups and output until nothing moves (bounded). A client that does not
    /// read still has its connection end once its session closed with nothing unsent.
    fn settle(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            for c in self.clients.iter_mut().filter(|c| !c.stalled) {
                moved |= c.conn.wake();
            }
            for c in &mut self.clients {
                if c.conn.is_closed() || !(c.reading || c.conn.output().queued() == 0) {
                    continue;
                }
                let got = c.conn.transmit().expect("chat output is bytes");
                c.inbox.extend(got);
                moved |= c.conn.is_closed() || (c.reading && c.conn.output().queued() > 0);
            }
            if !moved {
                return;
            }
        }
        panic!("wake-ups did not settle");
    }

    /// The lines client `i` received since the last call.
    fn lines(&mut self, i: usize) -> Vec<String> {
        let inbox = std::mem::take(&mut self.clients[i].inbox);
        let text = String::from_utf8(inbox).expect("the server sends UTF-8");
        assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        text.lines().map(str::to_owned).collect()
    }

    fn closed(&self, i: usize) -> bool {
        self.clients[i].conn.is_closed()
    }
}

/// A room of `n` clients, all greetings read.
fn room_of(n: usize, config: ChatConfig) -> Pump {
    let mut pump = Pump::new(config);
    for i in 0..n {
        pump.connect();
        for j in 0..=i {
            pump.lines(j);
        }
    }
    pump
}

#[test]
fn newcomer_is_welcomed_and_announced() {
    let mut p = Pump::new(ChatConfig::default());
    let a = p.connect();
    assert_eq!(p.lines(a), ["* welcome, you are guest1"]);
    let b = p.connect();
    assert_eq!(p.lines(b), ["* welcome, you are guest2"]);
    assert_eq!(p.lines(a), ["* guest2 joined"]);
}

#[test]
fn messages_reach_everyone_else_with_crlf_and_empty_lines_handled() {
    let mut p = room_of(3, ChatConfig::default());
    p.send(0, b"hi\r\n\n\r\nthere\n");
    assert_eq!(p.lines(0), Vec::<String>::new());
    for i in [1, 2] {
        assert_eq!(p.lines(i), ["guest1: hi", "guest1: there"]);
    }
}

#[test]
fn line_split_across_reads_and_invalid_utf8() {
    let mut p = room_of(2, ChatConfig::default());
    p.send(0, b"he");
    p.send(0, b"llo\r");
    assert_eq!(p.lines(1), Vec::<String>::new());
    p.send(0, b"\ncaf\xe9\n");
    assert_eq!(p.lines(1), ["guest1: hello", "guest1: caf\u{FFFD}"]);
}

#[test]
fn nick_rename_taken_own_and_invalid() {
    let mut p = room_of(2, ChatConfig::default());
    p.send(0, b"/nick alice\n");
    assert_eq!(p.lines(0), ["* guest1 is now alice"]);
    assert_eq!(p.lines(1), ["* guest1 is now alice"]);
    p.send(0, b"/nick guest2\n/nick alice\n");
    let taken = [
        "* error: nick guest2 is taken",
        "* error: nick alice is taken",
    ];
    assert_eq!(p.lines(0), taken);
    let long = format!("/nick {}\n", "x".repeat(33));
    p.send(0, format!("/nick bad!\n/nick\n{long}").as_bytes());
    assert_eq!(p.lines(0), ["* error: invalid nick"; 3]);
    assert_eq!(p.lines(1), Vec::<String>::new());
    p.send(0, b"yo\n");
    assert_eq!(p.lines(1), ["alice: yo"]);
    // The old name is free again.
    p.send(
        1,
        format!("/nick guest1\n/nick {}\n", "Z_-9".repeat(8)).as_bytes(),
    );
    assert_eq!(
        p.lines(1),
        [
            "* guest2 is now guest1",
            "* guest1 is now Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9"
        ]
    );
}

#[test]
fn guest_numbers_skip_taken_names() {
    let mut p = room_of(1, ChatConfig::default());
    p.send(0, b"/nick guest2\n");
    let b = p.connect();
    assert_eq!(p.lines(b), ["* welcome, you are guest3"]);
}

#[test]
fn who_me_help_and_unknown_commands() {
    let mut p = room_of(3, ChatConfig::default());
    p.send(2, b"/nick bob\n");
    p.lines(0);
    p.lines(1);
    p.send(1, b"/who\n");
    assert_eq!(p.lines(1), ["* online (3): bob, guest1, guest2"]);
    assert_eq!(p.lines(0), Vec::<String>::new());
    p.send(0, b"/me waves  \n/me\n");
    assert_eq!(p.lines(1), ["* guest1 waves"]);
    assert_eq!(p.lines(0), ["* error: usage: /me TEXT"]);
    p.send(0, b"/help\n/dance now\n");
    let lines = p.lines(0);
    assert!(lines.len() > 1 && lines[..lines.len() - 1].iter().all(|l| l.starts_with("* ")));
    assert_eq!(lines.last().unwrap(), "* error: unknown command /dance");
}

#[test]
fn quit_closes_and_announces_once() {
    let mut p = room_of(2, ChatConfig::default());
    p.send(0, b"/quit\nignored\n");
    assert!(p.closed(0));
    assert_eq!(p.lines(1), ["* guest1 left"]);
    p.send(1, b"/who\n");
    assert_eq!(p.lines(1), ["* online (1): guest2"]);
}

#[test]
fn eof_and_reset_announce_left_once() {
    let mut p = room_of(3, ChatConfig::default());
    p.send(0, b"last words");
    p.eof(0);
    assert!(p.closed(0));
    assert_eq!(p.lines(2), ["guest1: last words", "* guest1 left"]);
    p.reset(1);
    assert_eq!(p.lines(2), ["* guest2 left"]);
    assert_eq!(p.room.online(), ["guest3"]);
}

#[test]
fn long_line_is_dropped_without_buffering_and_reported_once() {
    let config = ChatConfig {
        max_line: 8,
        ..ChatConfig::default()
    };
    let mut p = room_of(2, config);
    p.send(0, b"abcde");
    p.send(0, b"fghij");
    p.send(0, &[b'x'; 1000]);
    assert!(p.clients[0].conn.session().lines.buffered() <= 9);
    p.send(0, b"kl\nok\n");
    assert_eq!(p.lines(0), ["* error: line too long (max 8 bytes)"]);
    assert_eq!(p.lines(1), ["guest1: ok"]);
    // Exactly max_line is fine, with or without `\r`; one more byte is not.
    p.send(0, b"12345678\r\n12345678\n123456789\n");
    assert_eq!(p.lines(1), ["guest1: 12345678", "guest1: 12345678"]);
    assert_eq!(p.lines(0), ["* error: line too long (max 8 bytes)"]);
    assert!(!p.closed(0));
}

#[test]
fn reader_that_stops_reading_is_dropped_and_others_get_everything() {
    let config = ChatConfig {
        max_queue: 200,
        ..ChatConfig::default()
    };
    let mut p = room_of(3, config);
    p.clients[2].reading = false;
    let mut expected = Vec::new();
    for n in 0..40 {
        p.send(0, format!("message {n}\n").as_bytes());
        expected.push(format!("guest1: message {n}"));
    }
    assert!(p.closed(2));
    assert!(
        p.clients[2].conn.output().pending().is_empty(),
        "unsent output dropped"
    );
    expected.push("* guest3 left (too slow)".into());
    let got = p.lines(1);
    assert_eq!(got.iter().filter(|l| l.contains("left")).count(), 1);
    let notice_at = got.iter().position(|l| l.contains("left")).unwrap();
    let mut reordered = got.clone();
    let notice = reordered.remove(notice_at);
    reordered.push(notice);
    assert_eq!(reordered, expected);
    assert_eq!(p.room.online(), ["guest1", "guest2"]);
}

#[test]
fn member_whose_queue_overflows_is_evicted() {
    let config = ChatConfig {
        max_queue: 100,
        ..ChatConfig::default()
    };
    let mut p = room_of(2, config);
    p.clients[1].stalled = true;
    for _ in 0..10 {
        p.send(0, b"0123456789\n");
    }
    assert!(p.clients[1]
        .conn
        .session()
        .member
        .as_ref()
        .unwrap()
        .is_evicted());
    p.clients[1].stalled = false;
    p.settle();
    assert!(p.closed(1));
    assert_eq!(p.lines(0), ["* guest2 left (too slow)"]);
    // The evicted member got none of the messages.
    assert_eq!(p.lines(1), Vec::<String>::new());
}

#[test]
fn shutdown_tells_everyone_and_closes() {
    let mut p = room_of(2, ChatConfig::default());
    p.send(0, b"bye\n");
    p.room.shutdown();
    p.settle();
    assert!(p.closed(0) && p.closed(1));
    assert_eq!(p.lines(0), ["* server shutting down"]);
    assert_eq!(p.lines(1), ["guest1: bye", "* server shutting down"]);
    let late = p.connect();
    assert!(p.closed(late));
    assert_eq!(p.lines(late), ["* server shutting down"]);
}

mod bus;
