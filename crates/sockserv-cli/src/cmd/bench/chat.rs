//! `sockserv bench --chat`: fan-out latency in a chat room, for line members and (with
//! `--ws`) WebSocket members of the same room, side by side in one run.
//!
//! One extra line member sends a line, stamped with its send time, and waits until every
//! other member has read it before sending the next (a closed loop: the latency is the
//! fan-out's, not a queue's). Each member thread records, per kind, the time from the
//! send to reading the line. A thread per member: this is for rooms of tens to a few
//! hundred members, not for connection storms.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::json;
use tungstenite::{Message, WebSocket};

/// How long any one step (a connect, a welcome, a round) may take before the run fails.
const STEP: Duration = Duration::from_secs(5);

/// What to load.
pub struct ChatPlan {
    /// The line endpoint (TCP).
    pub line: SocketAddr,
    /// Line members besides the sender.
    pub line_members: usize,
    /// The web endpoint and its WebSocket members, if any.
    pub web: Option<(SocketAddr, usize)>,
    /// Payload bytes per message (beyond the stamp).
    pub size: usize,
    /// Rounds before measuring, not counted.
    pub warmup: Duration,
    /// How long to measure.
    pub duration: Duration,
}

/// `HOST:PORT`, `tcp://HOST:PORT`, `http://HOST:PORT/` or `ws://HOST:PORT/ws`: the address.
///
/// # Errors
///
/// When it does not resolve.
pub fn addr(url: &str) -> Result<SocketAddr> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let hostport = rest.split('/').next().unwrap_or_default();
    hostport
        .to_socket_addrs()
        .with_context(|| format!("{url}: expected HOST:PORT"))?
        .next()
        .ok_or_else(|| anyhow!("{url} resolves to no address"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Line,
    WebSocket,
}

/// One member's reading end, behind its kind.
enum Reader {
    Line(BufReader<TcpStream>),
    Ws(Box<WebSocket<TcpStream>>),
}

impl Reader {
    /// The next line, `None` at the end.
    fn next(&mut self) -> Option<String> {
        match self {
            Reader::Line(reader) => {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 => Some(line.trim_end_matches('\n').to_owned()),
                    _ => None,
                }
            }
            Reader::Ws(ws) => loop {
                match ws.read() {
                    Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                    Ok(Message::Close(_)) | Err(_) => return None,
                    Ok(_) => {}
                }
            },
        }
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, STEP)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STEP))?;
    Ok(stream)
}

/// Joins one member and reads its welcome; returns its reader and a handle to end it.
fn join(kind: Kind, addr: SocketAddr) -> Result<(Reader, TcpStream)> {
    let stream = connect(addr)?;
    let handle = stream.try_clone()?;
    let mut reader = match kind {
        Kind::Line => Reader::Line(BufReader::new(stream)),
        Kind::WebSocket => {
            let url = format!("ws://{addr}/ws");
            let (ws, _) = tungstenite::client(url.as_str(), stream)
                .map_err(|e| anyhow!("WebSocket handshake with {addr} failed: {e}"))?;
            Reader::Ws(Box::new(ws))
        }
    };
    match reader.next() {
        Some(welcome) if welcome.starts_with("* welcome, you are ") => Ok((reader, handle)),
        other => bail!("{addr}: expected a welcome, got {other:?}"),
    }
}

/// A member's thread: reads stamped lines, records their latency once measuring, and
/// acknowledges each to the sender.
fn member(
    mut reader: Reader,
    epoch: Instant,
    measure_from: Duration,
    acks: Sender<u64>,
) -> JoinHandle<Histogram<u64>> {
    thread::spawn(move || {
        let mut latency = histogram();
        while let Some(line) = reader.next() {
            // "NICK: b SEQ NANOS PADDING"
            let Some((_, stamp)) = line.split_once(": b ") else {
                continue;
            };
            let mut fields = stamp.split(' ');
            let (Some(seq), Some(sent)) = (fields.next(), fields.next()) else {
                continue;
            };
            let (Ok(seq), Ok(sent)) = (seq.parse::<u64>(), sent.parse::<u64>()) else {
                continue;
            };
            let sent = Duration::from_nanos(sent);
            if sent >= measure_from {
                let micros = epoch.elapsed().saturating_sub(sent).as_micros();
                latency.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
            }
            if acks.send(seq).is_err() {
                break;
            }
        }
        latency
    })
}

/// The result: rounds sent while measuring, and the latency per kind.
pub struct ChatOutcome {
    /// Rounds sent while measuring.
    pub rounds: u64,
    /// How long the measuring lasted.
    pub measured: Duration,
    /// Fan-out latency to line members, µs.
    pub line: Histogram<u64>,
    /// Fan-out latency to WebSocket members, µs.
    pub ws: Histogram<u64>,
}

