//! The event loop: N connections driven from one thread by mio, edge-triggered.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Broken, Conn, Counters, Flow, Link, Load, Phase};
use super::echo::EchoLoad;
use super::http::{HttpLoad, HttpPlan};
use super::target::{Stream, Target};
use super::tls::{TlsLayer, TlsPlan};
use crate::cli::BenchMode;

/// Connects in flight at once, so 10,000 connections do not overflow the listen backlog.
const CONNECT_BATCH: usize = 256;
/// A connect that has not completed by then counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole connect phase is cut off after this; what is left counts as failed.
const CONNECT_PHASE_LIMIT: Duration = Duration::from_secs(30);
/// How often the progress callback runs.
const TICK: Duration = Duration::from_millis(100);
/// Most bytes a stream connection keeps unechoed.
const STREAM_WINDOW: u64 = 4 << 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where to connect.
    pub target: Target,
    /// How many connections.
    pub conns: usize,
    /// Echo or HTTP, and its parameters.
    pub load: LoadPlan,
    /// Traffic not counted, after every connection is up.
    pub warmup: Duration,
    /// Traffic counted.
    pub duration: Duration,
    /// `--tls`: speak TLS on every connection.
    pub tls: Option<TlsPlan>,
}

/// The traffic each connection carries.
#[derive(Debug, Clone)]
pub enum LoadPlan {
    /// Echo messages of `size` bytes (at least 1), ping-pong or stream.
    Echo {
        /// Ping-pong or stream.
        mode: BenchMode,
        /// Message size in bytes.
        size: usize,
    },
    /// `--http`: GET requests.
    Http(HttpPlan),
}

/// A snapshot for the progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Connections open now.
    pub open: usize,
    /// Whether warm-up is over.
    pub measuring: bool,
    /// Messages counted so far.
    pub msgs: u64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Connections that completed their connect.
    pub connected: usize,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// The first connect error, for the message when nothing connected.
    pub first_connect_error: Option<io::Error>,
    /// Resets, broken pipes and unexpected EOFs: each ends its connection, except under
    /// HTTP, where a new one takes its place.
    pub resets: u64,
    /// Connections whose echo differed from what was sent, or that got a bad response.
    pub mismatches: u64,
    /// Why the first mismatch was one, when the load says (HTTP).
    pub first_mismatch: Option<String>,
    /// Messages fully echoed (HTTP: complete responses) while measuring.
    pub msgs: u64,
    /// Bytes echoed (HTTP: body bytes) while measuring.
    pub bytes: u64,
    /// HTTP: connections opened again while measuring, after the server closed them at
    /// a response boundary.
    pub reconnects: u64,
    /// How long measuring lasted.
    pub measured: Duration,
    /// Round-trip latency in µs.
    pub latency: Histogram<u64>,
}

/// Runs the plan to completion; `progress` is called about every 100 ms.
///
/// # Errors
///
/// Only if the poller cannot be created or polled.
pub fn drive(plan: &Plan, progress: impl FnMut(Progress)) -> io::Result<Outcome> {
    match &plan.load {
        LoadPlan::Echo { mode, size } => {
            let window = match mode {
                BenchMode::Pingpong => *size as u64,
                BenchMode::Stream => STREAM_WINDOW.max(*size as u64),
            };
            run(plan, EchoLoad::new(*mode, *size as u64, window), progress)
        }
        LoadPlan::Http(http) => {
            let host = match &plan.target {
                Target::Tcp(addr) => addr.to_string(),
                Target::Unix(_) => "localhost".to_owned(),
            };
            run(plan, HttpLoad::new(http, &host), progress)
        }
    }
}

