//! The command line: clap definitions. Strings become typed values here, once.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sockserv::Endpoint;

// `sockserv bench`'s flags live beside the others, so the command line depends on no
// subcommand's code (cli <- cmd, never both ways).
mod bench;
mod bus;
mod http;
mod serve;
mod web;
pub use self::bench::{BenchArgs, BenchMode};
pub use self::bus::BusArgs;
pub use self::http::HttpArgs;
pub use self::serve::{AccessArgs, ListenSpec, ServeArgs, DEFAULT_LISTEN};
pub use self::web::WebArgs;

/// Socket servers the Rust way: echo, chat and HTTP file servers, a client and a load
/// generator, built on the sockserv library (Python's socketserver, redone in Rust).
#[derive(Debug, Parser)]
#[command(
    name = "sockserv",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,

    /// Logging: --log-format, -v, -q (global: accepted before or after the subcommand).
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an echo server: every byte a client sends comes back to it.
    ///
    /// Stream endpoints (tcp://, unix:) echo every byte back in order until the client
    /// closes; when the client half-closes, the server finishes echoing and then closes.
    /// Datagram endpoints (udp://, unixgram:) send each datagram back to its sender.
    /// Try it: `sockserv echo` in one terminal, `nc 127.0.0.1 9000` in another.
    /// With --tls-cert and --tls-key the stream endpoints speak TLS (try `sockserv client
    /// --tls --ca CA.pem` or `openssl s_client`).
    Echo(EchoArgs),
    /// Run a chat room: every line a client sends goes to everyone else.
    ///
    /// Connect with `nc 127.0.0.1 9000` (or `sockserv client tcp://127.0.0.1:9000`) from
    /// several terminals. Each client is `guestN` until it picks a nick. Commands:
    /// /nick NAME, /who, /me TEXT, /quit, /help. A client that stops reading is
    /// disconnected once --max-queue bytes wait for it; nobody else is slowed down.
    /// Works on tcp:// and unix: endpoints in the threads, pool and events modes (under
    /// pool:N at most N members are served at once: each holds a worker). Not under fork: processes
    /// share no memory, so a forked room could not reach the other members.
    /// With --web HOST:PORT the room is open to browsers too: open http://HOST:PORT/.
    /// With --bus redis://HOST:PORT, several nodes (behind a load balancer) are one room:
    /// see --bus and docs/scaling.md.
    Chat(ChatArgs),
    /// Connect to a server: stdin goes to it, what it sends comes to stdout.
    ///
    /// Stream endpoints (tcp://, unix:): on end of input the client half-closes and waits
    /// for the server to finish, then exits 0. Datagram endpoints (udp://, unixgram:): each
    /// input line is sent as one datagram; replies are printed as they come, until
    /// --wait after the end of input. Exits non-zero with a one-line message when it cannot
    /// connect. With --tls (stream endpoints): end of input sends TLS close_notify, then
    /// the half-close; a TLS error exits non-zero with a one-line reason.
    Client(ClientArgs),
    /// Serve a directory over HTTP: Python's `python -m http.server`, faster and safer.
    ///
    /// `sockserv http` serves the current directory on port 8000 of every interface, like
    /// Python; `sockserv http 8080 -b 127.0.0.1 -d site/` picks the port, address and
    /// directory. What Python does, it does: GET and HEAD (any other method is 501), a
    /// listing for a directory without index.html/index.htm, a 301 to add a directory's
    /// missing slash (the query kept), Content-Type from the file name, Last-Modified,
    /// If-Modified-Since (304), Python's error pages. Paths never leave the directory:
    /// `..` and `%2e%2e` stop at its top, a NUL byte is 400, a leading `//` cannot turn a
    /// redirect into another host, and symlinks leading out of it are 404 unless
    /// --follow-symlinks (Python follows them).
    ///
    /// Beyond Python: HTTP/1.1 keep-alive (HTTP/1.0 clients too when they ask) and
    /// pipelining (-p HTTP/1.0 answers exactly as Python's default: one request per
    /// connection); Range requests (206, several ranges as multipart/byteranges, 416 past
    /// the end, If-Range; overlapping ranges coalesced, and ranges adding up to more than
    /// the file get the whole file with 200); a strong ETag with If-None-Match (304),
    /// If-Match and If-Unmodified-Since (412); files sent without being read into memory
    /// (sendfile in plaintext); --gzip; limits: a request line over 8 KiB is 414, more
    /// than 100 header fields or a head over 64 KiB is 431 (each closes the connection),
    /// an HTTP/1.1 request without Host (or any with two) is 400, a body on a GET is
    /// skipped up to 64 KiB (beyond, or chunked, the connection closes after the
    /// response), a head that takes longer than --header-timeout is 408. HTTP/2 and later
    /// is 505, HTTP/0.9 (a request line without version) 400. Every --mode, --listen
    /// (then PORT and --bind are not used), TLS (offering ALPN http/1.1), --allow/--deny,
    /// --proxy-protocol and --metrics work as for echo; -v logs one line per request
    /// (peer, method, target, status, body bytes). On SIGINT/SIGTERM, idle keep-alive
    /// connections close at once and a request in flight is answered with
    /// `Connection: close` (as nginx); the process exits once the last response is out.
    Http(HttpArgs),
    Bench(BenchArgs),
}

