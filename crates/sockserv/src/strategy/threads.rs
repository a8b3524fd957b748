//! A thread per request (Python's `ThreadingMixIn`), counted so close can join them.

use std::sync::Arc;
use std::thread;

use mio::Registry;

use super::running::Running;
use super::{ClosePolicy, CloseReport, Dispatch};
use crate::error::Failure;
use crate::request::{Context, Job};

pub(crate) struct Threads {
    ctx: Arc<Context>,
    running: Arc<Running>,
    limit: usize,
}

impl Threads {
    pub(super) fn new(ctx: Arc<Context>, limit: usize, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Threads {
            ctx,
            running: Arc::new(Running::new(wake)),
            limit,
        }
    }
}

/// Decrements the running count when the worker ends, even by a panic.
struct Done(Arc<Running>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Dispatch for Threads {
    fn has_capacity(&mut self) -> bool {
        self.running.has_room(self.limit)
    }

    fn dispatch(&mut self, job: Job, _registry: &Registry) {
        let peer = job.peer().clone();
        let ctx = Arc::clone(&self.ctx);
        self.running.start();
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
            let started = std::time::Instant::now();
            self.ctx
                .finished(&peer, started, (0, 0), Some(Failure::Spawn(e)));
        }
    }

    fn active(&self) -> usize {
        self.running.get()
    }

    fn begin_drain(&mut self) {
        self.ctx.live.begin_drain();
    }

    fn close(&mut self, policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        match policy {
            ClosePolicy::Drain(limit) => self.running.drain(limit, || {
                self.ctx.live.cut_all();
            }),
            policy => self.running.wait_idle(policy),
        }
    }
}
