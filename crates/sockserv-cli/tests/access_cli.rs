//! `--allow`/`--deny` and `--reuse-port` end to end: the real binary, real sockets.

mod access_support;
mod util;

use access_support::*;

/// `--deny`, `--allow`, deny over allow, and an allow that covers loopback.
#[test]
fn allow_and_deny_decide_who_is_served_in_every_mode() {
    for mode in ACL_MODES {
        let server = Server::start_mode("echo", mode, &["--deny", "127.0.0.1"]);
        let endpoint = &server.endpoints[0];
        assert_closed(endpoint, b"", AT_ONCE, &format!("{mode}: --deny 127.0.0.1"));
        assert_closed(
            endpoint,
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: --deny 127.0.0.1, after sending"),
        );
        drop(server);

        // Refused after sending: an allow that misses loopback, deny over allow.
        for flags in [
            &["--allow", "10.0.0.0/8"][..],
            &["--allow", "127.0.0.1", "--deny", "127.0.0.1"],
        ] {
            let server = Server::start_mode("echo", mode, flags);
            let what = format!("{mode}: {}", flags.join(" "));
            assert_closed(&server.endpoints[0], b"hello\n", AT_ONCE, &what);
        }

        let server = Server::start_mode(
            "echo",
            mode,
            &["--allow", "127.0.0.0/8", "--allow", "10.0.0.0/8"],
        );
        // Twice: a served client does not use up anything.
        for _ in 0..2 {
            assert_served(
                &server.endpoints[0],
                b"",
                &format!("{mode}: --allow 127.0.0.0/8"),
            );
        }
        // A denied network elsewhere does not touch loopback.
        let server = Server::start_mode("echo", mode, &["--deny", "192.0.2.0/24"]);
        assert_served(
            &server.endpoints[0],
            b"",
            &format!("{mode}: --deny 192.0.2.0/24"),
        );
    }
}

/// IPv6: `--deny ::1` refuses a client of `[::1]`, `--allow ::1/128` serves it.
#[test]
fn ipv6_deny_refuses_the_ipv6_loopback() {
    let ipv6 = TcpListener::bind("[::1]:0").is_ok();
    if !testkit::tool_ready("the IPv6 loopback [::1]", ipv6) {
        return;
    }
    for mode in ["threads", "events:2"] {
        let server = Server::start_mode_on("echo", mode, "tcp://[::1]:0", &["--deny", "::1"]);
        assert!(server.tcp_addr().is_ipv6());
        assert_closed(
            &server.endpoints[0],
            b"hello\n",
            AT_ONCE,
            &format!("{mode}: --deny ::1"),
        );
        drop(server);
        let server = Server::start_mode_on(
            "echo",
            mode,
            "tcp://[::1]:0",
            &["--allow", "::1/128", "--deny", "127.0.0.1"],
        );
        assert_served(
            &server.endpoints[0],
            b"",
            &format!("{mode}: --allow ::1/128"),
        );
    }
}

/// A bad network: non-zero exit, and an error line that names it.
#[test]
fn a_bad_cidr_is_refused_with_one_line_naming_it() {
    for (flag, bad, why) in [
        ("--allow", "10.1.2.3/8", "host bits"),
        ("--allow", "nonsense", "not an IP address"),
        ("--deny", "10.0.0.0/33", "10.0.0.0/33"),
        ("--proxy-from", "300.1.1.1", "300.1.1.1"),
    ] {
        let mut args = vec!["echo", "--listen", "tcp://127.0.0.1:0", flag, bad];
        if flag == "--proxy-from" {
            args.push("--proxy-protocol");
        }
        let out = run(&args);
        assert!(!out.status.success(), "{flag} {bad}: exited {}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or_else(|| panic!("{flag} {bad}: no error line in {stderr:?}"));
        assert!(
            line.contains(bad) && line.contains(flag) && line.contains(why),
            "{flag} {bad}: the error line should name the value and why: {line:?}"
        );
        assert!(
            !stderr.contains("listening on"),
            "{flag} {bad}: it must not start: {stderr:?}"
        );
    }
}

/// `--reuse-port`: a second process on the same port runs too; together they serve every
/// client, and when the first goes, the second alone keeps serving the port.
#[test]
fn reuse_port_lets_two_processes_share_a_port() {
    for mode in ["threads", "events:2"] {
        let first = Server::start_mode("echo", mode, &["--reuse-port"]);
        let port = first.tcp_addr().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let second = Server::start_mode_on("echo", mode, &url, &["--reuse-port"]);
        assert_eq!(second.endpoints[0], first.endpoints[0], "{mode}");

        // Many clients at once; which process takes which is up to the kernel's hash.
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let endpoint = first.endpoints[0].clone();
                thread::spawn(move || {
                    for i in 0..8 {
                        assert_served(&endpoint, b"", &format!("client {t}.{i}"));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a client failed");
        }

        // The first one gone (killed), the second still serves the port on its own.
        drop(first);
        for i in 0..16 {
            assert_served(
                &second.endpoints[0],
                b"",
                &format!("{mode}: client {i} after the first process left"),
            );
        }
    }
}

/// Without `--reuse-port` (on either side), the second process cannot listen: it exits
/// non-zero with one line saying the address is in use.
#[test]
fn without_reuse_port_the_second_process_fails_with_in_use() {
    for (first_flags, second_flags) in [
        (&[][..], &[][..]),
        (&["--reuse-port"][..], &[][..]),
        (&[][..], &["--reuse-port"][..]),
    ] {
        let first = Server::start_mode("echo", "threads", first_flags);
        let url = first.endpoints[0].to_string();
        let mut args = vec!["echo", "--listen", &url];
        args.extend_from_slice(second_flags);
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}: exited {}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line expected: {stderr:?}");
        assert!(
            lines[0].contains("in use") && lines[0].contains(&url),
            "{args:?}: {stderr:?}"
        );
        // The first is unaffected.
        assert_served(&first.endpoints[0], b"", "the first process");
    }
}
