//! The binary upgrade (SIGUSR2) end to end: the real binary, real signals, a real load.
//! The new process takes every listening socket, the old one drains; nothing is refused,
//! reset or cut; the pid file follows the live process; a broken new program changes
//! nothing.

mod chat_bus_support;
mod chat_support;
#[allow(dead_code)] // the helpers this file does not use
#[path = "util/metrics.rs"]
mod metrics;
mod redis_support;
mod upgrade_support;
mod util;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;

use chat_support::Chat;
use redis_support::Redis;
use upgrade_support::{line_echo, pid_in, upgrade, Chain, Load, Upgrade};
use util::{Client, Server, MODES, WAIT};

/// `sockserv echo -m MODE` on TCP and a Unix socket, with a pid file in `dir`.
fn echo_with_pid_file(dir: &Path, mode: &str, extra: &[&str]) -> Server {
    let unix = format!("unix:{}", dir.join("echo.sock").display());
    let pid_file = dir.join("sockserv.pid").display().to_string();
    let mut args = vec![
        "echo",
        "-m",
        mode,
        "-l",
        "tcp://127.0.0.1:0",
        "-l",
        &unix,
        "--pid-file",
        &pid_file,
    ];
    args.extend_from_slice(extra);
    Server::start(&args, 2)
}

/// Ten upgrades in a row under a continuous load (new connections, small and 1 MiB
/// echoes in flight across each hand-over) on TCP and a Unix socket, in every mode:
/// nothing refused or reset, every exchange complete, a connection opened before an
/// upgrade keeps being served by the old process, the pid file names the new process
/// after each, and the last one's clean exit removes it and the Unix socket file (which
/// stays in place, and usable, through every hand-over).
#[test]
fn ten_upgrades_under_load_refuse_nothing_and_finish_every_exchange_in_every_mode() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("sockserv.pid");
        let mut server = echo_with_pid_file(dir.path(), mode, &[]);
        let mut chain = Chain(vec![server.pid()]);
        assert_eq!(
            pid_in(&pid_file),
            server.pid(),
            "{mode}: written once listening"
        );
        // Sequential serves one client at a time: one load client per endpoint there.
        let clients = if mode == "sequential" { 1 } else { 2 };
        let loads: Vec<Load> = server
            .endpoints
            .iter()
            .map(|endpoint| Load::start(endpoint, clients))
            .collect();
        let mut pid = server.pid();
        let mut seen = vec![0; loads.len()];
        for round in 0..10 {
            for (load, seen) in loads.iter().zip(&mut seen) {
                load.wait_for(3, seen);
            }
            // Under sequential a held connection would stall the load behind it.
            let mut held = (mode != "sequential").then(|| {
                let mut client = Client::connect(&server.endpoints[round % 2]);
                line_echo(&mut client, "before\n");
                client
            });
            let new = match upgrade(&mut server, pid) {
                Upgrade::To(new) => new,
                Upgrade::Failed(line) => panic!("{mode}: upgrade {round} failed: {line}"),
            };
            chain.0.push(new);
            assert_ne!(new, pid);
            assert_eq!(
                pid_in(&pid_file),
                new,
                "{mode}: the pid file after upgrade {round}"
            );
            if let Some(client) = &mut held {
                line_echo(client, "after: the old process still serves me\n");
            }
            drop(held);
            pid = new;
        }
        for load in loads {
            let tally = load.finish();
            assert!(
                tally.failures.is_empty(),
                "{mode}: {} of {} exchanges failed: {:?}",
                tally.failures.len(),
                tally.done + tally.failures.len() as u64,
                &tally.failures[..tally.failures.len().min(5)]
            );
            assert!(tally.big > 0, "{mode}: no 1 MiB exchange ran: {tally:?}");
            eprintln!("{mode}: {} exchanges, {} of 1 MiB", tally.done, tally.big);
        }
        for endpoint in &server.endpoints {
            let mut client = Client::connect(endpoint);
            line_echo(&mut client, "the last process serves\n");
        }
        testkit::send_signal(pid, "TERM");
        // Every process of the chain writes to this stderr until it exits.
        server.wait_for_stderr_close(WAIT);
        assert!(!pid_file.exists(), "{mode}: removed on the clean exit");
        let socket = dir.path().join("echo.sock");
        assert!(
            !socket.exists(),
            "{mode}: the last process removes the socket file"
        );
    }
}

/// Datagram endpoints (UDP, Unix datagram) are handed over too.
#[test]
fn datagram_endpoints_are_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let unixgram = format!("unixgram:{}", dir.path().join("echo.dgram").display());
    let mut server = Server::start(&["echo", "-l", "udp://127.0.0.1:0", "-l", &unixgram], 2);
    let mut chain = Chain(vec![server.pid()]);
    let mut pid = server.pid();
    for round in 0..3 {
        for endpoint in &server.endpoints {
            let data = format!("datagram {round}");
            let reply = util::datagram_round_trip(endpoint, dir.path(), data.as_bytes());
            assert_eq!(reply, data.as_bytes(), "{endpoint}");
        }
        let Upgrade::To(new) = upgrade(&mut server, pid) else {
            panic!("the upgrade failed: {:?}", server.stderr)
        };
        chain.0.push(new);
        pid = new;
    }
    for endpoint in &server.endpoints {
        let reply = util::datagram_round_trip(endpoint, dir.path(), b"after");
        assert_eq!(reply, b"after", "{endpoint}");
    }
    testkit::send_signal(pid, "TERM");
    server.wait_for_stderr_close(WAIT);
}