/// `sockserv chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Listening options.
    #[command(flatten)]
    pub serve: ServeArgs,

    /// Longest line a client may send, in bytes. A longer line is discarded (never
    /// buffered whole) and its sender gets `* error: line too long`.
    #[arg(long, value_name = "BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line: u64,

    /// Most bytes that may wait for one client before it is disconnected as too slow.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queue: u64,

    /// The room across nodes.
    #[command(flatten)]
    pub bus: BusArgs,

    /// The page and WebSocket for browsers.
    #[command(flatten)]
    pub web: WebArgs,
}

/// `sockserv client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server: tcp://HOST:PORT (or HOST:PORT), udp://HOST:PORT, unix:PATH, unixgram:PATH.
    #[arg(value_name = "URL")]
    pub url: Endpoint,

    /// Datagram endpoints only: how long to wait for replies after the end of input.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub wait: Duration,

    /// Client-side TLS options.
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

/// How a client speaks TLS; shared by `client` and `bench`.
#[derive(Debug, Clone, Args)]
pub struct TlsClientArgs {
    /// Speak TLS (stream endpoints only). The server's certificate is checked against
    /// --ca, or else the system's roots (/etc/ssl/certs/ca-certificates.crt).
    #[arg(long)]
    pub tls: bool,

    /// Trust the CA certificates in this PEM file (instead of the system's roots).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,

    /// Accept any server certificate, unchecked. For testing only: anyone on the path
    /// can read and change the traffic.
    #[arg(long, requires = "tls", conflicts_with = "ca")]
    pub insecure: bool,

    /// The name the server's certificate must carry. Default: the URL's host (an IP
    /// address for tcp://), `localhost` for unix:.
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub server_name: Option<String>,
}

/// `sockserv echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Listening options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Parses `10s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a number with a unit, like 10s or 500ms")
    })?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("invalid duration {text:?}: out of range"))
}

/// Parses a byte count: `65536`, `64K`, `1M` (binary units; `KiB`/`MiB` too).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| {
        format!("invalid size {text:?}: expected a number of bytes, like 65536 or 64K")
    })?;
    let scale: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {unit:?} (use K, M or G)"
            ))
        }
    };
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("invalid size {text:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("64K"), Ok(64 * 1024));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert!(parse_bytes("lots").unwrap_err().contains("invalid size"));
        assert!(parse_bytes("5Q").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten")
            .unwrap_err()
            .contains("invalid duration"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
