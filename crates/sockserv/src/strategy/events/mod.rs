//! Per-core event loops (mio): each loop thread owns its connections outright and drives
//! their Sessions from readiness events.
//!
//! The serving thread accepts and hands each connection to the next loop round-robin
//! (a mailbox and a waker per loop; the cost is per connection, never per message). On
//! the hot path a loop takes no lock and allocates nothing: one read buffer per loop,
//! each connection's output buffer reused, write interest registered only while output
//! is pending. Datagram endpoints are served in the serving thread itself (a datagram
//! Session is one short callback, so a second hop would cost more than it saves).

mod conn;
mod mailbox;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::{Events as MioEvents, Poll, Registry, Token, Waker};
use slab::Slab;

use self::conn::Connection;
use self::mailbox::{Mailbox, DRAIN, DRAIN_TELLING, STOP_NOW};
use super::running::Running;
use super::{ClosePolicy, CloseReport, Dispatch};
use crate::endpoint::PeerAddr;
use crate::error::Failure;
use crate::pump::Step;
use crate::request::{catch_panic, Context, Job};
use crate::session::OpenFn;

const WAKE: Token = Token(usize::MAX);

pub(crate) struct Events {
    /// Most connections served at once (`max_connections`).
    limit: usize,
    loops: Vec<(Arc<Mailbox>, Option<JoinHandle<()>>)>,
    next: usize,
    ctx: Arc<Context>,
    running: Arc<Running>,
}

impl Events {
    pub(super) fn new(
        ctx: Arc<Context>,
        loops: usize,
        open: OpenFn,
        limit: usize,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> std::io::Result<Events> {
        let running = Arc::new(Running::new(wake));
        let mut events = Events {
            loops: Vec::with_capacity(loops),
            next: 0,
            ctx,
            running,
            limit,
        };
        for i in 0..loops {
            let poll = Poll::new()?;
            let mailbox = Arc::new(Mailbox::new(Waker::new(poll.registry(), WAKE)?));
            let event_loop = EventLoop {
                poll,
                mailbox: Arc::clone(&mailbox),
                conns: Slab::new(),
                open: Arc::clone(&open),
                ctx: Arc::clone(&events.ctx),
                running: Arc::clone(&events.running),
                buf: vec![0; 64 * 1024].into_boxed_slice(),
                again: Vec::new(),
                timers: BinaryHeap::new(),
                told_shutdown: false,
            };
            let handle = thread::Builder::new()
                .name(format!("sockserv-loop-{i}"))
                .spawn(move || event_loop.run());
            match handle {
                Ok(h) => events.loops.push((mailbox, Some(h))),
                Err(e) => {
                    events.stop_loops(STOP_NOW);
                    return Err(e);
                }
            }
        }
        Ok(events)
    }

    fn stop_loops(&mut self, how: u8) {
        for (mailbox, _) in &self.loops {
            mailbox.stop(how);
        }
    }

    fn join_loops(&mut self) {
        for (_, handle) in &mut self.loops {
            if let Some(handle) = handle.take() {
                // Session panics are caught inside the loop; nothing new to report here.
                let _ = handle.join();
            }
        }
    }
}

impl Dispatch for Events {
    fn has_capacity(&mut self) -> bool {
        self.running.has_room(self.limit)
    }

    fn dispatch(&mut self, job: Job, _registry: &Registry) {
        match job {
            Job::Stream { stream, peer } => {
                let (mailbox, _) = &self.loops[self.next];
                self.next = (self.next + 1) % self.loops.len();
                self.running.start();
                mailbox.send(stream, peer);
            }
            datagram @ Job::Datagram { .. } => {
                self.ctx.run(datagram);
            }
        }
    }

    fn active(&self) -> usize {
        self.running.get()
    }

    fn begin_drain(&mut self) {
        self.stop_loops(DRAIN_TELLING);
    }

