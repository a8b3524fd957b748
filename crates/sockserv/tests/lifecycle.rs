//! Server lifecycle: CPython #13, #14, #16 and A1–A6, A9 (shutdown, serve again,
//! handle_one, tick, close and its policies, drop).

mod util;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use sockserv::report::{CloseReport, Outcome};
use sockserv::{ClosePolicy, Conn, Endpoint, Server, ShutdownHandle, Strategy};
use util::{Client, Serving, Transport, WAIT};

/// A handler that counts its calls, then echoes one line.
fn counting(calls: &Arc<AtomicUsize>) -> impl Fn(&mut Conn) -> io::Result<()> {
    let calls = Arc::clone(calls);
    move |conn: &mut Conn| {
        calls.fetch_add(1, Ordering::SeqCst);
        util::echo_line(conn)
    }
}

/// A client that connects once `server` has stopped serving waits in the backlog and is
/// never served: closing the server ends it with EOF or a reset, never an echo.
fn assert_late_client_is_not_served(server: Server, endpoint: &Endpoint, what: &str) {
    let mut late = Client::connect(endpoint);
    late.write_all(util::HELLO).unwrap();
    server.close().unwrap();
    // EOF or a reset, within the bound, and no echo.
    util::expect_closed(&mut late, WAIT, &format!("{what}: the late client"));
}

// #13 test_shutdown (Issue 2302): shutdown right after the serving thread starts,
// possibly before `serve` is entered, always returns and the thread always joins.
#[test]
fn immediate_shutdown_twenty_times() {
    let _isolation = util::isolate(false);
    let _dog = util::watchdog("20 immediate shutdowns", Duration::from_secs(10));
    for _ in 0..20 {
        let server = util::echo_builder(util::tcp_any())
            .strategy(Strategy::Threads)
            .bind()
            .unwrap();
        let server = Serving::start(server).stop();
        assert_eq!(server.close().unwrap(), CloseReport::default());
    }
}

// #14 test_close_immediately: a threaded server closed without serving anything.
#[test]
fn close_without_serving() {
    let _isolation = util::isolate(false);
    let started = Instant::now();
    for strategy in util::BLOCKING_STRATEGIES {
        let server = util::echo_builder(util::tcp_any())
            .strategy(strategy)
            .bind()
            .unwrap();
        assert_eq!(server.active_workers(), 0);
        assert_eq!(server.close().unwrap(), CloseReport::default());
        // Dropping without close must not hang either.
        drop(
            util::echo_builder(util::tcp_any())
                .strategy(strategy)
                .bind()
                .unwrap(),
        );
    }
    assert!(started.elapsed() < util::NO_HANG, "close hung");
}

// #16 test_context_manager: dropping a server closes its socket.
#[test]
fn drop_closes_the_listener() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    for transport in [Transport::Tcp4, Transport::Unix, Transport::UnixGram] {
        let endpoint = {
            let server = util::echo_builder(transport.endpoint(dir.path()))
                .bind()
                .unwrap();
            server.local_endpoint().clone()
        };
        util::assert_refused(&endpoint);
        if let Some(path) = endpoint.path() {
            assert!(!path.exists(), "{} left behind", path.display());
        }
    }
}

// A1: shutdown wakes the loop at once, whatever the tick interval.
#[test]
fn shutdown_is_not_paced_by_the_tick_interval() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let server = util::echo_builder(util::tcp_any())
        .on_tick(Duration::from_secs(3600), || {})
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    // One request proves the loop is running; it then waits up to an hour for the next
    // tick, far past the bound.
    assert_eq!(
        util::hello(&serving.endpoint, dir.path()).unwrap(),
        util::HELLO
    );
    let started = Instant::now();
    let server = serving.stop();
    let took = started.elapsed();
    server.close().unwrap();
    assert!(took < util::NO_HANG, "shutdown took {took:?}");
}

// A2: shutdown from inside a handler under Sequential neither deadlocks nor cuts the
// request short; serve returns after it.
#[test]
fn shutdown_from_inside_a_sequential_handler() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let stop: Arc<OnceLock<ShutdownHandle>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = {
        let stop = Arc::clone(&stop);
        let calls = Arc::clone(&calls);
        move |conn: &mut Conn| {
            calls.fetch_add(1, Ordering::SeqCst);
            stop.get().expect("set before serving").shutdown();
            util::echo_line(conn)
        }
    };
    let server = Server::builder(util::tcp_any())
        .strategy(Strategy::Sequential)
        .handler(handler)
        .bind()
        .unwrap();
    stop.set(server.shutdown_handle()).unwrap();
    let serving = Serving::start(server);
    let endpoint = serving.endpoint.clone();
    assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
    assert_late_client_is_not_served(serving.join(), &endpoint, "Sequential");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// A3: shutdown before serve makes serve return at once; serve works again afterwards.
