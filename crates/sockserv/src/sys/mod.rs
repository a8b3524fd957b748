//! The only unsafe code of the crate: process control for the fork strategy, passing
//! descriptors to a program started and taking ownership of those inherited at exec,
//! and `sendfile(2)`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
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

/// Whether the descriptors passed at exec (by systemd, or by [`pass_fds`] in the parent)
/// were taken already: they are taken once per process.
static PASSED_FDS_TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes descriptors 3 to 3 + `count` − 1, which the parent passed at exec (systemd's
/// socket activation, or [`pass_fds`]): the child half of [`pass_fds`]. Empty on every
/// call after the first, whoever made it ([`Listener::from_systemd`] takes them through
/// here too), so no descriptor gets two owners.
///
/// Call it at startup, before the process opens files or sockets of its own, and only
/// when the parent says it passed `count` descriptors (an environment variable naming
/// this process, as `LISTEN_PID` does, or the parent's pid checked against
/// [`std::os::unix::process::parent_id`]).
///
/// # Errors
///
/// A descriptor in the range that is not open; none is taken then.
///
/// [`Listener::from_systemd`]: crate::transport::Listener::from_systemd
pub fn take_passed_fds(count: u16) -> io::Result<Vec<OwnedFd>> {
    let range = FIRST_SYSTEMD_FD..FIRST_SYSTEMD_FD + RawFd::from(count);
    range.clone().try_for_each(check_inherited)?;
    if PASSED_FDS_TAKEN.swap(true, Ordering::AcqRel) {
        return Ok(Vec::new());
    }
    range
        .map(|fd| {
            // SAFETY: the fd is open (checked above). The parent passed it to this
            // process for exactly this use (the caller checked that it says so), the flag
            // above lets this run once per process, and sockserv opens nothing else under
            // these numbers before (they were occupied since exec), so this OwnedFd is its
            // only owner.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })
        .map(Ok)
        .collect()
}

/// Takes ownership of descriptor number `fd`, which the parent process passed (for
/// example `--listen fd:3`), for [`Listener::from_inherited_fd`](crate::transport::Listener::from_inherited_fd).
///
/// # Safety
///
/// The caller vouches that nothing else in this process owns `fd` or will close it:
/// call it at startup, before the process opens any file or socket of its own (one of
/// those could otherwise have been given the number, if the parent did not pass it),
/// once per number, and not for a descriptor
/// [`Listener::from_systemd`](crate::transport::Listener::from_systemd) takes.
///
/// # Errors
///
/// `fd` is 0–2 (stdin, stdout, stderr) or not open; nothing is closed then.
pub unsafe fn claim_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    check_inherited(fd)?;
    // SAFETY: open (checked above) and owned by nothing else (the caller's contract).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Passes `fds` to the program `command` starts, as its descriptors 3, 4, ... in order:
/// the parent half of [`claim_inherited_fd`] and of socket activation. Only these cross
/// the exec besides stdio (every descriptor Rust opens is close-on-exec); this process
/// keeps its own copies, and `command` holds `fds` until it is dropped.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use std::process::Command;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let mut command = Command::new("/usr/bin/sockserv");
/// command.args(["echo", "--listen", "fd:3"]);
/// sockserv::transport::pass_fds(&mut command, vec![listener.as_fd().try_clone_to_owned()?]);
/// let child = command.spawn()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pass_fds(command: &mut Command, fds: Vec<OwnedFd>) {
    let first_free = FIRST_SYSTEMD_FD + fds.len() as RawFd;
    // Filled in the child; allocated here, because the child of a threaded process must
    // not allocate between fork and exec.
    let mut moved: Vec<RawFd> = vec![-1; fds.len()];
    let place = move || -> io::Result<()> {
        // Out of the way first (a source may sit on a target number), then onto the
        // targets: dup2's copy has no close-on-exec flag, the temporary copies keep theirs.
        for (fd, slot) in fds.iter().zip(moved.iter_mut()) {
            // SAFETY: fcntl on a descriptor `fds` keeps open; no memory is passed.
            let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, first_free) };
            if copy == -1 {
                return Err(io::Error::last_os_error());
            }
            *slot = copy;
        }
        for (target, &copy) in (FIRST_SYSTEMD_FD..).zip(moved.iter()) {
            // SAFETY: dup2 between two descriptor numbers of this (single-threaded, forked)
            // child; no memory is passed.
            if unsafe { libc::dup2(copy, target) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs between fork and exec, so it may only make
    // async-signal-safe calls: it calls fcntl and dup2 and writes into memory allocated
    // beforehand; `io::Error::last_os_error` does not allocate.
    unsafe { command.pre_exec(place) };
}

/// A new, close-on-exec descriptor for the open file `fd` (`F_DUPFD_CLOEXEC`): for a
/// number the crate holds open for the duration of the call (see
/// [`ListenerHandle`](crate::transport::ListenerHandle)).
pub(crate) fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl takes no memory; the caller keeps `fd` open during the call.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just made this descriptor for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
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
