//! [`Backoff`]: what the accept path does after errors such as EMFILE.

use std::io;
use std::time::{Duration, Instant};

use crate::endpoint::Endpoint;

/// Back-off after accept errors such as EMFILE: the listener stays readable while the
/// process is out of descriptors, so retrying at once would spin at 100% CPU.
#[derive(Default)]
pub(crate) struct Backoff {
    until: Option<Instant>,
    delay: Duration,
    logged: bool,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn fail(&mut self, endpoint: &Endpoint, e: &io::Error) {
        self.delay = if self.delay.is_zero() {
            Self::FIRST
        } else {
            (self.delay * 2).min(Self::MAX)
        };
        self.until = Some(Instant::now() + self.delay);
        if !self.logged {
            // Once per burst: a flood of identical lines helps nobody.
            self.logged = true;
            tracing::warn!(%endpoint, error = %e, "accept failed; backing off (logged once per burst)");
        }
    }

    pub(crate) fn reset(&mut self) {
        if self.logged {
            tracing::info!("accepting again");
        }
        *self = Backoff::default();
    }

    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.until
            .and_then(|u| u.checked_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use super::Backoff;
    use crate::Endpoint;

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(libc::EMFILE)
    }

    #[test]
    fn the_delay_doubles_from_10_ms_up_to_1_s_and_a_success_resets_it() {
        let endpoint: Endpoint = "tcp://127.0.0.1:9".parse().unwrap();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.remaining(), None, "no wait before any failure");
        let delays: Vec<u64> = (0..10)
            .map(|_| {
                backoff.fail(&endpoint, &emfile());
                let remaining = backoff.remaining().expect("a wait after a failure");
                assert!(
                    remaining <= backoff.delay,
                    "{remaining:?} > {:?}",
                    backoff.delay
                );
                backoff.delay.as_millis() as u64
            })
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.remaining(), None, "a success ends the wait");
        backoff.fail(&endpoint, &emfile());
        assert_eq!(backoff.delay, Duration::from_millis(10), "starts over");
    }
}
