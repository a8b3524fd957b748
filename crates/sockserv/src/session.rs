//! The sans-IO [`Session`] handler: bytes in, bytes out, no socket inside.
//!
//! A `Session` is told what happened on its connection (opened, bytes arrived, the peer
//! half-closed, something woke it) and answers by writing into an [`Output`]. Because it
//! never touches a socket it is unit-tested by pumping bytes in memory, and it runs under
//! every strategy: the blocking strategies drive it with a small read loop, an event loop
//! drives it from readiness events.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::endpoint::PeerAddr;
use crate::output::Output;

/// An event-driven, sans-IO connection handler (asyncio's `Protocol`, in Rust).
///
/// One value serves one connection; a [`SessionFactory`] makes a fresh one per
/// connection, so per-connection state lives in `self`. Every callback gets the
/// connection's [`Output`]: what it writes there is sent to the peer in order, and
/// [`Output::close`] ends the connection once that output has been sent.
///
/// # Examples
///
/// ```
/// use sockserv::driver::InMemory; // runs it as a server would, in a unit test
/// use sockserv::{Output, Session};
///
/// /// Echoes every byte back.
/// struct Echo;
///
/// impl Session for Echo {
///     fn on_data(&mut self, data: &[u8], out: &mut Output) {
///         out.write(data);
///     }
/// }
///
/// let mut conn = InMemory::open(Echo);
/// conn.feed(b"hello");
/// conn.eof(); // the default on_eof closes once everything is sent
/// assert_eq!(conn.transmit()?, b"hello");
/// assert!(conn.is_closed());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Session: Send + 'static {
    /// The connection is open; a greeting written here is sent first.
    fn on_open(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// Bytes arrived from the peer. `data` is never empty.
    fn on_data(&mut self, data: &[u8], out: &mut Output);

    /// The peer closed its sending side (EOF). The default closes the connection once
    /// everything already written has been sent, which is how an echo server ends.
    fn on_eof(&mut self, out: &mut Output) {
        out.close();
    }

    /// A [`SessionWaker`] of this session was woken (for example a broadcast group has
    /// queued messages for it). Wake-ups may be merged: one call can stand for many; a
    /// call with nothing new to do is harmless and must be tolerated.
    fn on_wake(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// Everything queued has been sent: [`Output::queued`] fell to zero after output
    /// was waiting. A session that holds work back while its output is backed up (a
    /// server answering pipelined requests, a stream produced piece by piece) resumes
    /// here; the driver stops reading while output is backed up, so this is where such a
    /// session picks up the input it has buffered. The default does nothing.
    fn on_drained(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// The timer set with [`Output::set_timer`] went off. It fires once; a Session that
    /// wants another sets it again here. Not called once the Session is closing. The
    /// default does nothing.
    fn on_timer(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// The server began to drain (a graceful stop: SIGTERM under
    /// [`Server::serve_until_signal`](crate::Server::serve_until_signal), or a close with
    /// [`ClosePolicy::Drain`](crate::ClosePolicy::Drain)), under every strategy: under
    /// the sequential one at the stop itself (see
    /// [`ShutdownHandle`](crate::ShutdownHandle)), in forked children from their parent.
    /// Called at most once, not once the Session is closing. A Session with nothing in flight closes here (then the drain
    /// does not wait for it); one in the middle of a request finishes it and closes after.
    /// The default does nothing: the connection is served until it ends or the drain
    /// deadline cuts it.
    fn on_shutdown(&mut self, out: &mut Output) {
        let _ = out;
    }

    /// The connection is gone, for any reason. Called exactly once, last.
    fn on_close(&mut self) {}
}

impl<S: Session + ?Sized> Session for Box<S> {
    fn on_open(&mut self, out: &mut Output) {
        (**self).on_open(out);
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        (**self).on_data(data, out);
    }

    fn on_eof(&mut self, out: &mut Output) {
        (**self).on_eof(out);
    }

    fn on_wake(&mut self, out: &mut Output) {
        (**self).on_wake(out);
    }

    fn on_drained(&mut self, out: &mut Output) {
        (**self).on_drained(out);
    }

    fn on_timer(&mut self, out: &mut Output) {
        (**self).on_timer(out);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        (**self).on_shutdown(out);
    }

    fn on_close(&mut self) {
        (**self).on_close();
    }
}

/// Makes one [`Session`] per connection (or per datagram, on datagram endpoints).
///
/// Implemented for every `Fn(&PeerAddr) -> S` closure. [`Builder::session`](crate::Builder::session)
/// takes such a closure directly, written as a newcomer would (`.session(|_peer| Echo)`,
/// its types inferred from the method); a factory type — one that holds shared state, or
/// the TLS wrapper — goes to [`Builder::session_factory`](crate::Builder::session_factory).
pub trait SessionFactory: Send + Sync + 'static {
    /// The session type this factory makes.
    type Session: Session;

    /// A new session for a connection from `peer`.
    fn open(&self, peer: &PeerAddr) -> Self::Session;
}

impl<F, S> SessionFactory for F
where
    F: Fn(&PeerAddr) -> S + Send + Sync + 'static,
    S: Session,
{
    type Session = S;

    fn open(&self, peer: &PeerAddr) -> S {
        self(peer)
    }
}

/// A [`SessionFactory`] with its Session type erased: how the builder keeps a factory
/// and every driver opens Sessions.
pub(crate) type OpenFn = Arc<dyn Fn(&PeerAddr) -> Box<dyn Session> + Send + Sync>;

/// Erases `factory`'s Session type.
pub(crate) fn erase(factory: impl SessionFactory) -> OpenFn {
    Arc::new(move |peer: &PeerAddr| -> Box<dyn Session> { Box::new(factory.open(peer)) })
}

#[derive(Default)]
pub(crate) struct WakeCell {
    pending: AtomicBool,
    notify: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Bytes that ever left the waker's `Output` (sent, or taken back): how a broadcast
    /// group tells, from another thread, how much of what it handed over is still unsent.
    pub(crate) gone: AtomicU64,
}

/// A waker and its driver's end, not tied to an [`Output`]: how a server tells a
/// blocking driver that the drain began.
pub(crate) fn wake_pair() -> (SessionWaker, WakeSource) {
    let cell = Arc::new(WakeCell::default());
    (
        SessionWaker {
            cell: Arc::clone(&cell),
        },
        WakeSource { cell },
    )
}

/// Wakes one session's driver from any thread (see [`Output::waker`]).
#[derive(Clone)]
pub struct SessionWaker {
    pub(crate) cell: Arc<WakeCell>,
}

impl SessionWaker {
    /// Bytes that ever left this waker's `Output` (see `WakeCell::gone`).
    pub(crate) fn gone(&self) -> u64 {
        self.cell.gone.load(Ordering::Acquire)
    }

    /// Asks the driver to call [`Session::on_wake`]. Cheap when a wake-up is already
    /// pending; never blocks.
    pub fn wake(&self) {
        if !self.cell.pending.swap(true, Ordering::AcqRel) {
            if let Some(notify) = self.cell.notify.get() {
                notify();
            }
        }
    }
}

impl fmt::Debug for SessionWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionWaker").finish_non_exhaustive()
    }
}

