//! `sockserv echo`: the echo Session on every endpoint.

use std::process::ExitCode;

use anyhow::Result;
use sockserv::{Builder, PeerAddr};

use crate::apps::echo::Echo;
use crate::cli::EchoArgs;
use crate::metrics::AppMetrics;
use crate::serving::{serve_all, tls_acceptor};

/// The largest datagram echoed whole: a UDP payload is at most 65,507 bytes (IPv4) or
/// 65,527 (IPv6); the library's default of 8192 would cut bigger ones silently.
const MAX_DATAGRAM: usize = 64 * 1024;

/// Runs the echo server until SIGINT/SIGTERM.
pub fn run(args: &EchoArgs) -> Result<ExitCode> {
    let tls = tls_acceptor(&args.serve)?;
    let build = |builder: Builder| {
        let builder = builder.max_packet_size(MAX_DATAGRAM);
        let echo = |_: &PeerAddr| Echo::default();
        match &tls {
            Some(tls) => builder.session_factory(tls.wrap(echo)),
            None => builder.session(echo),
        }
    };
    let stream_only = tls.as_ref().map(|_| "TLS runs over a connection");
    serve_all(&args.serve, stream_only, build, || {}, AppMetrics::None)
}
