//! Drives a [`Session`] over a blocking connection: the small read loop that lets the
//! blocking strategies run sans-IO handlers.
//!
//! A session that never asks for a waker gets the cheapest loop: blocking `read`, then
//! `write_all` (two syscalls per message). One that asks for a waker (a broadcast group
//! member) gets a per-connection poller, so wake-ups are served while the peer is quiet
//! and a peer that stops reading never blocks the thread in `write`.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::handler::{Conn, ConnSettings, Datagram, DatagramHandler, StreamHandler};
use crate::{Output, Session, SessionFactory, Stream};

const READ_CHUNK: usize = 16 * 1024;
/// Pending output above which the driver stops reading until the peer catches up.
pub(crate) const HIGH_WATER: usize = 256 * 1024;
/// Most reads in a row before the polled driver writes and takes wake-ups again: a peer
/// that sends without pause would otherwise never get its replies.
const READ_BUDGET: usize = 16;
/// Most bytes of a file range handed to one `sendfile` call.
const SENDFILE_CHUNK: usize = 1 << 20;
/// Bytes of a file range read per step where `sendfile` does not apply.
const LOAD_CHUNK: usize = 64 * 1024;

/// A [`SessionFactory`] seen as a blocking handler.
pub(crate) struct Blocking<F>(pub F);

