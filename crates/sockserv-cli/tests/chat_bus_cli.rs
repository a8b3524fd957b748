//! `sockserv chat --bus` delivery: lines across nodes exactly once in each sender's
//! order, through a Redis restart, in the bench and the metrics, whatever Redis holds.
//! Each test starts its own `redis-server` on a free port (skipped with a message when
//! absent, a failure under `SOCKSERV_REQUIRE_TOOLS=1`).

mod chat_bus_support;
mod chat_support;
#[path = "util/metrics.rs"]
mod metrics;
mod redis_support;
mod util;

use chat_bus_support::*;
use chat_support::*;
use redis_support::Redis;

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
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = util::json_report(&out);
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
    // Answered after the line before it was handled: the line is queued by then.
    a.send("/who");
    a.expect_containing("* online");
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

/// Redis answering nothing for a while (CLIENT PAUSE) does not hold up the node: its
/// members still hear each other at once, and the other node gets the line afterwards.
#[test]
fn a_stalled_redis_blocks_no_member() {
    const PAUSE: Duration = Duration::from_secs(6);
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let nodes = [node(&redis, "events:1"), node(&redis, "threads")];
    let mut a = Chat::join(&nodes[0].endpoints[0]);
    let mut a2 = Chat::join(&nodes[0].endpoints[0]);
    let mut b = Chat::join(&nodes[1].endpoints[0]);
    a.expect_containing(&format!("* {} joined", b.nick));
    a2.expect_containing(&format!("* {} joined", b.nick));

    redis.cli(&["CLIENT", "PAUSE", &PAUSE.as_millis().to_string()]);
    let paused = Instant::now();
    a.send("said while Redis stalls");
    a2.expect(&format!("{}: said while Redis stalls", a.nick));
    assert!(
        paused.elapsed() < PAUSE / 2,
        "a local line waited {:?} on a stalled Redis",
        paused.elapsed()
    );
    b.expect_containing(&format!("{}: said while Redis stalls", a.nick));
}