/// The `--metrics` page's socket is handed over too, and only the new process answers
/// on it afterwards: a scraper never sees the draining process's counters.
#[test]
fn the_metrics_page_moves_to_the_new_process() {
    let mut server = Server::start(
        &[
            "echo",
            "-l",
            "tcp://127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ],
        1,
    );
    let mut chain = Chain(vec![server.pid()]);
    let page = metrics::metrics_addr(&server);
    for _ in 0..3 {
        line_echo(&mut Client::connect(&server.endpoints[0]), "counted\n");
    }
    assert_eq!(
        metrics::sample(&metrics::scrape(page), "sockserv_connections_total"),
        3
    );
    let first = server.pid();
    let Upgrade::To(new) = upgrade(&mut server, first) else {
        panic!("the upgrade failed: {:?}", server.stderr)
    };
    chain.0.push(new);
    for _ in 0..10 {
        let body = metrics::scrape(page);
        assert_eq!(
            metrics::sample(&body, "sockserv_connections_total"),
            0,
            "{body}"
        );
    }
    testkit::send_signal(new, "TERM");
    server.wait_for_stderr_close(WAIT);
}

/// Chat members on the old process keep talking after the hand-over, until they
/// leave; a member who joins after it is in the new process's room. The `--web`
/// endpoint is handed over too (the new process could not bind it while the old one
/// holds it).
#[test]
fn chat_members_on_the_old_process_keep_talking() {
    let dir = tempfile::tempdir().unwrap();
    let pid_arg = dir.path().join("chat.pid").display().to_string();
    let args = [
        "chat",
        "-l",
        "tcp://127.0.0.1:0",
        "--web",
        "127.0.0.1:0",
        "--pid-file",
        &pid_arg,
    ];
    let mut server = Server::start(&args, 2);
    let web = server.web[0].clone();
    let mut chain = Chain(vec![server.pid()]);
    let endpoint = server.endpoints[0].clone();
    let mut ann = Chat::join(&endpoint);
    let mut bob = Chat::join(&endpoint);
    ann.send("/nick ann_old");
    bob.expect_containing("is now ann_old");
    let first = server.pid();
    let Upgrade::To(new) = upgrade(&mut server, first) else {
        panic!("the upgrade failed: {:?}", server.stderr)
    };
    chain.0.push(new);
    ann.send("still here after the upgrade");
    bob.expect_containing("ann_old: still here after the upgrade");
    bob.send("me too");
    ann.expect_containing("me too");
    let mut cid = Chat::join(&endpoint);
    cid.send("/who");
    let who = cid.expect_containing("* online");
    assert_eq!(
        who,
        chat_support::who_line(&[cid.nick.clone()]),
        "a new room"
    );
    let relisten = format!("listening on {web}");
    let lines = &server.stderr;
    assert!(
        lines.contains(&relisten),
        "the new process serves {web}: {lines:?}"
    );
    let page = web.trim_start_matches("http://").trim_end_matches('/');
    let response = metrics::http(
        page.parse().unwrap(),
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.200}");
    ann.send("/quit");
    bob.send("/quit");
    drop((ann, bob, cid));
    testkit::send_signal(new, "TERM");
    server.wait_for_stderr_close(WAIT);
}

/// The program at the path is replaced by one that exits 1, then by one that never gets
/// ready, then removed: each upgrade fails, the old process says why, keeps serving and
/// keeps the pid file. Then the real binary is put back at the path (the running one's file is gone):
/// the upgrade runs it.
#[test]
fn a_broken_new_program_leaves_the_old_process_serving() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("sockserv");
    install(env!("CARGO_BIN_EXE_sockserv"), &program);
    let pid_file = dir.path().join("sockserv.pid");
    let pid_arg = pid_file.display().to_string();
    let mut command = Command::new(&program);
    command.args([
        "echo",
        "-l",
        "tcp://127.0.0.1:0",
        "--pid-file",
        &pid_arg,
        "--upgrade-timeout",
        "1s",
    ]);
    let mut server = Server::start_command(command, 1);
    let mut chain = Chain(vec![server.pid()]);
    let old = server.pid();
    let mut client = Client::connect(&server.endpoints[0]);
    let replace = |script: &str| {
        let new = dir.path().join("sockserv.new");
        let source = dir.path().join("script");
        std::fs::write(&source, script).unwrap();
        install(source.to_str().unwrap(), &new);
        // A rename, as a package manager does: the running binary's file is untouched.
        std::fs::rename(&new, &program).unwrap();
    };
    for (script, why) in [
        (
            "#!/bin/sh\nexit 1\n",
            "exited (exit status: 1) before serving",
        ),
        ("#!/bin/sh\nexec sleep 60\n", "not serving within 1s"),
    ] {
        replace(script);
        match upgrade(&mut server, old) {
            Upgrade::Failed(line) => assert!(line.contains(why), "{line}"),
            Upgrade::To(pid) => panic!("{script:?} took over as {pid}"),
        }
        assert_eq!(pid_in(&pid_file), old, "the old process keeps the pid file");
        line_echo(&mut client, "still served\n");
        line_echo(
            &mut Client::connect(&server.endpoints[0]),
            "new clients too\n",
        );
    }
    std::fs::remove_file(&program).unwrap();
    match upgrade(&mut server, old) {
        Upgrade::Failed(line) => assert!(line.contains("cannot start"), "{line}"),
        Upgrade::To(pid) => panic!("a missing program took over as {pid}"),
    }
    line_echo(&mut client, "still served without a program on disk\n");
    let real = dir.path().join("sockserv.real");
    install(env!("CARGO_BIN_EXE_sockserv"), &real);
    std::fs::rename(&real, &program).unwrap();
    let Upgrade::To(new) = upgrade(&mut server, old) else {
        panic!("the real binary did not take over: {:?}", server.stderr)
    };
    chain.0.push(new);
    assert_eq!(pid_in(&pid_file), new);
    line_echo(
        &mut Client::connect(&server.endpoints[0]),
        "served by the new one\n",
    );
    drop(client);
    testkit::send_signal(new, "TERM");
    server.wait_for_stderr_close(WAIT);
}