impl<F: SessionFactory> StreamHandler for Blocking<F> {
    fn handle(&self, conn: &mut Conn) -> io::Result<()> {
        let mut session = self.0.open(conn.peer_addr());
        let result = drive(&mut session, conn);
        session.on_close();
        result
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

fn drive<S: Session>(session: &mut S, conn: &mut Conn) -> io::Result<()> {
    let mut out = Output::new();
    session.on_open(&mut out);
    match out.wake_source() {
        None => drive_blocking(session, conn, out),
        Some(_) => Polled::new(conn)?.run(session, conn, out),
    }
}

fn drive_blocking<S: Session>(session: &mut S, conn: &mut Conn, mut out: Output) -> io::Result<()> {
    let mut buf = vec![0; READ_CHUNK];
    loop {
        flush_blocking(session, conn, &mut out)?;
        if out.is_closing() {
            return Ok(());
        }
        match conn.read(&mut buf) {
            Ok(0) => {
                session.on_eof(&mut out);
                return flush_blocking(session, conn, &mut out);
            }
            Ok(n) => session.on_data(&buf[..n], &mut out),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_disconnect(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Sends everything queued, telling the session each time it has all gone out.
fn flush_blocking<S: Session>(
    session: &mut S,
    conn: &mut Conn,
    out: &mut Output,
) -> io::Result<()> {
    while out.queued() > 0 {
        match conn.send_queued(out) {
            Err(e) if is_disconnect(&e) => {
                out.close();
                return Ok(());
            }
            other => other?,
        }
        if out.queued() > 0 {
            // A blocking socket stops short only when its write timeout expired.
            return Err(io::Error::new(ErrorKind::TimedOut, "write timed out"));
        }
        if !out.is_closing() {
            session.on_drained(out);
        }
    }
    Ok(())
}

/// Sends queued output to `stream` until all of it is sent or the socket would block (a
/// non-blocking socket, or a blocking one past its write timeout); `sent` counts the bytes
/// as they go. File ranges go out with `sendfile(2)`, or through memory where the kernel
/// refuses it for that file.
pub(crate) fn send_queued(stream: &Stream, out: &mut Output, sent: &mut u64) -> io::Result<()> {
    loop {
        let result = if !out.pending().is_empty() {
            let mut stream = stream;
            stream.write(out.pending()).inspect(|&n| out.consume(n))
        } else if let Some(range) = out.front_file() {
            let count = range.len().min(SENDFILE_CHUNK as u64) as usize;
            match crate::sys::sendfile(stream.as_fd(), range.file().as_fd(), range.offset(), count)
            {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "file is shorter than the range queued to send",
                    ))
                }
                Ok(n) => {
                    out.file_sent(n as u64);
                    Ok(n)
                }
                // Not every file supports sendfile (some pseudo-files): read it instead.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                    out.load(LOAD_CHUNK)?;
                    continue;
                }
                Err(e) => Err(e),
            }
        } else {
            return Ok(());
        };
        match result {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n as u64,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A reset or a closed pipe is how peers leave; it ends the session, it is not a failure.
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
    )
}

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);

/// The per-connection poller for sessions that take wake-ups.
struct Polled {
    poll: Poll,
    settings: ConnSettings,
}

impl Polled {
    fn new(conn: &Conn) -> io::Result<Polled> {
        let settings = ConnSettings {
            read_timeout: conn.stream().read_timeout()?,
            write_timeout: conn.stream().write_timeout()?,
            idle_timeout: None,
        };
        conn.stream().set_nonblocking(true)?;
        Ok(Polled {
            poll: Poll::new()?,
            settings,
        })
    }

    fn run<S: Session>(
        mut self,
        session: &mut S,
        conn: &mut Conn,
        mut out: Output,
    ) -> io::Result<()> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(conn.stream());
        let registry = self.poll.registry();
        let waker = Waker::new(registry, WAKE)?;
        let source = out
            .wake_source()
            .expect("drive() checked the session asked for a waker");
        source.set_notify(move || {
            // A failed wake means the poller is gone: the connection is over anyway.
            let _ = waker.wake();
        });
        let mut interest = Interest::READABLE;
        registry.register(&mut SourceFd(&fd), SOCKET, interest)?;
        let mut events = Events::with_capacity(4);
        let mut buf = vec![0; READ_CHUNK];
        // Data already buffered by the reader counts as readable.
        let mut readable = true;
        let mut eof = false;
        let mut last_read = Instant::now();
        let mut last_write = Instant::now();
        loop {
            if source.take() {
                session.on_wake(&mut out);
            }
            let mut reads = 0;
            while reads < READ_BUDGET
                && readable
                && !eof
                && !out.is_closing()
                && out.queued() < HIGH_WATER as u64
            {
                reads += 1;
                match conn.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        session.on_eof(&mut out);
                    }
                    Ok(n) => {
                        last_read = Instant::now();
                        session.on_data(&buf[..n], &mut out);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => readable = false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if is_disconnect(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            let before = out.queued();
            match conn.send_queued(&mut out) {
                Err(e) if is_disconnect(&e) => return Ok(()),
                other => other?,
            }
            if out.queued() < before {
                last_write = Instant::now();
                if out.queued() == 0 && !out.is_closing() {
                    session.on_drained(&mut out);
                    if out.queued() > 0 {
                        continue;
                    }
                }
            }
            if out.queued() == 0 && (out.is_closing() || eof) {
                return Ok(());
            }
            let wanted = if out.queued() == 0 {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            if wanted != interest {
                interest = wanted;
                self.poll
                    .registry()
                    .reregister(&mut SourceFd(&fd), SOCKET, interest)?;
            }
            // Output drained below the high-water mark while bytes still wait: read on at
            // once (edge-triggered readiness will not report those bytes again).
            let mut timeout = self.next_deadline(&out, last_read, last_write)?;
            if readable && !eof && !out.is_closing() && out.queued() < HIGH_WATER as u64 {
                timeout = Some(Duration::ZERO);
            }
            match self.poll.poll(&mut events, timeout) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in &events {
                if event.token() == SOCKET
                    && (event.is_readable() || event.is_read_closed() || event.is_error())
                {
                    readable = true;
                }
            }
        }
    }

    /// How long to wait for events, or a timeout error once a deadline has passed.
    fn next_deadline(
        &self,
        out: &Output,
        last_read: Instant,
        last_write: Instant,
    ) -> io::Result<Option<Duration>> {
        let mut wait: Option<Duration> = None;
        let mut check = |limit: Option<Duration>, since: Instant, what: &str| -> io::Result<()> {
            if let Some(limit) = limit {
                let left = limit.checked_sub(since.elapsed()).ok_or_else(|| {
                    io::Error::new(
                        ErrorKind::TimedOut,
                        format!("{what} timed out after {limit:?}"),
                    )
                })?;
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
            Ok(())
        };
        check(self.settings.read_timeout, last_read, "read")?;
        if out.queued() > 0 {
            check(self.settings.write_timeout, last_write, "write")?;
        }
        Ok(wait)
    }
}
