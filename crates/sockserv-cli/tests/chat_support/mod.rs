//! Shared by the chat end-to-end tests: a chat member client and the modes.

#![allow(dead_code, unused_imports)] // each chat test file uses a different part

pub use std::collections::HashMap;
pub use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
pub use std::process::{Child, Command, Stdio};
pub use std::sync::atomic::{AtomicBool, Ordering};
pub use std::sync::mpsc::Receiver;
pub use std::sync::{Arc, Barrier};
pub use std::thread;
pub use std::time::{Duration, Instant};

pub use std::path::Path;
pub use std::process::ChildStdin;

pub use crate::util::{lines_in_background, run, sockserv, wait_for_exit, Client, Server, WAIT};
pub use sockserv::Endpoint;

/// Every mode a chat room runs in.
pub const CHAT_MODES: [&str; 4] = ["threads", "pool:128", "events:1", "events:2"];

/// One chat member: a line reader and a writer on the same connection, every read and
/// write bounded by [`WAIT`].
pub struct Chat {
    pub reader: BufReader<Client>,
    pub writer: Client,
    pub nick: String,
}

impl Chat {
    /// Connects and reads the welcome line. The server joins the room before it writes
    /// the welcome, so once this returns the member receives every later message.
    pub fn join(endpoint: &Endpoint) -> Chat {
        Chat::join_after(endpoint, b"")
    }

    /// [`Chat::join`] on a connection that first sends `prefix` (a PROXY header).
    pub fn join_after(endpoint: &Endpoint, prefix: &[u8]) -> Chat {
        let mut chat = Chat::connect(endpoint);
        chat.send_raw(prefix);
        let welcome = chat.line();
        chat.nick = welcome
            .strip_prefix("* welcome, you are ")
            .unwrap_or_else(|| panic!("not a welcome line: {welcome:?}"))
            .to_owned();
        chat
    }

    /// Connects without reading anything.
    pub fn connect(endpoint: &Endpoint) -> Chat {
        let writer = Client::connect(endpoint);
        if let Some(stream) = writer.tcp() {
            // Many small lines: do not let Nagle hold them back.
            stream.set_nodelay(true).unwrap();
        }
        Chat {
            reader: BufReader::new(writer.duplicate()),
            writer,
            nick: String::new(),
        }
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send failed: {e}", self.nick));
    }

    /// The next line with its `\n`, exactly as sent.
    pub fn raw_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.ends_with(b"\n") => line,
            Ok(_) => panic!(
                "{}: connection closed; partial line {:?}",
                self.nick,
                String::from_utf8_lossy(&line)
            ),
            Err(e) => panic!("{}: no line within {WAIT:?}: {e}", self.nick),
        }
    }

    /// The next line without its `\n`; the server's lines are valid UTF-8.
    pub fn line(&mut self) -> String {
        let mut line = self.raw_line();
        line.pop();
        String::from_utf8(line).expect("the server sends UTF-8")
    }

    pub fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got the wrong line", self.nick);
    }

    /// Reads lines until one contains `text` (within [`WAIT`]) and returns it; the lines
    /// before it are skipped, but each must be valid UTF-8 too.
    pub fn expect_containing(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: no line with {text:?}",
                self.nick
            );
            let line = self.line();
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Reads until the server closes (EOF or reset), within [`WAIT`]. With
    /// `data_allowed` false, any byte before the end fails the test.
    pub fn expect_closed(&mut self, data_allowed: bool) {
        if data_allowed {
            crate::util::read_until_closed(&mut self.reader, WAIT, &self.nick);
        } else {
            crate::util::expect_closed(&mut self.reader, WAIT, &self.nick);
        }
    }

    /// Closes abruptly: SO_LINGER 0 turns the close into a TCP RST.
    pub fn reset(self) {
        let Chat { reader, writer, .. } = self;
        drop(reader);
        let socket = socket2::Socket::from(writer.into_tcp());
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
}

/// The `/who` line for these nicks.
pub fn who_line(nicks: &[String]) -> String {
    let mut sorted = nicks.to_vec();
    sorted.sort();
    format!("* online ({}): {}", sorted.len(), sorted.join(", "))
}

/// A TLS chat member: `sockserv client --tls` with piped stdin and stdout.
pub struct TlsMember {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub nick: String,
}

impl TlsMember {
    pub fn join(url: &str, ca: &Path) -> TlsMember {
        let mut child = sockserv()
            .args(["client", "--tls", "--ca", &ca.display().to_string(), url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sockserv client");
        let lines = lines_in_background(child.stdout.take().unwrap());
        let stdin = child.stdin.take().unwrap();
        let mut member = TlsMember {
            child,
            stdin,
            lines,
            nick: String::new(),
        };
        let welcome = member.line();
        member.nick = welcome
            .strip_prefix("* welcome, you are ")
            .unwrap_or_else(|| panic!("not a welcome line: {welcome:?}"))
            .to_owned();
        member
    }

    pub fn line(&mut self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("a chat line within WAIT")
    }

    pub fn say(&mut self, text: &str) {
        writeln!(self.stdin, "{text}").unwrap();
    }
}

impl Drop for TlsMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
