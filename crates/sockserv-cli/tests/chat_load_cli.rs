//! `sockserv chat` under load: 100 members at once, a member that stops reading, a
//! member that floods — in every mode that runs a chat.

mod chat_support;
#[path = "util/metrics.rs"]
#[allow(dead_code)] // only the scrape and one sample here
mod metrics;
mod util;

use chat_support::*;
use metrics::{metrics_addr, sample, scrape};

/// 100 members each send 50 lines at once (threads released by a Barrier); everyone
/// gets every other member's 50 lines exactly once, in each sender's order, and none of
/// their own. One at a time (testkit::serial): four of these at once on a 2-core machine
/// would measure the machine, not the server.
fn everyone_receives_everything_exactly_once(mode: &'static str) {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 50;
    let _serial = util::serial();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    let server = Server::start_mode("chat", mode, &[]);
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
/// the slow member's connection ends, and `sockserv_chat_dropped_total` counts it.
#[test]
fn a_member_that_stops_reading_is_dropped_without_slowing_the_others() {
    const BATCH: usize = 16;
    const MAX_BATCHES: usize = 4096; // 64 MiB: far more than any socket buffers hold
    for mode in CHAT_MODES {
        let extra = ["--max-queue", "65536", "--metrics", "127.0.0.1:0"];
        let server = Server::start_mode("chat", mode, &extra);
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

        // The sender was told too, and the counter (counted before the notice) says so.
        sender.expect(&dropped_notice);
        let page = scrape(metrics_addr(&server));
        assert_eq!(sample(&page, "sockserv_chat_dropped_total"), 1, "{mode}");
        // The room goes on.
        let after: String = (0..100).map(|k| format!("after {k}\n")).collect();
        sender.send_raw(after.as_bytes());
        for k in 0..100 {
            observer.expect(&format!("{}: after {k}", sender.nick));
        }
        // How fast is for the benchmarks; here only that the others were served.
        let took = dropped_at.elapsed();
        observer.send("/who");
        observer.expect(&who_line(&[sender.nick.clone(), observer.nick.clone()]));

        // What was already in the slow member's socket buffers arrives, then the end.
        slow.expect_closed(true);
        eprintln!("{mode}: slow member dropped after {seq} flood lines of ~1 KiB; the room went on {took:?} later");
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
        let extra = ["--max-queue", "65536", "--metrics", "127.0.0.1:0"];
        let server = Server::start_mode("chat", mode, &extra);
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
        let page = scrape(metrics_addr(&server));
        assert_eq!(sample(&page, "sockserv_chat_dropped_total"), 1, "{mode}");
        eprintln!("{mode}: flooder dropped after {first_count} lines");
    }
}
