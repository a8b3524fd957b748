//! The `--metrics` HTTP server: a thread serving the page on its own listener (bound, or
//! passed on by an upgrade).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};
use sockserv::report::{ConnError, Stats};
use sockserv::transport::{Listener, ListenerHandle};
use sockserv::{ClosePolicy, Endpoint, Server, ShutdownHandle};

use super::{render, AppMetrics, ChatCounts, Scrape};
use crate::apps::metrics::MetricsPage;

/// The running metrics server. Dropping it stops it and joins its thread.
pub struct MetricsServer {
    endpoint: Endpoint,
    /// The listening socket, to pass to the new process of an upgrade.
    listener: ListenerHandle,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (or serves `inherited`, the listener an upgrade passed) and serves the
    /// counters of `servers` (and of `app`) on a thread of its own, under
    /// [`sockserv::Strategy::Threads`].
    ///
    /// # Errors
    ///
    /// When `addr` cannot be bound, or the thread cannot start.
    pub fn start(
        addr: SocketAddr,
        inherited: Option<Listener>,
        servers: &[Server],
        app: AppMetrics,
    ) -> Result<MetricsServer> {
        let sources: Vec<(String, Arc<Stats>)> = servers
            .iter()
            .map(|s| (s.local_endpoint().to_string(), s.stats()))
            .collect();
        let page = move || {
            render(&Scrape {
                endpoints: sources
                    .iter()
                    .map(|(endpoint, stats)| (endpoint.clone(), stats.snapshot()))
                    .collect(),
                chat: match &app {
                    AppMetrics::Chat(room) => Some(ChatCounts {
                        members: room.members(),
                        dropped: room.dropped(),
                        bus: room.bus_stats(),
                    }),
                    _ => None,
                },
                http: match &app {
                    AppMetrics::Http(counters) => Some(counters.by_class()),
                    _ => None,
                },
                reloads: crate::reload::counts(),
            })
        };
        // A scraper is short-lived: bound what a stalled or hostile one can hold.
        let limit = Some(Duration::from_secs(10));
        let builder = match inherited {
            Some(listener) => Server::from_listener(listener),
            None => Server::builder(Endpoint::Tcp(addr)),
        };
        let mut server = builder
            .strategy(sockserv::Strategy::Threads)
            .max_connections(64)
            .idle_timeout(limit)
            .read_timeout(limit)
            .write_timeout(limit)
            .close_policy(ClosePolicy::JoinTimeout(Duration::from_secs(1)))
            .on_error(|err: &ConnError| tracing::debug!("metrics: {err}"))
            .session_factory(MetricsPage::http(page))
            .bind()
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        let endpoint = server.local_endpoint().clone();
        let stop = server.shutdown_handle();
        let listener = server.listener_handle();
        let thread = thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                if let Err(e) = server.serve() {
                    tracing::error!("metrics server: {e}");
                }
                let _ = server.close();
            })
            .context("cannot start the metrics thread")?;
        Ok(MetricsServer {
            endpoint,
            listener,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops serving the page (from any thread); the socket stays open if another
    /// process holds it (an upgrade's new one).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// The page's URL, with the real port: `http://HOST:PORT/metrics`.
    pub fn url(&self) -> String {
        let addr = self.endpoint.socket_addr().expect("a TCP endpoint");
        format!("http://{addr}/metrics")
    }

    /// The listening socket.
    pub fn listener(&self) -> &ListenerHandle {
        &self.listener
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the metrics server when `--metrics` asks for one, and prints
/// `metrics on URL` to stderr.
///
/// # Errors
///
/// See [`MetricsServer::start`].
pub fn serve(
    addr: Option<SocketAddr>,
    inherited: Option<Listener>,
    servers: &[Server],
    app: AppMetrics,
) -> Result<Option<MetricsServer>> {
    let Some(addr) = addr else { return Ok(None) };
    let metrics = MetricsServer::start(addr, inherited, servers, app)?;
    crate::logging::status(format_args!("metrics on {}", metrics.url()));
    Ok(Some(metrics))
}
