//! `sockserv bench`: a closed-loop echo load generator.
mod conn;
mod driver;
mod pattern;
mod report;
mod target;
mod tls;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};

use self::driver::{drive, Plan, Progress};
use self::target::Target;
use crate::cli::parse_duration;

/// How each connection drives the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Send one message, wait for its whole echo, repeat: measures round-trip latency
    /// and how many request/response exchanges per second the server sustains.
    Pingpong,
    /// Write continuously (up to 4 MiB unechoed per connection) while reading the
    /// echo: measures bulk throughput.
    Stream,
}

/// Arguments of `sockserv bench`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Load-test an echo server: N connections from one thread, every byte verified",
    long_about = "Load-test an echo server: N connections driven from one thread, every echoed \
byte checked against what was sent.

pingpong: each connection sends one --size message and waits for its whole echo before \
sending the next (a closed loop). msgs/s counts completed round trips per second; latency \
is the time from writing a message to reading the last byte of its echo.

stream: each connection writes continuously (at most 4 MiB unechoed) and reads the echo \
back. MB/s is echoed payload (10^6 bytes) per second, one direction; msgs/s is that divided \
by --size; latency is sampled, one chunk per connection at a time, from write to full echo.

The warm-up starts once every connection is up and is not counted. Errors: connect \
failures (refused, or not done within 3 s), resets (reset, broken pipe, or EOF before the \
run ended) and mismatches (an echo that differs from what was sent; exit status 1).

Examples:
  sockserv bench 127.0.0.1:7000 --conns 100 --duration 10s
  sockserv bench unix:/tmp/echo.sock --mode stream --size 16384 --json"
)]
pub struct BenchArgs {
    /// Server to load: tcp://HOST:PORT, HOST:PORT, or unix:PATH.
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
    #[arg(long, value_enum, default_value_t = Mode::Pingpong)]
    pub mode: Mode,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG chart of latency by percentile to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Client-side TLS options (every connection does its own full handshake).
    #[command(flatten)]
    pub tls: crate::cli::TlsClientArgs,
}

/// Runs the load and prints the report to stdout.
///
/// Returns exit status 1 if any echo mismatched, 0 otherwise.
///
/// # Errors
///
/// A one-line error for a bad URL, when no connection could be made, or when the
/// chart cannot be written.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.url).map_err(|e| anyhow!(e))?;
    let tls = if args.tls.tls {
        let ip = match &target {
            Target::Tcp(addr) => Some(addr.ip()),
            Target::Unix(_) => None,
        };
        Some(tls::TlsPlan {
            config: crate::tls::client_config(&args.tls)?,
            name: crate::tls::server_name(&args.tls, ip)?,
        })
    } else {
        None
    };
    let plan = Plan {
        tls,
        target,
        conns: args.conns as usize,
        size: args.size as usize,
        mode: args.mode,
        warmup: args.warmup,
        duration: args.duration,
    };
    warn_if_fd_limit_low(plan.conns);

    let bar = std::io::stderr().is_terminal().then(|| progress_bar(&plan));
    let outcome = drive(&plan, |p: Progress| {
        if let Some(bar) = &bar {
            let phase = if p.measuring {
                "measuring"
            } else {
                "warming up"
            };
            bar.set_message(format!("{phase}: {} open, {} msgs", p.open, p.msgs));
            bar.tick();
        }
    })
    .context("event loop failed")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    if outcome.connected == 0 {
        let why = outcome
            .first_connect_error
            .as_ref()
            .map_or_else(|| "no connection completed".to_owned(), ToString::to_string);
        return Err(anyhow!("could not connect to {}: {why}", plan.target));
    }
    let summary = report::Summary::of(&outcome);
    if args.json {
        println!("{}", report::json(&plan, &outcome, &summary));
    } else {
        println!("{}", report::text(&plan, &outcome, &summary));
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} {:?} {} conns x {} B",
            plan.target, plan.mode, plan.conns, plan.size
        );
        report::plot(path, &title, &outcome.latency)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if outcome.mismatches > 0 {
        eprintln!(
            "sockserv bench: {} connection(s) got an echo that differs from what was sent",
            outcome.mismatches
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(plan: &Plan) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("connecting {} conns", plan.conns));
    bar
}

/// Raising RLIMIT_NOFILE needs unsafe code or another crate, so only warn; the caller's
/// `ulimit -n` is the fix.
fn warn_if_fd_limit_low(conns: usize) {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    if let Some(soft) = soft {
        if conns + 32 > soft {
            eprintln!(
                "sockserv bench: warning: {conns} conns need more than the {soft} open files allowed; \
                 run `ulimit -n {}` first",
                conns + 64
            );
        }
    }
}
