//! How many clients are served at once: one file per strategy behind [`Dispatch`].

mod events;
mod fork;
mod pool;
mod running;
mod sequential;
mod threads;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Registry, Token};

use crate::error::{ConnError, Failure};
use crate::handler::{
    close_stream, run_guarded, serve_stream, ConnSettings, Datagram, DatagramHandler, StreamHandler,
};
use crate::proxied::{self, ProxyConfig};
use crate::server::VerifyFn;
use crate::stats::{Closed, Stats};
use crate::{DatagramSocket, PeerAddr, Stream};

pub(crate) use events::{Events, OpenFn};
pub(crate) use fork::Fork;
pub(crate) use pool::Pool;
pub(crate) use sequential::Sequential;
pub(crate) use threads::Threads;

/// How a server serves many clients at once (Python's mix-ins, as a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// One request at a time, in the serving thread (Python's plain `TCPServer`). A second
    /// client waits until the first is done: the server is "deaf" while a handler runs.
    Sequential,
    /// A new thread per connection or datagram (`ThreadingMixIn`), without a bound.
    /// Finished threads are forgotten as they finish (never kept until close).
    Threads,
    /// A fixed pool of `workers` threads. While all are busy, new connections wait in the
    /// listen backlog (none is dropped) and are accepted as workers free up.
    Pool {
        /// Number of worker threads (at least 1).
        workers: usize,
    },
    /// A new process per connection or datagram (`ForkingMixIn`), at most `max_children`
    /// at once; beyond that, new connections wait in the backlog. Children are reaped as
    /// they exit (only the ones this server forked). Processes share no memory: a
    /// handler's changes to shared state are lost. See the crate docs for what a child may
    /// do after fork.
    Fork {
        /// Most child processes alive at once (at least 1; the CLI's default is 64).
        max_children: usize,
    },
    /// `loops` event-loop threads (mio), each owning its connections: tens of thousands
    /// of clients on a few threads. Runs [`Session`](crate::Session) handlers only (a
    /// blocking `handle()` would stall every client of its loop).
    Events {
        /// Number of loop threads (at least 1; default: one per core).
        loops: usize,
    },
}

impl Default for Strategy {
    /// [`Strategy::Threads`], the usual choice for blocking handlers.
    fn default() -> Self {
        Strategy::Threads
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Sequential => f.write_str("sequential"),
            Strategy::Threads => f.write_str("threads"),
            Strategy::Pool { workers } => write!(f, "pool:{workers}"),
            Strategy::Fork { max_children } => write!(f, "fork:{max_children}"),
            Strategy::Events { loops } => write!(f, "events:{loops}"),
        }
    }
}

/// Default workers of `pool` without a count.
pub const DEFAULT_POOL_WORKERS: usize = 16;
/// Default `max_children` of `fork` without a count.
pub const DEFAULT_MAX_CHILDREN: usize = 64;

impl FromStr for Strategy {
    type Err = String;

    /// Parses `sequential`, `threads`, `pool`, `pool:N`, `fork`, `fork:N`, `events`,
    /// `events:N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (name, count) = match text.split_once(':') {
            Some((name, n)) => {
                let n: usize = n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("invalid count {n:?} in mode {text:?}: expected a whole number above 0")
                })?;
                (name, Some(n))
            }
            None => (text, None),
        };
        match (name, count) {
            ("sequential", None) => Ok(Strategy::Sequential),
            ("threads", None) => Ok(Strategy::Threads),
            ("pool", n) => Ok(Strategy::Pool {
                workers: n.unwrap_or(DEFAULT_POOL_WORKERS),
            }),
            ("fork", n) => Ok(Strategy::Fork {
                max_children: n.unwrap_or(DEFAULT_MAX_CHILDREN),
            }),
            ("events", n) => Ok(Strategy::Events {
                loops: n.unwrap_or_else(default_loops),
            }),
            ("sequential" | "threads", Some(_)) => Err(format!("mode {name:?} takes no count")),
            _ => Err(format!(
                "unknown mode {text:?}: expected sequential, threads, pool[:N], fork[:N] or events[:N]"
            )),
        }
    }
}

/// One event loop per core: the default of `events` without a count.
pub fn default_loops() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What `close` does with requests still being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClosePolicy {
    /// Wait for every one to finish (Python's `block_on_close = True`). The default.
    #[default]
    Join,
    /// Wait at most this long; then leave threads running, kill and reap children.
    JoinTimeout(Duration),
    /// Do not wait (Python's `daemon_threads` / `block_on_close = False`): threads run on
    /// untracked and die with the process; children are reaped in the background.
    Detach,
}

