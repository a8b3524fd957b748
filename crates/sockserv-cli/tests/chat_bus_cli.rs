//! `sockserv chat --bus`: one room over several nodes through a real `redis-server`
//! (started by each test on a free port; skipped with a message when absent, a failure
//! under `SOCKSERV_REQUIRE_TOOLS=1`).

mod chat_support;
mod haproxy_support;
#[path = "util/metrics.rs"]
mod metrics;
mod redis_support;
mod util;

use std::ops::Range;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use chat_support::*;
use redis_support::Redis;
use util::Client;

const LINK_LOST: &str = "* link to the other nodes lost";
const LINK_BACK: &str = "* link to the other nodes is back";

/// A chat node on `redis`, listening on a free port.
fn node(redis: &Redis, mode: &str) -> Server {
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
struct Traffic {
    writers: Vec<Client>,
    notices: Vec<Receiver<String>>,
    readers: Vec<JoinHandle<Result<(), String>>>,
}

impl Traffic {
    /// `per_node` members on each endpoint, each to send `lines` lines in all.
    fn start(endpoints: &[&Endpoint], per_node: usize, lines: usize) -> Traffic {
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
    fn send(&mut self, range: Range<usize>) {
        for (i, writer) in self.writers.iter_mut().enumerate() {
            let batch: String = range.clone().map(|n| format!("m{i} {n}\n")).collect();
            writer.write_all(batch.as_bytes()).expect("send lines");
        }
    }

    /// Waits until every member has been told a notice starting with `prefix`.
    fn wait_for_notice(&self, prefix: &str) {
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
    fn finish(self) {
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
fn nick_answer(chat: &mut Chat, new: &str) -> bool {
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

#[test]
fn three_nodes_deliver_every_line_exactly_once_in_each_senders_order() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    // Each node in another mode: the bus works under every mode chat supports.
    let nodes = [
        node(&redis, "threads"),
        node(&redis, "events:2"),
        node(&redis, "pool:16"),
    ];
    let endpoints: Vec<&Endpoint> = nodes.iter().map(|n| &n.endpoints[0]).collect();
    let mut traffic = Traffic::start(&endpoints, 3, 300);
    traffic.send(0..300);
    traffic.finish();
}

#[test]
fn redis_stopped_and_restarted_mid_run_loses_and_doubles_nothing() {
    let Some(mut redis) = Redis::start(true) else {
        return;
    };
    let nodes = [
        node(&redis, "threads"),
        node(&redis, "events:1"),
        node(&redis, "threads"),
    ];
    let endpoints: Vec<&Endpoint> = nodes.iter().map(|n| &n.endpoints[0]).collect();
    let mut traffic = Traffic::start(&endpoints, 2, 300);
    traffic.send(0..100);
    redis.stop();
    let stopped = Instant::now();
    traffic.wait_for_notice(LINK_LOST);
    // While Redis is away: local members still hear each other; the rest is queued.
    traffic.send(100..200);
    // The outage lasts about 2 s (the scenario's length, not a synchronisation).
    thread::sleep(Duration::from_secs(2).saturating_sub(stopped.elapsed()));
    redis.restart();
    traffic.wait_for_notice(LINK_BACK);
    traffic.send(200..300);
    traffic.finish();
}

#[test]
fn a_killed_node_leaves_who_on_the_others_announced_as_leaving() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let survivor = node(&redis, "threads");
    let victim = node(&redis, "events:1");
    let mut a = Chat::join(&survivor.endpoints[0]);
    let mut b = Chat::join(&victim.endpoints[0]);
    a.expect_containing(&format!("* {} joined", b.nick));
    b.send("/nick doomed");
    assert!(nick_answer(&mut b, "doomed"));
    a.expect_containing("is now doomed");
    a.send("/who");
    a.expect(&who_line(&[a.nick.clone(), "doomed".into()]));

    victim.signal("KILL");
    let killed = Instant::now();
    a.expect_containing("* doomed left");
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "the dead node's member left only after {:?}",
        killed.elapsed()
    );
    a.send("/who");
    a.expect(&who_line(&[a.nick.clone()]));
    drop(b);
}

#[test]
fn nicks_are_unique_across_nodes() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let one = node(&redis, "threads");
    let two = node(&redis, "events:2");
    let mut a = Chat::join(&one.endpoints[0]);
    let mut b = Chat::join(&two.endpoints[0]);
    a.send("/nick alice");
    assert!(nick_answer(&mut a, "alice"));
    b.expect_containing("is now alice");
    b.send("/nick alice");
    assert!(!nick_answer(&mut b, "alice"));

    // Two members on two nodes ask for the same nick at once: exactly one gets it.
    let mut others = Vec::new();
    for round in 0..5 {
        let mut c = Chat::join(&one.endpoints[0]);
        let mut d = Chat::join(&two.endpoints[0]);
        let nick = format!("bob{round}");
        c.send(&format!("/nick {nick}"));
        d.send(&format!("/nick {nick}"));
        let (c_won, d_won) = (nick_answer(&mut c, &nick), nick_answer(&mut d, &nick));
        assert!(c_won != d_won, "round {round}: both or neither got {nick}");
        others.extend([c, d]);
    }

    // Each node has heard everything the other said (a line each way, after it all),
    // so both list every node's members, the same way.
    a.send("sync from one");
    b.expect_containing("sync from one");
    b.send("sync from two");
    a.expect_containing("sync from two");
    a.send("/who");
    b.send("/who");
    let (who_a, who_b) = (
        a.expect_containing("* online"),
        b.expect_containing("* online"),
    );
    assert_eq!(who_a, who_b);
    assert!(who_a.starts_with("* online (12): "), "{who_a}");
    assert!(
        who_a.contains("alice") && who_a.contains(&b.nick),
        "{who_a}"
    );
}

#[test]
fn a_restarted_node_rejoins_the_room() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let stays = node(&redis, "threads");
    let mut restarts = node(&redis, "threads");
    let mut a = Chat::join(&stays.endpoints[0]);
    let b = Chat::join(&restarts.endpoints[0]);
    a.expect_containing(&format!("* {} joined", b.nick));

    restarts.signal("TERM");
    assert!(restarts.wait(WAIT).success());
    a.expect_containing(&format!("* {} left", b.nick));

    let again = node(&redis, "events:1");
    let mut c = Chat::join(&again.endpoints[0]);
    a.expect_containing(&format!("* {} joined", c.nick));
    c.send("back again");
    a.expect(&format!("{}: back again", c.nick));
    a.send("welcome back");
    c.expect_containing(&format!("{}: welcome back", a.nick));
    c.send("/who");
    c.expect(&who_line(&[a.nick.clone(), c.nick.clone()]));
}

#[test]
fn an_unreachable_or_malformed_bus_is_a_one_line_error() {
    // Port 1 on loopback: nothing listens there.
    let out = run(&[
        "chat",
        "--listen",
        "tcp://127.0.0.1:0",
        "--bus",
        "redis://127.0.0.1:1",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sockserv: error: cannot reach Redis at redis://127.0.0.1:1"),
        "{stderr}"
    );

    let out = run(&["chat", "--bus", "http://127.0.0.1:6379"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected redis://HOST:PORT[/DB]"));
    let out = run(&[
        "chat",
        "--bus",
        "redis://127.0.0.1:6379",
        "--room",
        "no spaces",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["chat", "--room", "lobby"]);
    assert_eq!(out.status.code(), Some(2), "--room needs --bus");
}

#[test]
fn tls_acl_and_proxy_nodes_share_one_room() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let url = redis.url();
    let certs = testkit::Certs::generate();
    let (cert, key) = (certs.arg("cert.pem"), certs.arg("key.pem"));
    let tls = Server::start(
        &[
            "chat",
            "-l",
            "tcp://127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--bus",
            &url,
        ],
        1,
    );
    let behind_proxy = Server::start(
        &[
            "chat",
            "--mode",
            "events:1",
            "-l",
            "tcp://127.0.0.1:0",
            "--proxy-protocol",
            "--allow",
            "198.51.100.0/24",
            "--bus",
            &url,
        ],
        1,
    );
    let mut alice = TlsMember::join(&tls.endpoints[0].to_string(), &certs.path("ca.pem"));
    let proxied = &behind_proxy.endpoints[0];
    let mut bob = Chat::join_after(
        proxied,
        b"PROXY TCP4 198.51.100.8 203.0.113.1 5555 9000\r\n",
    );
    let joined = format!("* {} joined", bob.nick);
    let deadline = Instant::now() + WAIT;
    while alice.line() != joined {
        assert!(Instant::now() < deadline, "alice never heard {joined:?}");
    }
    bob.send("hello over the bus");
    assert_eq!(alice.line(), format!("{}: hello over the bus", bob.nick));
    alice.say("hi through the proxy");
    bob.expect_containing(&format!("{}: hi through the proxy", alice.nick));

    // The access list still applies to the address in the PROXY header.
    let mut denied = Chat::connect(proxied);
    denied.send_raw(b"PROXY TCP4 203.0.113.9 203.0.113.1 5555 9000\r\n");
    denied.expect_closed(false);
}

#[test]
fn bench_chat_times_and_counts_every_receipt_across_nodes() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let nodes = [node(&redis, "events:1"), node(&redis, "threads")];
    let (first, second) = (
        nodes[0].endpoints[0].to_string(),
        nodes[1].endpoints[0].to_string(),
    );
    let out = run(&[
        "bench",
        &first,
        "--chat",
        "--node",
        &second,
        "--conns",
        "6",
        "--rate",
        "20",
        "--duration",
        "500ms",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(report["joined"], 6);
    let sent = report["sent"].as_u64().unwrap();
    assert!(sent >= 6, "{report}");
    // Every line at each of the 5 other members, in order.
    assert_eq!(report["expected"].as_u64(), Some(sent * 5));
    assert_eq!(report["delivered"], report["expected"]);
    assert_eq!(report["misordered"], 0);
    let cross = &report["latency_us"]["cross_node"];
    assert!(cross["p50"].as_u64().unwrap() > 0, "{report}");
}

/// docs/scaling.md's recipe, with docs/haproxy-chat.cfg as shipped (its addresses
/// replaced): members that HAProxy spreads over three nodes are one room.
#[test]
fn the_scaling_recipe_haproxy_three_nodes_one_redis_is_one_room() {
    use haproxy_support::{inheritable_listener, replace_once, Haproxy};
    use std::os::fd::AsRawFd;
    const CONFIG: &str = include_str!("../../../docs/haproxy-chat.cfg");

    let Some(binary) = testkit::require_program("haproxy", &["-v"]) else {
        return;
    };
    let Some(redis) = Redis::start(true) else {
        return;
    };
    let url = redis.url();
    let nodes: Vec<Server> = (0..3)
        .map(|_| {
            Server::start(
                &[
                    "chat",
                    "--listen",
                    "tcp://127.0.0.1:0",
                    "--mode",
                    "events",
                    "--proxy-protocol",
                    "--bus",
                    &url,
                ],
                1,
            )
        })
        .collect();
    let (front_socket, front) = inheritable_listener();
    let mut config = replace_once(
        CONFIG,
        "bind 127.0.0.1:9000",
        &format!("bind fd@{}", front_socket.as_raw_fd()),
    );
    for (i, node) in nodes.iter().enumerate() {
        let name = format!("server n{} 127.0.0.1:900{}", i + 1, i + 1);
        let port = node.tcp_addr().port();
        config = replace_once(
            &config,
            &name,
            &format!("server n{} 127.0.0.1:{port}", i + 1),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haproxy-chat.cfg");
    std::fs::write(&path, config).unwrap();
    let _haproxy = Haproxy::start(&binary, &path);
    drop(front_socket);

    // Six members through HAProxy (leastconn: two per node), joined in turn.
    let front = Endpoint::Tcp(front);
    let mut members: Vec<Chat> = Vec::new();
    for _ in 0..6 {
        let member = Chat::join(&front);
        for earlier in &mut members {
            earlier.expect_containing(&format!("* {} joined", member.nick));
        }
        members.push(member);
    }
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    members[0].send("hello, everyone");
    for member in &mut members[1..] {
        member.expect(&format!("{}: hello, everyone", nicks[0]));
    }
    members[5].send("/who");
    members[5].expect(&who_line(&nicks));
}

#[test]
fn garbage_in_redis_never_crashes_a_node() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let nodes = [node(&redis, "threads"), node(&redis, "events:1")];
    let mut a = Chat::join(&nodes[0].endpoints[0]);
    let mut b = Chat::join(&nodes[1].endpoints[0]);
    a.expect_containing(&format!("* {} joined", b.nick));
    let stream = "sockserv:chat:{lobby}:stream";
    // Entries no node wrote, a heartbeat that is not a number, a name of no live node.
    redis.cli(&["XADD", stream, "*", "foo", "bar"]);
    redis.cli(&["XADD", stream, "*", "node", "x", "seq", "nope", "line", "y"]);
    redis.cli(&[
        "XADD", stream, "*", "node", "x", "seq", "1", "line", "", "change", "exploded",
    ]);
    redis.cli(&[
        "HSET",
        "sockserv:chat:{lobby}:nodes",
        "ghost",
        "not-a-number",
    ]);
    redis.cli(&["HSET", "sockserv:chat:{lobby}:names", "casper", "ghost"]);
    a.send("still here");
    // (b may hear of a's join first: a joined on another node just before b did.)
    b.expect_containing(&format!("{}: still here", a.nick));
    b.send("me too");
    a.expect(&format!("{}: me too", b.nick));
    // The ghost node is reaped like a dead one: its name leaves, announced once.
    a.expect_containing("* casper left");
    b.expect_containing("* casper left");
    a.send("/who");
    a.expect(&who_line(&[a.nick.clone(), b.nick.clone()]));
    for node in &nodes {
        assert!(node.stderr.iter().all(|l| !l.contains("panicked")));
    }
}

#[test]
fn the_bus_is_in_the_metrics_connected_counted_and_lost() {
    let Some(mut redis) = Redis::start(false) else {
        return;
    };
    let url = redis.url();
    let watched = Server::start(
        &[
            "chat",
            "-l",
            "tcp://127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--bus",
            &url,
        ],
        1,
    );
    let addr = metrics::metrics_addr(&watched);
    let other = node(&redis, "threads");
    let mut a = Chat::join(&watched.endpoints[0]);
    let mut b = Chat::join(&other.endpoints[0]);
    a.expect_containing(&format!("* {} joined", b.nick));
    for line in ["one", "two"] {
        b.send(line);
        a.expect(&format!("{}: {line}", b.nick));
    }
    let page = metrics::scrape(addr);
    // Delivered here: b's join and two lines, each once.
    metrics::assert_samples(
        &page,
        &[
            ("sockserv_chat_bus_connected", 1),
            ("sockserv_chat_bus_delivered_total", 3),
            ("sockserv_chat_bus_disconnects_total", 0),
            ("sockserv_chat_bus_refused_total", 0),
        ],
        "link up",
    );
    assert!(page.contains("\nsockserv_chat_bus_lag_seconds "), "{page}");

    redis.stop();
    a.expect_containing(LINK_LOST);
    a.send("while away");
    let page = metrics::scrape(addr);
    metrics::assert_samples(
        &page,
        &[
            ("sockserv_chat_bus_connected", 0),
            ("sockserv_chat_bus_disconnects_total", 1),
        ],
        "link down",
    );
    assert!(
        metrics::sample(&page, "sockserv_chat_bus_queued") >= 1,
        "{page}"
    );
}
