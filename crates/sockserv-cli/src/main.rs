//! `sockserv`: echo, chat and HTTP file servers, a client and a load generator.

mod apps;
mod cli;
mod cmd;
mod logging;
mod metrics;
mod notify;
mod pid_file;
mod reload;
mod serving;
mod tls;
mod upgrade;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
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
        Command::Http(args) => cmd::http::run(args),
        Command::Bench(args) => cmd::bench::run(args),
    }
}