#[test]
fn shutdown_before_serve_and_serve_again() {
    let _isolation = util::isolate(false);
    let _dog = util::watchdog("serve after an early shutdown", Duration::from_secs(10));
    let dir = util::temp_dir();
    let mut server = util::echo_builder(util::tcp_any()).bind().unwrap();
    let stop = server.shutdown_handle();
    stop.shutdown();
    stop.shutdown(); // any number of times
    assert!(stop.is_shutdown_requested());
    let started = Instant::now();
    server.serve().unwrap();
    assert!(started.elapsed() < util::NO_HANG, "serve waited");
    assert!(!stop.is_shutdown_requested(), "serve consumes the request");

    for round in 0..3 {
        let serving = Serving::start(server);
        let reply = util::hello(&serving.endpoint, dir.path()).unwrap();
        assert_eq!(reply, util::HELLO, "round {round}");
        server = serving.stop();
    }
    server.close().unwrap();
}

// A4 (bpo-35017): a client that connects after shutdown returned is never handled.
#[test]
fn nothing_is_accepted_after_shutdown() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    for strategy in [Strategy::Sequential, Strategy::Threads] {
        let calls = Arc::new(AtomicUsize::new(0));
        let server = Server::builder(util::tcp_any())
            .strategy(strategy)
            .handler(counting(&calls))
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let endpoint = serving.endpoint.clone();
        assert_eq!(util::hello(&endpoint, dir.path()).unwrap(), util::HELLO);
        assert_late_client_is_not_served(serving.stop(), &endpoint, &strategy.to_string());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{strategy}");
    }
}

// A5: handle_one times out and calls on_timeout; the timeout does not cut a handler short.
#[test]
fn handle_one_times_out_but_never_cuts_a_handler() {
    let _isolation = util::isolate(false);
    let timeouts = Arc::new(AtomicUsize::new(0));
    let work = Duration::from_millis(300);
    let mut server = Server::builder(util::tcp_any())
        .strategy(Strategy::Sequential)
        .handler(move |conn: &mut Conn| {
            thread::sleep(work); // a slow handler, not synchronisation
            util::echo_line(conn)
        })
        .on_timeout({
            let timeouts = Arc::clone(&timeouts);
            move || {
                timeouts.fetch_add(1, Ordering::SeqCst);
            }
        })
        .bind()
        .unwrap();

    let started = Instant::now();
    let outcome = server.handle_one(Some(Duration::from_millis(100))).unwrap();
    let waited = started.elapsed();
    assert_eq!(outcome, Outcome::TimedOut);
    assert!(
        waited >= Duration::from_millis(100),
        "returned early: {waited:?}"
    );
    assert!(waited < util::NO_HANG, "returned late: {waited:?}");
    assert_eq!(timeouts.load(Ordering::SeqCst), 1);

    let mut client = Client::connect(server.local_endpoint());
    client.write_all(util::HELLO).unwrap();
    let started = Instant::now();
    let outcome = server.handle_one(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(outcome, Outcome::Handled);
    assert!(started.elapsed() >= work, "the handler was cut short");
    assert_eq!(
        timeouts.load(Ordering::SeqCst),
        1,
        "timed out while handling"
    );
    assert_eq!(client.read_line().unwrap(), util::HELLO);
    server.close().unwrap();
}

// A6: the tick hook runs while idle and after every request.
#[test]
fn tick_runs_while_idle() {
    let _isolation = util::isolate(false);
    let (tx, ticks) = mpsc::channel();
    let server = util::echo_builder(util::tcp_any())
        .on_tick(Duration::from_millis(10), move || {
            let _ = tx.send(Instant::now());
        })
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    let first = ticks.recv_timeout(WAIT).expect("first idle tick");
    ticks.recv_timeout(WAIT).expect("second idle tick");
    let third = ticks.recv_timeout(WAIT).expect("third idle tick");
    assert!(third - first >= Duration::from_millis(15), "ticks too fast");
    serving.stop().close().unwrap();
}

#[test]
fn tick_runs_after_every_request() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let ticks = Arc::new(AtomicUsize::new(0));
    let mut server = util::echo_builder(util::tcp_any())
        .strategy(Strategy::Sequential)
        .on_tick(Duration::from_secs(3600), {
            let ticks = Arc::clone(&ticks);
            move || {
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        })
        .bind()
        .unwrap();
    for i in 1..=3 {
        let mut client = Client::connect(server.local_endpoint());
        client.write_all(util::HELLO).unwrap();
        assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Handled);
        assert_eq!(ticks.load(Ordering::SeqCst), i);
    }
    // And from serve, in the serving thread.
    let (tx, seen) = mpsc::channel();
    let server = util::echo_builder(util::tcp_any())
        .on_tick(Duration::from_secs(3600), move || {
            let _ = tx.send(());
        })
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    assert_eq!(
        util::hello(&serving.endpoint, dir.path()).unwrap(),
        util::HELLO
    );
    seen.recv_timeout(WAIT).expect("tick after the request");
    serving.stop().close().unwrap();
}

