//! Drives a [`Session`] over a blocking connection: how the blocking strategies run
//! sans-IO handlers, with the same [`Pump`] as the event loops.
//!
//! A session that never asks for a waker gets the cheapest loop: blocking `read`, then
//! `write` (two syscalls per message), with the socket's own timeouts. One that asks for a
//! waker (a broadcast group member) gets a per-connection poller, so wake-ups are served
//! while the peer is quiet and a peer that stops reading never blocks the thread in
//! `write`; it keeps the connection's timeouts itself, as an event loop does.

use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::driver::OutputExt;
use crate::handler::{Conn, ConnSettings, Datagram, DatagramHandler, StreamHandler};
use crate::pump::{Input, Pump, Step, LOAD_CHUNK};
use crate::{Output, Session, SessionFactory, Stream};

const READ_CHUNK: usize = 16 * 1024;

/// A [`SessionFactory`] seen as a blocking handler.
pub(crate) struct Blocking<F>(pub(crate) F);

impl<F: SessionFactory> StreamHandler for Blocking<F> {
    fn handle(&self, conn: &mut Conn) -> io::Result<()> {
        let mut pump = Pump::new(self.0.open(conn.peer_addr()), Instant::now());
        let result = catch_unwind(AssertUnwindSafe(|| drive(&mut pump, conn)));
        // The pump does its own reads and writes: count them, even after a panic.
        conn.count(pump.traffic());
        match result {
            Ok(result) => {
                pump.close();
                result
            }
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl<F: SessionFactory> DatagramHandler for Blocking<F> {
    /// One datagram is one short-lived session: opened, fed the payload, told EOF; what
    /// it wrote is the reply.
    fn handle(&self, request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()> {
        let mut session = self.0.open(request.peer_addr());
        let mut out = Output::new();
        session.on_open(&mut out);
        if !request.data().is_empty() {
            session.on_data(request.data(), &mut out);
        }
        session.on_eof(&mut out);
        session.on_close();
        loop {
            reply.extend_from_slice(&out.take());
            if out.load(LOAD_CHUNK)? == 0 && out.pending().is_empty() {
                return Ok(());
            }
        }
    }
}

fn drive<S: Session>(pump: &mut Pump<S>, conn: &Conn) -> io::Result<()> {
    // The pump reads the socket itself: nothing has read through the Conn's buffer yet
    // (this handler has no `setup`), so no byte is left behind in it.
    let stream = conn.stream();
    let Some(source) = pump.open() else {
        return drive_blocking(pump, stream);
    };
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKE)?;
    source.set_notify(move || {
        // A failed wake means the poller is gone: the connection is over anyway.
        let _ = waker.wake();
    });
    drive_polled(pump, stream, poll, conn.settings())
}

/// The loop for sessions without a waker: a blocking read, then a blocking write. The
/// socket's timeouts bound both.
fn drive_blocking<S: Session>(pump: &mut Pump<S>, stream: &Stream) -> io::Result<()> {
    let mut buf = vec![0; READ_CHUNK];
    loop {
        if flush_blocking(pump, stream)? == Step::Done || pump.is_closing() {
            return Ok(());
        }
        match pump.read(stream, &mut buf)? {
            Input::Data => {}
            Input::Eof => return flush_blocking(pump, stream).map(drop),
            // A blocking read stops short only when the read timeout expired.
            Input::Dry => return Err(ErrorKind::WouldBlock.into()),
            Input::Gone => return Ok(()),
        }
    }
}

/// Sends everything queued, telling the session each time it has all gone out.
fn flush_blocking<S: Session>(pump: &mut Pump<S>, stream: &Stream) -> io::Result<Step> {
    loop {
        if pump.flush(stream)? == Step::Done {
            return Ok(Step::Done);
        }
        if pump.queued() > 0 {
            // A blocking socket stops short only when its write timeout expired.
            return Err(io::Error::new(ErrorKind::TimedOut, "write timed out"));
        }
        // The drain budget is for sharing a thread; this one serves a single connection.
        if !pump.drain_due() {
            return Ok(Step::Open);
        }
    }
}

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);

/// The loop for sessions that take wake-ups: a per-connection poller over the socket
/// (made non-blocking) and the session's waker.
fn drive_polled<S: Session>(
    pump: &mut Pump<S>,
    stream: &Stream,
    mut poll: Poll,
    settings: &ConnSettings,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    stream.set_nonblocking(true)?;
    poll.registry()
        .register(&mut SourceFd(&fd), SOCKET, Interest::READABLE)?;
    let mut writing = false;
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0; READ_CHUNK];
    loop {
        pump.wake();
        if pump.step(stream, &mut buf)? == Step::Done {
            return Ok(());
        }
        if pump.wants_write() != writing {
            writing = !writing;
            let interest = if writing {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            poll.registry()
                .reregister(&mut SourceFd(&fd), SOCKET, interest)?;
        }
        // Budgets ran out with work left: come straight back (edge-triggered readiness
        // will not report those bytes again).
        let timeout = if pump.has_more() {
            Some(Duration::ZERO)
        } else {
            pump.deadline(settings)
                .map(|at| at.saturating_duration_since(Instant::now()))
        };
        match poll.poll(&mut events, timeout) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => other?,
        }
        for event in &events {
            if event.token() == SOCKET {
                let closed = event.is_read_closed() || event.is_error();
                pump.ready(event.is_readable(), closed);
            }
        }
        let now = Instant::now();
        pump.tick(now);
        if let Some(e) = pump.expired(now, settings) {
            return Err(e);
        }
    }
}
