//! Listeners handed over by the parent process: `--listen fd:N` and systemd's
//! socket activation (`LISTEN_PID`, `LISTEN_FDS`).

use std::io;
use std::os::fd::RawFd;

use socket2::{Domain, Socket, Type};

use super::{unix, Kind, Listener};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_SYSTEMD_FD: RawFd = 3;

impl Listener {
    /// Adopts a listening socket the parent process left open as descriptor `fd` (a TCP
    /// or Unix stream socket already listening, or a bound UDP or Unix datagram socket).
    /// Its options stay as the parent set them; no socket file is removed on close.
    ///
    /// The descriptor is taken over: nothing else in this process may use it (it was
    /// inherited at exec for this purpose).
    ///
    /// # Errors
    ///
    /// `fd` is not open, is 0–2, is not a socket, is a stream socket that is not
    /// listening, or is of a family sockserv does not serve.
    pub fn from_inherited_fd(fd: RawFd) -> io::Result<Listener> {
        let socket = Socket::from(crate::sys::adopt_inherited(fd)?);
        let fail =
            |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("fd {fd}: {what}"));
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
    /// not socket-activated. The variables are removed so a child does not take them too.
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
        let count: RawFd = count
            .trim()
            .parse()
            .map_err(|_| bad("LISTEN_FDS", &count))?;
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            std::env::remove_var(name);
        }
        (FIRST_SYSTEMD_FD..FIRST_SYSTEMD_FD + count)
            .map(Listener::from_inherited_fd)
            .collect()
    }
}
