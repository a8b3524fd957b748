//! `sockserv chat --bus` membership: nicks unique across nodes, a killed node's members
//! leaving, a restarted node rejoining, bad URLs, TLS/ACL/PROXY nodes, and the scaling
//! recipe behind HAProxy. Each test starts its own `redis-server` on a free port
//! (skipped with a message when absent, a failure under `SOCKSERV_REQUIRE_TOOLS=1`).

mod chat_bus_support;
mod chat_support;
mod haproxy_support;
mod redis_support;
mod util;

use chat_bus_support::*;
use chat_support::*;
use redis_support::Redis;

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