/// Copies `from` to an executable `to` with cp(1): a file this test process opened for
/// writing could leak into a child another test thread forks at that moment, and exec
/// of it would then fail with "Text file busy".
fn install(from: &str, to: &Path) {
    let status = Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(status.success(), "cp {from} {}", to.display());
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Under systemd (`Type=notify`): `READY=1` once listening, `MAINPID=` the new process
/// after an upgrade.
#[test]
fn systemd_hears_ready_and_the_new_main_pid() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("notify");
    let systemd = UnixDatagram::bind(&socket).unwrap();
    systemd.set_read_timeout(Some(WAIT)).unwrap();
    let mut command = util::sockserv();
    command
        .args(["echo", "-l", "tcp://127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &socket);
    let mut server = Server::start_command(command, 1);
    let mut chain = Chain(vec![server.pid()]);
    let mut buf = [0; 256];
    let n = systemd
        .recv(&mut buf)
        .expect("READY=1 from the first process");
    assert_eq!(&buf[..n], b"READY=1");
    let first = server.pid();
    let Upgrade::To(new) = upgrade(&mut server, first) else {
        panic!("the upgrade failed: {:?}", server.stderr)
    };
    chain.0.push(new);
    let n = systemd
        .recv(&mut buf)
        .expect("MAINPID from the old process");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), format!("MAINPID={new}"));
    testkit::send_signal(new, "TERM");
    server.wait_for_stderr_close(WAIT);
}

/// With `--bus`, the old and the new process are simply two nodes of one room: a member
/// left on the old process and one who joins the new process hear each other (both
/// ways, `/who` lists both), and when the old one finishes its drain its member is
/// announced as leaving on the new one.
#[test]
fn with_a_bus_the_old_and_new_process_are_two_nodes_of_one_room() {
    let Some(redis) = Redis::start(false) else {
        return;
    };
    let url = redis.url();
    let args = [
        "chat",
        "-l",
        "tcp://127.0.0.1:0",
        "--bus",
        &url,
        "--drain-timeout",
        "60s",
    ];
    let mut server = Server::start(&args, 1);
    let endpoint = server.endpoints[0].clone();
    let mut old = Chat::join(&endpoint);
    old.send("/nick on_old");
    assert!(chat_bus_support::nick_answer(&mut old, "on_old"));
    let first = server.pid();
    let Upgrade::To(new) = upgrade(&mut server, first) else {
        panic!("the upgrade failed: {:?}", server.stderr)
    };
    let mut chain = Chain(vec![first, new]);
    // The listening socket now belongs to the new process: this member is on it.
    let mut fresh = Chat::join(&endpoint);
    old.expect_containing(&format!("* {} joined", fresh.nick));
    fresh.send("/who");
    fresh.expect(&chat_support::who_line(&[
        "on_old".to_owned(),
        fresh.nick.clone(),
    ]));
    old.send("from the old process");
    fresh.expect("on_old: from the old process");
    fresh.send("from the new process");
    old.expect(&format!("{}: from the new process", fresh.nick));
    // The old process drains until its last member leaves; the room hears it go.
    old.send("/quit");
    fresh.expect_containing("* on_old left");
    drop(old);
    chain.0.retain(|&pid| pid != first);
    testkit::send_signal(new, "TERM");
    server.wait_for_stderr_close(WAIT);
    drop(fresh);
}
