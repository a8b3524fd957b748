//! `sockserv bench --chat --rate N`: members spread over the nodes of one chat room
//! (`--node`), each sending numbered, timestamped lines at a set rate (an open loop, from
//! one thread, for hundreds of members); fan-out latency from a send to its receipt at
//! every other member, same-node and cross-node, and receipts against what was expected.
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;

use super::target::{Stream, Target};

/// Connecting and reading every welcome must finish within this.
const JOIN_LIMIT: Duration = Duration::from_secs(60);
/// After the last send, how long receipts still in flight are waited for.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// Connects in flight at once (the listen backlog).
const CONNECT_BATCH: usize = 128;

/// What to run.
#[derive(Debug, Clone)]
pub struct RatePlan {
    /// The room's nodes; member `i` connects to `nodes[i % nodes.len()]`.
    pub nodes: Vec<Target>,
    /// Members in all.
    pub members: usize,
    /// Lines per second each member sends.
    pub rate: f64,
    /// How long members send.
    pub duration: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct RateOutcome {
    /// Members that joined (got their welcome).
    pub joined: usize,
    /// Lines sent.
    pub sent: u64,
    /// Receipts expected: each line, at every other member joined.
    pub expected: u64,
    /// Receipts that came, each the next line of its sender for that receiver.
    pub delivered: u64,
    /// Receipts out of order or seen twice.
    pub misordered: u64,
    /// Members the server closed during the run (dropped as too slow, or a failure).
    pub closed: usize,
    /// Fan-out latency (µs) where sender and receiver are on the same node.
    pub same_node: Histogram<u64>,
    /// Fan-out latency (µs) across nodes.
    pub cross_node: Histogram<u64>,
    /// Fan-out latency (µs), every receipt.
    pub all: Histogram<u64>,
}

struct Member {
    stream: Stream,
    node: usize,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    welcomed: bool,
    open: bool,
    connected: bool,
    seq: u64,
}

/// Runs the plan; `Err` only if the poller fails.
pub fn run(plan: &RatePlan) -> io::Result<RateOutcome> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let histogram = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut out = RateOutcome {
        joined: 0,
        sent: 0,
        expected: 0,
        delivered: 0,
        misordered: 0,
        closed: 0,
        same_node: histogram(),
        cross_node: histogram(),
        all: histogram(),
    };
    let n = plan.members;
    let mut members: Vec<Member> = Vec::with_capacity(n);

