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
