//! `sockserv client`: stdin to a server, the server's bytes to stdout.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sockserv::Endpoint;

use crate::cli::ClientArgs;

mod tls_stream;

/// Connects to `args.url` and copies stdin and stdout until the server is done.
pub fn run(args: &ClientArgs) -> Result<ExitCode> {
    let url = &args.url;
    let cannot = || format!("cannot connect to {url}");
    // Flags first: a bad --ca fails before connecting.
    let tls = if args.tls.tls {
        let ip = match url {
            Endpoint::Tcp(addr) => Some(addr.ip()),
            Endpoint::Unix(_) => None,
            other => bail!("--tls needs a stream endpoint (tcp:// or unix:), not {other}"),
        };
        let name = crate::tls::server_name(&args.tls, ip)?;
        let config = crate::tls::client_config(&args.tls)?;
        Some(rustls::ClientConnection::new(config, name)?)
    } else {
        None
    };
    match url {
        Endpoint::Tcp(addr) => {
            let stream = TcpStream::connect(addr).with_context(cannot)?;
            stream.set_nodelay(true)?;
            let writer = stream.try_clone()?;
            match tls {
                Some(conn) => tls_stream::copy(stream, writer, conn, url),
                None => copy_stream(stream, writer),
            }
        }
        Endpoint::Unix(path) => {
            let stream = UnixStream::connect(path).with_context(cannot)?;
            let writer = stream.try_clone()?;
            match tls {
                Some(conn) => tls_stream::copy(stream, writer, conn, url),
                None => copy_stream(stream, writer),
            }
        }
        Endpoint::Udp(addr) => {
            let local = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let socket = UdpSocket::bind(local).with_context(cannot)?;
            socket.connect(addr).with_context(cannot)?;
            let receiver = socket.try_clone()?;
            copy_datagrams(
                move |line| socket.send(line),
                move |buf| receiver.recv(buf),
                args.wait,
            )
        }
        Endpoint::UnixDatagram(path) => {
            // Replies need an address to come back to: bind a private temporary path.
            let dir = std::env::temp_dir().join(format!("sockserv-client-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let _cleanup = RemoveDir(dir.clone());
            let socket = UnixDatagram::bind(dir.join("client.sock"))
                .context("cannot bind a reply socket")?;
            socket.connect(path).with_context(cannot)?;
            let receiver = socket.try_clone()?;
            copy_datagrams(
                move |line| socket.send(line),
                move |buf| receiver.recv(buf),
                args.wait,
            )
        }
    }
}

/// A stream whose sending side can be shut down on its own.
trait HalfClose: Write + Send + 'static {
    fn half_close(&self) -> io::Result<()>;
}

impl HalfClose for TcpStream {
    fn half_close(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl HalfClose for UnixStream {
    fn half_close(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

fn copy_stream(mut reader: impl Read, mut writer: impl HalfClose) -> Result<ExitCode> {
    thread::spawn(move || {
        let stdin = io::stdin();
        // A failed copy means the server went away; the reading side reports the end.
        let _ = io::copy(&mut stdin.lock(), &mut writer);
        let _ = writer.half_close();
    });
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match io::copy(&mut reader, &mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
            eprintln!("sockserv: the server reset the connection");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("reading from the server"),
    }
    out.flush().or_else(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn copy_datagrams(
    send: impl Fn(&[u8]) -> io::Result<usize> + Send + 'static,
    recv: impl Fn(&mut [u8]) -> io::Result<usize> + Send + 'static,
    wait: Duration,
) -> Result<ExitCode> {
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    thread::spawn(move || {
        let mut buf = vec![0; 65536];
        let stdout = io::stdout();
        loop {
            match recv(&mut buf) {
                Ok(n) => {
                    let mut out = stdout.lock();
                    if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
                // ECONNREFUSED: nobody listens (yet); keep receiving.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(_) => break,
            }
        }
        drop(done_tx);
    });
    let stdin = io::stdin();
    for line in stdin.lock().split(b'\n') {
        let mut line = line.context("reading stdin")?;
        line.push(b'\n');
        send(&line).context("sending a datagram")?;
    }
    // Datagrams have no end-of-stream: give replies `wait` to arrive.
    let _ = done_rx.recv_timeout(wait);
    Ok(ExitCode::SUCCESS)
}

struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
