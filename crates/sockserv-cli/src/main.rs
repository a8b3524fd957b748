//! `sockserv`: echo and chat servers, a client and a load generator.

mod apps;
mod cli;
mod cmd;
mod serving;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("sockserv: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Echo(args) => cmd::echo::run(&args),
        Command::Chat(args) => cmd::chat::run(&args),
        Command::Client(args) => cmd::client::run(&args),
        Command::Bench(args) => cmd::bench::run(args),
    }
}

/// Library warnings (accept back-off and the like) go to stderr; `RUST_LOG` adjusts.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
