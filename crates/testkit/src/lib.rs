//! Test support shared by the libraries' and the binary's tests: bounded stream and
//! datagram clients, an HTTP response reader, test certificates made at run time,
//! child-process helpers, and the one bounded wait for unsignalled state
//! ([`wait_until`]).
//!
//! One crate rather than a copy in each crate's `tests/util`: cargo compiles every
//! `tests/*.rs` as a crate of its own and cannot share a module between two packages.

#![warn(missing_docs)]

mod certs;
mod client;
mod closed;
mod datagram;
pub mod http;
mod process;
mod tools;
mod wait;

use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use certs::Certs;
pub use client::{wait_until_refused, Client};
pub use closed::{expect_closed, read_until_closed, ReadTimeout};
pub use datagram::DatagramClient;
pub use process::{
    exit_within, lines_in_background, read_all_in_background, send_signal, wait_for_exit,
};
pub use tools::{find_program, require_program, tool_ready, tools_required, REQUIRE_TOOLS};
pub use wait::wait_until;

/// The bound on a client's every read and write: generous, so a loaded CI machine
/// passes, yet a hang fails the test instead of stalling the run.
pub const WAIT: Duration = Duration::from_secs(20);

/// `n` bytes that are not all alike, so a reordering or a lost chunk shows.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Runs the tests that take it one at a time: those that fork the test process (a fork
/// taken while another test's thread holds a lock leaves the child stuck on it) or that
/// measure a server's CPU and memory on a shared machine.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a read failed only because its timeout passed (Linux says `WouldBlock`).
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