fn run<L: Load>(
    plan: &Plan,
    mut load: L,
    mut progress: impl FnMut(Progress),
) -> io::Result<Outcome> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut counters = Counters::new();
    let mut conns: Vec<Conn<L::Pos>> = Vec::with_capacity(plan.conns);
    let mut connecting: VecDeque<usize> = VecDeque::with_capacity(CONNECT_BATCH);
    let mut out = Outcome {
        connected: 0,
        connect_failures: 0,
        first_connect_error: None,
        resets: 0,
        mismatches: 0,
        first_mismatch: None,
        msgs: 0,
        bytes: 0,
        reconnects: 0,
        measured: Duration::ZERO,
        latency: counters.latency.clone(),
    };
    // `in_flight` counts unfinished connects; `connecting` keeps their order for timeouts.
    let (mut attempted, mut in_flight, mut open) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut measure_from: Option<Instant> = None;
    let mut stop_at: Option<Instant> = None;
    let mut next_tick = started + TICK;

    loop {
        let now = Instant::now();
        // Keep a batch of connects in flight; expire the oldest ones.
        while in_flight < CONNECT_BATCH && attempted < plan.conns {
            attempted += 1;
            match open_link(plan) {
                Ok(mut link) => {
                    let token = Token(conns.len());
                    register(&poll, &mut link.stream, token)?;
                    connecting.push_back(conns.len());
                    in_flight += 1;
                    conns.push(Conn {
                        link,
                        phase: Phase::Connecting,
                        connect_started: now,
                        pos: load.start(conns.len()),
                    });
                }
                Err(e) => connect_failed(&mut out, e),
            }
        }
        while let Some(&i) = connecting.front() {
            let conn = &mut conns[i];
            if conn.phase == Phase::Connecting && now - conn.connect_started < CONNECT_TIMEOUT {
                break;
            }
            if conn.phase == Phase::Connecting {
                close(&poll, conn);
                connect_failed(&mut out, io::ErrorKind::TimedOut.into());
                in_flight -= 1;
            }
            connecting.pop_front();
        }
        if measure_from.is_none() && now - started > CONNECT_PHASE_LIMIT {
            for i in connecting.drain(..) {
                if conns[i].phase == Phase::Connecting {
                    close(&poll, &mut conns[i]);
                    connect_failed(&mut out, io::ErrorKind::TimedOut.into());
                    in_flight -= 1;
                }
            }
            out.connect_failures += (plan.conns - attempted) as u64;
            attempted = plan.conns;
        }
        let connect_done = attempted == plan.conns && in_flight == 0;
        if connect_done && open == 0 {
            break; // nothing connected, or every connection broke
        }
        // Warm-up starts once every connection is up, so slow connects are not measured.
        if connect_done && measure_from.is_none() {
            let from = now + plan.warmup;
            measure_from = Some(from);
            stop_at = Some(from + plan.duration);
        }
        if !counters.measuring && measure_from.is_some_and(|t| now >= t) {
            counters.measuring = true;
        }
        if stop_at.is_some_and(|t| now >= t) {
            break;
        }
        if now >= next_tick {
            next_tick = now + TICK;
            progress(Progress {
                open,
                measuring: counters.measuring,
                msgs: counters.msgs,
            });
        }

        let mut timeout = next_tick.saturating_duration_since(now);
        for t in [measure_from, stop_at].into_iter().flatten() {
            if t > now {
                timeout = timeout.min(t - now);
            }
        }
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            let index = event.token().0;
            let conn = &mut conns[index];
            if matches!(conn.phase, Phase::Connecting | Phase::Reconnecting) {
                let first = conn.phase == Phase::Connecting;
                match conn.link.stream.connect_finished() {
                    Ok(false) => continue,
                    Ok(true) => {
                        if first {
                            in_flight -= 1;
                            out.connected += 1;
                            open += 1;
                        }
                        conn.phase = Phase::Open;
                        // Best effort: a missing TCP_NODELAY only slows small messages.
                        let _ = conn.link.stream.set_nodelay();
                    }
                    Err(e) => {
                        close(&poll, conn);
                        connect_failed(&mut out, e);
                        if first {
                            in_flight -= 1;
                        } else {
                            open -= 1;
                        }
                        continue;
                    }
                }
            }
            if conn.phase != Phase::Open {
                continue;
            }
            if event.is_writable() {
                conn.link.write_blocked = false;
            }
            // After a FIN or RST no further edge comes: read to the end this time.
            conn.link.peer_closed = event.is_read_closed() || event.is_error();
            let readable = event.is_readable() || conn.link.peer_closed;
            let reopen_it = match load.pump(&mut conn.link, &mut conn.pos, readable, &mut counters)
            {
                Ok(Flow::Continue) => continue,
                Ok(Flow::Reconnect) => {
                    if counters.measuring {
                        out.reconnects += 1;
                    }
                    true
                }
                Err(Broken::Reset) => {
                    out.resets += 1;
                    L::RECONNECT_AFTER_RESET
                }
                Err(Broken::Mismatch) => {
                    out.mismatches += 1;
                    false
                }
            };
            close(&poll, conn);
            if !reopen_it {
                open -= 1;
                continue;
            }
            match reopen(plan, &poll, conn, Token(index), now) {
                Ok(()) => conn.pos = load.start(index),
                Err(e) => {
                    connect_failed(&mut out, e);
                    open -= 1;
                }
            }
        }
    }

    let stopped = Instant::now();
    out.measured = measure_from.map_or(Duration::ZERO, |t| stopped.saturating_duration_since(t));
    out.msgs = counters.msgs;
    out.bytes = counters.bytes;
    out.latency = counters.latency;
    out.first_mismatch = counters.first_mismatch;
    Ok(out)
}

/// Starts a non-blocking connect, with a fresh TLS client if the plan speaks TLS.
fn open_link(plan: &Plan) -> io::Result<Link> {
    let stream = plan.target.connect()?;
    let tls = plan.tls.as_ref().map(TlsLayer::new).transpose()?;
    Ok(Link::new(stream, tls))
}

fn register(poll: &Poll, stream: &mut Stream, token: Token) -> io::Result<()> {
    poll.registry().register(
        stream.source(),
        token,
        Interest::READABLE | Interest::WRITABLE,
    )
}

/// Replaces a connection the server closed with a new one under the same token. Not
/// part of the connect phase: its completion is not awaited before measuring, and a
/// failure counts as a connect failure that ends this connection.
fn reopen<P>(
    plan: &Plan,
    poll: &Poll,
    conn: &mut Conn<P>,
    token: Token,
    now: Instant,
) -> io::Result<()> {
    let mut link = open_link(plan)?;
    register(poll, &mut link.stream, token)?;
    conn.link = link;
    conn.phase = Phase::Reconnecting;
    conn.connect_started = now;
    Ok(())
}

fn connect_failed(out: &mut Outcome, e: io::Error) {
    out.connect_failures += 1;
    out.first_connect_error.get_or_insert(e);
}

/// Deregisters and shuts the socket down; the fd itself is freed when the run ends (or,
/// on a reconnect, when the new socket replaces it).
fn close<P>(poll: &Poll, conn: &mut Conn<P>) {
    let _ = poll.registry().deregister(conn.link.stream.source());
    conn.link.stream.shutdown();
    conn.phase = Phase::Closed;
}
