//! Torture: hostile input — an endless line, a client that never reads, random bytes and
//! extreme datagrams. The bounds are explained in `torture_support`.

mod chat_support;
mod torture_support;
mod util;

use chat_support::Chat;
use torture_support::*;

/// A chat member floods one endless line (`--max-line 1024`) as fast as it can: at least
/// 20 MB, and on until the others have chatted (capped at 200 MB and 10 s). Bounds: it
/// gets `* error: line too long`; another member's line reaches a third within [`FRESH`] *while
/// the flood goes on* (under events the flooder shares a loop with the sender: a loop
/// that kept reading a peer as long as bytes were waiting would starve it); the server's
/// RSS grows by less than 10 MiB (buffering the line would cost 20+ MiB); its CPU stays
/// under one core on average; after the flood's newline the attacker's lines flow again.
/// Modes: threads, events:2, pool:8 (a member holds a worker; 3 members fit). Not
/// sequential (one member at a time cannot chat with anyone) and not fork (the chat
/// refuses it).
#[test]
fn endless_chat_line_is_dropped_without_buffering() {
    let _serial = serial();
    const AT_LEAST: usize = 20 * 1000 * 1000;
    const AT_MOST: usize = 200 * 1000 * 1000;
    for mode in ["threads", "events:2", "pool:8"] {
        let server = Server::start_mode("chat", mode, &["--max-line", "1024"]);
        let pid = server.pid();
        // Under events:2 connections go to the loops in turn: a and c share loop 0.
        let mut a = Chat::join(&server.endpoints[0]);
        let nick_a = a.nick.clone();
        let mut b = Chat::join(&server.endpoints[0]);
        let mut c = Chat::join(&server.endpoints[0]);
        let nick_c = c.nick.clone();
        a.expect_containing(&format!("* {nick_c} joined"));
        b.expect_containing(&format!("* {nick_c} joined"));
        let before = rss(pid);
        let meter = CpuMeter::start(pid);
        let mut writer = c.writer.duplicate();
        let chatted = Arc::new(AtomicBool::new(false));
        let flood = {
            let chatted = Arc::clone(&chatted);
            thread::spawn(move || {
                let chunk = vec![b'a'; 64 * 1024];
                let started = Instant::now();
                let mut sent = 0;
                while sent < AT_MOST
                    && started.elapsed() < Duration::from_secs(10)
                    && (sent < AT_LEAST || !chatted.load(Ordering::Acquire))
                {
                    writer.write_all(&chunk).expect("the flood is read");
                    sent += chunk.len();
                }
                writer.write_all(b"\nback to normal\n").unwrap();
                sent
            })
        };
        c.expect_containing("* error: line too long (max 1024 bytes)");
        // The flood goes on until the others have chatted (or a cap is hit): the error
        // must come while it does, not once the flooder pauses.
        assert!(
            !flood.is_finished(),
            "{mode}: the error came only after the flood (its replies were held back)"
        );
        // Others chat while the flood goes on.
        let sent_at = Instant::now();
        a.send("hello during the flood");
        let line = b.expect_containing(": ");
        let took = sent_at.elapsed();
        chatted.store(true, Ordering::Release);
        assert_eq!(
            line,
            format!("{nick_a}: hello during the flood"),
            "{mode}: the flood's end came first: the flooder starved the others"
        );
        assert!(
            took < FRESH,
            "{mode}: a chat line took {took:?} during the flood"
        );
        let mut peak = rss(pid);
        let deadline = Instant::now() + WAIT;
        while !flood.is_finished() {
            assert!(Instant::now() < deadline, "{mode}: flood did not finish");
            peak = peak.max(rss(pid));
            // Monitor pacing: sample the server's RSS while the flood runs.
            thread::sleep(Duration::from_millis(20));
        }
        let sent = flood.join().expect("flood writer");
        b.expect_containing(&format!("{nick_c}: back to normal"));
        let (used, wall) = meter.read();
        peak = peak.max(rss(pid));
        let what = format!("{mode}: a {sent}-byte line");
        assert_rss_growth_below(before, peak, 10 * MIB, &what);
        assert!(
            used < wall + 0.5,
            "{mode}: {used:.2} s CPU over {wall:.2} s for a {sent}-byte line"
        );
        b.send("/who");
        b.expect_containing("* online (3)");
        eprintln!(
            "{mode}: {} MB line dropped in {wall:.2} s ({used:.2} s CPU); a line got through in {took:?}; RSS {} -> {} MiB",
            sent / 1_000_000,
            before / MIB,
            peak / MIB
        );
    }
}

// ---------------------------------------------------------------------------------------
// A client that never reads
// ---------------------------------------------------------------------------------------

