//! A fixed pool of worker threads; while all are busy, clients wait in the backlog.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use mio::Registry;

use super::running::Running;
use super::{ClosePolicy, CloseReport, Dispatch};
use crate::request::{Context, Job};

struct Queue {
    jobs: Mutex<Jobs>,
    ready: Condvar,
    /// Requests queued or being served: room checks, close and `active()`.
    running: Running,
}

#[derive(Default)]
struct Jobs {
    queue: VecDeque<Job>,
    closing: bool,
}

pub(crate) struct Pool {
    shared: Arc<Queue>,
    ctx: Arc<Context>,
    workers: usize,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    pub(super) fn new(
        ctx: Arc<Context>,
        workers: usize,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> io::Result<Pool> {
        let shared = Arc::new(Queue {
            jobs: Mutex::default(),
            ready: Condvar::new(),
            running: Running::new(wake),
        });
        let mut pool = Pool {
            shared,
            ctx: Arc::clone(&ctx),
            workers,
            handles: Vec::with_capacity(workers),
        };
        for i in 0..workers {
            let shared = Arc::clone(&pool.shared);
            let ctx = Arc::clone(&ctx);
            let handle = thread::Builder::new()
                .name(format!("sockserv-pool-{i}"))
                .spawn(move || work(&shared, &ctx));
            match handle {
                Ok(h) => pool.handles.push(h),
                Err(e) => {
                    // Stop the workers already started before failing the build.
                    pool.stop(ClosePolicy::Join);
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// Stops taking jobs and waits for the workers under `policy`.
    fn stop(&mut self, policy: ClosePolicy) -> CloseReport {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closing = true;
        self.shared.ready.notify_all();
        let report = match policy {
            ClosePolicy::Drain(limit) => self.shared.running.drain(limit, || {
                // Connections still waiting for a worker are closed unserved.
                let waiting = std::mem::take(
                    &mut self
                        .shared
                        .jobs
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .queue,
                );
                for job in waiting {
                    job.reject();
                    self.shared.running.end();
                }
                self.ctx.live.cut_all();
            }),
            policy => self.shared.running.wait_idle(policy),
        };
        if report.left == 0 {
            for handle in self.handles.drain(..) {
                // Workers catch handler panics; a join error cannot carry anything new.
                let _ = handle.join();
            }
        } else {
            // Still busy after the deadline: the threads finish on their own, detached.
            self.handles.clear();
        }
        report
    }
}

fn work(shared: &Queue, ctx: &Context) {
    loop {
        let job = {
            let mut jobs = shared.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(job) = jobs.queue.pop_front() {
                    break job;
                }
                if jobs.closing {
                    return;
                }
                jobs = shared
                    .ready
                    .wait(jobs)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        ctx.run(job);
        shared.running.end();
    }
}

impl Dispatch for Pool {
    fn has_capacity(&mut self) -> bool {
        self.shared.running.has_room(self.workers)
    }

    fn dispatch(&mut self, job: Job, _registry: &Registry) {
        self.shared.running.start();
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue
            .push_back(job);
        self.shared.ready.notify_one();
    }

    fn active(&self) -> usize {
        self.shared.running.get()
    }

    fn begin_drain(&mut self) {
        self.ctx.live.begin_drain();
    }

    fn close(&mut self, policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        self.stop(policy)
    }
}
