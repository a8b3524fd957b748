//! systemd's notification protocol (`sd_notify(3)`): one datagram to `$NOTIFY_SOCKET`,
//! written with std's `UnixDatagram` (a path, or an abstract name after `@`).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (`READY=1`, `MAINPID=N`, ...) to systemd when it runs this process as
/// `Type=notify`; does nothing otherwise. A failure is logged, never fatal: the
/// service serves either way.
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let socket = socket.to_string_lossy().into_owned();
    let sent = (|| -> std::io::Result<()> {
        let addr = match socket.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name)?,
            None => SocketAddr::from_pathname(&socket)?,
        };
        UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
        Ok(())
    })();
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd at {socket} of {state:?}: {e}");
    }
}
