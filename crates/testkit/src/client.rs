//! A stream client (TCP or Unix) whose every read and write is bounded.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use sockserv::Endpoint;

use crate::{is_timeout, WAIT};

/// A connected stream client, reads and writes bounded by [`WAIT`] unless set otherwise.
///
/// Dropping the handle that [`Client::connect`] made shuts the connection down rather
/// than only closing its descriptor: a forked server child of the test process holds an
/// inherited copy of it and would otherwise never see EOF. A handle from
/// [`Client::duplicate`] only closes, so one of two can go while the other still reads.
pub struct Client {
    stream: Stream,
    /// Whether dropping this handle shuts the connection down.
    owner: bool,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    /// Connects to a stream endpoint; panics if it cannot.
    pub fn connect(endpoint: &Endpoint) -> Client {
        Client::try_connect(endpoint).unwrap_or_else(|e| panic!("connect to {endpoint}: {e}"))
    }

    /// Connects to a stream endpoint (panics on a datagram one).
    pub fn try_connect(endpoint: &Endpoint) -> io::Result<Client> {
        let stream = match endpoint {
            Endpoint::Tcp(addr) => Stream::Tcp(TcpStream::connect(addr)?),
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            other => panic!("{other} is not a stream endpoint"),
        };
        let client = Client {
            stream,
            owner: true,
        };
        client.set_timeout(Some(WAIT));
        Ok(client)
    }

    /// Bounds reads and writes (`None`: unbounded).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        match &self.stream {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout).unwrap();
                s.set_write_timeout(timeout).unwrap();
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout).unwrap();
                s.set_write_timeout(timeout).unwrap();
            }
        }
    }

    /// The TCP stream, unless this is a Unix client.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match &self.stream {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
        }
    }

    /// The connection as a plain TCP stream, which then owns it (panics on Unix).
    pub fn into_tcp(mut self) -> TcpStream {
        // The returned handle keeps the connection open: this one only closes.
        self.owner = false;
        self.tcp()
            .expect("a TCP client")
            .try_clone()
            .expect("clone the stream")
    }

    /// A second handle on the same connection (one thread reads, another writes).
    pub fn duplicate(&self) -> Client {
        let stream = match &self.stream {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone().unwrap()),
            Stream::Unix(s) => Stream::Unix(s.try_clone().unwrap()),
        };
        Client {
            stream,
            owner: false,
        }
    }

    /// Half-closes: the server reads EOF.
    pub fn shutdown_write(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match &self.stream {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Sends `data`, half-closes, and returns everything read until EOF. The writes run
    /// on their own thread, so a large payload cannot deadlock on full socket buffers.
    pub fn echo_half_close(self, data: Vec<u8>) -> Vec<u8> {
        let mut writer = self.duplicate();
        let sender = thread::spawn(move || {
            writer.write_all(&data).expect("send the payload");
            writer.shutdown_write();
        });
        let mut reader = self;
        let mut received = Vec::new();
        reader
            .read_to_end(&mut received)
            .expect("read the echo until EOF");
        sender.join().expect("sender thread");
        received
    }

    /// A bounded negative check: asserts nothing arrives, not even EOF, for `window`
    /// (the server is not serving this client yet). Reads and writes are bounded by
    /// [`WAIT`] again afterwards.
    pub fn assert_nothing_for(&mut self, window: Duration, what: &str) {
        self.set_timeout(Some(window));
        let mut buf = [0; 16];
        match self.read(&mut buf) {
            Err(e) if is_timeout(&e) => {}
            other => panic!("{what}: expected nothing within {window:?}, got {other:?}"),
        }
        self.set_timeout(Some(WAIT));
    }

    /// Half-closes and returns what the server still sends before its EOF.
    pub fn half_close_and_read_rest(self) -> Vec<u8> {
        self.echo_half_close(Vec::new())
    }

    /// Sends one line and reads exactly as many bytes back: its echo.
    pub fn round_trip(&mut self, line: &[u8]) -> Vec<u8> {
        self.write_all(line).expect("send");
        let mut reply = vec![0; line.len()];
        self.read_exact(&mut reply).expect("read the echo");
        reply
    }

    /// Reads exactly one line (byte by byte, so nothing after it is consumed); at EOF,
    /// what came before it.
    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while line.last() != Some(&b'\n') {
            match self.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => line.push(byte[0]),
                // A signal (a stop, say) interrupted the read: read again, as std does.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(line)
    }
}

impl From<TcpStream> for Client {
    /// Wraps a stream connected by other means, its timeouts as they are.
    fn from(stream: TcpStream) -> Client {
        Client {
            stream: Stream::Tcp(stream),
            owner: true,
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.owner {
            let _ = self.shutdown(Shutdown::Both);
        }
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits (bounded by [`WAIT`]) until a connection to `addr` is refused: the server has
/// closed its listener. Probes that still connect are dropped at once.
pub fn wait_until_refused(addr: SocketAddr) {
    crate::wait_until(
        WAIT,
        &format!("{addr} refusing connections"),
        || match TcpStream::connect(addr) {
            // A reset: the probe was in the backlog when the listener closed.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                ) =>
            {
                (true, String::new())
            }
            Err(e) => panic!("probe connect to {addr}: {e}"),
            Ok(_) => (false, "still accepting".to_owned()),
        },
    );
}
