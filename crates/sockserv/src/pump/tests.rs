//! Unit tests of the pump over a non-blocking Unix socket pair: budgets, back-pressure,
//! the end of a connection, and the timeout rule.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::output::DEFAULT_HIGH_WATER;

/// A server-side Stream and the peer's socket, both non-blocking.
fn pair() -> (Stream, UnixStream) {
    let (ours, peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    peer.set_nonblocking(true).unwrap();
    (Stream::Unix(ours), peer)
}

/// Echoes (or answers the first data with `flood` bytes); counts `on_data` and
/// `on_drained` calls; on each drain writes one more byte, `refills` times.
#[derive(Default)]
struct Probe {
    data: Arc<AtomicUsize>,
    drained: Arc<AtomicUsize>,
    refills: usize,
    flood: usize,
}

impl Session for Probe {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        self.data.fetch_add(1, Ordering::SeqCst);
        if self.flood > 0 {
            out.write(&vec![b'x'; std::mem::take(&mut self.flood)]);
        } else {
            out.write(data);
        }
    }

    fn on_drained(&mut self, out: &mut Output) {
        self.drained.fetch_add(1, Ordering::SeqCst);
        if self.refills > 0 {
            self.refills -= 1;
            out.write(b".");
        }
    }
}

/// Reads what the peer has been sent so far.
fn received(peer: &mut UnixStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
            Err(e) => panic!("peer read: {e}"),
        }
    }
}

#[test]
fn a_peer_that_sends_without_pause_is_read_within_the_budget() {
    let (stream, mut peer) = pair();
    peer.write_all(&[b'a'; 64 * READ_BUDGET]).unwrap();
    let data = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        data: Arc::clone(&data),
        ..Probe::default()
    };
    let mut pump = Pump::new(probe, Instant::now(), DEFAULT_HIGH_WATER);
    pump.open();
    let mut buf = [0; 16];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    assert_eq!(data.load(Ordering::SeqCst), READ_BUDGET);
    assert!(
        pump.has_more(),
        "bytes still wait: the driver must come back"
    );
    assert_eq!(received(&mut peer), vec![b'a'; 16 * READ_BUDGET]);
    assert_eq!(
        pump.traffic(),
        (16 * READ_BUDGET as u64, 16 * READ_BUDGET as u64)
    );
}

#[test]
fn reading_stops_while_output_is_above_the_high_water_mark() {
    let (stream, mut peer) = pair();
    peer.write_all(b"one").unwrap();
    let data = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        data: Arc::clone(&data),
        flood: 16 * DEFAULT_HIGH_WATER as usize,
        ..Probe::default()
    };
    let mut pump = Pump::new(probe, Instant::now(), DEFAULT_HIGH_WATER);
    pump.open();
    let mut buf = [0; 1024];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    peer.write_all(b"two").unwrap();
    pump.ready(true, false);
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    assert_eq!(
        data.load(Ordering::SeqCst),
        1,
        "read past the high-water mark"
    );
    assert!(pump.queued() >= DEFAULT_HIGH_WATER && pump.wants_write());
    assert!(!pump.can_read() && !pump.has_more());
    // The peer catches up: reading resumes in the step that drains the output, or (if
    // one flush took it all) the pump asks for the next step at once.
    let mut taken = 0;
    while pump.queued() > 0 {
        taken += received(&mut peer).len();
        pump.ready(false, false);
        pump.step(&stream, &mut buf).unwrap();
    }
    if data.load(Ordering::SeqCst) == 1 {
        assert!(pump.has_more(), "bytes wait: another step is due");
        pump.step(&stream, &mut buf).unwrap();
    }
    assert_eq!(data.load(Ordering::SeqCst), 2);
    taken += received(&mut peer).len();
    assert_eq!(
        taken,
        16 * DEFAULT_HIGH_WATER as usize + 3,
        "the flood, then the echo"
    );
}

#[test]
fn a_session_that_refills_on_drain_is_spread_over_steps() {
    let (stream, mut peer) = pair();
    let drained = Arc::new(AtomicUsize::new(0));
    let refills = 4 * DRAIN_BUDGET;
    let probe = Probe {
        drained: Arc::clone(&drained),
        refills,
        ..Probe::default()
    };
    let mut pump = Pump::new(probe, Instant::now(), DEFAULT_HIGH_WATER);
    pump.open();
    pump.feed(b"x");
    let mut buf = [0; 1024];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    let first = drained.load(Ordering::SeqCst);
    assert!(
        first >= DRAIN_BUDGET && first < refills,
        "{first} drains in one step"
    );
    assert!(
        pump.has_more(),
        "a drain is owed: the driver must come back"
    );
    let mut steps = 1;
    while pump.has_more() {
        assert!(steps < 100, "the drains never ended");
        steps += 1;
        pump.step(&stream, &mut buf).unwrap();
    }
    // Every refill drained once more; the last drain wrote nothing.
    assert_eq!(drained.load(Ordering::SeqCst), refills + 1);
    let mut expected = b"x".to_vec();
    expected.extend(vec![b'.'; refills]);
    assert_eq!(received(&mut peer), expected);
}

