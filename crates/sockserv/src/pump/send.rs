//! Writing a Session's output to a socket: bytes with `write`, file ranges with
//! `sendfile(2)`, and what counts as the peer leaving.

use std::io::{self, ErrorKind, Write};
use std::os::fd::AsFd;

use crate::driver::OutputExt;
use crate::output::Output;
use crate::transport::Stream;

/// Most bytes of a file range handed to one `sendfile` call.
const SENDFILE_CHUNK: usize = 1 << 20;
/// Bytes of a file range read per step where `sendfile` does not apply.
pub(crate) const LOAD_CHUNK: usize = 64 * 1024;

/// Sends queued output to `stream` until all of it is sent or the socket would block (a
/// non-blocking socket, or a blocking one past its write timeout); `sent` counts the bytes
/// as they go. File ranges go out with `sendfile(2)`, or through memory where the kernel
/// refuses it for that file. The one place a Session's output is written to a socket.
pub(crate) fn send_queued(stream: &Stream, out: &mut Output, sent: &mut u64) -> io::Result<()> {
    loop {
        let result = if !out.pending().is_empty() {
            write_front(stream, out).inspect(|&n| out.consume(n))
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

/// Writes the pending bytes. When a file range follows them on TCP (an HTTP head before
/// its body), `MSG_MORE` lets the kernel hold them for the `sendfile` that comes next, so
/// head and body leave in the same segments instead of a small packet of their own.
fn write_front(stream: &Stream, out: &Output) -> io::Result<usize> {
    match stream {
        Stream::Tcp(tcp) if out.file_follows() => {
            socket2::SockRef::from(tcp).send_with_flags(out.pending(), libc::MSG_MORE)
        }
        _ => {
            let mut stream = stream;
            stream.write(out.pending())
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
