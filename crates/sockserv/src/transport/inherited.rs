//! Listeners handed over by the parent process: a descriptor the caller owns
//! ([`Listener::from_inherited_fd`]) and systemd's socket activation (`LISTEN_PID`,
//! `LISTEN_FDS`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use socket2::{Domain, Socket, Type};

use super::{unix, Kind, Listener};

impl Listener {
    /// Adopts a listening socket the parent process passed: a TCP or Unix stream socket
    /// already listening, or a bound UDP or Unix datagram socket. Its options stay as the
    /// parent set them; no socket file is removed on close.
    ///
    /// Taking an [`OwnedFd`] keeps this safe: whoever turns a descriptor number into an
    /// `OwnedFd` vouches that nothing else owns it. For a number named on a command line
    /// (`--listen fd:N`) see [`claim_inherited_fd`](crate::transport::claim_inherited_fd); for
    /// systemd's sockets, [`Listener::from_systemd`].
    ///
    /// # Errors
    ///
    /// `fd` is not a socket, is a stream socket that is not listening, or is of a family
    /// sockserv does not serve. The descriptor is closed then.
    pub fn from_inherited_fd(fd: OwnedFd) -> io::Result<Listener> {
        let number = fd.as_raw_fd();
        let socket = Socket::from(fd);
        let fail = |what: &str| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("fd {number}: {what}"))
        };
        let domain = socket.domain().map_err(|_| fail("not a socket"))?;
        let ty = socket.r#type()?;
        let stream = ty == Type::STREAM;
        if stream && !socket.is_listener()? {
            return Err(fail("a stream socket that is not listening"));
        }
        let kind = match (domain, stream) {
            (Domain::IPV4 | Domain::IPV6, true) => Kind::Tcp(socket.into()),
            (Domain::IPV4 | Domain::IPV6, false) if ty == Type::DGRAM => Kind::Udp(socket.into()),
            (Domain::UNIX, true) => Kind::Unix(socket.into()),
            (Domain::UNIX, false) if ty == Type::DGRAM => Kind::UnixDatagram(socket.into()),
            _ => return Err(fail("not a TCP, UDP or Unix socket")),
        };
        Listener::from_kind(kind, unix::SocketFile::default(), true)
    }

    /// The listeners systemd passed by socket activation, in order: descriptors 3 to
    /// 3 + `LISTEN_FDS` − 1, if `LISTEN_PID` is this process. Empty when the process was
    /// not socket-activated, and on every call after the first (the descriptors are
    /// taken once per process).
    ///
    /// Call it at startup, before the process opens files or sockets of its own, as
    /// `sd_listen_fds(3)` expects.
    ///
    /// The environment is only read, never changed: `remove_var` races with any thread
    /// reading the environment (it is `unsafe` from Rust 2024 on), and it is not needed.
    /// A child process does not take the sockets because `LISTEN_PID` names this
    /// process, not the child (what systemd's `sd_listen_fds(0)` relies on too), and
    /// this process does not take them twice because sockserv remembers the first call.
    ///
    /// # Errors
    ///
    /// A variable that is set but not a number, or a passed descriptor that is not a
    /// socket sockserv can serve (see [`Listener::from_inherited_fd`]).
    pub fn from_systemd() -> io::Result<Vec<Listener>> {
        let var = |name: &str| std::env::var(name).ok();
        let (Some(pid), Some(count)) = (var("LISTEN_PID"), var("LISTEN_FDS")) else {
            return Ok(Vec::new());
        };
        let bad = |name: &str, value: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}={value:?} is not a number"),
            )
        };
        let pid: u32 = pid.trim().parse().map_err(|_| bad("LISTEN_PID", &pid))?;
        if pid != std::process::id() {
            return Ok(Vec::new());
        }
        let count: u16 = count
            .trim()
            .parse()
            .map_err(|_| bad("LISTEN_FDS", &count))?;
        crate::sys::take_passed_fds(count)?
            .into_iter()
            .map(Listener::from_inherited_fd)
            .collect()
    }
}
