//! One request and everything needed to serve it: [`Job`], the shared [`Context`] with the
//! user's hooks, and the one place panics of user code are caught ([`catch_panic`]).
//!
//! This module sits below both the serve loop (`server.rs`) and the strategies: the
//! serving thread runs the verify hook through [`Context::permits`] before dispatch, a
//! worker runs everything else through [`Context::run`].

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::conn::Conn;
use crate::endpoint::PeerAddr;
use crate::error::{ConnError, Failure};
use crate::handler::{Datagram, DatagramHandler, StreamHandler};
use crate::proxied::{self, ProxyConfig};
use crate::pump::{blocking, close_stream, is_disconnect, name_timeout, ConnSettings};
use crate::server::drain::Live;
use crate::session::OpenFn;
use crate::stats::{Closed, Stats};
use crate::transport::{DatagramSocket, Stream};

/// The verify hook (Python's `verify_request`).
pub(crate) type VerifyFn = dyn Fn(&PeerAddr) -> bool + Send + Sync;
/// The error hook (Python's `handle_error`).
pub(crate) type ErrorHook = Arc<dyn Fn(&ConnError) + Send + Sync>;
/// The per-connection close hook.
pub(crate) type CloseHook = Arc<dyn Fn(&Closed<'_>) + Send + Sync>;
/// The serving thread's timeout hook (Python's `handle_timeout`).
pub(crate) type TimeoutHook = Box<dyn FnMut() + Send>;
/// The serving thread's periodic hook (Python's `service_actions`).
pub(crate) type TickHook = Box<dyn FnMut() + Send>;

/// Runs user code (a hook or a handler), turning a panic into its message.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// Runs user code that may fail, turning an error into [`Failure::Handler`] and a panic
/// into [`Failure::Panic`].
pub(crate) fn run_guarded(f: impl FnOnce() -> io::Result<()>) -> Result<(), Failure> {
    match catch_panic(f) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if is_disconnect(&e) => Err(Failure::Disconnected(e)),
        Ok(Err(e)) => Err(Failure::Handler(e)),
        Err(message) => Err(Failure::Panic(message)),
    }
}

/// The message of a panic payload, for reports.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// The service a server runs, type-erased: a blocking handler for its kind of endpoint,
/// or a Session factory (stream and datagram endpoints, every strategy).
#[derive(Clone)]
pub(crate) enum Service {
    Stream(Arc<dyn StreamHandler>),
    Datagram(Arc<dyn DatagramHandler>),
    Session(OpenFn),
}

/// One request: an accepted connection or a received datagram.
#[derive(Debug)]
pub(crate) enum Job {
    Stream {
        stream: Stream,
        peer: PeerAddr,
    },
    Datagram {
        data: Vec<u8>,
        truncated: bool,
        peer: PeerAddr,
    },
}

impl Job {
    pub(crate) fn peer(&self) -> &PeerAddr {
        match self {
            Job::Stream { peer, .. } | Job::Datagram { peer, .. } => peer,
        }
    }

    /// Ends a request that will not be served: a connection gets EOF at once.
    pub(crate) fn reject(self) {
        if let Job::Stream { stream, .. } = self {
            close_stream(stream);
        }
    }
}

/// Everything a worker needs to serve a request, shared by the serving thread and all
/// workers; the verify and error hooks live here once.
pub(crate) struct Context {
    pub(crate) service: Service,
    pub(crate) on_error: ErrorHook,
    pub(crate) on_close: Option<CloseHook>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) settings: ConnSettings,
    pub(crate) reply: Option<DatagramSocket>,
    pub(crate) verify: Option<Arc<VerifyFn>>,
    /// Behind a PROXY-protocol balancer the verify hook runs on the worker, once the
    /// header has named the client; otherwise the serving thread runs it before dispatch.
    pub(crate) proxy: Option<ProxyConfig>,
    /// The sockets blocking workers serve, for a drain to cut at its deadline.
    pub(crate) live: Live,
}

impl Context {
    /// Serves `job` to the end, counting it and reporting a failure to the error hook.
    /// Returns whether it succeeded (a forked child's exit status).
    pub(crate) fn run(&self, job: Job) -> bool {
        let started = Instant::now();
        let job = match (job, &self.proxy) {
            (Job::Stream { stream, peer }, Some(_)) => match self.behind_proxy(stream, peer) {
                Some(job) => job,
                None => return false,
            },
            (job, _) => job,
        };
        let peer = job.peer().clone();
        let (result, traffic) = match (job, &self.service) {
            (Job::Stream { stream, peer }, Service::Stream(handler)) => {
                serve_stream(&**handler, stream, peer, self.settings, &self.live)
            }
            (Job::Stream { stream, peer }, Service::Session(open)) => {
                serve_session(open, stream, &peer, &self.settings, &self.live)
            }
            (
                Job::Datagram {
                    data,
                    truncated,
                    peer,
                },
                Service::Datagram(handler),
            ) => self.serve_datagram(&data, &peer, |reply| {
                handler.handle(&Datagram::new(&data, &peer, truncated), reply)
            }),
            (Job::Datagram { data, peer, .. }, Service::Session(open)) => {
                self.serve_datagram(&data, &peer, |reply| {
                    blocking::reply(open, &peer, &data, reply)
                })
            }
            // The builder refuses mismatched handlers; a stray job is just dropped.
            (job, _) => {
                job.reject();
                (Ok(()), (0, 0))
            }
        };
        self.finished(&peer, started, traffic, result.err())
    }

