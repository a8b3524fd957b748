//! [`Offload`]: a small, bounded pool of blocking workers that decide responses off an
//! event loop's thread (nginx's `aio threads`), so opening files, reading directories and
//! compressing never stall the other connections of that loop.
//!
//! A connection hands the request to a worker and waits (reading nothing more); the
//! worker's [`Response`] comes back through the connection's
//! [`SessionWaker`](sockserv::SessionWaker). The queue is bounded: when it is full the
//! connection decides the request on its own thread, as without a pool, so memory stays
//! bounded whatever the load (back-pressure on the loop, never a growing queue).

use std::fmt;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;

use sockserv::PeerAddr;

use crate::handler::Handler;
use crate::request::{self, Parsed};
use crate::response::Response;
use crate::server::Shared;
use crate::status::Status;
use crate::writer::Framing;

/// A request handed to an [`Offload`](crate::offload::Offload) worker.
pub(crate) struct Offloaded {
    /// Where the worker puts the response.
    pub(crate) slot: Arc<Mutex<Option<Response>>>,
    /// The request's head and read body (the worker's copy too).
    pub(crate) whole: Arc<[u8]>,
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) framing: Framing,
}

/// The handler's response to the request in `whole` (a head, complete, and its read
/// body), parsed again as the connection parsed it.
pub(crate) fn decide<H: Handler>(shared: &Shared<H>, whole: &[u8], peer: &PeerAddr) -> Response {
    match request::parse(whole, shared.max_head) {
        Parsed::Complete(mut request, len) => {
            request.content = &whole[len..];
            shared.handler.respond(&request, peer)
        }
        // Never: these bytes parsed as a complete request on the connection.
        _ => Response::error(Status::BAD_REQUEST, "Bad request"),
    }
}

/// Work for a worker.
type Job = Box<dyn FnOnce() + Send>;

/// A pool of worker threads with a bounded queue. Cheap to clone (clones share it); the
/// workers exit once every clone is dropped and the queue is empty.
#[derive(Clone)]
pub struct Offload {
    jobs: SyncSender<Job>,
    workers: usize,
}

impl Offload {
    /// Starts `workers` threads (at least 1) behind a queue of `queue` jobs.
    ///
    /// # Errors
    ///
    /// The operating system refused to start a thread.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Offload> {
        let workers = workers.max(1);
        let (jobs, queued) = mpsc::sync_channel::<Job>(queue);
        let queued = Arc::new(Mutex::new(queued));
        for i in 0..workers {
            let queued = Arc::clone(&queued);
            thread::Builder::new()
                .name(format!("http-offload-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job.
                    let job = match queued.lock() {
                        Ok(rx) => rx.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(Offload { jobs, workers })
    }

    /// Queues `job` for a worker; gives it back when the queue is full (run it yourself).
    pub(crate) fn try_run(&self, job: Job) -> Result<(), Job> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }
}

impl fmt::Debug for Offload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offload")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}