/// The strategies whose requests run on workers, which close may wait for.
const WORKER_STRATEGIES: [Strategy; 3] = [
    Strategy::Threads,
    Strategy::Pool { workers: 2 },
    Strategy::Fork { max_children: 2 },
];

/// One client whose request is running (its handler waits for the client's line).
fn server_with_running_request(strategy: Strategy, policy: ClosePolicy) -> (Server, Client) {
    let mut server = util::echo_builder(util::tcp_any())
        .strategy(strategy)
        .close_policy(policy)
        .bind()
        .unwrap();
    let client = Client::connect(server.local_endpoint());
    assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Handled);
    assert_eq!(server.active_workers(), 1, "{strategy}");
    (server, client)
}

// A9: Join waits for running requests.
#[test]
fn close_policy_join_waits() {
    for strategy in WORKER_STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let (server, mut client) = server_with_running_request(strategy, ClosePolicy::Join);
        let (tx, closed) = mpsc::channel();
        let closing = thread::spawn(move || tx.send(server.close().unwrap()).unwrap());
        // A bounded negative check: close must still be waiting for the handler.
        assert!(
            closed.recv_timeout(Duration::from_millis(200)).is_err(),
            "{strategy}: Join returned while a request was running"
        );
        client.write_all(util::HELLO).unwrap();
        assert_eq!(client.read_line().unwrap(), util::HELLO, "{strategy}");
        let report = closed.recv_timeout(WAIT).expect("close after the handler");
        assert_eq!(
            report,
            CloseReport {
                finished: 1,
                cut: 0,
                left: 0
            },
            "{strategy}"
        );
        closing.join().unwrap();
    }
}

// A9: JoinTimeout is bounded; threads are left running, children are killed.
#[test]
fn close_policy_join_timeout_is_bounded() {
    let limit = Duration::from_millis(300);
    for strategy in WORKER_STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let (server, mut client) =
            server_with_running_request(strategy, ClosePolicy::JoinTimeout(limit));
        let started = Instant::now();
        let report = server.close().unwrap();
        let took = started.elapsed();
        assert_eq!(
            report,
            CloseReport {
                finished: 0,
                cut: 0,
                left: 1
            },
            "{strategy}"
        );
        assert!(took >= limit, "{strategy}: returned before the deadline");
        assert!(took < util::NO_HANG, "{strategy}: took {took:?}");
        let _ = client.write_all(util::HELLO);
        if matches!(strategy, Strategy::Fork { .. }) {
            // The killed child's connection ends: EOF or a reset, within the bound.
            util::expect_closed(&mut client, WAIT, "the child outlived the deadline");
            assert_eq!(util::zombie_children(), Vec::<u32>::new());
        } else {
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).unwrap();
            assert_eq!(
                reply,
                util::HELLO,
                "{strategy}: the detached worker goes on"
            );
        }
    }
}

// A9: Detach returns at once; the request still completes.
#[test]
fn close_policy_detach_returns_at_once() {
    for strategy in WORKER_STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        let (server, mut client) = server_with_running_request(strategy, ClosePolicy::Detach);
        let started = Instant::now();
        let report = server.close().unwrap();
        assert!(
            started.elapsed() < util::NO_HANG,
            "{strategy}: Detach waited"
        );
        assert_eq!(
            report,
            CloseReport {
                finished: 0,
                cut: 0,
                left: 1
            },
            "{strategy}"
        );
        client.write_all(util::HELLO).unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, util::HELLO, "{strategy}");
    }
}
