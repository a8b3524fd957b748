//! How many clients are served at once: the [`Strategy`] value, and one file per
//! strategy behind [`Dispatch`].

pub(crate) mod choice;
mod events;
mod fork;
mod pool;
mod running;
mod sequential;
mod threads;

use std::os::fd::RawFd;
use std::sync::Arc;

use mio::{Registry, Token};

use crate::endpoint::PeerAddr;
use crate::output::Output;
use crate::request::{Context, Job, Service};
use crate::session::{OpenFn, Session};

pub use choice::{ClosePolicy, CloseReport, ParseStrategyError, Strategy};
use events::Events;
use fork::Fork;
use pool::Pool;
use sequential::Sequential;
use threads::Threads;

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
    /// A [`ClosePolicy::Drain`] close is about to begin: tell the Sessions now, before the
    /// listener closes, so that a request completing after a client saw the listener
    /// refuse is served as in a drain (an HTTP answer says `Connection: close`). The
    /// default does nothing.
    fn begin_drain(&mut self) {}
    /// Stops taking requests and waits for running ones under `policy`; a
    /// [`ClosePolicy::Drain`] close follows [`begin_drain`](Dispatch::begin_drain) (the
    /// server's close calls both).
    fn close(&mut self, policy: ClosePolicy, registry: &Registry) -> CloseReport;
}

/// The first token strategies may use for their own event sources.
pub(crate) const FIRST_STRATEGY_TOKEN: usize = 16;

/// Builds the dispatcher for `strategy`. `wake` tells the serve loop that capacity freed up.
pub(crate) fn dispatcher(
    strategy: Strategy,
    ctx: Arc<Context>,
    wake: Arc<dyn Fn() + Send + Sync>,
    listener_fd: RawFd,
    max_connections: Option<usize>,
) -> std::io::Result<Box<dyn Dispatch>> {
    let limit = max_connections.unwrap_or(usize::MAX);
    Ok(match strategy {
        Strategy::Sequential => Box::new(Sequential::new(ctx)),
        Strategy::Threads => Box::new(Threads::new(ctx, limit, wake)),
        Strategy::Pool { workers } => Box::new(Pool::new(ctx, workers.min(limit), wake)?),
        Strategy::Fork { max_children } => {
            let mut fork = Fork::new(ctx, max_children.min(limit))?;
            fork.close_in_child(listener_fd);
            Box::new(fork)
        }
        Strategy::Events { loops } => {
            let open: OpenFn = match &ctx.service {
                Service::Session(open) => Arc::clone(open),
                _ => Arc::new(|_: &PeerAddr| -> Box<dyn Session> { Box::new(Refuse) }),
            };
            Box::new(Events::new(ctx, loops, open, limit, wake)?)
        }
    })
}

/// Stands in for a missing session factory (a datagram handler under `events`: no
/// stream ever arrives on its endpoint); it closes anything it is given.
struct Refuse;

impl Session for Refuse {
    fn on_open(&mut self, out: &mut Output) {
        out.close();
    }

    fn on_data(&mut self, _data: &[u8], out: &mut Output) {
        out.close();
    }
}
