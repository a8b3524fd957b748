//! The flags every server command shares: where and how it listens ([`ServeArgs`]) and
//! who may connect ([`AccessArgs`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sockserv::acl::{AccessList, Cidr};
use sockserv::{Endpoint, Strategy};

use super::{parse_bytes, parse_duration};

/// Where and how a server listens; shared by the servers.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; repeat the flag to serve several endpoints from one process.
    ///
    /// Forms: tcp://HOST:PORT (or just HOST:PORT), udp://HOST:PORT, unix:PATH,
    /// unixgram:PATH, or fd:N for a socket the parent process passed as descriptor N.
    /// Port 0 picks a free port. Each endpoint prints `listening on URL` (with the real
    /// port) to stderr once it is ready. Default: the sockets systemd passed (socket
    /// activation: LISTEN_FDS), else tcp://127.0.0.1:9000.
    #[arg(long = "listen", short = 'l', value_name = "URL")]
    pub listen: Vec<ListenSpec>,

    /// What is served when neither `--listen` nor socket activation names an endpoint:
    /// [`DEFAULT_LISTEN`] unless the subcommand has its own (http: PORT on --bind).
    #[arg(skip)]
    pub default_listen: Option<Endpoint>,

    /// How many clients are served at once.
    ///
    /// sequential: one client at a time, the next waits (Python's TCPServer).
    /// threads: a thread per client (ThreadingMixIn), no limit.
    /// pool or pool:N: N worker threads (default 16); more clients wait until one is free.
    /// fork or fork:N: a process per client (ForkingMixIn), at most N at once (default 64).
    /// events or events:N: N event-loop threads (default: one per core) serve every
    /// client without a thread each; the choice for thousands of clients.
    #[arg(long, short = 'm', value_name = "MODE", default_value = "threads", value_parser = parse_mode)]
    pub mode: Strategy,

    /// On SIGINT/SIGTERM, and after handing over to a new process (SIGUSR2), how long
    /// clients being served may take to finish before they are cut off. A second SIGINT
    /// exits at once.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Write the server's pid to FILE once it is listening (replaced atomically; removed
    /// on a clean exit). After an upgrade (SIGUSR2) it names the new process, so
    /// `kill -USR2 $(cat FILE)` and `kill -HUP $(cat FILE)` always reach the live one.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// On SIGUSR2 (upgrade), how long the new process may take to serve every endpoint.
    /// If it is not serving by then (or exits, or cannot start), it is stopped and this
    /// process goes on serving, as if nothing happened.
    ///
    /// The upgrade: SIGUSR2 starts this program again (the file at the path it was
    /// started from, so a binary replaced there is the one run) with the same arguments,
    /// passing it every listening socket; once it serves them all, this process stops
    /// accepting and drains as on SIGTERM. No connection is refused in between. SIGHUP
    /// reloads the TLS certificate and key for new handshakes; a file that does not load
    /// leaves the previous one in place.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub upgrade_timeout: Duration,

    /// Serve at most N clients at once; the next ones wait in the listen backlog (they are
    /// not refused) and are taken as clients leave. 0: no limit beyond the mode's.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_conns: usize,

    /// Close a connection after this long with no bytes either way. 0 disables.
    /// Under sequential and pool:N, where a client holds a worker, this bounds how long
    /// an idle or stalled client can keep it.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Close a connection whose client sends nothing for this long, even while it is
    /// receiving (a reader that never talks). 0 disables.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// Close a connection whose client does not read what we send for this long (our
    /// output stays stuck). 0 disables.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub write_timeout: Duration,

    /// Most output kept for one client that does not read what it is sent (plain or
    /// TLS): past it the server stops reading from that client until it catches up, so a
    /// slow or hostile client holds about this much memory. A number of bytes, or with a
    /// unit: 64K, 1M (KiB, MiB). Raised to at least 1K.
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = parse_bytes)]
    pub high_water: u64,

    /// Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 picks a free port;
    /// `metrics on URL` is printed to stderr before the `listening on` lines).
    ///
    /// Per endpoint (label endpoint="URL"): connections active, accepted, rejected,
    /// closed; bytes received and sent; handler errors, panics, timeouts. Chat adds
    /// members and members dropped as too slow (with --bus: the link, lines published
    /// and delivered, refused, queued, lag, disconnects); http adds responses by status class. Bytes are counted when a connection
    /// closes; under fork they are not seen by the parent (and stay 0).
    #[arg(long, value_name = "HOST:PORT", value_parser = crate::metrics::parse_addr)]
    pub metrics: Option<std::net::SocketAddr>,

    /// Serve TLS with this PEM certificate chain (the server's certificate first).
    /// Needs --tls-key; stream endpoints only (tcp://, unix:).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Who may connect, and load balancing.
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Access control, the PROXY protocol and port sharing: what operators set.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Only clients in this network may connect (repeatable; IPv4 or IPv6, e.g.
    /// 10.0.0.0/8 or ::1/128; a bare address is one host). Others are closed at once.
    #[arg(long = "allow", value_name = "CIDR")]
    pub allow: Vec<Cidr>,

    /// Clients in this network are closed at once (repeatable). Deny wins over allow.
    #[arg(long = "deny", value_name = "CIDR")]
    pub deny: Vec<Cidr>,

    /// Expect a PROXY protocol header (v1 or v2) from a load balancer (HAProxy, nginx)
    /// at the start of every connection: the client address in it is the one the
    /// access rules, the logs and the chat see. Connections from other addresses than
    /// --proxy-from, or without a valid header within 5 s, are closed.
    #[arg(long)]
    pub proxy_protocol: bool,

    /// Balancers trusted to send PROXY headers (repeatable). Default: loopback.
    #[arg(long = "proxy-from", value_name = "CIDR", requires = "proxy_protocol")]
    pub proxy_from: Vec<Cidr>,

    /// Set SO_REUSEPORT so several sockserv processes can listen on the same TCP or UDP
    /// port; the kernel spreads new connections over them.
    #[arg(long)]
    pub reuse_port: bool,
}

