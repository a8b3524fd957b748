//! `sockserv bench`: a closed-loop load generator for echo, HTTP and chat servers.
mod chat;
mod chat_rate;
mod conn;
mod driver;
mod echo;
mod http;
mod pattern;
mod report;
mod response;
mod target;
mod tls;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{anyhow, Context};

use self::driver::{drive, LoadPlan, Plan, Progress};
use self::http::HttpPlan;
use self::target::Target;
use crate::cli::BenchArgs;

/// Runs the load and prints the report to stdout.
///
/// Returns exit status 1 if any echo mismatched or any HTTP response was bad, 0
/// otherwise.
///
/// # Errors
///
/// A one-line error for a bad URL, an unreadable `--expect` file, when no connection
/// could be made, or when the chart cannot be written.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.chat && args.rate.is_some() {
        return run_chat_rate(&args);
    }
    if args.chat {
        return run_chat(&args);
    }
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
    let load = match &args.http {
        Some(path) => LoadPlan::Http(HttpPlan {
            path: path.clone(),
            pipeline: args.pipeline as usize,
            expect: args
                .expect
                .as_ref()
                .map(|file| {
                    std::fs::read(file)
                        .with_context(|| format!("cannot read --expect {}", file.display()))
                })
                .transpose()?,
        }),
        None => LoadPlan::Echo {
            mode: args.mode,
            size: args.size as usize,
        },
    };
    let plan = Plan {
        tls,
        target,
        conns: args.conns as usize,
        load,
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
        let what = match &plan.load {
            LoadPlan::Echo { size, .. } => format!("x {size} B"),
            LoadPlan::Http(http) => format!("GET {}", http.path),
        };
        let title = format!(
            "{} {} {} conns {what}",
            plan.target,
            report::load_name(&plan),
            plan.conns
        );
        report::plot(path, &title, &outcome.latency)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if outcome.mismatches > 0 {
        match &outcome.first_mismatch {
            Some(why) => eprintln!(
                "sockserv bench: {} connection(s) got a bad response; the first: {why}",
                outcome.mismatches
            ),
            None => eprintln!(
                "sockserv bench: {} connection(s) got an echo that differs from what was sent",
                outcome.mismatches
            ),
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--chat`: the fan-out latency of a chat room, line and WebSocket members side by side.
fn run_chat(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let web = match &args.ws {
        Some(url) => Some((
            chat::addr(url)?,
            args.ws_conns.unwrap_or(args.conns) as usize,
        )),
        None => None,
    };
    let plan = chat::ChatPlan {
        line: chat::addr(&args.url)?,
        line_members: args.conns as usize,
        web,
        size: args.size as usize,
        warmup: args.warmup,
        duration: args.duration,
    };
    let outcome = chat::run(&plan)?;
    if args.json {
        println!("{}", chat::json(&plan, &outcome));
    } else {
        println!("{}", chat::text(&plan, &outcome));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--chat --rate`: exit status 1 if a receipt was lost, doubled or out of order.
fn run_chat_rate(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let nodes = std::iter::once(&args.url)
        .chain(&args.nodes)
        .map(|url| Target::parse(url).map_err(|e| anyhow!(e)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = chat_rate::RatePlan {
        nodes,
        members: args.conns as usize,
        rate: args.rate.unwrap_or(1.0),
        duration: args.duration,
    };
    warn_if_fd_limit_low(plan.members);
    let outcome = chat_rate::run(&plan).context("chat load failed")?;
    if outcome.joined == 0 {
        return Err(anyhow!("no member could join {}", plan.nodes[0]));
    }
    if args.json {
        println!("{}", chat_rate::json(&plan, &outcome));
    } else {
        println!("{}", chat_rate::text(&plan, &outcome));
    }
    let complete = outcome.delivered == outcome.expected && outcome.misordered == 0;
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "sockserv bench: {} of {} receipts missing, {} out of order or doubled",
            outcome.expected.saturating_sub(outcome.delivered),
            outcome.expected,
            outcome.misordered
        );
        ExitCode::from(1)
    })
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
