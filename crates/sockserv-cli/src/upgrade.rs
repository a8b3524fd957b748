//! SIGUSR2: the binary upgrade. The old process starts the program at its own path with
//! the same arguments, passes it every listening socket, waits until it says it serves
//! them all, and only then stops accepting and drains (nginx's USR2, HAProxy's seamless
//! reload). The listening sockets never close in between, so no connect is refused.
//!
//! The hand-over, as the new process sees it: descriptor 3 is a socket to say `READY=1`
//! on, then the listeners in `--listen` order, then the `--metrics` listener if any;
//! [`PASSED`] names them (`ready,listen,listen+file,metrics`: `+file` when the old process
//! created the Unix socket file, which the new one then removes when it exits), [`FROM`]
//! holds the old process's pid, which must be the new one's parent (a stray variable in
//! an operator's shell is ignored).

use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::parent_id;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sockserv::transport::{Listener, ListenerHandle};
use sockserv::{Server, ShutdownHandle};

use crate::pid_file::PidFile;

/// The variable naming the descriptors passed, from 3 on: `ready`, `listen`, `metrics`.
pub const PASSED: &str = "SOCKSERV_UPGRADE_FDS";
/// The variable holding the old process's pid.
pub const FROM: &str = "SOCKSERV_UPGRADE_FROM";
/// What the new process writes on the ready socket once it serves every endpoint.
const READY: &[u8] = b"READY=1\n";
/// How often the old process looks whether the new one exited while it waits.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// What a new process was handed by the old one.
pub struct Handover {
    /// The listeners, in the old process's order (see [`Handover::take_listeners`]).
    listeners: Vec<Listener>,
    /// The `--metrics` listener, if the old process served one.
    pub metrics: Option<Listener>,
    /// For each listener, whether its Unix socket file passes to this process.
    files: Vec<bool>,
    ready: UnixStream,
}

impl Handover {
    /// The hand-over this process was started with, if any. Runs first, before the
    /// process opens a descriptor of its own (see `sockserv::transport::take_passed_fds`).
    ///
    /// # Errors
    ///
    /// When the variables are malformed, or a passed descriptor is not a usable socket.
    pub fn take() -> Result<Option<Handover>> {
        let (Some(names), Some(from)) = (std::env::var_os(PASSED), std::env::var_os(FROM)) else {
            return Ok(None);
        };
        let from = from.to_string_lossy();
        if from.parse::<u32>().ok() != Some(parent_id()) {
            // Not started by that process: a leftover variable, not a hand-over.
            return Ok(None);
        }
        let names = names.to_string_lossy().into_owned();
        let names: Vec<&str> = names.split(',').collect();
        if names.first() != Some(&"ready") {
            bail!("{PASSED}={names:?}: the first descriptor must be `ready`");
        }
        let count = u16::try_from(names.len()).context("too many passed descriptors")?;
        let mut fds = sockserv::transport::take_passed_fds(count)
            .context("cannot take the sockets the old process passed")?
            .into_iter();
        let ready = UnixStream::from(fds.next().context("descriptors taken already")?);
        let mut handover = Handover {
            listeners: Vec::new(),
            metrics: None,
            files: Vec::new(),
            ready,
        };
        for (name, fd) in names[1..].iter().zip(fds) {
            let listener = Listener::from_inherited_fd(fd)?;
            match *name {
                "listen" | "listen+file" => {
                    handover.listeners.push(listener);
                    handover.files.push(*name == "listen+file");
                }
                "metrics" => handover.metrics = Some(listener),
                other => bail!("{PASSED}: unknown descriptor name {other:?}"),
            }
        }
        Ok(Some(handover))
    }

    /// The listeners, split: the `--listen` ones, and the last `extra` (the old process's
    /// extra endpoints, such as chat's `--web`, which it served after the others).
    pub fn take_listeners(&mut self, extra: usize) -> (Vec<Listener>, Vec<Listener>) {
        let mut main = std::mem::take(&mut self.listeners);
        let extra = main.split_off(main.len().saturating_sub(extra));
        (main, extra)
    }

    /// Tells the old process that every endpoint is served: it stops accepting now.
    /// Only then do `servers` (built on [`Handover::listeners`], in order) take over the
    /// Unix socket files the old process created: a new process that fails before this
    /// must not remove the files the old one still serves.
    ///
    /// # Errors
    ///
    /// When the old process is gone: it no longer waits, and this one serves alone.
    pub fn ready(mut self, servers: &mut [Server]) -> std::io::Result<()> {
        self.ready.write_all(READY)?;
        for (server, _) in servers
            .iter_mut()
            .zip(&self.files)
            .filter(|(_, &file)| file)
        {
            server.adopt_socket_file();
        }
        Ok(())
    }
}

/// The old process's side: what to start and what to pass it.
pub struct Upgrader {
    program: PathBuf,
    args: Vec<OsString>,
    /// The listeners, copied only for an upgrade: a copy held all along would keep a
    /// port open after SIGTERM closed it (and in every forked child).
    listeners: Vec<ListenerHandle>,
    /// The metrics page's socket, and how to stop this process's page once the new
    /// process serves it (a scraper would otherwise see either process's counters).
    metrics: Option<(ListenerHandle, ShutdownHandle)>,
    timeout: Duration,
}