    /// Reads the PROXY header and applies the verify hook to the client it names;
    /// `None` if the connection was refused (and counted, and closed).
    fn behind_proxy(&self, stream: Stream, socket_peer: PeerAddr) -> Option<Job> {
        let header = match proxied::read_blocking(&stream) {
            Ok(header) => header,
            Err(e) => {
                self.stats.proxy_rejected();
                proxied::refuse(&stream);
                self.report(socket_peer, Failure::Proxy(e));
                return None;
            }
        };
        let peer = proxied::client_of(&header, &socket_peer);
        if !self.permits(&peer) {
            self.stats.rejected();
            close_stream(stream);
            return None;
        }
        Some(Job::Stream { stream, peer })
    }

    /// Runs the verify hook (if any) on `peer`; a panicking hook refuses, and is reported.
    pub(crate) fn permits(&self, peer: &PeerAddr) -> bool {
        let Some(verify) = &self.verify else {
            return true;
        };
        catch_panic(|| verify(peer)).unwrap_or_else(|message| {
            self.report(peer.clone(), Failure::VerifyPanic(message));
            false
        })
    }

    /// Counts a finished request, tells the close hook, reports a failure; returns
    /// whether it succeeded.
    pub(crate) fn finished(
        &self,
        peer: &PeerAddr,
        started: Instant,
        (bytes_in, bytes_out): (u64, u64),
        failure: Option<Failure>,
    ) -> bool {
        let closed = Closed {
            peer,
            duration: started.elapsed(),
            bytes_in,
            bytes_out,
            failure: failure.as_ref(),
        };
        self.stats.closed(&closed);
        if let Some(hook) = &self.on_close {
            if catch_panic(|| hook(&closed)).is_err() {
                tracing::error!(%peer, "the close hook panicked");
            }
        }
        match failure {
            None => true,
            // The peer leaving is how the connection ended, not something to report.
            Some(Failure::Disconnected(_)) => false,
            Some(failure) => {
                self.report(peer.clone(), failure);
                false
            }
        }
    }

    /// Serves one datagram: `answer` writes the reply, which is sent back unless empty.
    fn serve_datagram(
        &self,
        data: &[u8],
        peer: &PeerAddr,
        answer: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> (Result<(), Failure>, (u64, u64)) {
        let mut reply = Vec::new();
        let mut sent = 0;
        let result = run_guarded(|| {
            answer(&mut reply)?;
            if let (Some(socket), false) = (&self.reply, reply.is_empty()) {
                sent = socket.send_to(&reply, peer)? as u64;
            }
            Ok(())
        });
        (result, (data.len() as u64, sent))
    }

    /// Hands a failure to the error hook; a panicking hook is contained too.
    pub(crate) fn report(&self, peer: PeerAddr, failure: Failure) {
        let err = ConnError { peer, failure };
        if catch_panic(|| (self.on_error)(&err)).is_err() {
            tracing::error!(
                peer = %err.peer,
                error = %err.failure,
                "the error hook panicked while reporting"
            );
        }
    }
}

/// Runs setup/handle/finish on one connection, then half-closes and closes it. `finish`
/// runs even when `handle` fails or panics, not when `setup` fails (as in Python).
fn serve_stream(
    handler: &dyn StreamHandler,
    stream: Stream,
    peer: PeerAddr,
    settings: ConnSettings,
    live: &Live,
) -> (Result<(), Failure>, (u64, u64)) {
    let tracked = live.add(&stream);
    let mut conn = Conn::new(stream, peer);
    let result = run_guarded(|| set_socket_timeouts(conn.stream(), &settings))
        .and_then(|()| run_guarded(|| handler.setup(&mut conn)))
        .and_then(|()| {
            let handled = run_guarded(|| handler.handle(&mut conn).map_err(name_timeout));
            let finished = run_guarded(|| handler.finish(&mut conn).map_err(name_timeout));
            handled.and(finished)
        });
    let traffic = conn.traffic();
    // Untracked before it is closed: a drain never touches a reused descriptor.
    live.remove(tracked);
    close_stream(conn.into_stream());
    (result, traffic)
}

/// Serves one connection with a Session (which keeps its own timeouts), then half-closes
/// and closes it.
fn serve_session(
    open: &OpenFn,
    stream: Stream,
    peer: &PeerAddr,
    settings: &ConnSettings,
    live: &Live,
) -> (Result<(), Failure>, (u64, u64)) {
    let (tracked, shutdown) = live.add_session(&stream);
    let served = blocking::serve(open, peer, &stream, settings, &shutdown);
    // Untracked before it is closed: a drain never touches a reused descriptor.
    live.remove(tracked);
    close_stream(stream);
    served
}

/// Gives a blocking connection its read and write timeouts, each folded with the idle
/// timeout.
fn set_socket_timeouts(stream: &Stream, settings: &ConnSettings) -> io::Result<()> {
    let (read, write) = settings.socket_timeouts();
    stream.set_read_timeout(read)?;
    stream.set_write_timeout(write)
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .field("verify", &self.verify.is_some())
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}