impl AccessArgs {
    /// The access list of --allow and --deny.
    pub fn access_list(&self) -> AccessList {
        let list = self
            .allow
            .iter()
            .fold(AccessList::new(), |l, c| l.allow(*c));
        self.deny.iter().fold(list, |l, c| l.deny(*c))
    }

    /// The balancers trusted to send PROXY headers, if the protocol is on.
    pub fn trusted_proxies(&self) -> Option<AccessList> {
        self.proxy_protocol.then(|| {
            if self.proxy_from.is_empty() {
                AccessList::loopback()
            } else {
                self.proxy_from
                    .iter()
                    .fold(AccessList::new(), |l, c| l.allow(*c))
            }
        })
    }
}

impl ServeArgs {
    /// A timeout flag as the library takes it: 0 means none.
    pub fn limit(timeout: Duration) -> Option<Duration> {
        (!timeout.is_zero()).then_some(timeout)
    }
}

/// One `--listen` value: an address to bind, or an inherited socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenSpec {
    /// Bind this endpoint.
    Url(Endpoint),
    /// Adopt the socket the parent passed as this descriptor.
    Fd(i32),
}

impl std::str::FromStr for ListenSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.strip_prefix("fd:") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|&n| n >= 3)
                .map(ListenSpec::Fd)
                .ok_or_else(|| {
                    format!("invalid descriptor {n:?}: expected a number of 3 or more (fd:3)")
                }),
            None => text.parse().map(ListenSpec::Url).map_err(|e| e.to_string()),
        }
    }
}

/// The address served when neither `--listen` nor socket activation gives one.
pub const DEFAULT_LISTEN: &str = "tcp://127.0.0.1:9000";

fn parse_mode(text: &str) -> Result<Strategy, sockserv::ParseStrategyError> {
    text.parse()
}
