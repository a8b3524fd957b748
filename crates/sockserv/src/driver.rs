//! The driver's side of a [`Session`](crate::Session): what code that runs Sessions
//! itself needs, kept apart from the API a Session is written against.
//!
//! A Session only writes into its [`Output`](crate::Output) and reads
//! [`Output::queued`](crate::Output::queued). Something else — sockserv's strategies, a
//! Session that wraps another one (TLS does), a unit test — takes that output and sends
//! it, and delivers wake-ups. That is this module: [`OutputExt`] is the driver's view of
//! an `Output` (the bytes to send, the file range at the front, the waker's other end),
//! [`WakeSource`] receives wake-ups, [`FileRange`] is a queued range of a file, and
//! [`Relay`] keeps a wrapper Session's account of its inner Session's output, and
//! [`InMemory`] drives one Session without a socket, as the strategies would — the way
//! to unit-test a Session.
//!
//! # Examples
//!
//! Testing a Session in memory, as a driver would run it:
//!
//! ```
//! use sockserv::driver::InMemory;
//! use sockserv::{Output, Session};
//!
//! struct Shout;
//!
//! impl Session for Shout {
//!     fn on_data(&mut self, data: &[u8], out: &mut Output) {
//!         out.write(&data.to_ascii_uppercase());
//!     }
//! }
//!
//! let mut conn = InMemory::open(Shout);
//! conn.feed(b"hello");
//! assert_eq!(conn.output().queued(), 5); // not sent until the peer reads
//! assert_eq!(conn.transmit()?, b"HELLO");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Taking the output by hand, as a driver (or a wrapping Session) does:
//!
//! ```
//! use sockserv::driver::OutputExt;
//! use sockserv::Output;
//!
//! let mut out = Output::new();
//! out.write(b"hello");
//! assert_eq!(out.take(), b"hello"); // what a driver would send
//! assert_eq!(out.queued(), 0);
//! ```

use std::io;

mod memory;
mod relay;

pub use self::memory::InMemory;
pub use self::relay::Relay;
pub use crate::output::FileRange;
pub use crate::session::WakeSource;

/// The driver's view of an [`Output`](crate::Output): takes what a Session queued, in
/// order, and reports what was sent.
///
/// Queued bytes come out through [`pending`](OutputExt::pending) and
/// [`consume`](OutputExt::consume) (or [`take`](OutputExt::take)); a file range at the
/// front through [`front_file`](OutputExt::front_file) and
/// [`file_sent`](OutputExt::file_sent), or read into the pending bytes with
/// [`load`](OutputExt::load) where it cannot be sent directly.
///
/// This trait is sealed: only [`Output`](crate::Output) implements it.
pub trait OutputExt: sealed::Sealed {
    /// The bytes at the front of the queue, ready to send. Empty when nothing is queued,
    /// or when a file range is at the front (see [`front_file`](OutputExt::front_file)).
    fn pending(&self) -> &[u8];

    /// Removes the first `n` pending bytes (the driver sent them).
    ///
    /// # Panics
    ///
    /// If `n` is larger than the number of pending bytes.
    fn consume(&mut self, n: usize);

    /// Takes all pending bytes, leaving them empty (the close flag stays). Queued file
    /// ranges stay queued.
    fn take(&mut self) -> Vec<u8>;

    /// Whether a file range comes right after the pending bytes (a driver that can hold
    /// the bytes back briefly, to send them in one go with the file, does so).
    fn file_follows(&self) -> bool;

    /// How many pending bytes were ever removed from the front, by
    /// [`consume`](OutputExt::consume) or [`take`](OutputExt::take). A driver that wraps
    /// another Session (TLS does) compares it with what it removed itself, to notice the
    /// inner Session taking back output it had queued (a chat room dropping a slow
    /// member's backlog).
    fn removed(&self) -> u64;

    /// The file range at the front of the queue, when no bytes come before it: a driver
    /// sends from it directly and reports progress with
    /// [`file_sent`](OutputExt::file_sent).
    fn front_file(&self) -> Option<&FileRange>;

    /// Marks `n` bytes of the [`front_file`](OutputExt::front_file) range as sent.
    ///
    /// # Panics
    ///
    /// If no file range is at the front, or `n` is more than it has left.
    fn file_sent(&mut self, n: u64);

    /// Moves up to about `max` bytes from the queue behind the pending bytes into them,
    /// reading file ranges: the way to send files where `sendfile` cannot be used (TLS,
    /// datagram replies). Returns how many bytes were moved; 0 when nothing is queued
    /// behind the pending bytes.
    ///
    /// # Errors
    ///
    /// Reading the file failed, or the file is shorter than the queued range.
    fn load(&mut self, max: usize) -> io::Result<usize>;

    /// The driver's end of the Session's waker: `None` if the Session never asked for
    /// one (see [`Output::waker`](crate::Output::waker)).
    fn wake_source(&self) -> Option<WakeSource>;

    /// Takes the Session's last timer change since the previous call: `Some(Some(d))`
    /// it set a timer to fire `d` from now ([`Output::set_timer`](crate::Output::set_timer)),
    /// `Some(None)` it cleared it, `None` nothing changed. The driver keeps the deadline
    /// and calls [`Session::on_timer`](crate::Session::on_timer) when it passes.
    fn take_timer(&mut self) -> Option<Option<std::time::Duration>>;

    /// Sets the high-water mark of [`Output::is_backed_up`](crate::Output::is_backed_up)
    /// (the driver's setting; 64 KiB by default).
    fn set_high_water(&mut self, bytes: u64);
}

mod sealed {
    /// Keeps [`OutputExt`](super::OutputExt) implemented by [`Output`](crate::Output)
    /// alone, so methods can be added to it.
    pub trait Sealed {}

    impl Sealed for crate::output::Output {}
}
