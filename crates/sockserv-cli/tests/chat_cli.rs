//! `sockserv chat` end to end: the real binary, real sockets, real signals.

mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use sockserv::Endpoint;
use util::{lines_in_background, run, wait_for_exit, Client, Server, WAIT};

/// Every mode a chat room runs in.
const CHAT_MODES: [&str; 4] = ["threads", "pool:128", "events:1", "events:2"];

/// One chat member: a line reader and a writer on the same connection, every read and
/// write bounded by [`WAIT`].
struct Chat {
    reader: BufReader<Client>,
    writer: Client,
    nick: String,
}

impl Chat {
    /// Connects and reads the welcome line. The server joins the room before it writes
    /// the welcome, so once this returns the member receives every later message.
    fn join(endpoint: &Endpoint) -> Chat {
        let mut chat = Chat::connect(endpoint);
        let welcome = chat.line();
        chat.nick = welcome
            .strip_prefix("* welcome, you are ")
            .unwrap_or_else(|| panic!("not a welcome line: {welcome:?}"))
            .to_owned();
        chat
    }

    /// Connects without reading anything.
    fn connect(endpoint: &Endpoint) -> Chat {
        let writer = Client::connect(endpoint);
        if let Client::Tcp(stream) = &writer {
            // Many small lines: do not let Nagle hold them back.
            stream.set_nodelay(true).unwrap();
        }
        Chat {
            reader: BufReader::new(writer.duplicate()),
            writer,
            nick: String::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send failed: {e}", self.nick));
    }

    /// The next line with its `\n`, exactly as sent.
    fn raw_line(&mut self) -> Vec<u8> {
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
    fn line(&mut self) -> String {
        let mut line = self.raw_line();
        line.pop();
        String::from_utf8(line).expect("the server sends UTF-8")
    }

    fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{} got the wrong line", self.nick);
    }

    /// Reads until the server closes (EOF or reset), within [`WAIT`]. With
    /// `data_allowed` false, any byte before the end fails the test.
    fn expect_closed(&mut self, data_allowed: bool) {
        let start = Instant::now();
        let mut buf = [0; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => assert!(
                    data_allowed,
                    "{}: expected the connection to close, got {:?}",
                    self.nick,
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("{}: not closed: {e}", self.nick),
            }
            assert!(start.elapsed() < WAIT, "{}: still open", self.nick);
        }
    }

    /// Closes abruptly: SO_LINGER 0 turns the close into a TCP RST.
    fn reset(self) {
        let Chat { reader, writer, .. } = self;
        drop(reader);
        let Client::Tcp(stream) = writer else {
            panic!("only TCP can be reset")
        };
        let socket = socket2::Socket::from(stream);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
}

fn start_chat(mode: &str, extra: &[&str]) -> Server {
    let mut args = vec!["chat", "--mode", mode, "--listen", "tcp://127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// The `/who` line for these nicks.
fn who_line(nicks: &[String]) -> String {
    let mut sorted = nicks.to_vec();
    sorted.sort();
    format!("* online ({}): {}", sorted.len(), sorted.join(", "))
}

/// 100 members each send 50 lines at once (threads released by a Barrier); everyone
/// gets every other member's 50 lines exactly once, in each sender's order, and none of
/// their own.
fn everyone_receives_everything_exactly_once(mode: &'static str) {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 50;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    let server = start_chat(mode, &[]);
    let endpoint = &server.endpoints[0];

    let mut members: Vec<Chat> = (0..CLIENTS).map(|_| Chat::join(endpoint)).collect();
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    // Nobody joins after the last member, so its next line is the answer to /who: all
    // 100 are in the room before anyone sends.
    let who = who_line(&nicks);
    let last = members.last_mut().unwrap();
    last.send("/who");
    last.expect(&who);

    let index: Arc<HashMap<String, usize>> = Arc::new(
        nicks
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect(),
    );
    let go = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(me, mut chat)| {
            let (index, go, who) = (Arc::clone(&index), Arc::clone(&go), who.clone());
            thread::spawn(move || {
                go.wait();
                for k in 0..MESSAGES {
                    chat.send(&format!("c{me} m{k}"));
                }
                let mut next = [0usize; CLIENTS];
                let mut joins = 0;
                let mut received = 0;
                while received < MESSAGES * (CLIENTS - 1) {
                    let line = chat.line();
                    assert!(Instant::now() < deadline, "{mode}: too slow at {line:?}");
                    if let Some(nick) = line
                        .strip_prefix("* ")
                        .and_then(|l| l.strip_suffix(" joined"))
                    {
                        // Only those who joined later, each once, and before any chat.
                        assert!(index[nick] > me, "{mode}: c{me} got {line:?}");
                        assert_eq!(received, 0, "{mode}: c{me} got {line:?} late");
                        joins += 1;
                        continue;
                    }
                    let (nick, text) = line
                        .split_once(": ")
                        .unwrap_or_else(|| panic!("{mode}: c{me} got {line:?}"));
                    let from = index[nick];
                    assert_ne!(from, me, "{mode}: c{me} got its own line {line:?}");
                    assert_eq!(
                        text,
                        format!("c{from} m{}", next[from]),
                        "{mode}: c{me}: lost, duplicated or reordered"
                    );
                    next[from] += 1;
                    received += 1;
                }
                assert_eq!(joins, CLIENTS - 1 - me, "{mode}: c{me}: join notices");
                // Everything meant for this member has come, so nothing more may: the
                // next line is the answer to /who. (No second barrier: a member that
                // failed must not leave the others waiting forever.)
                chat.send("/who");
                chat.expect(&who);
                chat
            })
        })
        .collect();
    let members: Vec<Chat> = threads
        .into_iter()
        .map(|t| t.join().expect("a member thread failed"))
        .collect();
    assert_eq!(members.len(), CLIENTS);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "{mode}: took {took:?}");
    eprintln!("{mode}: {CLIENTS} members x {MESSAGES} lines in {took:?}");
}

#[test]
fn threads_hundred_members_receive_everything_exactly_once() {
    everyone_receives_everything_exactly_once("threads");
}

#[test]
fn pool_hundred_members_receive_everything_exactly_once() {
    everyone_receives_everything_exactly_once("pool:128");
}

#[test]
fn events1_hundred_members_receive_everything_exactly_once() {
    everyone_receives_everything_exactly_once("events:1");
}

#[test]
fn events2_hundred_members_receive_everything_exactly_once() {
    everyone_receives_everything_exactly_once("events:2");
}

/// A member that stops reading while the room is flooded is dropped once 64 KiB wait
/// for it: the others get `* NICK left (too slow)` and keep getting everything at once;
/// the slow member's connection ends.
#[test]
fn a_member_that_stops_reading_is_dropped_without_slowing_the_others() {
    const BATCH: usize = 16;
    const MAX_BATCHES: usize = 4096; // 64 MiB: far more than any socket buffers hold
    for mode in CHAT_MODES {
        let server = start_chat(mode, &["--max-queue", "65536"]);
        let endpoint = &server.endpoints[0];
        let mut slow = Chat::join(endpoint);
        let mut sender = Chat::join(endpoint);
        let mut observer = Chat::join(endpoint);
        sender.expect(&format!("* {} joined", observer.nick));
        let dropped_notice = format!("* {} left (too slow)", slow.nick);
        let filler = "x".repeat(1000);

        // The sender floods in batches of 16 KiB; the observer reads each batch before
        // the next is sent, so only the slow member (which reads nothing) falls behind.
        let mut seq = 0;
        let mut dropped_at = None;
        for _ in 0..MAX_BATCHES {
            let batch: String = (seq..seq + BATCH)
                .map(|k| format!("flood {k} {filler}\n"))
                .collect();
            sender.send_raw(batch.as_bytes());
            let mut got = 0;
            while got < BATCH {
                let line = observer.line();
                if line == dropped_notice {
                    assert!(dropped_at.is_none(), "{mode}: the notice came twice");
                    dropped_at = Some(Instant::now());
                    continue;
                }
                let expected = format!("{}: flood {seq} {filler}", sender.nick);
                assert!(line == expected, "{mode}: observer lost flood line {seq}");
                seq += 1;
                got += 1;
            }
            if dropped_at.is_some() {
                break;
            }
        }
        let dropped_at =
            dropped_at.unwrap_or_else(|| panic!("{mode}: the slow member was never dropped"));

        // The sender was told too, and the room goes on at full speed.
        sender.expect(&dropped_notice);
        let after: String = (0..100).map(|k| format!("after {k}\n")).collect();
        sender.send_raw(after.as_bytes());
        for k in 0..100 {
            observer.expect(&format!("{}: after {k}", sender.nick));
        }
        let took = dropped_at.elapsed();
        assert!(took < Duration::from_secs(5), "{mode}: took {took:?}");
        observer.send("/who");
        observer.expect(&who_line(&[sender.nick.clone(), observer.nick.clone()]));

        // What was already in the slow member's socket buffers arrives, then the end.
        slow.expect_closed(true);
        eprintln!("{mode}: slow member dropped after {seq} flood lines of ~1 KiB");
    }
}

/// A member that sends as fast as it can and never reads (its own `/help` answers pile
/// up) is dropped; the others see its lines in order, the notice, and chat on.
///
/// Each round is one chat line and four `/help`s (30 bytes in): a server read of up to
/// 64 KiB then queues at most ~33 KiB for each other member, below `--max-queue`, while
/// the flooder's own answers (760 bytes a round) pass it at once.
#[test]
fn a_flooding_member_that_never_reads_is_dropped_without_hurting_the_others() {
    const ROUNDS: usize = 10; // rounds per write: 300 bytes
    const MAX_WRITES: usize = 400_000; // 120 MB sent at most: far past any socket buffers
    for mode in CHAT_MODES {
        let server = start_chat(mode, &["--max-queue", "65536"]);
        let endpoint = &server.endpoints[0];
        let mut flooder = Chat::join(endpoint);
        let mut first = Chat::join(endpoint);
        let second = Chat::join(endpoint);
        first.expect(&format!("* {} joined", second.nick));
        let flooder_nick = flooder.nick.clone();
        let notice = format!("* {flooder_nick} left (too slow)");

        let observe = |mut chat: Chat| {
            let (flooder_nick, notice) = (flooder_nick.clone(), notice.clone());
            thread::spawn(move || {
                let mut next = 0;
                loop {
                    let line = chat.line();
                    if line == notice {
                        return (chat, next);
                    }
                    assert_eq!(line, format!("{flooder_nick}: f{next}"));
                    next += 1;
                }
            })
        };
        let first_thread = observe(first);
        let second_thread = observe(second);

        let stop = Arc::new(AtomicBool::new(false));
        let stop_flood = Arc::clone(&stop);
        let flood = thread::spawn(move || {
            let mut k = 0;
            for _ in 0..MAX_WRITES {
                if stop_flood.load(Ordering::Relaxed) {
                    break;
                }
                let chunk: String = (k..k + ROUNDS)
                    .map(|k| format!("f{k}\n/help\n/help\n/help\n/help\n"))
                    .collect();
                k += ROUNDS;
                // The server drops us and closes: the write fails (reset or broken pipe).
                if flooder.writer.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
            flooder
        });

        let (mut first, first_count) = first_thread.join().expect("first observer");
        let (mut second, second_count) = second_thread.join().expect("second observer");
        stop.store(true, Ordering::Relaxed);
        let mut flooder = flood.join().expect("flood thread");
        assert_eq!(first_count, second_count, "{mode}: both saw the same lines");
        assert!(first_count > 0, "{mode}: the flood reached the others");

        first.send("still here");
        second.expect(&format!("{}: still here", first.nick));
        second.send("/who");
        second.expect(&who_line(&[first.nick.clone(), second.nick.clone()]));
        flooder.expect_closed(true);
        eprintln!("{mode}: flooder dropped after {first_count} lines");
    }
}

/// The protocol line by line.
#[test]
fn protocol_lines_are_exact() {
    for mode in ["threads", "events:1"] {
        let server = start_chat(mode, &[]);
        let endpoint = &server.endpoints[0];
        let mut a = Chat::connect(endpoint);
        a.expect("* welcome, you are guest1");
        a.nick = "guest1".into();
        let mut b = Chat::connect(endpoint);
        b.expect("* welcome, you are guest2");
        b.nick = "guest2".into();
        a.expect("* guest2 joined");

        // Plain lines go to everyone else, never back; CRLF and LF both end a line;
        // empty lines are ignored.
        a.send("hello");
        b.expect("guest1: hello");
        a.send_raw(b"\n\r\n\ncrlf line\r\n");
        assert_eq!(b.raw_line(), b"guest1: crlf line\n");

        // /nick: valid, taken (also your own), invalid, 33 chars; 32 is fine.
        a.send("/nick alice");
        a.expect("* guest1 is now alice");
        b.expect("* guest1 is now alice");
        b.send("/nick alice");
        b.expect("* error: nick alice is taken");
        a.send("/nick alice");
        a.expect("* error: nick alice is taken");
        for bad in ["/nick bad!", "/nick", "/nick two words", "/nick caf\u{e9}"] {
            b.send(bad);
            b.expect("* error: invalid nick");
        }
        let long = "b".repeat(33);
        b.send(&format!("/nick {long}"));
        b.expect("* error: invalid nick");
        let longest = format!("B-_9{}", "b".repeat(28));
        b.send(&format!("/nick {longest}"));
        b.expect(&format!("* guest2 is now {longest}"));
        a.expect(&format!("* guest2 is now {longest}"));
        b.send("/nick bob");
        b.expect(&format!("* {longest} is now bob"));
        a.expect(&format!("* {longest} is now bob"));
        a.nick = "alice".into();
        b.nick = "bob".into();

        // /who: sorted (case-sensitive byte order), with the count.
        let mut c = Chat::join(endpoint);
        assert_eq!(c.nick, "guest3");
        a.expect("* guest3 joined");
        b.expect("* guest3 joined");
        c.send("/nick Zed");
        for chat in [&mut a, &mut b, &mut c] {
            chat.expect("* guest3 is now Zed");
        }
        c.nick = "Zed".into();
        b.send("/who");
        b.expect("* online (3): Zed, alice, bob");

        // /me, and /me without text.
        a.send("/me waves");
        b.expect("* alice waves");
        c.expect("* alice waves");
        a.send("/me");
        a.expect("* error: usage: /me TEXT");

        // /help: every line a notice; unknown commands are errors.
        a.send("/help");
        let help: Vec<String> = (0..6).map(|_| a.line()).collect();
        assert_eq!(help[0], "* commands:");
        for line in &help {
            assert!(line.starts_with("* "), "{line:?}");
        }
        for command in ["/nick", "/who", "/me", "/quit", "/help"] {
            assert!(help.iter().any(|l| l.contains(command)), "{help:?}");
        }
        a.send("/frobnicate now");
        a.expect("* error: unknown command /frobnicate");

        // Invalid UTF-8 becomes U+FFFD; the server lives on.
        a.send_raw(b"caf\xff \xc3\n");
        let expected = "alice: caf\u{fffd} \u{fffd}\n";
        assert_eq!(b.raw_line(), expected.as_bytes());
        assert_eq!(c.raw_line(), expected.as_bytes());

        // /quit: the quitter's connection closes; the others are told.
        c.send("/quit");
        c.expect_closed(false);
        a.expect("* Zed left");
        b.expect("* Zed left");

        // Nothing stray is left in anyone's stream: everything above was exact.
        a.send("last");
        b.expect("alice: last");
        b.send("/who");
        b.expect("* online (2): alice, bob");
    }
}

/// `--max-line 16`: a longer line is refused with an error, the sender stays and chats.
#[test]
fn an_over_long_line_is_refused_and_the_sender_stays() {
    for mode in ["threads", "events:2"] {
        let server = start_chat(mode, &["--max-line", "16"]);
        let endpoint = &server.endpoints[0];
        let mut a = Chat::join(endpoint);
        let mut b = Chat::join(endpoint);
        a.expect(&format!("* {} joined", b.nick));

        a.send(&"x".repeat(17));
        a.expect("* error: line too long (max 16 bytes)");
        // Far longer, in pieces: refused once, never buffered whole.
        a.send_raw("y".repeat(5000).as_bytes());
        a.send_raw(format!("{}\n", "y".repeat(5000)).as_bytes());
        a.expect("* error: line too long (max 16 bytes)");
        // Exactly 16 bytes passes, with LF or CRLF.
        let sixteen = "0123456789abcdef";
        a.send(sixteen);
        a.send_raw(format!("{sixteen}\r\n").as_bytes());
        b.expect(&format!("{}: {sixteen}", a.nick));
        b.expect(&format!("{}: {sixteen}", a.nick));
        a.send("/who");
        a.expect(&who_line(&[a.nick.clone(), b.nick.clone()]));
    }
}

/// A member that resets its connection in the middle of a line: the others get
/// `* NICK left` (and not the half line), and the room goes on.
#[test]
fn an_abrupt_reset_mid_line_is_a_leave() {
    for mode in CHAT_MODES {
        let server = start_chat(mode, &[]);
        let endpoint = &server.endpoints[0];
        let mut a = Chat::join(endpoint);
        let mut b = Chat::join(endpoint);
        a.expect(&format!("* {} joined", b.nick));

        b.send_raw(b"half a mess");
        let b_nick = b.nick.clone();
        b.reset();
        a.expect(&format!("* {b_nick} left"));

        let mut c = Chat::join(endpoint);
        a.expect(&format!("* {} joined", c.nick));
        c.send("still serving");
        a.expect(&format!("{}: still serving", c.nick));
        a.send("/who");
        a.expect(&who_line(&[a.nick.clone(), c.nick.clone()]));
    }
}

/// SIGTERM: every member gets `* server shutting down`, then EOF; the process exits 0.
#[test]
fn sigterm_says_goodbye_to_every_member_and_exits_zero() {
    for mode in CHAT_MODES {
        let mut server = start_chat(mode, &[]);
        let endpoint = server.endpoints[0].clone();
        let mut members: Vec<Chat> = (0..3).map(|_| Chat::join(&endpoint)).collect();
        // Everyone has joined (the welcome comes after the join).
        server.signal("TERM");
        for (i, chat) in members.iter_mut().enumerate() {
            // Only the later members' join notices may come first.
            for _ in i + 1..3 {
                let line = chat.line();
                assert!(line.ends_with(" joined"), "{mode}: {line:?}");
            }
            chat.expect("* server shutting down");
            chat.expect_closed(false);
        }
        let status = server.wait(WAIT);
        assert!(status.success(), "{mode}: exit status {status}");
    }
}

/// fork and datagram endpoints are refused with one line saying why.
#[test]
fn fork_mode_and_datagram_endpoints_are_refused() {
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &["chat", "--mode", "fork", "-l", "tcp://127.0.0.1:0"],
            &["fork"],
        ),
        (
            &["chat", "--mode", "fork:4", "-l", "tcp://127.0.0.1:0"],
            &["fork"],
        ),
        (
            &["chat", "--listen", "udp://127.0.0.1:0"],
            &["udp://127.0.0.1:0", "stream"],
        ),
    ];
    for (args, words) in cases {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr:?}");
        assert!(lines[0].starts_with("sockserv: error: "), "{stderr:?}");
        for word in words {
            assert!(
                lines[0].contains(word),
                "{args:?}: names {word}: {stderr:?}"
            );
        }
        assert!(
            !stderr.contains("listening on"),
            "{args:?}: nothing was served"
        );
    }
}

