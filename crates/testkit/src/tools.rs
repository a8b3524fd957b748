//! Foreign programs the tests drive (haproxy, curl, redis-server, chromium, ...): found
//! on PATH or in the sbin directories, and required under CI.
//!
//! Locally a missing program skips its test with a message. With
//! `SOCKSERV_REQUIRE_TOOLS=1` (set by `.ci/run`, which installs them all) a missing one
//! fails the test with its name, so CI can never go green by skipping.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The environment variable under which a missing tool is a failure, not a skip.
pub const REQUIRE_TOOLS: &str = "SOCKSERV_REQUIRE_TOOLS";

/// Whether missing tools fail the tests (`SOCKSERV_REQUIRE_TOOLS=1`).
pub fn tools_required() -> bool {
    std::env::var(REQUIRE_TOOLS).as_deref() == Ok("1")
}

/// Whether a test may use `what`, given whether it was found (`ready`). When it was not:
/// a panic naming it under `SOCKSERV_REQUIRE_TOOLS=1`, otherwise a skip message on stderr
/// and `false`.
pub fn tool_ready(what: &str, ready: bool) -> bool {
    if ready {
        return true;
    }
    if tools_required() {
        panic!("{what} is missing and {REQUIRE_TOOLS}=1 (.ci/run installs it)");
    }
    eprintln!("skipped: {what} is not installed (.ci/run installs it)");
    false
}

/// The program `name` that runs `name ARGS` successfully: on PATH, or in the sbin
/// directories (Debian puts haproxy and friends in /usr/sbin, which is not on an
/// unprivileged user's PATH). `None` when there is no such program.
pub fn find_program(name: &str, args: &[&str]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| {
            Command::new(candidate)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// [`find_program`] then [`tool_ready`]: the program to run, or `None` when the test
/// should skip (a panic instead under `SOCKSERV_REQUIRE_TOOLS=1`).
pub fn require_program(name: &str, args: &[&str]) -> Option<PathBuf> {
    let found = find_program(name, args);
    tool_ready(name, found.is_some()).then_some(found).flatten()
}
