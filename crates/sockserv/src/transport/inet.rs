//! TCP and UDP sockets (IPv4 and IPv6).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::SocketOptions;

/// A new TCP or UDP socket with `options` applied (not yet bound).
pub(super) fn socket(addr: SocketAddr, ty: Type, options: &SocketOptions) -> io::Result<Socket> {
    let protocol = if ty == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    // SO_REUSEADDR only matters for TCP (TIME_WAIT on restart). On UDP, Linux lets two
    // live sockets that both set it share one port, the later one taking the datagrams.
    socket.set_reuse_address(options.reuse_address && ty == Type::STREAM)?;
    socket.set_reuse_port(options.reuse_port)?;
    if let (SocketAddr::V6(_), Some(only)) = (addr, options.only_v6) {
        socket.set_only_v6(only)?;
    }
    Ok(socket)
}

pub(super) fn addr(addr: &SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an internet address"))
}