#[test]
fn the_peers_eof_ends_the_connection_once_the_echo_is_sent() {
    let (stream, mut peer) = pair();
    peer.write_all(b"bye").unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut pump = Pump::new(Probe::default(), Instant::now(), DEFAULT_HIGH_WATER);
    pump.open();
    pump.ready(true, true);
    let mut buf = [0; 1024];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Done);
    assert!(pump.saw_eof());
    assert_eq!(received(&mut peer), b"bye");
}

#[test]
fn timeouts_follow_one_rule_and_deadline_agrees_with_expired() {
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let settings = ConnSettings {
        read_timeout: Some(Duration::from_millis(500)),
        write_timeout: Some(Duration::from_millis(200)),
        idle_timeout: Some(Duration::from_millis(300)),
        ..ConnSettings::default()
    };
    let mut pump = Pump::new(Probe::default(), start, DEFAULT_HIGH_WATER);
    pump.open();
    // Nothing waiting: idle (300 ms) comes first; the write timeout does not apply.
    assert_eq!(pump.deadline(&settings), Some(at(300)));
    assert!(pump.expired(at(300), &settings).is_none());
    let e = pump.expired(at(301), &settings).expect("idle");
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(e.to_string().contains("idle"), "{e}");
    // Output waiting for the peer: the write timeout runs.
    pump.feed(b"echo me");
    assert_eq!(pump.deadline(&settings), Some(at(200)));
    let e = pump.expired(at(201), &settings).expect("write");
    assert!(e.to_string().contains("write"), "{e}");
    // No timeouts: no deadline, never expired.
    let none = ConnSettings::default();
    assert_eq!(pump.deadline(&none), None);
    assert!(pump.expired(at(1_000_000), &none).is_none());
}

/// Sets a timer of `after` on open; each `on_timer` writes `tick` and sets it again.
struct Ticking {
    after: Duration,
    shutdowns: usize,
}

impl Session for Ticking {
    fn on_open(&mut self, out: &mut Output) {
        out.set_timer(self.after);
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if data == b"clear" {
            out.clear_timer();
        }
    }

    fn on_timer(&mut self, out: &mut Output) {
        out.write(b"tick");
        out.set_timer(self.after);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        self.shutdowns += 1;
        out.write(b"bye");
        out.close();
    }
}

#[test]
fn the_timer_fires_by_the_drivers_clock_once_per_setting() {
    let (stream, mut peer) = pair();
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let session = Ticking {
        after: Duration::from_millis(100),
        shutdowns: 0,
    };
    let mut pump = Pump::new(session, start, DEFAULT_HIGH_WATER);
    pump.open();
    let mut buf = [0; 64];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    // The driver wakes by the timer: it is the deadline, with no timeouts set.
    let none = ConnSettings::default();
    assert_eq!(pump.timer(), Some(at(100)));
    assert_eq!(pump.deadline(&none), Some(at(100)));
    pump.tick(at(99));
    pump.step(&stream, &mut buf).unwrap();
    assert_eq!(received(&mut peer), b"", "not yet");
    pump.tick(at(100));
    pump.step(&stream, &mut buf).unwrap();
    assert_eq!(received(&mut peer), b"tick");
    // Set again from on_timer, from the clock it fired at.
    assert_eq!(pump.timer(), Some(at(200)));
    pump.tick(at(150));
    pump.step(&stream, &mut buf).unwrap();
    assert_eq!(received(&mut peer), b"", "once per setting");
    // Cleared: nothing more, no deadline.
    peer.write_all(b"clear").unwrap();
    pump.ready(true, false);
    pump.step(&stream, &mut buf).unwrap();
    assert_eq!(pump.timer(), None);
    assert_eq!(pump.deadline(&none), None);
    pump.tick(at(10_000));
    pump.step(&stream, &mut buf).unwrap();
    assert_eq!(received(&mut peer), b"");
}

#[test]
fn a_shutdown_is_told_once_and_a_session_that_closes_ends_at_once() {
    let (stream, mut peer) = pair();
    let session = Ticking {
        after: Duration::from_secs(60),
        shutdowns: 0,
    };
    let mut pump = Pump::new(session, Instant::now(), DEFAULT_HIGH_WATER);
    pump.open();
    let mut buf = [0; 64];
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Open);
    pump.shutdown();
    pump.shutdown();
    assert_eq!(pump.step(&stream, &mut buf).unwrap(), Step::Done);
    assert_eq!(pump.session.shutdowns, 1);
    assert_eq!(received(&mut peer), b"bye");
}

#[test]
fn reads_stop_at_the_high_water_mark_and_never_queue_past_it() {
    let (stream, mut peer) = pair();
    let high_water = 4096;
    let mut pump = Pump::new(Probe::default(), Instant::now(), high_water);
    pump.open();
    // The peer sends far more than the mark and reads nothing (the socket pair's own
    // buffers take what is echoed, so fill them first).
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    for _ in 0..64 {
        match peer.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > high_water as usize);
    let mut buf = vec![0; 64 * 1024];
    for _ in 0..1000 {
        pump.ready(true, false);
        pump.step(&stream, &mut buf).unwrap();
        assert!(pump.queued() <= high_water, "{} queued", pump.queued());
        if !pump.can_read() {
            break;
        }
    }
    assert!(!pump.can_read(), "backed up: reading stopped");
}