/// An echo client sends up to 50 MB and never reads (`--write-timeout 1s`). The server
/// must stop reading once its output backs up (events: the high-water mark; threads,
/// pool: the blocking write) and close the connection once its output has been stuck for
/// 1 s. Bounds: the attacker's writes fail (closed by the server) within 20 s having sent
/// less than the 50 MB; server RSS grows by under 64 MiB; fresh clients are echoed within
/// [`FRESH`] during the attack and after. Modes: threads, events:2, pool:8 (sequential would
/// serve nobody else during the 1 s, by design; fork:8 behaves as pool:8 in a child).
#[test]
fn client_that_never_reads_is_cut_off_by_the_write_timeout() {
    let _serial = serial();
    const TOTAL: usize = 50 * 1000 * 1000;
    for mode in ["threads", "events:2", "pool:8"] {
        let server = Server::start_mode("echo", mode, &["--write-timeout", "1s"]);
        let pid = server.pid();
        let before = rss(pid);
        let mut attacker = TcpStream::connect_timeout(&server.tcp_addr(), WAIT).unwrap();
        attacker.set_write_timeout(Some(WAIT)).unwrap();
        let started = Instant::now();
        let flood = thread::spawn(move || {
            let chunk = payload(64 * 1024);
            let mut sent = 0;
            while sent < TOTAL {
                match attacker.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) => return (sent, Some(e), started.elapsed()),
                }
            }
            (sent, None, started.elapsed())
        });
        let mut peak = rss(pid);
        let mut fresh_checks = 0;
        let deadline = Instant::now() + WAIT;
        while !flood.is_finished() {
            assert!(
                Instant::now() < deadline,
                "{mode}: the attacker was never cut off"
            );
            peak = peak.max(rss(pid));
            if fresh_checks < 2 {
                assert_fresh_client_served(&server, FRESH, &format!("{mode} during the flood"));
                fresh_checks += 1;
            }
            // Monitor pacing: sample the server's RSS while the attacker is connected.
            thread::sleep(Duration::from_millis(20));
        }
        let (sent, error, took) = flood.join().expect("flood writer");
        let error = error.unwrap_or_else(|| {
            panic!("{mode}: the server read all 50 MB from a client that never reads")
        });
        assert!(
            matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ),
            "{mode}: the attacker's write failed with {error} after {sent} bytes, {took:?}: \
             expected the server to close the connection"
        );
        peak = peak.max(rss(pid));
        assert_rss_growth_below(before, peak, 64 * MIB, mode);
        assert_fresh_client_served(&server, FRESH, &format!("{mode} after the flood"));
        eprintln!(
            "{mode}: non-reader cut off after {took:?}, {} MB accepted; RSS {} -> {} MiB",
            sent / 1_000_000,
            before / MIB,
            peak / MIB
        );
    }
}

// ---------------------------------------------------------------------------------------
// Random bytes
// ---------------------------------------------------------------------------------------

/// 256 KiB of random bytes (NULs, invalid UTF-8, every byte value) echoed back exactly in
/// every mode, over TCP; on UDP a 65,507-byte datagram (the IPv4 maximum) is echoed whole
/// and a zero-length one neither crashes the server nor gets a reply (the echo Session
/// writes nothing for it, and empty replies are not sent: we watch 300 ms for one), after
/// which a normal datagram is still echoed.
#[test]
fn random_bytes_and_extreme_datagrams_to_echo() {
    let _serial = serial();
    for mode in util::MODES {
        let server = Server::start(
            &[
                "echo",
                "-m",
                mode,
                "-l",
                "tcp://127.0.0.1:0",
                "-l",
                "udp://127.0.0.1:0",
            ],
            2,
        );
        let data = noise(256 * 1024, 0x5eed);
        let echoed = Client::connect(&server.endpoints[0]).echo_half_close(data.clone());
        assert!(echoed == data, "{mode}: random bytes came back different");

        let Endpoint::Udp(udp) = server.endpoints[1] else {
            panic!("second endpoint is UDP")
        };
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = vec![0; 65536];
        let huge = noise(65_507, 7);
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket.send_to(&huge, udp).expect("send 65,507 bytes");
        let (n, _) = socket
            .recv_from(&mut buf)
            .expect("reply to the huge datagram");
        assert_eq!(n, huge.len(), "{mode}: the huge datagram's echo was cut");
        assert!(buf[..n] == huge[..], "{mode}: huge datagram echoed wrong");

        socket.send_to(&[], udp).expect("send an empty datagram");
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => panic!("{mode}: an empty datagram got a {n}-byte reply"),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{mode}: {e}"
            ),
        }
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket.send_to(b"still there?", udp).unwrap();
        let (n, _) = socket
            .recv_from(&mut buf)
            .expect("reply after the empty one");
        assert_eq!(&buf[..n], b"still there?", "{mode}");
        let mut server = server;
        assert!(!server.has_exited(), "{mode}: the server died");
    }
}

/// A chat member sends 64 KiB of random bytes (NULs, invalid UTF-8, `\r`, short and
/// over-long lines); every line the others receive is valid UTF-8, the room still works
/// (`/who`), and the sender's next clean line arrives. Modes: threads, events:2, pool:8.
#[test]
fn random_bytes_to_chat() {
    let _serial = serial();
    for mode in ["threads", "events:2", "pool:8"] {
        let server = Server::start_mode("chat", mode, &["--max-line", "300"]);
        let mut a = Chat::join(&server.endpoints[0]);
        let nick_a = a.nick.clone();
        let mut b = Chat::join(&server.endpoints[0]);
        let nick_b = b.nick.clone();
        a.expect_containing(&format!("* {nick_b} joined"));
        for seed in 1..=4u64 {
            let mut junk = noise(16 * 1024, seed);
            // No "/quit" by accident: a '/' never starts a line here.
            for i in 0..junk.len() {
                if junk[i] == b'/' && (i == 0 || junk[i - 1] == b'\n') {
                    junk[i] = b'.';
                }
            }
            a.send_raw(&junk);
        }
        a.send_raw(b"\nclean line after the junk\n");
        // b.expect checks that every line before it is valid UTF-8.
        b.expect_containing(&format!("{nick_a}: clean line after the junk"));
        b.send("/who");
        b.expect_containing("* online (2)");
        a.send("/who");
        a.expect_containing("* online (2)");
    }
}
