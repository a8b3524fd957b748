//! The accept path: taking one request off the listener (accept or recv), refusing
//! what the PROXY trust list or the verify hook refuses, backing off on errors such as
//! EMFILE, and handing the rest to the strategy.

use std::io::{self, ErrorKind};

use super::{Outcome, Server};
use crate::request::Job;
use crate::stats::Stats;

impl Server {
    /// Takes one request if one is ready and the strategy has room.
    pub(super) fn take_one(&mut self) -> Option<Outcome> {
        if !self.listener_ready
            || self.backoff.remaining().is_some()
            || !self.dispatch.has_capacity()
        {
            return None;
        }
        let listener = self.listener.as_ref()?;
        let job = if listener.is_datagram() {
            listener
                .recv_from(&mut self.recv_buf)
                .map(|(n, peer)| Job::Datagram {
                    data: self.recv_buf[..n.min(self.max_packet_size)].to_vec(),
                    truncated: n > self.max_packet_size,
                    peer,
                })
        } else {
            listener
                .accept()
                .map(|(stream, peer)| Job::Stream { stream, peer })
        };
        let job = match job {
            Ok(job) => {
                self.backoff.reset();
                job
            }
            Err(e) => {
                self.accept_failed(e);
                return None;
            }
        };
        Some(self.verify_and_dispatch(job))
    }

    fn verify_and_dispatch(&mut self, job: Job) -> Outcome {
        let stats: &Stats = &self.ctx.stats;
        stats.accepted();
        if let Some(proxy) = &self.ctx.proxy {
            // Only a trusted balancer may connect; the verify hook runs on the worker,
            // once the header has named the real client.
            if !proxy.trusts(job.peer()) {
                stats.proxy_rejected();
                job.reject();
                return Outcome::Rejected;
            }
        } else if !self.ctx.permits(job.peer()) {
            stats.rejected();
            job.reject();
            return Outcome::Rejected;
        }
        self.dispatch.dispatch(job, self.poll.registry());
        Outcome::Handled
    }

    fn accept_failed(&mut self, e: io::Error) {
        match e.kind() {
            ErrorKind::WouldBlock => self.listener_ready = false,
            // The peer gave up between SYN and accept, or a signal: just try again.
            ErrorKind::Interrupted | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset => {}
            // A UDP send earlier drew an ICMP error; it says nothing about this socket.
            ErrorKind::ConnectionRefused if self.endpoint.is_datagram() => {}
            _ => self.backoff.fail(&self.endpoint, &e),
        }
    }
}