impl Upgrader {
    /// Prepares upgrades of this process serving `servers` (and the metrics page): the
    /// program path is taken now, at start, so a binary replaced on disk later is the one
    /// started (`/proc/self/exe` then names a deleted file).
    ///
    /// # Errors
    ///
    /// When the program's path cannot be read.
    pub fn new(
        servers: &[Server],
        metrics: Option<&crate::metrics::MetricsServer>,
        timeout: Duration,
    ) -> Result<Upgrader> {
        Ok(Upgrader {
            program: program_path()?,
            args: std::env::args_os().skip(1).collect(),
            listeners: servers.iter().map(Server::listener_handle).collect(),
            metrics: metrics.map(|m| (m.listener().clone(), m.shutdown_handle())),
            timeout,
        })
    }

    /// Starts the new process and waits until it serves every endpoint; returns its pid.
    ///
    /// # Errors
    ///
    /// Why the new process is not serving: it could not start, it exited (its own error
    /// went to the shared stderr), or it was not ready within the timeout (it is stopped
    /// then). This process keeps serving in every case.
    pub fn upgrade(&self) -> Result<u32> {
        let (ours, theirs) = UnixStream::pair().context("cannot make the readiness socket")?;
        let mut names = vec!["ready"];
        let mut fds = vec![OwnedFd::from(theirs)];
        for listener in &self.listeners {
            let file = listener.owns_socket_file();
            names.push(if file { "listen+file" } else { "listen" });
            fds.push(copy(listener)?);
        }
        if let Some((listener, _)) = &self.metrics {
            names.push("metrics");
            fds.push(copy(listener)?);
        }
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env(PASSED, names.join(","))
            .env(FROM, std::process::id().to_string())
            // Systemd's variables name this process's sockets, not the new one's.
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_FDNAMES");
        sockserv::transport::pass_fds(&mut command, fds);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        // Our copy of the new process's end goes with the command: its exit is our EOF.
        drop(command);
        let pid = child.id();
        wait_ready(child, ours, self.timeout)?;
        Ok(pid)
    }

    /// [`Upgrader::upgrade`], told to systemd (and on stderr when it fails): the new
    /// process's pid when it took over (this one must stop accepting and drain then, and
    /// say so with [`handed_over`] once it has). On failure this process names itself in
    /// the pid file again, should the new one have written its own.
    pub fn upgrade_logged(&self, pid_file: Option<&PidFile>) -> Option<u32> {
        crate::logging::status(format_args!(
            "upgrade: starting {} with every listening socket",
            self.program.display()
        ));
        match self.upgrade() {
            Ok(pid) => {
                crate::notify::notify(&format!("MAINPID={pid}"));
                if let Some((_, page)) = &self.metrics {
                    page.shutdown();
                }
                Some(pid)
            }
            Err(e) => {
                tracing::error!("upgrade failed, still serving: {e:#}");
                if let Some(Err(e)) = pid_file.map(PidFile::claim) {
                    tracing::error!("{e:#}");
                }
                None
            }
        }
    }
}

/// Says on stderr that the upgrade is complete: called once every accept loop of this
/// process has stopped, so a client that connects after this line is the new process's.
pub fn handed_over(pid: u32) {
    crate::logging::status(format_args!(
        "upgrade: process {pid} serves every endpoint; no new connections here, \
         waiting for clients to finish"
    ));
}

/// Says that this process serves every endpoint: to the old process of an upgrade (it
/// stops accepting then), or else to systemd (`READY=1`, for `Type=notify`).
pub fn announce_ready(handover: Option<Handover>, servers: &mut [Server]) {
    match handover {
        Some(handover) => {
            if let Err(e) = handover.ready(servers) {
                tracing::warn!("the old process did not hear that this one is ready: {e}");
            }
        }
        None => crate::notify::notify("READY=1"),
    }
}

/// A descriptor of `listener` for the new process.
fn copy(listener: &ListenerHandle) -> Result<OwnedFd> {
    let endpoint = listener.local_endpoint();
    listener
        .try_clone_fd()
        .with_context(|| format!("cannot pass {endpoint}"))?
        .with_context(|| format!("{endpoint} is closed"))
}

/// Waits for `READY=1` from `child` on `socket`, at most `timeout`.
fn wait_ready(mut child: Child, mut socket: UnixStream, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    socket.set_read_timeout(Some(CHECK_EVERY))?;
    let mut said = Vec::new();
    let mut buf = [0; 64];
    loop {
        match socket.read(&mut buf) {
            Ok(n) => {
                said.extend_from_slice(&buf[..n]);
                if said.starts_with(READY) {
                    return Ok(());
                }
                if n == 0 || said.len() >= READY.len() {
                    // Its end closed (it exited) or it said something else: it is not
                    // serving. Stopped and reaped either way.
                    let _ = child.kill();
                    let status = child.wait()?;
                    bail!("the new process exited ({status}) before serving");
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        // A forked child of ours may hold a copy of the new process's end, so its exit
        // does not always close the socket: look at the process too.
        if let Some(status) = child.try_wait()? {
            bail!("the new process exited ({status}) before serving");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the new process was not serving within {timeout:?} (--upgrade-timeout); stopped it"
            );
        }
    }
}

/// The program this process runs, as a path: `/proc/self/exe`'s target, without the
/// ` (deleted)` the kernel adds once the file was replaced.
fn program_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let text = exe.as_os_str().to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}
