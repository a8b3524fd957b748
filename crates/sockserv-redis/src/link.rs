//! Connecting to Redis, backing off between attempts, and sleeping until told to stop.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisResult};

/// A connect that takes longer counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A command whose reply takes longer counts as failed (the reader's XREAD blocks for
/// less than this).
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// A new connection with bounded connect, read and write times.
pub(crate) fn connect(client: &Client) -> RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// Delays between reconnect attempts: 50 ms doubling up to 1 s, with jitter so the
/// nodes of a room do not all knock at the same instant after Redis comes back.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    delay: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn next(&mut self) -> Duration {
        self.delay = if self.delay.is_zero() {
            Self::FIRST
        } else {
            (self.delay * 2).min(Self::MAX)
        };
        // Up to a quarter more, from the clock's low bits: enough to spread the nodes.
        let nanos = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos(),
        );
        let quarter = self.delay.as_millis() as u64 / 4;
        self.delay + Duration::from_millis(nanos % (quarter + 1))
    }

    pub(crate) fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }
}

/// The bus's stop flag, with a sleep that ends early when it is raised.
#[derive(Debug, Default)]
pub(crate) struct Stopper {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stopper {
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `delay` or until stopped; returns whether stopped.
    pub(crate) fn sleep(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            let now = Instant::now();
            if now >= until {
                break;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *stopped
    }
}

/// Milliseconds since the Unix epoch: the heartbeat's unit, and a stream id's first half.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::default();
        let first = backoff.next();
        assert!(first >= Backoff::FIRST && first <= Backoff::FIRST * 5 / 4);
        for _ in 0..10 {
            backoff.next();
        }
        let capped = backoff.next();
        assert!(capped >= Backoff::MAX && capped <= Backoff::MAX * 5 / 4);
        backoff.reset();
        assert!(backoff.next() <= Backoff::FIRST * 5 / 4);
    }

    #[test]
    fn a_stopped_sleep_returns_at_once() {
        let stopper = Stopper::default();
        stopper.stop();
        let start = Instant::now();
        assert!(stopper.sleep(Duration::from_secs(30)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