/// What `close` found: how many workers finished in time and how many were left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Requests still running when close began that finished before it returned.
    pub finished: usize,
    /// Requests still running when close returned (detached threads, killed children).
    pub left: usize,
}

/// The service a server runs, type-erased.
#[derive(Clone)]
pub(crate) enum Service {
    Stream(Arc<dyn StreamHandler>),
    Datagram(Arc<dyn DatagramHandler>),
}

pub(crate) type ErrorHook = Arc<dyn Fn(&ConnError) + Send + Sync>;
pub(crate) type CloseHook = Arc<dyn Fn(&Closed<'_>) + Send + Sync>;

/// Everything a worker needs to serve a request, shared by all workers.
pub(crate) struct Context {
    pub service: Service,
    pub on_error: ErrorHook,
    pub on_close: Option<CloseHook>,
    pub stats: Arc<Stats>,
    pub settings: ConnSettings,
    pub reply: Option<DatagramSocket>,
    /// The verify hook; run here, on the worker, only behind a PROXY-protocol balancer
    /// (otherwise the serving thread runs it before dispatch).
    pub verify: Option<Arc<VerifyFn>>,
    pub proxy: Option<ProxyConfig>,
}

/// One request: an accepted connection or a received datagram.
pub(crate) enum Job {
    Stream {
        stream: Stream,
        peer: PeerAddr,
    },
    Datagram {
        data: Vec<u8>,
        truncated: bool,
        peer: PeerAddr,
    },
}

impl Job {
    pub fn peer(&self) -> &PeerAddr {
        match self {
            Job::Stream { peer, .. } | Job::Datagram { peer, .. } => peer,
        }
    }

    /// Ends a request that will not be served: a connection gets EOF at once.
    pub fn reject(self) {
        if let Job::Stream { stream, .. } = self {
            close_stream(stream);
        }
    }
}

impl Context {
    /// Serves `job` to the end, counting it and reporting a failure to the error hook.
    /// Returns whether it succeeded (a forked child's exit status).
    pub fn run(&self, job: Job) -> bool {
        let started = Instant::now();
        let job = match (job, &self.proxy) {
            (Job::Stream { stream, peer }, Some(_)) => match self.behind_proxy(stream, peer) {
                Some(job) => job,
                None => return false,
            },
            (job, _) => job,
        };
        let peer = job.peer().clone();
        let (result, traffic) = match (job, &self.service) {
            (Job::Stream { stream, peer }, Service::Stream(handler)) => {
                serve_stream(&**handler, stream, peer, self.settings)
            }
            (
                Job::Datagram {
                    data,
                    truncated,
                    peer,
                },
                Service::Datagram(handler),
            ) => self.serve_datagram(&**handler, &data, truncated, &peer),
            // The builder refuses mismatched handlers; a stray job is just dropped.
            (job, _) => {
                job.reject();
                (Ok(()), (0, 0))
            }
        };
        self.finished(&peer, started, traffic, result.err())
    }

    /// Reads the PROXY header and applies the verify hook to the client it names;
    /// `None` if the connection was refused (and counted, and closed).
    fn behind_proxy(&self, stream: Stream, socket_peer: PeerAddr) -> Option<Job> {
        let header = match proxied::read_blocking(&stream) {
            Ok(header) => header,
            Err(e) => {
                self.stats.proxy_rejected();
                proxied::refuse(&stream);
                self.report(socket_peer, Failure::Proxy(e));
                return None;
            }
        };
        let peer = proxied::client_of(&header, &socket_peer);
        if !self.permits(&peer) {
            self.stats.rejected();
            close_stream(stream);
            return None;
        }
        Some(Job::Stream { stream, peer })
    }

    /// Runs the verify hook (if any) on `peer`; a panicking hook refuses, and is reported.
    pub fn permits(&self, peer: &PeerAddr) -> bool {
        let Some(verify) = &self.verify else {
            return true;
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| verify(peer))) {
            Ok(permitted) => permitted,
            Err(payload) => {
                self.report(
                    peer.clone(),
                    Failure::VerifyPanic(crate::error::panic_message(&*payload)),
                );
                false
            }
        }
    }

    /// Counts a finished request, tells the close hook, reports a failure; returns
    /// whether it succeeded.
    pub fn finished(
        &self,
        peer: &PeerAddr,
        started: Instant,
        (bytes_in, bytes_out): (u64, u64),
        failure: Option<Failure>,
    ) -> bool {
        let closed = Closed {
            peer,
            duration: started.elapsed(),
            bytes_in,
            bytes_out,
            failure: failure.as_ref(),
        };
        self.stats.closed(&closed);
        if let Some(hook) = &self.on_close {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&closed))).is_err() {
                eprintln!("sockserv: the close hook panicked for {peer}");
            }
        }
        match failure {
            None => true,
            Some(failure) => {
                self.report(peer.clone(), failure);
                false
            }
        }
    }

    fn serve_datagram(
        &self,
        handler: &dyn DatagramHandler,
        data: &[u8],
        truncated: bool,
        peer: &PeerAddr,
    ) -> (Result<(), Failure>, (u64, u64)) {
        let mut reply = Vec::new();
        let mut sent = 0;
        let result = run_guarded(|| {
            handler.handle(&Datagram::new(data, peer, truncated), &mut reply)?;
            if let (Some(socket), false) = (&self.reply, reply.is_empty()) {
                sent = socket.send_to(&reply, peer)? as u64;
            }
            Ok(())
        });
        (result, (data.len() as u64, sent))
    }

    /// Hands a failure to the error hook; a panicking hook is contained too.
    pub fn report(&self, peer: PeerAddr, failure: Failure) {
        let err = ConnError { peer, failure };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.on_error)(&err))).is_err()
        {
            eprintln!("sockserv: the error hook panicked while reporting: {err}");
        }
    }
}

