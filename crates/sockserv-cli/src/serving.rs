//! Runs servers from the command line: bind every endpoint, print `listening on`, serve
//! until SIGINT/SIGTERM, then drain.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::{bail, Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use sockserv::tls::TlsAcceptor;
use sockserv::{
    Builder, ClosePolicy, ConnError, Endpoint, Failure, PeerAddr, Server, ShutdownHandle,
};

use crate::cli::{AccessArgs, ServeArgs};

/// The error hook: a timed-out client is routine (logged at debug level); anything
/// else is a warning with the peer's address.
fn report(err: &ConnError) {
    match &err.failure {
        Failure::Handler(e) if e.kind() == std::io::ErrorKind::TimedOut => tracing::debug!("{err}"),
        _ => tracing::warn!("{err}"),
    }
}

/// Applies --allow/--deny (as the verify hook), --proxy-protocol and --reuse-port.
fn with_access(mut builder: Builder, access: &AccessArgs) -> Builder {
    let list = access.access_list();
    if !(access.allow.is_empty() && access.deny.is_empty()) {
        builder = builder.verify(move |peer: &PeerAddr| match peer {
            PeerAddr::Inet(addr) => list.permits(addr.ip()),
            // Unix peers have no address to match; the socket file's permissions decide.
            PeerAddr::Unix(_) => true,
        });
    }
    if let Some(trusted) = access.trusted_proxies() {
        builder = builder.proxy_protocol(trusted);
    }
    builder.reuse_port(access.reuse_port)
}

/// The TLS acceptor of `--tls-cert`/`--tls-key`, if given (clap makes sure both are).
///
/// # Errors
///
/// When an endpoint is a datagram one, or a file cannot be loaded (one line naming it).
pub fn tls_acceptor(args: &ServeArgs) -> Result<Option<TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    if let Some(endpoint) = args.listen.iter().find(|e| e.is_datagram()) {
        bail!("--tls-cert needs stream endpoints (tcp:// or unix:), not {endpoint}: TLS runs over a connection");
    }
    Ok(Some(TlsAcceptor::from_pem_files(cert, key)?))
}

/// Binds one server per `--listen` endpoint with `build`, serves them all, and shuts them
/// down on the first SIGINT/SIGTERM (a second SIGINT exits at once). `on_stop` runs when
/// the shutdown begins, before the servers stop accepting (the chat says goodbye there).
pub fn serve_all(
    args: &ServeArgs,
    build: impl Fn(&Endpoint) -> Builder,
    on_stop: impl Fn() + Send + 'static,
) -> Result<ExitCode> {
    // Signal handling first: "listening on" promises a server that can be stopped cleanly.
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let mut servers = Vec::with_capacity(args.listen.len());
    for endpoint in &args.listen {
        let mut builder = build(endpoint)
            .strategy(args.mode)
            .close_policy(ClosePolicy::JoinTimeout(args.drain_timeout))
            .idle_timeout(ServeArgs::limit(args.idle_timeout))
            .read_timeout(ServeArgs::limit(args.read_timeout))
            .write_timeout(ServeArgs::limit(args.write_timeout))
            .on_error(report);
        if args.max_conns > 0 {
            builder = builder.max_connections(args.max_conns);
        }
        builder = with_access(builder, &args.access);
        let server = builder.bind()?;
        servers.push(server);
    }
    for server in &servers {
        eprintln!("listening on {}", server.local_endpoint());
    }
    let handles: Vec<ShutdownHandle> = servers.iter().map(Server::shutdown_handle).collect();
    let stopping = Arc::new(AtomicBool::new(false));
    let signal_handle = signals.handle();
    {
        let stopping = Arc::clone(&stopping);
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if stopping.swap(true, Ordering::AcqRel) && signal == SIGINT {
                        eprintln!("second interrupt: exiting now");
                        std::process::exit(130);
                    }
                    eprintln!("shutting down: no new connections; waiting for clients to finish");
                    on_stop();
                    for handle in &handles {
                        handle.shutdown();
                    }
                }
            })?;
    }
    let results: Vec<Result<()>> = thread::scope(|scope| {
        let workers: Vec<_> = servers
            .into_iter()
            .map(|mut server| {
                scope.spawn(move || -> Result<()> {
                    let endpoint = server.local_endpoint().clone();
                    server
                        .serve()
                        .with_context(|| format!("serving {endpoint}"))?;
                    let report = server.close()?;
                    if report.finished + report.left > 0 {
                        eprintln!(
                            "{endpoint}: {} client(s) finished, {} cut off after the drain timeout",
                            report.finished, report.left
                        );
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a server thread panicked")))
            })
            .collect()
    });
    signal_handle.close();
    for result in results {
        result?;
    }
    Ok(ExitCode::SUCCESS)
}
