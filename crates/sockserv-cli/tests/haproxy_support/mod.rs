//! A real HAProxy for the end-to-end tests: found on PATH or in /usr/sbin, run in the
//! foreground on a configuration file, killed on drop.

#![allow(dead_code)] // each test file uses a different part

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;

use socket2::{Domain, Socket, Type};
use testkit::read_all_in_background;

/// A running haproxy, killed on drop; what it printed is kept for failure messages.
pub struct Haproxy {
    pub child: Child,
    output: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Haproxy {
    pub fn start(binary: &Path, config: &Path) -> Haproxy {
        let mut child = Command::new(binary)
            .arg("-f")
            .arg(config)
            .arg("-db") // foreground, no daemon: the child is haproxy itself
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let output = Some(read_all_in_background(child.stderr.take().unwrap()));
        Haproxy { child, output }
    }

    /// Kills it and returns what it wrote to stderr.
    pub fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let output = self.output.take().map(|o| o.join().unwrap_or_default());
        String::from_utf8_lossy(&output.unwrap_or_default()).into_owned()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The haproxy binary (on PATH, or in /usr/sbin where Debian puts it), through
/// `testkit::require_program`: `None` (the test skips, saying so) when it is missing,
/// a failure naming it under `SOCKSERV_REQUIRE_TOOLS=1`.
pub fn haproxy_binary() -> Option<PathBuf> {
    testkit::require_program("haproxy", &["-v"])
}

/// The frontend's listening socket, bound here on port 0 and handed to haproxy as an
/// open descriptor (`bind fd@N`), so there is no window in which another process could
/// take the port (as there would be with "pick a free port, close it, let haproxy bind
/// it"). Close-on-exec is off so that haproxy inherits it: nothing else is spawned
/// after it in this test.
pub fn inheritable_listener() -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    socket.listen(128).unwrap();
    socket.set_cloexec(false).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// `config` with `from` replaced by `to`, which must occur exactly once.
pub fn replace_once(config: &str, from: &str, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        1,
        "the configuration should name {from} exactly once"
    );
    config.replace(from, to)
}
