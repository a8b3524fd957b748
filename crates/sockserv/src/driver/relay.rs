//! [`Relay`]: what a wrapper Session has passed on of its inner Session's output, and
//! what of that the driver has sent.

use std::collections::VecDeque;

use super::OutputExt;
use crate::output::Output;

/// The bookkeeping of a Session that wraps another and re-encodes its output (TLS
/// encrypts it, a WebSocket frames it): which of the inner [`Output`]'s pending bytes
/// were passed on into the outer one, and which of those the driver has sent.
///
/// The inner bytes stay queued in the inner `Output` until the driver has sent their
/// encoding, so the inner Session's [`Output::queued`] keeps counting what the peer has
/// not been sent: back-pressure and slow-peer policies (the chat room drops a member
/// whose backlog grows too large) work the same behind a wrapper. The wrapper reports
/// every byte it writes to the outer `Output` ([`wrote`](Relay::wrote)), and which inner
/// bytes are encoded in what it wrote so far ([`handed_on`](Relay::handed_on)).
///
/// # Examples
///
/// ```
/// use sockserv::driver::{OutputExt, Relay};
/// use sockserv::Output;
///
/// let (mut inner, mut outer, mut relay) = (Output::new(), Output::new(), Relay::new());
/// inner.write(b"hello\n");
/// // The wrapper encodes the line (here: in brackets) into the outer output.
/// outer.write(b"[hello]");
/// relay.wrote(7);
/// relay.handed_on(6);
/// assert_eq!((relay.handed(), inner.queued()), (6, 6)); // passed on, not sent
///
/// outer.consume(7); // the driver sent it
/// relay.sync_sent(&mut inner, &outer);
/// assert_eq!((relay.handed(), inner.queued()), (0, 0));
/// ```
#[derive(Debug, Default)]
pub struct Relay {
    /// The first `handed` pending inner bytes are encoded in the outer output.
    handed: usize,
    /// Batches of handed bytes: (the count of outer bytes after which their encoding is
    /// sent, how many inner bytes).
    in_flight: VecDeque<(u64, usize)>,
    /// Inner bytes this relay removed (sent); any other removal is the inner Session
    /// taking back what it had queued.
    removed: u64,
    /// Every byte ever written to the outer output.
    written: u64,
}

impl Relay {
    /// Nothing passed on yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many of the inner Output's pending bytes are passed on already: the next to
    /// encode start there.
    pub fn handed(&self) -> usize {
        self.handed
    }

    /// The wrapper wrote `n` more bytes into the outer Output (an encoding, or bytes of
    /// its own: handshakes, control frames).
    pub fn wrote(&mut self, n: usize) {
        self.written += n as u64;
    }

    /// The next `len` pending inner bytes are passed on: their encoding is within what
    /// was [`wrote`](Relay::wrote) so far.
    pub fn handed_on(&mut self, len: usize) {
        self.handed += len;
        self.in_flight.push_back((self.written, len));
    }

    /// Removes from `inner` the bytes whose encoding the driver has sent: everything
    /// written to `outer` but what is still pending there.
    pub fn sync_sent(&mut self, inner: &mut Output, outer: &Output) {
        let sent = self.written.saturating_sub(outer.pending().len() as u64);
        while let Some(&(mark, len)) = self.in_flight.front() {
            if mark > sent {
                break;
            }
            self.in_flight.pop_front();
            inner.consume(len);
            self.removed += len as u64;
            self.handed -= len;
        }
    }

    /// Accounts for inner output the inner Session took back (the chat room drops a slow
    /// member's backlog so): the part already passed on is forgotten — its encoding still
    /// goes out, there is no recalling it — so the bookkeeping matches what is left.
    /// Returns whether anything was taken back since the last call.
    pub fn forget_taken_back(&mut self, inner: &Output) -> bool {
        let mut gone = inner.removed() - self.removed;
        let taken = gone > 0;
        self.removed += gone;
        while gone > 0 {
            let Some(front) = self.in_flight.front_mut() else {
                break;
            };
            let n = front.1.min(usize::try_from(gone).unwrap_or(usize::MAX));
            front.1 -= n;
            self.handed -= n;
            gone -= n as u64;
            if front.1 == 0 {
                self.in_flight.pop_front();
            }
        }
        taken
    }
}