/// The driver's end of a [`SessionWaker`]: it installs how to be notified and takes
/// pending wake-ups (see [`OutputExt::wake_source`](crate::driver::OutputExt::wake_source)).
/// Only drivers need this: strategies, Sessions that wrap a Session, tests.
pub struct WakeSource {
    pub(crate) cell: Arc<WakeCell>,
}

impl WakeSource {
    /// Installs the function a wake-up calls (for example `mio::Waker::wake`). If a
    /// wake-up came before, it is delivered through `notify` at once.
    pub fn set_notify(&self, notify: impl Fn() + Send + Sync + 'static) {
        if self.cell.notify.set(Box::new(notify)).is_ok()
            && self.cell.pending.load(Ordering::Acquire)
        {
            if let Some(notify) = self.cell.notify.get() {
                notify();
            }
        }
    }

    /// Whether a wake-up is pending; clears it.
    pub fn take(&self) -> bool {
        self.cell.pending.swap(false, Ordering::AcqRel)
    }
}

impl fmt::Debug for WakeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeSource").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::OutputExt;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn wake_before_notify_is_delivered_on_install() {
        let mut out = Output::new();
        assert!(out.wake_source().is_none());
        let waker = out.waker();
        waker.wake();
        waker.wake();
        let source = out.wake_source().expect("asked for a waker");
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        source.set_notify(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(source.take());
        assert!(!source.take());
        waker.wake();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
