//! Runs servers from the command line: bind every endpoint, print `listening on`, serve
//! until SIGINT/SIGTERM (or an upgrade's hand-over, SIGUSR2), then drain; SIGHUP reloads.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::thread;

use anyhow::{bail, Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
use signal_hook::iterator::Signals;
use sockserv::report::{ConnError, Failure};
use sockserv::tls::TlsAcceptor;
use sockserv::transport::Listener;
use sockserv::{Builder, ClosePolicy, Endpoint, PeerAddr, Server, ShutdownHandle};

use crate::cli::{AccessArgs, ListenSpec, ServeArgs, DEFAULT_LISTEN};
use crate::pid_file::PidFile;

/// The error hook: a timed-out client is routine (logged at debug level); anything
/// else is a warning with the peer's address.
fn report(err: &ConnError) {
    match &err.failure {
        Failure::Handler(e) if e.kind() == std::io::ErrorKind::TimedOut => tracing::debug!("{err}"),
        // A balancer's health check that connects and leaves without a header.
        Failure::Proxy(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::debug!("{err}")
        }
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
    let acceptor = TlsAcceptor::from_pem_files(cert, key)?;
    crate::reload::watch_tls(&acceptor, cert.clone(), key.clone());
    Ok(Some(acceptor))
}

/// Where one server listens: an endpoint to bind, or a socket passed by the parent.
enum Source {
    Bind(Endpoint),
    Inherited(Listener),
}

impl Source {
    fn is_datagram(&self) -> bool {
        match self {
            Source::Bind(endpoint) => endpoint.is_datagram(),
            Source::Inherited(listener) => listener.is_datagram(),
        }
    }

    fn endpoint(&self) -> &Endpoint {
        match self {
            Source::Bind(endpoint) => endpoint,
            Source::Inherited(listener) => listener.local_endpoint(),
        }
    }

    fn builder(self) -> Builder {
        match self {
            Source::Bind(endpoint) => Server::builder(endpoint),
            Source::Inherited(listener) => Server::from_listener(listener),
        }
    }
}

/// The `--listen` values, or systemd's sockets, or the default address.
///
/// Runs first in `serve_all`, before the process opens a descriptor of its own (the
/// signal pipe, sockets, files), so an inherited descriptor number can only name what
/// the parent passed.
fn sources(args: &ServeArgs) -> Result<Vec<Source>> {
    if args.listen.is_empty() {
        let activated = Listener::from_systemd().context("socket activation")?;
        if !activated.is_empty() {
            return Ok(activated.into_iter().map(Source::Inherited).collect());
        }
        let default = match &args.default_listen {
            Some(endpoint) => endpoint.clone(),
            None => DEFAULT_LISTEN.parse().map_err(anyhow::Error::msg)?,
        };
        return Ok(vec![Source::Bind(default)]);
    }
    let mut adopted = Vec::new();
    args.listen
        .iter()
        .map(|spec| match spec {
            ListenSpec::Url(endpoint) => Ok(Source::Bind(endpoint.clone())),
            ListenSpec::Fd(fd) => {
                if adopted.contains(fd) {
                    bail!("--listen fd:{fd} is given twice");
                }
                adopted.push(*fd);
                adopt(*fd)
                    .map(Source::Inherited)
                    .with_context(|| format!("cannot use --listen fd:{fd}"))
            }
        })
        .collect()
}

/// Takes `--listen fd:N`: the one place the binary vouches for a descriptor's owner.
#[allow(unsafe_code)]
fn adopt(fd: i32) -> std::io::Result<Listener> {
    // SAFETY: the operator named fd N as the socket the parent passed for this process
    // to serve; `sources` runs before the process opens any descriptor of its own and
    // takes each number once (repeats are refused above), so nothing else owns it.
    let fd = unsafe { sockserv::transport::claim_inherited_fd(fd)? };
    Listener::from_inherited_fd(fd)
}

/// Binds one server per `--listen` endpoint with `build`, serves them all, and shuts them
/// down on the first SIGINT/SIGTERM (a second SIGINT exits at once). `on_stop` runs when
/// the shutdown begins, before the servers stop accepting (the chat says goodbye there).
/// `stream_only` names why datagram endpoints cannot be served, if they cannot.
/// `app` adds the application's own gauges to the `--metrics` page.
pub fn serve_all(
    args: &ServeArgs,
    stream_only: Option<&str>,
    build: impl Fn(Builder) -> Builder,
    on_stop: impl Fn() + Send + 'static,
    app: crate::metrics::AppMetrics,
) -> Result<ExitCode> {
    serve_all_with(args, stream_only, build, None, on_stop, app)
}

/// More endpoints served beside the `--listen` ones with a Session of their own (chat's
/// `--web`): each is bound with `build` and announced as `listening on SCHEME://ADDR/`.
pub struct Extra<'a> {
    /// Where to listen (TCP).
    pub endpoints: &'a [std::net::SocketAddr],
    /// The URL scheme announced (`http`, `https`).
    pub scheme: &'static str,
    /// Sets the Session up, as `serve_all`'s `build` does for the main endpoints.
    pub build: &'a dyn Fn(Builder) -> Builder,
}

/// [`serve_all`], plus the `extra` endpoints if any.
pub fn serve_all_with(
    args: &ServeArgs,
    stream_only: Option<&str>,
    build: impl Fn(Builder) -> Builder,
    extra: Option<Extra<'_>>,
    on_stop: impl Fn() + Send + 'static,
    app: crate::metrics::AppMetrics,
) -> Result<ExitCode> {
    // Inherited descriptors first, before this process opens any of its own (see
    // `sources`); then signal handling, before any bind: "listening on" promises a server
    // that can be stopped cleanly.
    let mut handover = crate::upgrade::Handover::take()?;
    let extra_count = extra.as_ref().map_or(0, |extra| extra.endpoints.len());
    let (sources, extra_inherited): (Vec<Source>, _) = match &mut handover {
        Some(handover) => {
            let (main, extra) = handover.take_listeners(extra_count);
            (main.into_iter().map(Source::Inherited).collect(), extra)
        }
        None => (sources(args)?, Vec::new()),
    };
    let mut extra_inherited = extra_inherited.into_iter();
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR2])
        .context("cannot install signal handlers")?;
    if let (Some(reason), Some(source)) = (stream_only, sources.iter().find(|s| s.is_datagram())) {
        bail!(
            "{} is a datagram endpoint; this needs a stream one (tcp://, unix:): {reason}",
            source.endpoint()
        );
    }
    let main = sources.into_iter().map(|source| (source, None));
    let mut extra_sources = Vec::new();
    if let Some(extra) = &extra {
        for addr in extra.endpoints {
            // After an upgrade, the old process's sockets for these too.
            let source = match extra_inherited.next() {
                Some(listener) => Source::Inherited(listener),
                None => Source::Bind(Endpoint::Tcp(*addr)),
            };
            extra_sources.push((source, Some((extra.scheme, extra.build))));
        }
    }
    let mut servers = Vec::new();
    let mut schemes = Vec::new();
    for (source, special) in main.chain(extra_sources).collect::<Vec<_>>() {
        let builder = match special {
            Some((_, build_extra)) => build_extra(source.builder()),
            None => build(source.builder()),
        };
        schemes.push(special.map(|(scheme, _)| scheme));
        let mut builder = builder
            .strategy(args.mode)
            .close_policy(ClosePolicy::Drain(args.drain_timeout))
            .idle_timeout(ServeArgs::limit(args.idle_timeout))
            .read_timeout(ServeArgs::limit(args.read_timeout))
            .write_timeout(ServeArgs::limit(args.write_timeout))
            .high_water(args.high_water)
            .on_error(report)
            .on_close(crate::logging::log_close);
        if args.max_conns > 0 {
            builder = builder.max_connections(args.max_conns);
        }
        builder = with_access(builder, &args.access);
        let server = builder.bind()?;
        servers.push(server);
    }
    // Bound (and announced) before `listening on`: a script that waits for those lines
    // can scrape at once. Dropped, so stopped, when serving ends.
    let inherited_metrics = handover.as_mut().and_then(|h| h.metrics.take());
    let metrics = crate::metrics::serve(args.metrics, inherited_metrics, &servers, app)?;
    let upgrader = crate::upgrade::Upgrader::new(&servers, metrics.as_ref(), args.upgrade_timeout)?;
    // Before `listening on`: a script that waits for those lines finds the file.
    let pid_file = args.pid_file.as_deref().map(PidFile::write).transpose()?;
    for (server, scheme) in servers.iter().zip(schemes) {
        match (scheme, server.local_endpoint()) {
            (Some(scheme), Endpoint::Tcp(addr)) => {
                crate::logging::status(format_args!("listening on {scheme}://{addr}/"));
            }
            (_, endpoint) => crate::logging::status(format_args!("listening on {endpoint}")),
        }
    }
    crate::upgrade::announce_ready(handover, &mut servers);
    let handed_over = AtomicBool::new(false);
    // The new process of an upgrade, and how many accept loops have not stopped yet.
    let new_pid = AtomicU32::new(0);
    let accepting = AtomicUsize::new(servers.len());
    let handles: Vec<ShutdownHandle> = servers.iter().map(Server::shutdown_handle).collect();
    let stopping = AtomicBool::new(false);
    let signal_handle = signals.handle();
    let drain_timeout = args.drain_timeout;
    thread::scope(|scope| -> Result<ExitCode> {
        let stopping = &stopping;
        let (handed_over, pid_file, new_pid) = (&handed_over, &pid_file, &new_pid);
        let accepting = &accepting;
        let signal_thread =
            thread::Builder::new()
                .name("signals".into())
                .spawn_scoped(scope, move || {
                    for signal in signals.forever() {
                        match signal {
                            SIGHUP => {
                                crate::reload::reload_all();
                                continue;
                            }
                            SIGUSR2 if stopping.load(Ordering::Acquire) => {
                                crate::logging::status(format_args!(
                                    "upgrade: ignored, this process is stopping already"
                                ));
                                continue;
                            }
                            SIGUSR2 => {
                                if let Some(pid) = upgrader.upgrade_logged(pid_file.as_ref()) {
                                    stopping.store(true, Ordering::Release);
                                    new_pid.store(pid, Ordering::Release);
                                    handed_over.store(true, Ordering::Release);
                                    // The clients here are served on until they leave
                                    // (not told to go, as on SIGTERM), for up to the
                                    // drain timeout.
                                    let close = ClosePolicy::JoinTimeout(drain_timeout);
                                    for handle in &handles {
                                        handle.shutdown_with(close);
                                    }
                                }
                                continue;
                            }
                            _ => {}
                        }
                        if stopping.swap(true, Ordering::AcqRel) && signal == SIGINT {
                            crate::logging::status(format_args!("second interrupt: exiting now"));
                            std::process::exit(130);
                        }
                        crate::logging::status(format_args!(
                            "shutting down: no new connections; waiting for clients to finish"
                        ));
                        on_stop();
                        for handle in &handles {
                            handle.shutdown();
                        }
                    }
                })?;
        let workers: Vec<_> = servers
            .into_iter()
            .map(|mut server| {
                scope.spawn(move || -> Result<()> {
                    let endpoint = server.local_endpoint().clone();
                    server
                        .serve()
                        .with_context(|| format!("serving {endpoint}"))?;
                    if handed_over.load(Ordering::Acquire) {
                        // The new process serves this socket now: its file stays.
                        server.keep_socket_file();
                        // The last accept loop to stop says the hand-over is complete.
                        if accepting.fetch_sub(1, Ordering::AcqRel) == 1 {
                            crate::upgrade::handed_over(new_pid.load(Ordering::Acquire));
                        }
                    }
                    // Under the policy the stop named (see the signal thread).
                    let report = server.close()?;
                    if report.finished + report.cut + report.left > 0 {
                        crate::logging::status(format_args!(
                            "{endpoint}: {} client(s) finished, {} cut off after the drain timeout",
                            report.finished,
                            report.cut + report.left
                        ));
                    }
                    Ok(())
                })
            })
            .collect();
        let results: Vec<Result<()>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a server thread panicked")))
            })
            .collect();
        // Ends `forever`; joined before the pid file is dropped (removed).
        signal_handle.close();
        let _ = signal_thread.join();
        for result in results {
            result?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