    // Join: connect in batches (at most CONNECT_BATCH not yet welcomed), read each
    // welcome.
    let mut ctx = Context {
        scratch: vec![0u8; 64 * 1024],
        next: vec![0u32; n * n],
        epoch: Instant::now(),
        nodes: plan.nodes.len(),
        members: n,
    };
    let join_deadline = Instant::now() + JOIN_LIMIT;
    while out.joined + out.closed < n && Instant::now() < join_deadline {
        while members.len() < n && members.len() - out.joined - out.closed < CONNECT_BATCH {
            let node = members.len() % plan.nodes.len();
            let mut stream = plan.nodes[node]
                .connect()
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", plan.nodes[node])))?;
            poll.registry().register(
                stream.source(),
                Token(members.len()),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            members.push(Member {
                stream,
                node,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                welcomed: false,
                open: true,
                connected: false,
                seq: 0,
            });
        }
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for event in &events {
            pump(&mut members, event.token().0, &mut ctx, &mut out);
        }
    }
    if out.joined == 0 {
        return Ok(out);
    }

    // Send: member i's k-th line is due at start + (i / n + k) / rate.
    let period = Duration::from_secs_f64(1.0 / plan.rate);
    let start = Instant::now();
    let end = start + plan.duration;
    let mut due: VecDeque<(Instant, usize)> = (0..n)
        .filter(|&i| members[i].welcomed)
        .map(|i| (start + period.mul_f64(i as f64 / n as f64), i))
        .collect();
    let drain_deadline = end + DRAIN_LIMIT;
    loop {
        let now = Instant::now();
        while let Some(&(when, i)) = due.front() {
            if when > now || when >= end {
                break;
            }
            due.pop_front();
            if !members[i].open {
                continue;
            }
            let member = &mut members[i];
            let line = format!("b{i} {} {}\n", member.seq, ctx.epoch.elapsed().as_micros());
            member.seq += 1;
            member.outbuf.extend_from_slice(line.as_bytes());
            flush(member);
            out.sent += 1;
            out.expected += (out.joined - 1) as u64;
            due.push_back((when + period, i));
        }
        let sending = due.front().is_some_and(|&(when, _)| when < end);
        if !sending && (out.delivered >= out.expected || now >= drain_deadline) {
            break;
        }
        let timeout = match due.front() {
            Some(&(when, _)) if sending => when.saturating_duration_since(now),
            _ => Duration::from_millis(50),
        };
        poll.poll(&mut events, Some(timeout.min(Duration::from_millis(50))))?;
        for event in &events {
            pump(&mut members, event.token().0, &mut ctx, &mut out);
        }
    }
    for member in &members {
        member.stream.shutdown();
    }
    Ok(out)
}

/// The loop's shared state.
struct Context {
    scratch: Vec<u8>,
    /// `next[receiver * members + sender]`: the sequence number expected next.
    next: Vec<u32>,
    /// Send times in lines are µs since this.
    epoch: Instant,
    /// How many nodes: member `i` is on node `i % nodes`.
    nodes: usize,
    /// Members in the plan.
    members: usize,
}

/// Handles readiness on member `i`: completes its connect, flushes, reads its lines.
fn pump(members: &mut [Member], i: usize, ctx: &mut Context, out: &mut RateOutcome) {
    let n = ctx.members;
    let member = &mut members[i];
    if !member.open {
        return;
    }
    if !member.connected {
        match member.stream.connect_finished() {
            Ok(true) => {
                member.connected = true;
                let _ = member.stream.set_nodelay();
            }
            Ok(false) => return,
            Err(_) => return close(member, out),
        }
    }
    flush(member);
    loop {
        match member.stream.read(&mut ctx.scratch) {
            Ok(0) => return close(member, out),
            Ok(len) => member.inbuf.extend_from_slice(&ctx.scratch[..len]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return close(member, out),
        }
    }
    let now = ctx.epoch.elapsed().as_micros() as u64;
    let mut consumed = 0;
    while let Some(len) = member.inbuf[consumed..].iter().position(|&b| b == b'\n') {
        let line = &member.inbuf[consumed..consumed + len];
        consumed += len + 1;
        if !member.welcomed {
            if line.starts_with(b"* welcome") {
                member.welcomed = true;
                out.joined += 1;
            }
            continue;
        }
        let Some((sender, seq, sent_at)) = parse_receipt(line) else {
            continue; // a notice
        };
        if sender >= n {
            continue;
        }
        let slot = &mut ctx.next[i * n + sender];
        if u64::from(*slot) != seq {
            out.misordered += 1;
            continue;
        }
        *slot += 1;
        out.delivered += 1;
        let latency = now.saturating_sub(sent_at).max(1);
        let _ = out.all.record(latency);
        if sender % ctx.nodes == member.node {
            let _ = out.same_node.record(latency);
        } else {
            let _ = out.cross_node.record(latency);
        }
    }
    member.inbuf.drain(..consumed);
}

fn close(member: &mut Member, out: &mut RateOutcome) {
    member.open = false;
    out.closed += 1;
}

/// Writes what the member has queued, as far as the socket takes it.
fn flush(member: &mut Member) {
    if !member.connected {
        return;
    }
    let mut written = 0;
    while written < member.outbuf.len() {
        match member.stream.write(&member.outbuf[written..]) {
            Ok(0) => break,
            Ok(len) => written += len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break, // WouldBlock: the writable event comes back; else a read sees it
        }
    }
    member.outbuf.drain(..written);
}

/// `NICK: b{SENDER} {SEQ} {MICROS}` -> (sender, seq, micros).
fn parse_receipt(line: &[u8]) -> Option<(usize, u64, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let (_, body) = text.split_once(": b")?;
    let mut parts = body.split(' ');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let micros = parts.next()?.parse().ok()?;
    Some((sender, seq, micros))
}

/// The text report.
pub fn text(plan: &RatePlan, out: &RateOutcome) -> String {
    let ms = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1e3
        }
    };
    let pct = |h: &Histogram<u64>| {
        format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            ms(h, 0.999),
            h.max() as f64 / 1e3
        )
    };
    let nodes: Vec<String> = plan.nodes.iter().map(ToString::to_string).collect();
    format!(
        "chat: {} members joined of {} on {} node(s) ({}), {} lines/s each for {:.1}s\n\
         sent {} lines; receipts {} of {} expected ({:.3}%); {} out of order or doubled; {} members closed by the server\n\
         fan-out latency, all:        {}\n\
         fan-out latency, same node:  {}\n\
         fan-out latency, other node: {}",
        out.joined,
        plan.members,
        plan.nodes.len(),
        nodes.join(", "),
        plan.rate,
        plan.duration.as_secs_f64(),
        out.sent,
        out.delivered,
        out.expected,
        delivered_percent(out),
        out.misordered,
        out.closed,
        pct(&out.all),
        pct(&out.same_node),
        pct(&out.cross_node),
    )
}

fn delivered_percent(out: &RateOutcome) -> f64 {
    if out.expected == 0 {
        100.0
    } else {
        out.delivered as f64 * 100.0 / out.expected as f64
    }
}

/// The JSON report: one object.
pub fn json(plan: &RatePlan, out: &RateOutcome) -> serde_json::Value {
    let us = |h: &Histogram<u64>| {
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        json!({"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999), "max": h.max()})
    };
    json!({
        "load": "chat",
        "nodes": plan.nodes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "members": plan.members,
        "joined": out.joined,
        "rate": plan.rate,
        "duration_s": plan.duration.as_secs_f64(),
        "sent": out.sent,
        "expected": out.expected,
        "delivered": out.delivered,
        "delivered_percent": delivered_percent(out),
        "misordered": out.misordered,
        "closed": out.closed,
        "latency_us": {"all": us(&out.all), "same_node": us(&out.same_node), "cross_node": us(&out.cross_node)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_parse_and_notices_do_not() {
        assert_eq!(parse_receipt(b"guest7: b12 34 5678"), Some((12, 34, 5678)));
        assert_eq!(parse_receipt(b"* guest7 joined"), None);
        assert_eq!(parse_receipt(b"guest7: hello"), None);
    }
}
