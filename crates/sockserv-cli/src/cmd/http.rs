//! `sockserv http`: the HTTP file server Session on every stream endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::{Context, Result};
use sockserv::{Builder, Endpoint, Strategy};
use sockserv_http::files::Root;
use sockserv_http::offload::Offload;
use sockserv_http::{FileServer, Http};

use crate::cli::{HttpArgs, ServeArgs};
use crate::metrics::AppMetrics;
use crate::serving::{serve_all, tls_acceptor};

/// Requests waiting for the file workers; past it a loop decides on its own thread.
const OFFLOAD_QUEUE: usize = 256;

/// Serves `--directory` until SIGINT/SIGTERM.
pub fn run(mut args: HttpArgs) -> Result<ExitCode> {
    let root = Root::new(&args.directory, args.follow_symlinks)
        .with_context(|| format!("cannot serve {}", args.directory.display()))?;
    if args.serve.listen.is_empty() {
        // Python's PORT and --bind, used unless systemd passed sockets.
        let addr = default_addr(args.bind.as_deref(), args.port)?;
        args.serve.default_listen = Some(Endpoint::Tcp(addr));
    }
    crate::logging::status(format_args!("serving {}", root.dir().display()));
    let files = FileServer::new(root)
        .gzip(args.gzip)
        .default_type(args.content_type);
    let mut http = Http::new(files)
        .header_timeout(ServeArgs::limit(args.header_timeout))
        .protocol(args.protocol);
    if matches!(args.serve.mode, Strategy::Events { .. }) && args.file_workers > 0 {
        // Opening files, listing directories and gzip leave the event loops' threads:
        // one slow answer never stalls the other connections of its loop. (The blocking
        // modes give each connection a thread of its own.)
        let pool = Offload::new(args.file_workers, OFFLOAD_QUEUE)
            .context("cannot start the file workers")?;
        http = http.offload(pool);
    }
    // ALPN: clients that ask (browsers, curl) learn that this is HTTP/1.1 (never h2).
    let tls = tls_acceptor(&args.serve)?.map(|tls| tls.with_alpn(&[b"http/1.1"]));
    let counters = http.counters();
    serve_all(
        &args.serve,
        Some("HTTP runs over a connection"),
        |builder: Builder| match &tls {
            Some(tls) => builder.session_factory(tls.wrap(http.clone())),
            None => builder.session_factory(http.clone()),
        },
        || {},
        AppMetrics::Http(counters),
    )
}

/// `--bind ADDR` (an address or a name, resolved once) and PORT; without `--bind`, every
/// interface: `[::]` (which takes IPv4 too) when the machine has IPv6, else `0.0.0.0`.
fn default_addr(bind: Option<&str>, port: u16) -> Result<SocketAddr> {
    let Some(host) = bind else {
        let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
        let ip = match TcpListener::bind(any6) {
            Ok(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            Err(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        return Ok(SocketAddr::new(ip, port));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --bind {host}"))?
        .next()
        .with_context(|| format!("--bind {host} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_addresses_and_names_resolve() {
        assert_eq!(
            default_addr(Some("127.0.0.1"), 8000).unwrap(),
            "127.0.0.1:8000".parse().unwrap()
        );
        assert_eq!(
            default_addr(Some("[::1]"), 1).unwrap(),
            "[::1]:1".parse().unwrap()
        );
        assert!(default_addr(Some("localhost"), 80)
            .unwrap()
            .ip()
            .is_loopback());
        assert!(default_addr(None, 8000).unwrap().ip().is_unspecified());
        assert!(default_addr(Some("no such host.invalid"), 80).is_err());
    }
}
