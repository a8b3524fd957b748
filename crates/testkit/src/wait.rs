//! [`wait_until`]: the one bounded wait for state a test cannot be told about.

use std::thread;
use std::time::{Duration, Instant};

/// Waits until `ready()` reports `(true, _)`, for at most `limit`, sampling it at first
/// every millisecond, then less often (up to every 10 ms); panics with `what` and the last
/// observation (`ready`'s string) otherwise.
///
/// For state nothing signals — a worker forgotten after its client saw EOF, a server's
/// descriptors in `/proc` — where a channel or a readiness line cannot be had. The
/// sampling is pacing, not synchronisation: the bound is `limit`.
///
/// # Panics
///
/// When `limit` passes before `ready()` holds.
pub fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> (bool, String)) {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        let (ok, seen) = ready();
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?} (last seen: {seen})"
        );
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
