//! The HTTP load: `GET PATH` over and over on each connection, every response checked.
use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use super::conn::{Broken, Counters, Flow, Link, Load};
use super::response::ResponseReader;

/// Read buffer: one 1 MiB body takes 16 reads.
const BUF: usize = 64 * 1024;

/// What `--http` asks for.
#[derive(Debug, Clone)]
pub struct HttpPlan {
    /// The request target, e.g. `/index.html`.
    pub path: String,
    /// Requests in flight per connection (at least 1).
    pub pipeline: usize,
    /// `--expect`: the body every response must have.
    pub expect: Option<Vec<u8>>,
}

/// A connection's requests in flight and the response being read.
pub struct HttpPos {
    reader: ResponseReader,
    /// When each request in flight started to be written, oldest first.
    sent: VecDeque<Instant>,
    /// Whether the newest request in `sent` is still being written, and how much of it is.
    writing: Option<usize>,
}

/// What all HTTP connections share: the request bytes and one read buffer.
pub struct HttpLoad {
    request: Vec<u8>,
    pipeline: usize,
    expect: Option<Vec<u8>>,
    buf: Box<[u8]>,
}

impl HttpLoad {
    /// Requests `GET plan.path` with `Host: host`.
    pub fn new(plan: &HttpPlan, host: &str) -> Self {
        HttpLoad {
            request: request(&plan.path, host),
            pipeline: plan.pipeline.max(1),
            expect: plan.expect.clone(),
            buf: vec![0; BUF].into_boxed_slice(),
        }
    }

    fn read(
        &mut self,
        link: &mut Link,
        pos: &mut HttpPos,
        c: &mut Counters,
    ) -> Result<Flow, Broken> {
        loop {
            let n = match link.read(&mut self.buf) {
                // Between responses with nothing asked, a close is the server's to make.
                Ok(0) if pos.sent.is_empty() && pos.reader.idle() => return Ok(Flow::Reconnect),
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flow::Continue),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Broken::Reset),
            };
            let mut data = &self.buf[..n];
            while !data.is_empty() {
                let (used, done) = match pos.reader.feed(data, self.expect.as_deref()) {
                    Ok(step) => step,
                    Err(bad) => {
                        c.first_mismatch.get_or_insert_with(|| bad.to_string());
                        return Err(Broken::Mismatch);
                    }
                };
                data = &data[used..];
                let Some(done) = done else { continue };
                let Some(sent) = pos.sent.pop_front() else {
                    c.first_mismatch
                        .get_or_insert_with(|| "a response to no request".to_owned());
                    return Err(Broken::Mismatch);
                };
                c.record_latency(sent);
                if c.measuring {
                    c.msgs += 1;
                    c.bytes += done.body_len;
                }
                if !done.keep_alive {
                    // Requests pipelined behind this one are dropped with the connection.
                    return Ok(Flow::Reconnect);
                }
            }
            if n < self.buf.len() && link.short_read_drains() {
                return Ok(Flow::Continue);
            }
        }
    }

    fn write(&mut self, link: &mut Link, pos: &mut HttpPos) -> Result<(), Broken> {
        link.flush_tls().map_err(|_| Broken::Reset)?;
        while !link.write_blocked {
            let written = match pos.writing {
                Some(written) => written,
                None if pos.sent.len() >= self.pipeline => return Ok(()),
                None => {
                    pos.sent.push_back(Instant::now());
                    0
                }
            };
            pos.writing = Some(written);
            match link.write(&self.request[written..]) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) if written + n == self.request.len() => pos.writing = None,
                Ok(n) => pos.writing = Some(written + n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => link.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Reset),
            }
        }
        Ok(())
    }
}

impl Load for HttpLoad {
    type Pos = HttpPos;
    const RECONNECT_AFTER_RESET: bool = true;

    fn start(&self, _index: usize) -> HttpPos {
        HttpPos {
            reader: ResponseReader::new(),
            sent: VecDeque::with_capacity(self.pipeline),
            writing: None,
        }
    }

    fn pump(
        &mut self,
        link: &mut Link,
        pos: &mut HttpPos,
        readable: bool,
        counters: &mut Counters,
    ) -> Result<Flow, Broken> {
        if readable && self.read(link, pos, counters)? == Flow::Reconnect {
            return Ok(Flow::Reconnect);
        }
        self.write(link, pos)?;
        Ok(Flow::Continue)
    }
}

/// The one request every connection repeats.
fn request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sockserv-bench\r\n\
         Accept: */*\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_one_keep_alive_get() {
        let text = String::from_utf8(request("/4k.bin", "127.0.0.1:8000")).unwrap();
        assert!(
            text.starts_with("GET /4k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nConnection: keep-alive\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n") && text.matches("\r\n\r\n").count() == 1,
            "{text}"
        );
    }
}
