//! The only unsafe code of the crate: process control for the fork strategy, taking
//! ownership of descriptors inherited at exec, and `sendfile(2)`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_SYSTEMD_FD: RawFd = 3;

/// Which side of a `fork` this process is on.
pub(crate) enum Forked {
    /// The parent; the child's pid.
    Parent(libc::pid_t),
    /// The child.
    Child,
}

/// Forks the process.
///
/// The child is a copy of the calling thread only. Callers must make the child do only
/// what the fork strategy documents (serve one request, then [`exit_now`]).
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; the hazards are in
    // what the child does next (locks held by other threads), which the fork strategy
    // restricts and documents.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Ends the process at once, without running atexit handlers or destructors (the
/// parent owns those): `_exit(2)`.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and takes no pointers.
    unsafe { libc::_exit(code) }
}

/// Reaps `pid` if it has exited; `Ok(None)` while it runs. Only this pid: never a child
/// the server did not create.
pub(crate) fn try_wait(pid: libc::pid_t, block: bool) -> io::Result<Option<i32>> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: status is a valid, writable int for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        match r {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            0 => return Ok(None),
            _ => return Ok(Some(status)),
        }
    }
}

/// A file descriptor that becomes readable when `pid` exits (`pidfd_open(2)`, Linux 5.3+),
/// so the serve loop learns of a finished child at once, without polling or SIGCHLD.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends SIGKILL to `pid` (a child of ours that outlived a close deadline).
pub(crate) fn kill(pid: libc::pid_t) -> io::Result<()> {
    // SAFETY: kill takes a pid and a signal number, no pointers.
    if unsafe { libc::kill(pid, libc::SIGKILL) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes a descriptor the forked child inherited but must not keep. The parent's
/// owner of that fd lives on in the child's memory but is never dropped there (the child
/// ends with [`exit_now`]), so this is the only close.
pub(crate) fn close_inherited(fd: RawFd) {
    // SAFETY: called only in a forked child, on a descriptor whose owning value is never
    // used or dropped in the child again.
    unsafe { libc::close(fd) };
}

/// Refuses descriptors 0–2 and any number that is not an open descriptor.
fn check_inherited(fd: RawFd) -> io::Result<()> {
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {fd} is stdin, stdout or stderr, not an inherited socket"),
        ));
    }
    // SAFETY: F_GETFD only queries the descriptor table; no memory is passed, and nothing
    // is changed, whoever owns `fd`.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("fd {fd} is not open: nothing was passed to this process there"),
        ));
    }
    Ok(())
}

/// Whether systemd's descriptors were taken already: they are taken once per process.
static SYSTEMD_FDS_TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes descriptors 3 to 3 + `count` − 1, passed by systemd's socket activation; empty
/// on every call after the first.
pub(crate) fn take_systemd_fds(count: u16) -> io::Result<Vec<OwnedFd>> {
    if SYSTEMD_FDS_TAKEN.swap(true, Ordering::AcqRel) {
        return Ok(Vec::new());
    }
    (FIRST_SYSTEMD_FD..FIRST_SYSTEMD_FD + RawFd::from(count))
        .map(|fd| {
            check_inherited(fd)?;
            // SAFETY: the fd is open (checked above). systemd passed it to this process
            // (LISTEN_PID named us) for exactly this use, the flag above lets this run
            // once per process, and sockserv opens nothing else under these numbers
            // before (they were occupied since exec), so this OwnedFd is its only owner.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })
        .collect()
}

/// Takes ownership of descriptor number `fd`, which the parent process passed (for
/// example `--listen fd:3`), for [`Listener::from_inherited_fd`](crate::Listener::from_inherited_fd).
///
/// # Safety
///
/// The caller vouches that nothing else in this process owns `fd` or will close it:
/// call it at startup, before the process opens any file or socket of its own (one of
/// those could otherwise have been given the number, if the parent did not pass it),
/// once per number, and not for a descriptor
/// [`Listener::from_systemd`](crate::Listener::from_systemd) takes.
///
/// # Errors
///
/// `fd` is 0–2 (stdin, stdout, stderr) or not open; nothing is closed then.
pub unsafe fn claim_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    check_inherited(fd)?;
    // SAFETY: open (checked above) and owned by nothing else (the caller's contract).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends up to `count` bytes of `file` from `offset` to the socket `socket` with
/// `sendfile(2)`: the kernel copies from the page cache, nothing passes through user
/// memory. Returns the bytes sent; 0 means the file ended before `offset`.
pub(crate) fn sendfile(
    socket: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: u64,
    count: usize,
) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // SAFETY: both descriptors are borrowed for the call, so they stay open; `off` is a
    // valid, exclusively borrowed off_t the kernel updates.
    let n = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Shuts down both directions of the socket `fd` (`shutdown(2)`, `SHUT_RDWR`): a thread
/// blocked reading it sees EOF, one blocked writing it gets an error. Errors (the peer
/// is gone already) are ignored.
///
/// The caller guarantees `fd` is an open socket it tracks (see `server::drain::Live`,
/// which calls this under the lock that the socket's owner must take before closing it).
pub(crate) fn shutdown_socket(fd: RawFd) {
    // SAFETY: shutdown takes no pointers; `fd` is open for the duration of the call (the
    // caller holds the lock its owner takes before closing it), so it names that socket.
    let _ = unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