    fn close(&mut self, policy: ClosePolicy, _registry: &Registry) -> CloseReport {
        let report = match policy {
            // A loop cannot be left running detached from its server: stop at once.
            ClosePolicy::Detach => CloseReport {
                finished: 0,
                cut: 0,
                left: self.running.get(),
            },
            // Each Session heard the drain begin (`begin_drain`); stopping the loops
            // closes what is left: under a drain, that is the cut.
            ClosePolicy::Drain(limit) => {
                let report = self.running.wait_idle(ClosePolicy::JoinTimeout(limit));
                CloseReport {
                    cut: report.left,
                    left: 0,
                    ..report
                }
            }
            policy => {
                self.stop_loops(DRAIN);
                self.running.wait_idle(policy)
            }
        };
        self.stop_loops(STOP_NOW);
        self.join_loops();
        report
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop_loops(STOP_NOW);
    }
}

/// One loop thread: its poller and the connections it owns.
struct EventLoop {
    poll: Poll,
    mailbox: Arc<Mailbox>,
    conns: Slab<Connection>,
    open: OpenFn,
    ctx: Arc<Context>,
    running: Arc<Running>,
    buf: Box<[u8]>,
    /// Connections that used up their read budget with bytes still waiting: no new
    /// readiness event will come for those bytes (edge-triggered), so they are pumped
    /// again after the next poll, which then does not block.
    again: Vec<usize>,
    /// The Sessions' timers, soonest first: `(when, key)`. An entry whose connection is
    /// gone or whose timer changed since is skipped when it comes up.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The Sessions were told the drain began.
    told_shutdown: bool,
}

impl EventLoop {
    fn run(mut self) {
        let mut events = MioEvents::with_capacity(1024);
        let sweep_every = self.sweep_interval();
        let mut last_sweep = Instant::now();
        loop {
            let timeout = if self.again.is_empty() {
                let timer = self
                    .timers
                    .peek()
                    .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()));
                timer.into_iter().chain(sweep_every).min()
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "event loop poll failed; closing its connections");
                    break;
                }
            }
            let now = Instant::now();
            let stopping = self.mailbox.stopping();
            if stopping == DRAIN_TELLING && !self.told_shutdown {
                // Before this poll's input: a request that completes in it is answered as
                // in a drain (an HTTP response says `Connection: close`).
                self.told_shutdown = true;
                let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
                for key in keys {
                    self.step(key, |conn, buf| conn.on_shutdown(buf, now));
                }
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    continue;
                }
                let key = event.token().0;
                let readable = event.is_readable();
                let closed = event.is_read_closed() || event.is_error();
                if self.conns.get(key).is_some_and(Connection::awaiting_header) {
                    self.handshake(key);
                    continue;
                }
                self.step(key, |conn, buf| conn.on_ready(readable, closed, buf, now));
            }
            for key in std::mem::take(&mut self.again) {
                self.step(key, |conn, buf| conn.on_ready(false, false, buf, now));
            }
            if self.mailbox.take_posted() {
                self.take_incoming(now);
                self.take_woken(now);
            }
            self.fire_timers(now);
            if let Some(every) = sweep_every {
                if last_sweep.elapsed() >= every {
                    last_sweep = now;
                    self.sweep(now);
                }
            }
            match stopping {
                STOP_NOW => break,
                DRAIN | DRAIN_TELLING if self.conns.is_empty() => break,
                _ => {}
            }
        }
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.close(key, None);
        }
    }

    /// How often to look for timed-out connections: a quarter of the shortest timeout,
    /// between 10 ms and 1 s; `None` when no timeout is set.
    fn sweep_interval(&self) -> Option<Duration> {
        let s = &self.ctx.settings;
        let header = self
            .ctx
            .proxy
            .as_ref()
            .map(|_| crate::proxied::HEADER_TIMEOUT);
        let shortest = [s.idle_timeout, s.read_timeout, s.write_timeout, header]
            .into_iter()
            .flatten()
            .min()?;
        Some((shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)))
    }

    /// Steps every connection whose Session's timer is due by `now` (it hears `on_timer`).
    fn fire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.conns.get(key).is_some_and(|conn| conn.timer_is(at)) {
                self.step(key, |conn, buf| conn.on_timer(buf, now));
            }
        }
    }

    /// Rebuilds the timer heap from the connections' current timers once stale entries
    /// (timers replaced or cleared, connections gone) outnumber live ones: a Session that
    /// keeps replacing a long timer (a header timeout per request) must not grow it.
    fn compact_timers(&mut self) {
        if self.timers.len() <= 64 + 2 * self.conns.len() {
            return;
        }
        self.timers = self
            .conns
            .iter()
            .filter_map(|(key, conn)| conn.scheduled().map(|at| Reverse((at, key))))
            .collect();
    }

    /// Closes every connection past a timeout, reporting each.
    fn sweep(&mut self, now: Instant) {
        let expired: Vec<(usize, std::io::Error)> = self
            .conns
            .iter()
            .filter_map(|(key, conn)| conn.expired(now, &self.ctx.settings).map(|e| (key, e)))
            .collect();
        for (key, error) in expired {
            self.close(key, Some(Failure::Handler(error)));
        }
    }

    fn take_incoming(&mut self, now: Instant) {
        let incoming = self.mailbox.take_incoming();
        for (stream, peer) in incoming {
            let entry = self.conns.vacant_entry();
            let key = entry.key();
            let registry = self.poll.registry();
            let proxied = self.ctx.proxy.is_some();
            let high_water = self.ctx.settings.high_water;
            let token = Token(key);
            let registered = if proxied {
                Connection::register_proxied(stream, peer.clone(), registry, token, now, high_water)
            } else {
                let session = (self.open)(&peer);
                Connection::register(
                    stream,
                    peer.clone(),
                    session,
                    registry,
                    token,
                    now,
                    high_water,
                )
            };
            match registered {
                Ok(conn) => {
                    let conn = entry.insert(conn);
                    let mailbox = Arc::clone(&self.mailbox);
                    let notify = move || mailbox.woke(key);
                    if proxied {
                        conn.set_notify(notify);
                        self.handshake(key);
                    } else {
                        self.step(key, |conn, buf| conn.open(notify, buf));
                    }
                    if self.told_shutdown {
                        // The drain began before this connection reached the loop.
                        self.step(key, |conn, buf| conn.on_shutdown(buf, now));
                    }
                }
                Err(e) => {
                    self.running.end();
                    let failure = Some(Failure::Handler(e));
                    self.ctx.finished(&peer, now, (0, 0), failure);
                }
            }
        }
    }

    /// Behind a PROXY-protocol balancer: reads the header; once it names the client,
    /// applies the verify hook and starts the Session.
    fn handshake(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match conn.read_header(&mut self.buf) {
            Ok(None) => {}
            Ok(Some((header, rest))) => {
                let peer = crate::proxied::client_of(&header, &self.peer_of(key));
                if !self.ctx.permits(&peer) {
                    self.ctx.stats.rejected();
                    self.refuse(key);
                    return;
                }
                let session = (self.open)(&peer);
                self.step(key, |conn, buf| conn.start(peer, session, &rest, buf));
                if self.told_shutdown {
                    let now = Instant::now();
                    self.step(key, |conn, buf| conn.on_shutdown(buf, now));
                }
            }
            Err(e) => {
                let peer = self.peer_of(key);
                self.ctx.stats.proxy_rejected();
                self.refuse(key);
                self.ctx.report(peer, Failure::Proxy(e));
            }
        }
    }

    fn peer_of(&self, key: usize) -> PeerAddr {
        self.conns
            .get(key)
            .map(|c| c.peer().clone())
            .unwrap_or(PeerAddr::Unix(None))
    }

    /// Drops a connection refused before its Session started.
    fn refuse(&mut self, key: usize) {
        if let Some(conn) = self.conns.try_remove(key) {
            conn.refuse(self.poll.registry());
            self.running.end();
        }
    }

    fn take_woken(&mut self, now: Instant) {
        let woken = self.mailbox.take_woken();
        for key in woken {
            self.step(key, |conn, buf| conn.on_wake(buf, now));
        }
    }

    /// Runs one step of a connection's Session, containing its errors and panics.
    fn step(
        &mut self,
        key: usize,
        f: impl FnOnce(&mut Connection, &mut [u8]) -> std::io::Result<Step>,
    ) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let buf = &mut self.buf;
        let outcome = catch_panic(|| f(conn, buf));
        let failure = match outcome {
            Ok(Ok(Step::Open)) => match conn.update_interest(self.poll.registry(), Token(key)) {
                Ok(()) => {
                    if conn.has_more() {
                        self.again.push(key);
                    }
                    if let Some(at) = conn.reschedule() {
                        self.timers.push(Reverse((at, key)));
                        self.compact_timers();
                    }
                    return;
                }
                Err(e) => Some(Failure::Handler(e)),
            },
            Ok(Ok(Step::Done)) => None,
            Ok(Err(e)) => Some(Failure::Handler(e)),
            Err(message) => Some(Failure::Panic(message)),
        };
        self.close(key, failure);
    }

    /// Closes a connection, counts it, tells the close and error hooks.
    fn close(&mut self, key: usize, failure: Option<Failure>) {
        if let Some(conn) = self.conns.try_remove(key) {
            let (peer, started, traffic) = conn.close();
            self.running.end();
            self.ctx.finished(&peer, started, traffic, failure);
        }
    }
}
