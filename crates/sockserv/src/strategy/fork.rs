//! A process per request (Python's `ForkingMixIn`), reaped the moment it exits.
//!
//! Each child's pidfd sits in the serve loop's poller, so the loop learns of an exit at
//! once: no zombies wait for the next request, and no `waitpid(-1)` ever reaps a child
//! the server did not create. A drain is announced to every child at once through one
//! byte on a socket pair (see [`Notice`](crate::server::drain::Notice)).

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use socket2::{Domain, Socket, Type};

use super::{ClosePolicy, CloseReport, Dispatch, FIRST_STRATEGY_TOKEN};
use crate::error::Failure;
use crate::request::{Context, Job};
use crate::sys::{self, Forked};

pub(crate) struct Fork {
    ctx: Arc<Context>,
    max_children: usize,
    children: HashMap<libc::pid_t, OwnedFd>,
    /// Descriptors the child must not keep (the listener: a lingering child would
    /// otherwise keep the port bound after the server closes).
    close_in_child: Vec<RawFd>,
    /// The drain broadcast: a byte written here says the drain began...
    announce: Socket,
    /// ...to every child, which watches and peeks this end (so one byte tells them all;
    /// the parent gone without a drain leaves an EOF, which tells nothing).
    heard: Arc<Socket>,
}

impl Fork {
    pub(super) fn new(ctx: Arc<Context>, max_children: usize) -> io::Result<Self> {
        let (announce, heard) = Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        heard.set_nonblocking(true)?;
        Ok(Fork {
            ctx,
            max_children,
            children: HashMap::new(),
            close_in_child: vec![announce.as_raw_fd()],
            announce,
            heard: Arc::new(heard),
        })
    }

    pub(super) fn close_in_child(&mut self, fd: RawFd) {
        self.close_in_child.push(fd);
    }

    fn token(pid: libc::pid_t) -> Token {
        Token(FIRST_STRATEGY_TOKEN + pid as usize)
    }

    fn reap(&mut self, pid: libc::pid_t, registry: Option<&Registry>, block: bool) -> bool {
        match sys::try_wait(pid, block) {
            Ok(None) => false,
            // Exited, or no longer our child (ECHILD): either way it is gone.
            Ok(Some(_)) | Err(_) => {
                if let Some(fd) = self.children.remove(&pid) {
                    // Its bytes and failures were counted in the child, out of our sight.
                    self.ctx.stats.closed_elsewhere();
                    if let Some(registry) = registry {
                        let _ = registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
                    }
                }
                true
            }
        }
    }

    /// Waits for the children until `deadline` (None: forever); returns the pids left.
    fn wait_children(&mut self, deadline: Option<Instant>) -> Vec<libc::pid_t> {
        let Ok(mut poll) = Poll::new() else {
            return self.children.keys().copied().collect();
        };
        for (&pid, fd) in &self.children {
            let _ = poll.registry().register(
                &mut SourceFd(&fd.as_raw_fd()),
                Self::token(pid),
                Interest::READABLE,
            );
        }
        let mut events = Events::with_capacity(64);
        let pids: Vec<_> = self.children.keys().copied().collect();
        for pid in pids {
            self.reap(pid, None, false);
        }
        while !self.children.is_empty() {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => Some(left),
                    None => break,
                },
            };
            if poll.poll(&mut events, timeout).is_err() {
                // EINTR or a poller failure: fall back to checking every child.
                std::thread::sleep(Duration::from_millis(1));
            }
            let pids: Vec<_> = self.children.keys().copied().collect();
            for pid in pids {
                self.reap(pid, None, false);
            }
        }
        self.children.keys().copied().collect()
    }
}

impl Dispatch for Fork {
    fn has_capacity(&mut self) -> bool {
        self.children.len() < self.max_children
    }

    fn dispatch(&mut self, job: Job, registry: &Registry) {
        let peer = job.peer().clone();
        match sys::fork() {
            Ok(Forked::Child) => {
                for &fd in &self.close_in_child {
                    sys::close_inherited(fd);
                }
                self.ctx.live.listen_to_parent(Arc::clone(&self.heard));
                let ok = self.ctx.run(job);
                sys::exit_now(if ok { 0 } else { 1 });
            }
            Ok(Forked::Parent(pid)) => {
                // Close only our copy: the child owns the connection now.
                drop(job);
                match sys::pidfd_open(pid) {
                    Ok(fd) => {
                        let _ = registry.register(
                            &mut SourceFd(&fd.as_raw_fd()),
                            Self::token(pid),
                            Interest::READABLE,
                        );
                        self.children.insert(pid, fd);
                        // It may have exited before the registration: check once.
                        self.reap(pid, Some(registry), false);
                    }
                    Err(e) => {
                        // Without a pidfd we cannot watch it; wait for it now instead.
                        tracing::warn!("pidfd_open failed ({e}); waiting for child {pid} inline");
                        let _ = sys::try_wait(pid, true);
                    }
                }
            }
            Err(e) => {
                job.reject();
                self.ctx
                    .finished(&peer, Instant::now(), (0, 0), Some(Failure::Spawn(e)));
            }
        }
    }

    fn on_event(&mut self, token: Token, registry: &Registry) {
        if let Some(pid) = token.0.checked_sub(FIRST_STRATEGY_TOKEN) {
            self.reap(pid as libc::pid_t, Some(registry), false);
        }
    }

    fn active(&self) -> usize {
        self.children.len()
    }

    fn begin_drain(&mut self) {
        // Children that are gone left no reader: nothing to tell is not a failure. One
        // byte tells every child (each peeks it).
        let _ = (&self.announce).write(&[1]);
    }

    fn close(&mut self, policy: ClosePolicy, registry: &Registry) -> CloseReport {
        for fd in self.children.values() {
            let _ = registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
        let at_start = self.children.len();
        match policy {
            ClosePolicy::Join => {
                self.wait_children(None);
                CloseReport {
                    finished: at_start,
                    cut: 0,
                    left: 0,
                }
            }
            ClosePolicy::JoinTimeout(limit) | ClosePolicy::Drain(limit) => {
                let left = self.wait_children(Some(Instant::now() + limit));
                for &pid in &left {
                    let _ = sys::kill(pid);
                    self.reap(pid, None, true);
                }
                // Killing a child closes its connection: under a drain, that is the cut.
                let killed = left.len();
                let drain = matches!(policy, ClosePolicy::Drain(_));
                CloseReport {
                    finished: at_start - killed,
                    cut: if drain { killed } else { 0 },
                    left: if drain { 0 } else { killed },
                }
            }
            ClosePolicy::Detach => {
                let left = self.wait_children(Some(Instant::now()));
                let pids: Vec<_> = self.children.drain().map(|(pid, _)| pid).collect();
                if !pids.is_empty() {
                    // Reap them in the background so none is left a zombie.
                    let _ = std::thread::Builder::new()
                        .name("sockserv-reaper".into())
                        .spawn(move || {
                            for pid in pids {
                                let _ = sys::try_wait(pid, true);
                            }
                        });
                }
                CloseReport {
                    finished: at_start - left.len(),
                    cut: 0,
                    left: left.len(),
                }
            }
        }
    }
}