/// A strategy's moving parts, driven by the serve loop.
pub(crate) trait Dispatch: Send {
    /// Whether another request can be taken now; when false the loop stops accepting
    /// (clients wait in the backlog) until the strategy wakes it: a request ended, or an
    /// event of its own (a child exited) arrived.
    fn has_capacity(&mut self) -> bool;
    /// Serves `job` (inline, on a thread, or in a child).
    fn dispatch(&mut self, job: Job, registry: &Registry);
    /// An event for one of the tokens this strategy registered (fork: a child exited).
    fn on_event(&mut self, token: Token, registry: &Registry) {
        let _ = (token, registry);
    }
    /// Requests being served now.
    fn active(&self) -> usize;
    /// Stops taking requests and waits for running ones under `policy`.
    fn close(&mut self, policy: ClosePolicy, registry: &Registry) -> CloseReport;
}

/// The first token strategies may use for their own event sources.
pub(crate) const FIRST_STRATEGY_TOKEN: usize = 16;

/// Builds the dispatcher for `strategy`. `wake` tells the serve loop that capacity freed up.
pub(crate) fn dispatcher(
    strategy: Strategy,
    ctx: Arc<Context>,
    wake: Arc<dyn Fn() + Send + Sync>,
    listener_fd: std::os::fd::RawFd,
    open: Option<OpenFn>,
    max_connections: Option<usize>,
) -> std::io::Result<Box<dyn Dispatch>> {
    let limit = max_connections.unwrap_or(usize::MAX);
    Ok(match strategy {
        Strategy::Sequential => Box::new(Sequential::new(ctx)),
        Strategy::Threads => Box::new(Threads::new(ctx, limit, wake)),
        Strategy::Pool { workers } => Box::new(Pool::new(ctx, workers.min(limit), wake)?),
        Strategy::Fork { max_children } => {
            let mut fork = Fork::new(ctx, max_children.min(limit));
            fork.close_in_child(listener_fd);
            Box::new(fork)
        }
        Strategy::Events { loops } => {
            let open = open.unwrap_or_else(|| {
                Arc::new(|_: &PeerAddr| -> Box<dyn crate::Session> { Box::new(Refuse) })
            });
            Box::new(Events::new(ctx, loops, open, limit, wake)?)
        }
    })
}

/// Stands in for a missing session factory (datagram endpoints under `events`, where
/// no stream ever arrives); it closes anything it is given.
struct Refuse;

impl crate::Session for Refuse {
    fn on_open(&mut self, out: &mut crate::Output) {
        out.close();
    }

    fn on_data(&mut self, _data: &[u8], out: &mut crate::Output) {
        out.close();
    }
}
