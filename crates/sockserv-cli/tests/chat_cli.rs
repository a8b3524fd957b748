//! `sockserv chat` end to end: the protocol line by line, resets, shutdown, refusals, Unix
//! sockets and netcat as a client.

mod chat_support;
mod util;

use chat_support::*;

/// The protocol line by line.
#[test]
fn protocol_lines_are_exact() {
    for mode in ["threads", "events:1"] {
        let server = Server::start_mode("chat", mode, &[]);
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
        let server = Server::start_mode("chat", mode, &["--max-line", "16"]);
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
        let server = Server::start_mode("chat", mode, &[]);
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
        let mut server = Server::start_mode("chat", mode, &[]);
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
    let mut server = Server::start_mode_on("chat", "events:1", &url, &[]);
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
    fn connect(nc: &std::path::Path, endpoint: &Endpoint) -> Netcat {
        let addr = endpoint.socket_addr().expect("a TCP endpoint");
        let mut child = Command::new(nc)
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

/// Two real `nc` clients chat through the server over their stdin and stdout.
#[test]
fn two_netcat_clients_chat() {
    // OpenBSD's nc (`.ci/run` installs netcat-openbsd): `-h` succeeds.
    let Some(nc) = testkit::require_program("nc", &["-h"]) else {
        return;
    };
    let server = Server::start_mode("chat", "threads", &[]);
    let endpoint = &server.endpoints[0];
    let mut one = Netcat::connect(&nc, endpoint);
    one.expect("* welcome, you are guest1");
    let mut two = Netcat::connect(&nc, endpoint);
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

/// `--read-timeout 1s` with the idle timeout off: a member that only listens is closed
/// once it has sent nothing for a second, although another member's lines keep arriving
/// for it (so it is not idle); the talker stays, and hears that it left. The close event
/// says `timeout`.
#[test]
fn read_timeout_closes_a_member_that_only_listens() {
    for mode in ["threads", "events:1"] {
        let extra = ["--read-timeout", "1s", "--idle-timeout", "0", "-v"];
        let mut server = Server::start_mode("chat", mode, &extra);
        let endpoint = &server.endpoints[0];
        let mut listener = Chat::join(endpoint);
        let joined = Instant::now();
        let mut talker = Chat::join(endpoint);
        listener.expect(&format!("* {} joined", talker.nick));
        let stop = Arc::new(AtomicBool::new(false));
        let mut writer = talker.writer.duplicate();
        let talking = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                // Talker pacing: a line every 100 ms, for at most 20 s.
                for k in 0..200 {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    writer.write_all(format!("line {k}\n").as_bytes()).unwrap();
                    thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let mut heard = 0;
        loop {
            let mut line = Vec::new();
            match listener.reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => heard += 1,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{mode}: the listener was never closed: {e}"),
            }
        }
        let lived = joined.elapsed();
        assert!(
            lived >= Duration::from_millis(900),
            "{mode}: closed after {lived:?}"
        );
        assert!(heard >= 3, "{mode}: lines kept arriving ({heard})");
        talker.expect_containing(&format!("* {} left", listener.nick));
        stop.store(true, Ordering::Release);
        talking.join().expect("talker");
        let closed = server.wait_for_line("connection closed");
        assert!(closed.contains("reason=\"timeout\""), "{mode}: {closed}");
        talker.send("/who");
        talker.expect(&format!("* online (1): {}", talker.nick));
    }
}
