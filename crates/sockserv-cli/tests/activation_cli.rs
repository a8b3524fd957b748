//! Socket activation: a listener passed by the parent process, as `--listen fd:3` or the
//! systemd way (`LISTEN_PID`/`LISTEN_FDS`), is served; a bad descriptor is refused.
//!
//! The parent is a short Python script (Python is on every machine this project builds
//! on): it binds the socket, passes it as descriptor 3, echoes through it and stops the
//! server, printing what it saw.

mod util;

use std::process::Command;

use util::run;

const PARENT: &str = r#"
import os, socket, subprocess, sys
binary, how, kind = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "tcp":
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
    addr = ("127.0.0.1", s.getsockname()[1]); family = socket.AF_INET
else:
    path = sys.argv[4]
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(16)
    addr = path; family = socket.AF_UNIX
fd = s.fileno()
def to_three(): os.dup2(fd, 3)
if how == "systemd":
    args = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" echo', binary]
else:
    args = [binary, "echo", "--listen", "fd:3"]
p = subprocess.Popen(args, preexec_fn=to_three, pass_fds=[fd], stderr=subprocess.PIPE, text=True)
print("line", p.stderr.readline().strip())
c = socket.socket(family); c.settimeout(10); c.connect(addr)
c.sendall(b"activated\n"); c.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = c.recv(64)
    if not chunk: break
    got += chunk
print("echo", got.decode().strip())
p.terminate(); print("exit", p.wait(10))
"#;

fn parent(how: &str, kind: &str, extra: &[&str]) -> String {
    let out = Command::new("python3")
        .args(["-c", PARENT, env!("CARGO_BIN_EXE_sockserv"), how, kind])
        .args(extra)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "parent failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn inherited_listeners_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activated.sock");
    for how in ["fd", "systemd"] {
        for kind in ["tcp", "unix"] {
            let _ = std::fs::remove_file(&path);
            let extra = [path.to_str().unwrap()];
            let out = parent(how, kind, if kind == "unix" { &extra } else { &[] });
            let scheme = if kind == "tcp" {
                "line listening on tcp://127.0.0.1:"
            } else {
                "line listening on unix:"
            };
            assert!(out.contains(scheme), "{how} {kind}: {out}");
            assert!(out.contains("echo activated"), "{how} {kind}: {out}");
            assert!(out.contains("exit 0"), "{how} {kind}: {out}");
        }
    }
    // Every wait is bounded by the parent's 10 s socket timeout and process wait.
}

#[test]
fn a_descriptor_that_was_not_passed_is_refused_in_one_line() {
    for spec in ["fd:9", "fd:1", "fd:x"] {
        let out = run(&["echo", "--listen", spec]);
        assert!(!out.status.success(), "{spec}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{spec}: {stderr}");
        assert!(
            stderr.contains("fd") || stderr.contains("descriptor"),
            "{spec}: {stderr}"
        );
    }
}
