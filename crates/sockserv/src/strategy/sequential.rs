//! One request at a time, in the serving thread (Python's synchronous servers).

use std::sync::Arc;

use mio::Registry;

use super::{ClosePolicy, CloseReport, Dispatch};
use crate::request::{Context, Job};

pub(crate) struct Sequential {
    ctx: Arc<Context>,
}

impl Sequential {
    pub(super) fn new(ctx: Arc<Context>) -> Self {
        Sequential { ctx }
    }
}

impl Dispatch for Sequential {
    fn has_capacity(&mut self) -> bool {
        true
    }

    fn dispatch(&mut self, job: Job, _registry: &Registry) {
        self.ctx.run(job);
    }

    fn active(&self) -> usize {
        0
    }

    /// The connection has ended before `serve` returned: nothing runs now. A drain
    /// began at the stop (see `ShutdownHandle`); its figures are reported here.
    fn close(&mut self, policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        match policy {
            ClosePolicy::Drain(_) => self.ctx.live.take_kept(),
            _ => CloseReport::default(),
        }
    }
}
