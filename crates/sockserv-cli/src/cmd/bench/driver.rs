//! The event loop: N connections driven from one thread by mio, edge-triggered.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Broken, Conn, Phase, Traffic};
use super::target::Target;
use super::tls::{TlsLayer, TlsPlan};
use super::Mode;

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
    /// Message size in bytes (at least 1).
    pub size: usize,
    /// Ping-pong or stream.
    pub mode: Mode,
    /// Traffic not counted, after every connection is up.
    pub warmup: Duration,
    /// Traffic counted.
    pub duration: Duration,
    /// `--tls`: speak TLS on every connection.
    pub tls: Option<TlsPlan>,
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
    /// Connections broken by a reset, broken pipe or unexpected EOF.
    pub resets: u64,
    /// Connections whose echo differed from what was sent.
    pub mismatches: u64,
    /// Messages fully echoed while measuring.
    pub msgs: u64,
    /// Bytes echoed while measuring.
    pub bytes: u64,
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
pub fn drive(plan: &Plan, mut progress: impl FnMut(Progress)) -> io::Result<Outcome> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let window = match plan.mode {
        Mode::Pingpong => plan.size as u64,
        Mode::Stream => STREAM_WINDOW.max(plan.size as u64),
    };
    let mut traffic = Traffic::new(plan.mode, plan.size as u64, window);
    let mut conns: Vec<Conn> = Vec::with_capacity(plan.conns);
    let mut connecting: VecDeque<usize> = VecDeque::with_capacity(CONNECT_BATCH);
    let mut out = Outcome {
        connected: 0,
        connect_failures: 0,
        first_connect_error: None,
        resets: 0,
        mismatches: 0,
        msgs: 0,
        bytes: 0,
        measured: Duration::ZERO,
        latency: traffic.latency.clone(),
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
            let connected = plan.target.connect().and_then(|stream| {
                let tls = plan.tls.as_ref().map(TlsLayer::new).transpose()?;
                Ok((stream, tls))
            });
            match connected {
                Ok((mut stream, tls)) => {
                    let token = Token(conns.len());
                    poll.registry().register(
                        stream.source(),
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    connecting.push_back(conns.len());
                    in_flight += 1;
                    conns.push(Conn::new(stream, tls, conns.len(), now));
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
        if !traffic.measuring && measure_from.is_some_and(|t| now >= t) {
            traffic.measuring = true;
        }
        if stop_at.is_some_and(|t| now >= t) {
            break;
        }
        if now >= next_tick {
            next_tick = now + TICK;
            progress(Progress {
                open,
                measuring: traffic.measuring,
                msgs: traffic.msgs,
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
            let conn = &mut conns[event.token().0];
            if conn.phase == Phase::Connecting {
                match conn.stream.connect_finished() {
                    Ok(false) => continue,
                    Ok(true) => {
                        in_flight -= 1;
                        conn.phase = Phase::Open;
                        out.connected += 1;
                        open += 1;
                        // Best effort: a missing TCP_NODELAY only slows small messages.
                        let _ = conn.stream.set_nodelay();
                    }
                    Err(e) => {
                        in_flight -= 1;
                        close(&poll, conn);
                        connect_failed(&mut out, e);
                        continue;
                    }
                }
            }
            if conn.phase != Phase::Open {
                continue;
            }
            if event.is_writable() {
                conn.set_writable();
            }
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            if let Err(broken) = traffic.pump(conn, readable) {
                match broken {
                    Broken::Reset => out.resets += 1,
                    Broken::Mismatch => out.mismatches += 1,
                }
                close(&poll, conn);
                open -= 1;
            }
        }
    }

    let stopped = Instant::now();
    out.measured = measure_from.map_or(Duration::ZERO, |t| stopped.saturating_duration_since(t));
    out.msgs = traffic.msgs;
    out.bytes = traffic.bytes;
    out.latency = traffic.latency;
    Ok(out)
}

fn connect_failed(out: &mut Outcome, e: io::Error) {
    out.connect_failures += 1;
    out.first_connect_error.get_or_insert(e);
}

/// Deregisters and shuts the socket down; the fd itself is freed when the run ends.
fn close(poll: &Poll, conn: &mut Conn) {
    let _ = poll.registry().deregister(conn.stream.source());
    conn.stream.shutdown();
    conn.phase = Phase::Closed;
}
