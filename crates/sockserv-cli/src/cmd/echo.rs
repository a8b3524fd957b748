//! `sockserv echo`: the echo Session on every endpoint.

use std::process::ExitCode;

use anyhow::Result;
use sockserv::{PeerAddr, Server};

use crate::apps::echo::Echo;
use crate::cli::EchoArgs;
use crate::serving::serve_all;

/// Runs the echo server until SIGINT/SIGTERM.
pub fn run(args: &EchoArgs) -> Result<ExitCode> {
    let build = |endpoint: &sockserv::Endpoint| {
        Server::builder(endpoint.clone()).session(|_: &PeerAddr| Echo)
    };
    serve_all(&args.serve, build, || {})
}