/// A chat over a Unix socket.
#[test]
fn chat_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.sock");
    let url = format!("unix:{}", path.display());
    let mut server = Server::start(&["chat", "-m", "events:1", "-l", &url], 1);
    let endpoint = server.endpoints[0].clone();
    assert_eq!(endpoint.scheme(), "unix");
    let mut a = Chat::join(&endpoint);
    let mut b = Chat::join(&endpoint);
    a.expect(&format!("* {} joined", b.nick));
    a.send("over unix");
    b.expect(&format!("{}: over unix", a.nick));
    b.send("/me nods");
    a.expect(&format!("* {} nods", b.nick));
    b.send("/quit");
    b.expect_closed(false);
    a.expect(&format!("* {} left", b.nick));
    server.signal("INT");
    a.expect("* server shutting down");
    a.expect_closed(false);
    assert!(server.wait(WAIT).success());
    assert!(!path.exists(), "the socket file is removed");
}

/// An `nc` process: its stdin to write, its stdout as lines.
struct Netcat {
    child: Child,
    lines: Receiver<String>,
}

impl Netcat {
    fn connect(endpoint: &Endpoint) -> Netcat {
        let addr = endpoint.socket_addr().expect("a TCP endpoint");
        let mut child = Command::new("nc")
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nc");
        let lines = lines_in_background(child.stdout.take().unwrap());
        Netcat { child, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn expect(&mut self, expected: &str) {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("nc: no line {expected:?} within {WAIT:?}: {e}"));
        assert_eq!(line, expected);
    }
}

impl Drop for Netcat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Two real `nc` clients chat through the server over their stdin and stdout.
#[test]
fn two_netcat_clients_chat() {
    if !on_path("nc") {
        eprintln!("skipped: nc is not on PATH");
        return;
    }
    let server = start_chat("threads", &[]);
    let endpoint = &server.endpoints[0];
    let mut one = Netcat::connect(endpoint);
    one.expect("* welcome, you are guest1");
    let mut two = Netcat::connect(endpoint);
    two.expect("* welcome, you are guest2");
    one.expect("* guest2 joined");

    one.send("hello from nc one");
    two.expect("guest1: hello from nc one");
    two.send("/nick two");
    two.expect("* guest2 is now two");
    one.expect("* guest2 is now two");
    two.send("hi one");
    one.expect("two: hi one");
    one.send("/who");
    one.expect("* online (2): guest1, two");

    // /quit closes the connection; nc exits once both the server and its stdin are done.
    one.send("/quit");
    two.expect("* guest1 left");
    drop(one.child.stdin.take());
    let status = wait_for_exit(&mut one.child, WAIT);
    assert!(status.success(), "nc exit status {status}");
    assert!(one.lines.recv_timeout(WAIT).is_err(), "nothing after /quit");
}