/// Runs the plan.
///
/// # Errors
///
/// When a member cannot join, or a round is not delivered to everyone within 5 s.
pub fn run(plan: &ChatPlan) -> Result<ChatOutcome> {
    let (acks, acked) = mpsc::channel();
    let mut handles = Vec::new();
    let mut threads = Vec::new();
    let mut kinds = vec![(Kind::Line, plan.line, plan.line_members)];
    if let Some((web, n)) = plan.web {
        kinds.push((Kind::WebSocket, web, n));
    }
    // The kinds join alternately: the room queues for its members in join order, which
    // must not favour one kind. The clock starts once everyone has joined.
    let mut joined = Vec::new();
    let most = kinds.iter().map(|&(_, _, n)| n).max().unwrap_or(0);
    for i in 0..most {
        for &(kind, addr, n) in &kinds {
            if i < n {
                let (reader, handle) = join(kind, addr)?;
                handles.push(handle);
                joined.push((kind, reader));
            }
        }
    }
    let mut sender = connect(plan.line)?;
    let mut sender_reader = BufReader::new(sender.try_clone()?);
    let mut welcome = String::new();
    sender_reader.read_line(&mut welcome)?;
    let start = Instant::now();
    for (kind, reader) in joined {
        let handle = member(reader, start, plan.warmup, acks.clone());
        threads.push((kind, handle));
    }
    drop(acks);
    let receivers = threads.len();
    let padding = "x".repeat(plan.size);
    let mut rounds = 0;
    let mut seq = 0u64;
    let end = plan.warmup + plan.duration;
    while start.elapsed() < end {
        let sent = start.elapsed();
        writeln!(sender, "b {seq} {} {padding}", sent.as_nanos())?;
        wait_for_round(&acked, seq, receivers)?;
        if sent >= plan.warmup {
            rounds += 1;
        }
        seq += 1;
    }
    for handle in handles.iter().chain([&sender]) {
        let _ = handle.shutdown(Shutdown::Both);
    }
    let mut line = histogram();
    let mut ws = histogram();
    for (kind, thread) in threads {
        let latency = thread
            .join()
            .map_err(|_| anyhow!("a member thread panicked"))?;
        match kind {
            Kind::Line => line.add(latency)?,
            Kind::WebSocket => ws.add(latency)?,
        }
    }
    Ok(ChatOutcome {
        rounds,
        measured: plan.duration,
        line,
        ws,
    })
}

/// Waits until `receivers` members have acknowledged `seq`.
fn wait_for_round(acked: &Receiver<u64>, seq: u64, receivers: usize) -> Result<()> {
    let deadline = Instant::now() + STEP;
    let mut got = 0;
    while got < receivers {
        match acked.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(s) if s == seq => got += 1,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => bail!(
                "message {seq} reached {got} of {receivers} members within {STEP:?} (a member dropped as too slow?)"
            ),
            Err(RecvTimeoutError::Disconnected) => bail!("every member left"),
        }
    }
    Ok(())
}

fn quantiles(h: &Histogram<u64>) -> [u64; 5] {
    if h.is_empty() {
        return [0; 5];
    }
    [
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
    ]
}

/// The text report.
pub fn text(plan: &ChatPlan, outcome: &ChatOutcome) -> String {
    let ws_members = plan.web.map_or(0, |(_, n)| n);
    let mut report = format!(
        "chat fan-out on {}: 1 sender, {} line + {ws_members} WebSocket members, {} B lines, measured {:.2} s\n\
         \x20 rounds      {} ({:.0}/s, each delivered to every member before the next)\n\
         \x20 latency µs  p50  p90  p99  p99.9  max  (deliveries)",
        plan.line,
        plan.line_members,
        plan.size,
        outcome.measured.as_secs_f64(),
        outcome.rounds,
        outcome.rounds as f64 / outcome.measured.as_secs_f64().max(1e-9),
    );
    for (name, h) in [("line", &outcome.line), ("websocket", &outcome.ws)] {
        if h.is_empty() {
            continue;
        }
        let [p50, p90, p99, p999, max] = quantiles(h);
        report.push_str(&format!(
            "\n  {name:<10}  {p50}  {p90}  {p99}  {p999}  {max}  ({})",
            h.len()
        ));
    }
    report
}

/// The JSON report.
pub fn json(plan: &ChatPlan, outcome: &ChatOutcome) -> serde_json::Value {
    let kind = |h: &Histogram<u64>| {
        let [p50, p90, p99, p999, max] = quantiles(h);
        json!({"deliveries": h.len(), "p50_us": p50, "p90_us": p90, "p99_us": p99, "p999_us": p999, "max_us": max})
    };
    json!({
        "load": "chat",
        "line_members": plan.line_members,
        "ws_members": plan.web.map_or(0, |(_, n)| n),
        "size": plan.size,
        "measured_secs": outcome.measured.as_secs_f64(),
        "rounds": outcome.rounds,
        "line": kind(&outcome.line),
        "websocket": kind(&outcome.ws),
    })
}

/// Latencies from 1 µs to 60 s, 3 significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}
