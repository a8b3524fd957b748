//! How many clients are served at once: the 1:N proof for every concurrent strategy,
//! waiting (never dropping) at a cap, CPython #27 (finished threads are forgotten), A7
//! (idle clients), A8 (1000 simultaneous clients) and A10 (the pool cap holds).

mod util;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use sockserv::report::{ConnError, Outcome};
use sockserv::{Conn, Endpoint, Server, Strategy};
use util::{Client, Serving, WAIT};

/// A line-echo server (serving until each client closes) running in a thread.
fn serve_echo_lines(strategy: Strategy) -> Serving {
    let server = Server::builder(util::tcp_any())
        .strategy(strategy)
        .handler(util::echo_lines)
        .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
        .bind()
        .unwrap();
    Serving::start(server)
}

/// One client: connect, send a line, get its echo.
fn served_client(endpoint: &Endpoint) -> io::Result<Client> {
    let mut client = Client::try_connect(endpoint)?;
    client.write_all(util::HELLO)?;
    let line = client.read_line()?;
    if line != util::HELLO {
        return Err(io::Error::other(format!("bad echo {line:?}")));
    }
    Ok(client)
}

/// 50 clients each get their echo while all 50 stay connected: every one of them is
/// being served at the same moment.
fn fifty_at_once(strategy: Strategy) {
    const CLIENTS: usize = 50;
    let _isolation = util::isolate_for(strategy);
    let _dog = util::watchdog("50 clients at once", Duration::from_secs(30));
    let serving = serve_echo_lines(strategy);
    let all_served = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let endpoint = serving.endpoint.clone();
            let all_served = Arc::clone(&all_served);
            thread::spawn(move || {
                let result = served_client(&endpoint);
                // Everyone reaches the barrier, served or not, so nobody waits forever.
                all_served.wait();
                result.map(drop)
            })
        })
        .collect();
    let failures: Vec<String> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap().err().map(|e| e.to_string()))
        .collect();
    assert!(failures.is_empty(), "{strategy}: {failures:?}");
    let report = serving.stop().close().unwrap();
    assert_eq!(report.left, 0);
}

#[test]
fn threads_serve_fifty_at_once() {
    fifty_at_once(Strategy::Threads);
}

#[test]
fn fork_serves_fifty_at_once() {
    fifty_at_once(Strategy::Fork { max_children: 64 });
}

#[test]
fn pool_of_fifty_serves_fifty_at_once() {
    fifty_at_once(Strategy::Pool { workers: 50 });
}

/// With `capacity` clients being served, the next one waits (not dropped) until one of
/// them leaves, then is served.
fn next_client_waits_for_a_free_worker(strategy: Strategy, capacity: usize) {
    let _isolation = util::isolate_for(strategy);
    let serving = serve_echo_lines(strategy);
    let mut holders: Vec<Client> = (0..capacity)
        .map(|_| served_client(&serving.endpoint).unwrap())
        .collect();
    let mut waiting = Client::connect(&serving.endpoint);
    waiting.write_all(util::HELLO).unwrap();
    // No echo while every worker is busy.
    waiting.assert_nothing_for(
        Duration::from_millis(200),
        &format!("{strategy}: served beyond capacity {capacity}"),
    );
    holders.remove(0); // closes: its worker frees up
    assert_eq!(waiting.read_line().unwrap(), util::HELLO, "{strategy}");
    drop(holders);
    drop(waiting);
    serving.stop().close().unwrap();
}

#[test]
fn pool_of_two_makes_the_third_client_wait() {
    next_client_waits_for_a_free_worker(Strategy::Pool { workers: 2 }, 2);
}

#[test]
fn fork_max_two_makes_the_third_client_wait() {
    next_client_waits_for_a_free_worker(Strategy::Fork { max_children: 2 }, 2);
}

#[test]
fn sequential_makes_the_second_client_wait() {
    next_client_waits_for_a_free_worker(Strategy::Sequential, 1);
}

