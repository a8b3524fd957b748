//! Closing a connection so the peer reads every byte sent, then EOF — never a reset.

use std::io::{self, Read};
use std::net::Shutdown;

use crate::transport::Stream;

/// Half-close (FIN after every written byte), then close. The peer may be gone already.
pub(crate) fn close_stream(stream: Stream) {
    let _ = stream.shutdown(Shutdown::Write);
    if stream.set_nonblocking(true).is_ok() {
        discard_unread(&stream);
    }
}

/// Closes an event loop's connection: already non-blocking, and the only handle to its
/// socket (no fork, no dup), so reading away unread input and dropping it sends the FIN
/// after every written byte, as `shutdown` then `close` would, in one syscall less.
pub(crate) fn close_nonblocking(stream: Stream) {
    discard_unread(&stream);
}

/// Closing a socket with unread input makes the kernel reset the connection (TCP sends
/// RST instead of FIN; a Unix peer reads ECONNRESET), which can destroy the reply still on
/// its way to the peer. So read away what has already arrived, without waiting for more
/// (the stream must be non-blocking).
fn discard_unread(stream: &Stream) {
    const LIMIT: usize = 4 << 20;
    let mut reader = stream;
    let mut buf = [0u8; 8192];
    let mut discarded = 0;
    while discarded < LIMIT {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => discarded += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
