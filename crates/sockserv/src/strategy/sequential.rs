//! One request at a time, in the serving thread (Python's synchronous servers).

use std::sync::Arc;

use mio::Registry;

use super::{ClosePolicy, CloseReport, Context, Dispatch, Job};

pub(crate) struct Sequential {
    ctx: Arc<Context>,
}

impl Sequential {
    pub fn new(ctx: Arc<Context>) -> Self {
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

    fn close(&mut self, _policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        CloseReport::default()
    }
}
