//! `sockserv http`'s flags: Python's `PORT`, `-b` and `-d`, and what HTTP adds.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use sockserv_http::Protocol;

use super::{parse_duration, ServeArgs};

/// `sockserv http`.
#[derive(Debug, Args)]
#[command(mut_arg("listen", |arg| arg.long_help(
    "Address to listen on instead of PORT and --bind; repeat the flag to serve several \
     endpoints from one process.\n\n\
     Forms: tcp://HOST:PORT (or just HOST:PORT), unix:PATH, or fd:N for a socket the parent \
     process passed as descriptor N. Port 0 picks a free port. Each endpoint prints \
     `listening on URL` (with the real port) to stderr once it is ready. Default: the \
     sockets systemd passed (socket activation: LISTEN_FDS), else PORT on --bind."
)))]
pub struct HttpArgs {
    /// Port to serve, on every interface (or on --bind). Not used with --listen.
    #[arg(value_name = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Serve on this address only (an IP address or a host name, like Python's --bind).
    /// Default: every interface (IPv6 and IPv4 when the machine has IPv6, else IPv4).
    #[arg(
        short = 'b',
        long = "bind",
        value_name = "ADDR",
        conflicts_with = "listen"
    )]
    pub bind: Option<String>,

    /// The directory to serve.
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    pub directory: PathBuf,

    /// Follow symlinks that lead outside DIR. Without it they are 404 (symlinks that stay
    /// inside DIR always work); Python always follows them.
    #[arg(long)]
    pub follow_symlinks: bool,

    /// Compress with gzip, for clients that accept it: text/*, JavaScript, JSON, XML and
    /// SVG files (and listings) of at most 1 MiB, never for a Range request. Responses
    /// then carry `Vary: Accept-Encoding` and their own ETag.
    #[arg(long)]
    pub gzip: bool,

    /// The HTTP version to answer with (Python's -p). HTTP/1.0 is Python's default: one
    /// request per connection, every response with `Connection: close`. HTTP/1.1 (ours)
    /// keeps connections open for further and pipelined requests.
    #[arg(
        short = 'p',
        long,
        value_name = "VERSION",
        default_value = "HTTP/1.1",
        value_parser = PossibleValuesParser::new(["HTTP/1.0", "HTTP/1.1"])
            .map(|v| v.parse::<Protocol>().expect("one of the possible values")),
    )]
    pub protocol: Protocol,

    /// The Content-Type of files whose extension has no known type (Python 3.15's
    /// --content-type).
    #[arg(long, value_name = "TYPE", default_value = sockserv_http::files::DEFAULT_TYPE)]
    pub content_type: String,

    /// Under --mode events: threads that open files, list directories and compress, so
    /// one slow answer (a 50,000-entry listing, a cold disk) never stalls the other
    /// connections of its event loop (nginx's `aio threads`). 0: the loops do it
    /// themselves. Other modes give each connection a thread already and ignore it.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub file_workers: usize,

    /// Longest a request head may take to arrive once it has started (against clients
    /// that trickle one byte at a time); a slower one is answered 408 and closed. 0
    /// disables. An idle keep-alive connection is closed by --idle-timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Listening options.
    #[command(flatten)]
    pub serve: ServeArgs,
}