// #27 test_threads_reaped (bpo-37193): finished threads are not kept until close.
#[test]
fn finished_threads_are_forgotten() {
    let _isolation = util::isolate(false);
    let mut server = util::echo_builder(util::tcp_any())
        .strategy(Strategy::Threads)
        .bind()
        .unwrap();
    for _ in 0..10 {
        let mut client = Client::connect(server.local_endpoint());
        client.write_all(util::HELLO).unwrap();
        assert_eq!(server.handle_one(Some(WAIT)).unwrap(), Outcome::Handled);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, util::HELLO);
    }
    assert!(server.active_workers() < 10, "{}", server.active_workers());
    testkit::wait_until(WAIT, "finished workers forgotten", || {
        let active = server.active_workers();
        (active == 0, format!("{active} active"))
    });
    assert_eq!(server.close().unwrap().left, 0);
}

// A7: under threads an idle client does not delay others.
#[test]
fn idle_client_does_not_delay_others_under_threads() {
    let _isolation = util::isolate(false);
    let serving = serve_echo_lines(Strategy::Threads);
    let idle: Vec<Client> = (0..3).map(|_| Client::connect(&serving.endpoint)).collect();
    let mut client = Client::connect(&serving.endpoint);
    client.set_timeout(Some(Duration::from_secs(1)));
    client.write_all(util::HELLO).unwrap();
    assert_eq!(client.read_line().unwrap(), util::HELLO);
    drop((idle, client));
    serving.stop().close().unwrap();
}

// A7: a read timeout disconnects an idle client, is reported, and frees a sequential
// server for the next one.
#[test]
fn read_timeout_disconnects_an_idle_client() {
    let _isolation = util::isolate(false);
    let (tx, reports) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::builder(util::tcp_any())
        .strategy(Strategy::Sequential)
        .handler(util::echo_lines)
        .read_timeout(Some(Duration::from_millis(100)))
        .on_error(move |err: &ConnError| {
            let _ = tx.lock().unwrap().send(err.to_string());
        })
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    let mut idle = Client::connect(&serving.endpoint);
    util::expect_closed(&mut idle, WAIT, "the idle client");
    let report = reports.recv_timeout(WAIT).expect("the timeout is reported");
    assert!(report.contains("handler error"), "{report}");
    let next = served_client(&serving.endpoint).unwrap();
    next.shutdown_write();
    serving.stop().close().unwrap();
}

// A8: 1000 clients connect before any sends; all are echoed (default backlog, no resets).
#[test]
fn thousand_simultaneous_clients_under_threads() {
    const CLIENTS: usize = 1000;
    let _isolation = util::isolate(false);
    let _dog = util::watchdog("1000 clients", Duration::from_secs(60));
    let serving = serve_echo_lines(Strategy::Threads);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            Client::try_connect(&serving.endpoint).unwrap_or_else(|e| panic!("connect {i}: {e}"))
        })
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("client {i}\n").as_bytes())
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let line = client
            .read_line()
            .unwrap_or_else(|e| panic!("echo {i}: {e}"));
        assert_eq!(line, format!("client {i}\n").as_bytes());
    }
    drop(clients);
    serving.stop().close().unwrap();
}

// A10: a pool of N never runs more than N handlers at once, and serves everyone.
#[test]
fn pool_never_exceeds_its_worker_count() {
    const WORKERS: usize = 3;
    const CLIENTS: usize = 12;
    let _isolation = util::isolate(false);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most));
        move |conn: &mut Conn| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50)); // work, not synchronisation
            let result = util::echo_line(conn);
            running.fetch_sub(1, Ordering::SeqCst);
            result
        }
    };
    let server = Server::builder(util::tcp_any())
        .strategy(Strategy::Pool { workers: WORKERS })
        .handler(handler)
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let endpoint = serving.endpoint.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut client = Client::try_connect(&endpoint)?;
                client.write_all(util::HELLO)?;
                let mut reply = Vec::new();
                client.read_to_end(&mut reply)?;
                Ok::<_, io::Error>(reply)
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap().unwrap(), util::HELLO);
    }
    serving.stop().close().unwrap();
    assert_eq!(
        most.load(Ordering::SeqCst),
        WORKERS,
        "most handlers at once"
    );
}
