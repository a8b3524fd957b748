//! Logs: the `--log-format`, `-v` and `-q` flags, the subscriber, and the per-connection
//! close event.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use sockserv::report::Closed;
use tracing_subscriber::EnvFilter;

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, event fields at the top level.
    Json,
}

/// The logging flags, global to every subcommand.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format on stderr: text, or json (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// More logs: -v adds one event per closed connection (peer, duration, bytes, reason)
    /// and debug details, -vv everything (trace).
    ///
    /// Without -v or -q only warnings and errors are logged: one line per connection is
    /// too much for a busy server by default. `RUST_LOG` (e.g. `RUST_LOG=info`), when set,
    /// overrides -v and -q. The `listening on URL` lines are always printed.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Fewer logs: errors only.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
}

impl LogArgs {
    /// The filter the flags ask for (`RUST_LOG` aside).
    pub fn filter_directive(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "debug",
            (false, _) => "trace",
        }
    }
}

/// Installs the global subscriber: stderr, in the chosen format, filtered by `RUST_LOG`
/// when it is set and by the flags otherwise.
///
/// Exits with a usage error (status 2) for `-q` with `-v`: clap's own conflict check
/// misses them when one is given before the subcommand and the other after it.
pub fn init(args: &LogArgs) {
    if args.quiet && args.verbose > 0 {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "the argument '--quiet' cannot be used with '--verbose'\n",
        )
        .exit();
    }
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty());
    let (filter, bad_env) = match from_env.map(|value| EnvFilter::try_new(&value)) {
        Some(Ok(filter)) => (filter, None),
        Some(Err(e)) => (EnvFilter::new(args.filter_directive()), Some(e)),
        None => (EnvFilter::new(args.filter_directive()), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match args.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    if let Some(e) = bad_env {
        tracing::warn!(error = %e, "ignoring RUST_LOG: it does not parse; using the flags");
    }
}

/// The close hook: one info event per connection (or datagram) served.
///
/// Cheap when info is filtered out: the macro checks a cached per-callsite interest
/// before formatting anything.
pub fn log_close(closed: &Closed<'_>) {
    // Microsecond precision, in milliseconds: sub-millisecond connections stay visible.
    let duration_ms = closed.duration.as_micros() as f64 / 1000.0;
    tracing::info!(
        peer = %closed.peer,
        duration_ms,
        bytes_in = closed.bytes_in,
        bytes_out = closed.bytes_out,
        reason = closed.reason(),
        error = closed.failure.map(tracing::field::display),
        "connection closed"
    );
}

/// Writes one status line of a server (`listening on ...`, `shutting down ...`) to
/// stderr. Unlike `eprintln!`, a stderr that is closed or broken is ignored: a server
/// whose log reader went away must still serve and still shut down on SIGTERM.
pub fn status(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    // One write(2) per line: stderr is unbuffered, so `writeln!` would write each piece
    // on its own, and during an upgrade two processes share this stderr — their pieces
    // interleaved into lines nobody (a script waiting for `upgrade: process N`) could
    // read. A single write of less than PIPE_BUF bytes to a pipe is atomic.
    let line = format!("{line}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(verbose: u8, quiet: bool) -> LogArgs {
        LogArgs {
            log_format: LogFormat::Text,
            verbose,
            quiet,
        }
    }

    #[test]
    fn flags_choose_the_level() {
        assert_eq!(args(0, false).filter_directive(), "warn");
        assert_eq!(args(1, false).filter_directive(), "debug");
        assert_eq!(args(3, false).filter_directive(), "trace");
        assert_eq!(args(0, true).filter_directive(), "error");
    }
}
