//! [`ShutdownHandle`]: stop a serving server from anywhere, at once.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::Waker;

use crate::request::Context;
use crate::strategy::ClosePolicy;

pub(crate) struct Control {
    stop: AtomicBool,
    waker: Waker,
    /// How the close after a stop treats the connections still open: the builder's
    /// policy, or the one a stop named.
    policy: Mutex<ClosePolicy>,
    /// Under the sequential strategy the serving thread serves the connection itself, so
    /// `serve` returns, and `close` can begin a drain, only once that connection ended: a
    /// stop to be followed by a drain begins it at once, here.
    served_inline: Option<Arc<Context>>,
}

impl Control {
    pub(crate) fn new(
        waker: Waker,
        policy: ClosePolicy,
        served_inline: Option<Arc<Context>>,
    ) -> Arc<Control> {
        Arc::new(Control {
            stop: AtomicBool::new(false),
            waker,
            policy: Mutex::new(policy),
            served_inline,
        })
    }

    /// The policy the close will use.
    pub(crate) fn policy(&self) -> ClosePolicy {
        *self.policy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the policy the close will use.
    pub(crate) fn set_policy(&self, policy: ClosePolicy) {
        *self.policy.lock().unwrap_or_else(PoisonError::into_inner) = policy;
    }

    fn stop(&self, policy: Option<ClosePolicy>) {
        if let Some(policy) = policy {
            self.set_policy(policy);
        }
        let again = self.stop.swap(true, Ordering::AcqRel);
        if let (Some(ctx), false) = (&self.served_inline, again) {
            // Once per stop: a repeated shutdown does not push the deadline back.
            if let ClosePolicy::Drain(limit) = self.policy() {
                drain_inline(ctx, limit);
            } else {
                // A close that does not drain reports no drain.
                ctx.live.take_kept();
            }
        }
        self.wake();
    }

    pub(crate) fn wake(&self) {
        // Fails only if the eventfd is gone, i.e. the server is closed: nothing to wake.
        let _ = self.waker.wake();
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Consumes a stop request so a later `serve` runs again (Python resets its flag too);
    /// a drain the stop began is over, so the Sessions of that `serve` are not told.
    pub(crate) fn reset(&self) {
        self.stop.store(false, Ordering::Release);
        if let Some(ctx) = &self.served_inline {
            ctx.live.end_drain();
        }
    }
}

/// Begins the drain of the connection the serving thread serves (sequential): tells its
/// Session, and cuts it at the deadline unless `serve` returned first. The deadline is
/// kept by a thread of its own, as the serving thread is busy serving.
fn drain_inline(ctx: &Arc<Context>, limit: Duration) {
    let drain = ctx.live.begin_drain();
    let deadline = Instant::now() + limit;
    let ctx = Arc::clone(ctx);
    let spawned = std::thread::Builder::new()
        .name("sockserv-drain".into())
        .spawn(move || ctx.live.cut_at(drain, deadline));
    if let Err(e) = spawned {
        tracing::warn!("no thread to keep the drain deadline ({e}): the client is served on");
    }
}

/// Stops a server's [`serve`](crate::Server::serve) loop. Cheap to clone, `Send + Sync`.
///
/// [`shutdown`](ShutdownHandle::shutdown) never blocks: it sets a flag and wakes the loop
/// through an eventfd, so `serve` returns within microseconds, not after a polling
/// interval. It is safe to call from any thread, from inside a handler (even under the
/// sequential strategy), before `serve` starts (then `serve` returns at once), and any
/// number of times. Requests already being served are not interrupted; the close policy
/// decides how long to wait for them.
///
/// Under [`Strategy::Sequential`](crate::Strategy::Sequential) the connection being served
/// holds `serve` (it runs on the serving thread), so a stop that a
/// [`ClosePolicy::Drain`] will follow begins that drain at once: the Session hears
/// [`on_shutdown`](crate::Session::on_shutdown) and its connection is closed at the
/// drain's deadline, counted from the stop. Under the other strategies the drain begins
/// at [`close`](crate::Server::close), right after `serve` returned.
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) control: Arc<Control>,
}

impl ShutdownHandle {
    /// Asks the server to stop accepting and return from `serve`; the close that follows
    /// uses the builder's [`close_policy`](crate::Builder::close_policy) (or the one a
    /// [`shutdown_with`](ShutdownHandle::shutdown_with) named).
    pub fn shutdown(&self) {
        self.control.stop(None);
    }

    /// [`shutdown`](ShutdownHandle::shutdown), and the close that follows
    /// ([`Server::close`](crate::Server::close)) uses `policy`: for example
    /// [`ClosePolicy::JoinTimeout`] to serve the clients on, untold, after handing the
    /// listener to a new process, where a SIGTERM would drain.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sockserv::{ClosePolicy, Server};
    ///
    /// # fn main() -> Result<(), sockserv::Error> {
    /// let mut server = Server::builder("tcp://127.0.0.1:0")
    ///     .close_policy(ClosePolicy::Drain(Duration::from_secs(5)))
    ///     .handler(|_conn| Ok(()))
    ///     .bind()?;
    /// let stop = server.shutdown_handle();
    /// stop.shutdown_with(ClosePolicy::JoinTimeout(Duration::from_secs(30)));
    /// server.serve()?; // returns at once
    /// server.close()?; // waits up to 30 s, and tells nobody to go
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown_with(&self, policy: ClosePolicy) {
        self.control.stop(Some(policy));
    }

    /// Whether a shutdown was asked for and `serve` has not consumed it yet.
    pub fn is_shutdown_requested(&self) -> bool {
        self.control.stop_requested()
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.is_shutdown_requested())
            .finish()
    }
}
