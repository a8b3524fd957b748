//! Closing a [`Server`]: the listener goes first, then the strategy waits for (or
//! drains, or leaves) what is running, under a [`ClosePolicy`].

use std::os::fd::AsRawFd;

use mio::unix::SourceFd;

use super::Server;
use crate::error::Error;
use crate::strategy::{ClosePolicy, CloseReport};

impl Server {
    /// Stops listening (the port or socket file is released at once), then waits for
    /// running requests under the close policy (the builder's, or the one the last
    /// [`ShutdownHandle::shutdown_with`](crate::ShutdownHandle::shutdown_with) named), reaps forked children and removes the
    /// Unix socket file (Python's `server_close`, plus the joins of the mix-ins).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for reporting close failures.
    pub fn close(mut self) -> Result<CloseReport, Error> {
        let policy = self.control.policy();
        Ok(self.close_with(policy))
    }

    /// [`close`](Server::close) under `policy` instead of the builder's. Only
    /// [`ClosePolicy::Drain`] tells the Sessions the drain began
    /// ([`Session::on_shutdown`](crate::Session::on_shutdown)). Under the sequential
    /// strategy the drain begins at the stop, before this close (see [`ShutdownHandle`](crate::ShutdownHandle)):
    /// name the policy there, with [`ShutdownHandle::shutdown_with`](crate::ShutdownHandle::shutdown_with), when it is not the
    /// builder's.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for reporting close failures.
    pub fn close_with_policy(mut self, policy: ClosePolicy) -> Result<CloseReport, Error> {
        Ok(self.close_with(policy))
    }

    pub(super) fn close_with(&mut self, policy: ClosePolicy) -> CloseReport {
        self.slot.clear();
        // Counted before the listener goes: a request that ends right after (its client
        // saw the refusal and said goodbye) was still running when close began.
        let running = self.dispatch.active();
        if let ClosePolicy::Drain(_) = policy {
            self.dispatch.begin_drain();
        }
        if let Some(listener) = self.listener.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&listener.as_raw_fd()));
            drop(listener);
        }
        let report = self.dispatch.close(policy, self.poll.registry());
        CloseReport {
            // The strategy's own count where it is larger: the sequential strategy finds
            // nothing running (its drain began at the stop and reports itself).
            finished: report
                .finished
                .max(running.saturating_sub(report.cut + report.left)),
            ..report
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.listener.is_some() {
            self.close_with(ClosePolicy::Detach);
        }
    }
}
