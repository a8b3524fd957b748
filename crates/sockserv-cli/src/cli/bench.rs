//! `sockserv bench`'s flags: the echo load (pingpong, stream) and the HTTP load.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{parse_duration, TlsClientArgs};

/// How each connection drives an echo server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Send one message, wait for its whole echo, repeat: measures round-trip latency
    /// and how many request/response exchanges per second the server sustains.
    Pingpong,
    /// Write continuously (up to 4 MiB unechoed per connection) while reading the
    /// echo: measures bulk throughput.
    Stream,
}

/// Arguments of `sockserv bench`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Load-test an echo or HTTP server: N connections from one thread, every byte verified",
    long_about = "Load-test an echo server (or, with --http, an HTTP server): N connections driven \
from one thread, every byte that comes back checked.

pingpong: each connection sends one --size message and waits for its whole echo before \
sending the next (a closed loop). msgs/s counts completed round trips per second; latency \
is the time from writing a message to reading the last byte of its echo.

stream: each connection writes continuously (at most 4 MiB unechoed) and reads the echo \
back. MB/s is echoed payload (10^6 bytes) per second, one direction; msgs/s is that divided \
by --size; latency is sampled, one chunk per connection at a time, from write to full echo.

--http PATH: each connection sends `GET PATH HTTP/1.1` (keep-alive) and reads the whole \
response (Content-Length bodies) before the next; --pipeline N keeps N in flight. A response \
must have status 200 (and, with --expect FILE, exactly that file's bytes). req/s counts \
complete responses, MB/s their bodies; latency is from writing a request to the last byte \
of its response. When the server closes after a response (HTTP/1.0, Connection: close) the \
connection is opened again and counted as a reconnect.

The warm-up starts once every connection is up and is not counted. Errors: connect \
failures (refused, or not done within 3 s), resets (reset, broken pipe, or EOF before the \
run ended; under --http the connection is opened again) and mismatches (an echo that \
differs from what was sent, or a bad HTTP response; exit status 1).

--chat: see its flag; the line endpoint is URL, --ws adds WebSocket members (a thread per \
member: for rooms of tens to hundreds). --chat --rate N: every member sends N lines/s \
instead (an open loop, all members from one thread), spread over URL and every --node of \
the same room (`sockserv chat --bus`); see --rate.

Examples:
  sockserv bench 127.0.0.1:7000 --conns 100 --duration 10s
  sockserv bench 127.0.0.1:9000 --chat --conns 50 --ws 127.0.0.1:8080 --ws-conns 50
  sockserv bench 127.0.0.1:9001 --chat --rate 10 --node 127.0.0.1:9002 --conns 600
  sockserv bench unix:/tmp/echo.sock --mode stream --size 16384 --json
  sockserv bench 127.0.0.1:8000 --http /index.html --expect ./index.html --conns 50"
)]
pub struct BenchArgs {
    /// Server to load: tcp://HOST:PORT, HOST:PORT, or unix:PATH. Parsed when the run
    /// starts (not by clap) so a bad URL is a one-line error.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Concurrent connections (connected in batches of 256; raise `ulimit -n` for many).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub conns: u32,
    /// Message size in bytes (stream mode: bytes per counted message).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub size: u32,
    /// How long to measure: 500ms, 10s, 2m.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Traffic before measuring, not counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// pingpong (latency, round trips/s) or stream (throughput).
    #[arg(long, value_enum, default_value_t = BenchMode::Pingpong, conflicts_with = "http")]
    pub mode: BenchMode,
    /// Load an HTTP server instead: GET this path (it starts with `/`) over and over.
    #[arg(long, value_name = "PATH", value_parser = parse_http_path, conflicts_with = "size")]
    pub http: Option<String>,
    /// With --http: every response body must equal this file's bytes.
    #[arg(long, value_name = "FILE", requires = "http")]
    pub expect: Option<PathBuf>,
    /// With --http: requests in flight per connection (1: wait for each response).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "http",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pipeline: u32,
    /// Load a chat room instead (`sockserv chat`): --conns line members join at URL, one
    /// more sends --size byte lines, each to be read by every member before the next;
    /// reports the fan-out latency (send to read) per kind of member.
    #[arg(long, conflicts_with_all = ["http", "mode", "tls"])]
    pub chat: bool,
    /// With --chat: WebSocket members join too, at this `sockserv chat --web` endpoint
    /// (HOST:PORT or http://HOST:PORT/), in the same room; their latency is reported
    /// beside the line members'.
    #[arg(long, value_name = "URL", requires = "chat")]
    pub ws: Option<String>,
    /// With --ws: how many WebSocket members (default: as many as --conns).
    #[arg(long, value_name = "N", requires = "ws")]
    pub ws_conns: Option<u32>,
    /// With --chat: every one of --conns members sends N lines per second (an open
    /// loop), instead of one sender waiting for each line to reach everyone; members
    /// are spread over URL and every --node. Reports receipts against expected (every
    /// line at every other member, in each sender's order) and the fan-out latency of
    /// all, same-node and cross-node receipts; receipts in flight are waited for up to
    /// 5 s after --duration.
    #[arg(long, value_name = "N", requires = "chat", conflicts_with = "ws", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// With --rate: another node of the same room (a `sockserv chat --bus` on the same
    /// Redis and --room; repeatable).
    #[arg(long = "node", value_name = "URL", requires = "rate")]
    pub nodes: Vec<String>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG chart of latency by percentile to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Client-side TLS options (every connection does its own full handshake).
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

/// A send rate: a positive number of lines per second, at most 10,000.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 10_000.0 => Ok(rate),
        _ => Err(format!(
            "{text:?}: expected lines per second, above 0 and at most 10000"
        )),
    }
}

/// An HTTP request target in origin form: starts with `/`, no spaces or control bytes
/// (they would break the request line).
fn parse_http_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') {
        return Err(format!(
            "{text:?}: the path must start with / (e.g. /index.html)"
        ));
    }
    if text.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "{text:?}: spaces and control characters must be %-encoded"
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_paths_must_be_origin_form() {
        assert_eq!(parse_http_path("/a/b?c=1"), Ok("/a/b?c=1".to_owned()));
        assert!(parse_http_path("index.html").is_err());
        assert!(parse_http_path("/a b").is_err());
        assert!(parse_http_path("/a\r\nX: y").is_err());
    }
}
