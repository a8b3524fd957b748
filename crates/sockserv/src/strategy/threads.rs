//! A thread per request (Python's `ThreadingMixIn`), counted so close can join them.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use mio::Registry;

use super::{ClosePolicy, CloseReport, Context, Dispatch, Job};
use crate::error::Failure;

/// The number of requests running, and a condvar signalled whenever one ends. Finished
/// threads leave nothing behind (CPython bpo-37193 kept every thread until close).
#[derive(Default)]
pub(crate) struct Running {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Running {
    pub fn get(&self) -> usize {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn add(&self, delta: isize) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count = count.saturating_add_signed(delta);
        self.changed.notify_all();
    }

    /// Waits until nothing runs, or the policy's deadline; reports what it saw.
    pub fn wait_idle(&self, policy: ClosePolicy) -> CloseReport {
        let deadline = match policy {
            ClosePolicy::Detach => Some(Instant::now()),
            ClosePolicy::JoinTimeout(d) => Some(Instant::now() + d),
            ClosePolicy::Join => None,
        };
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let at_start = *count;
        while *count > 0 {
            count = match deadline {
                None => self
                    .changed
                    .wait(count)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    self.changed
                        .wait_timeout(count, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        CloseReport {
            finished: at_start - *count,
            left: *count,
        }
    }
}

pub(crate) struct Threads {
    ctx: Arc<Context>,
    running: Arc<Running>,
}

impl Threads {
    pub fn new(ctx: Arc<Context>) -> Self {
        Threads {
            ctx,
            running: Arc::default(),
        }
    }
}

/// Decrements the running count when the worker ends, even by a panic.
struct Done(Arc<Running>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

impl Dispatch for Threads {
    fn has_capacity(&mut self) -> bool {
        true
    }

    fn dispatch(&mut self, job: Job, _registry: &Registry) {
        let peer = job.peer().clone();
        let ctx = Arc::clone(&self.ctx);
        self.running.add(1);
        let done = Done(Arc::clone(&self.running));
        // The job moves into the closure; if spawning fails the closure (and with it the
        // connection) is dropped, which closes it.
        let spawned = thread::Builder::new()
            .name("sockserv-worker".into())
            .spawn(move || {
                let _done = done;
                ctx.run(job);
            });
        if let Err(e) = spawned {
            self.ctx.report(peer, Failure::Spawn(e));
        }
    }

    fn active(&self) -> usize {
        self.running.get()
    }

    fn close(&mut self, policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        self.running.wait_idle(policy)
    }
}
