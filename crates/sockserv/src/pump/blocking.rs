//! The blocking strategies' Session driver: a [`Session`] over one blocking connection
//! (or one datagram), with the same [`Pump`] as the event loops.
//!
//! Each connection gets a per-connection poller over its socket (made non-blocking) and
//! one waker, so wake-ups, the Session's timer and the server's drain notice are served
//! while the peer is quiet, and a peer that stops reading never blocks the thread in
//! `write`; it keeps the connection's timeouts itself, as an event loop does. (A plain
//! blocking read could not hear the drain begin while the peer is silent.)

use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::timeouts::{name_timeout, ConnSettings};
use super::{Input, Pump, Step, LOAD_CHUNK};
use crate::driver::OutputExt;
use crate::endpoint::PeerAddr;
use crate::error::Failure;
use crate::output::Output;
use crate::request::run_guarded;
use crate::server::drain::Notice;
use crate::session::{OpenFn, Session};
use crate::transport::Stream;

const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection with a Session from `open`, to the end. The Session hears `on_close` exactly
/// once, last, whatever ended the connection (an error, a timeout, its own panic), as
/// under an event loop. Returns the failure, if any, and the traffic `(in, out)`.
/// `shutdown` tells when the server begins to drain: the Session hears `on_shutdown`.
pub(crate) fn serve(
    open: &OpenFn,
    peer: &PeerAddr,
    stream: &Stream,
    settings: &ConnSettings,
    shutdown: &Notice,
) -> (Result<(), Failure>, (u64, u64)) {
    let mut pump = None;
    let served = run_guarded(|| {
        let pump = pump.insert(Pump::new(open(peer), Instant::now(), settings.high_water));
        drive(pump, stream, settings, shutdown).map_err(name_timeout)
    });
    let Some(mut pump) = pump else {
        // The factory itself failed: no Session to tell.
        return (served, (0, 0));
    };
    let closed = run_guarded(|| {
        pump.close();
        Ok(())
    });
    (served.and(closed), pump.traffic())
}

/// Serves one datagram with a Session from `open`: a short-lived Session, opened, fed
/// the payload, told EOF and closed; what it wrote (files included) is the reply.
///
/// # Errors
///
/// Reading a file the Session queued failed.
pub(crate) fn reply(
    open: &OpenFn,
    peer: &PeerAddr,
    data: &[u8],
    reply: &mut Vec<u8>,
) -> io::Result<()> {
    let mut session = open(peer);
    let mut out = Output::new();
    session.on_open(&mut out);
    if !data.is_empty() {
        session.on_data(data, &mut out);
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

fn drive<S: Session>(
    pump: &mut Pump<S>,
    stream: &Stream,
    settings: &ConnSettings,
    shutdown: &Notice,
) -> io::Result<()> {
    let wants_wake = pump.open().is_some();
    let (poll, waker) = match poller() {
        Ok(poller) => poller,
        Err(_) if !wants_wake => {
            let (read, write) = settings.socket_timeouts();
            stream.set_read_timeout(read)?;
            stream.set_write_timeout(write)?;
            return drive_blocking(pump, stream);
        }
        Err(e) => return Err(e),
    };
    if let Some(source) = pump.wake_source() {
        let waker = Arc::clone(&waker);
        // A failed wake means the poller is gone: the connection is over anyway.
        source.set_notify(move || drop(waker.wake()));
    }
    shutdown.set_notify(move || drop(waker.wake()));
    drive_polled(pump, stream, poll, settings, shutdown)
}

/// A per-connection poller and its waker (two descriptors).
fn poller() -> io::Result<(Poll, Arc<Waker>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
    Ok((poll, waker))
}

/// The fallback for a session without a waker when no poller can be made (the process is
/// out of descriptors): a blocking read, then a blocking write, bounded by the socket's
/// timeouts. The connection is served, without timers or the drain notice (rather than
/// refused, which would turn descriptor exhaustion into a busy accept-and-close loop).
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
const PARENT: Token = Token(2);

/// The loop for sessions that take wake-ups: a per-connection poller over the socket
/// (made non-blocking), the session's waker and, in a forked child, the parent's drain
/// broadcast.
fn drive_polled<S: Session>(
    pump: &mut Pump<S>,
    stream: &Stream,
    mut poll: Poll,
    settings: &ConnSettings,
    shutdown: &Notice,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    stream.set_nonblocking(true)?;
    poll.registry()
        .register(&mut SourceFd(&fd), SOCKET, Interest::READABLE)?;
    let mut parent = shutdown.parent();
    if let Some(parent) = &parent {
        poll.registry()
            .register(&mut SourceFd(parent), PARENT, Interest::READABLE)?;
    }
    let mut writing = false;
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0; READ_CHUNK];
    loop {
        if shutdown.take() {
            pump.shutdown();
        }
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
            match event.token() {
                SOCKET => {
                    let closed = event.is_read_closed() || event.is_error();
                    pump.ready(event.is_readable(), closed);
                }
                PARENT => match shutdown.parent_said() {
                    None => {}
                    Some(drain) => {
                        if drain {
                            pump.shutdown();
                        }
                        // Heard once: the broadcast stays readable from now on.
                        if let Some(parent) = parent.take() {
                            poll.registry().deregister(&mut SourceFd(&parent))?;
                        }
                    }
                },
                _ => {}
            }
        }
        let now = Instant::now();
        pump.tick(now);
        if let Some(e) = pump.expired(now, settings) {
            return Err(e);
        }
    }
}
