//! `sockserv chat`'s web flags: the page and WebSocket endpoints and their limits.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Args;

use super::parse_duration;

/// The chat's web front (`--web`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Web chat (a page and a WebSocket)")]
pub struct WebArgs {
    /// Serve the chat page at http://HOST:PORT/ and its WebSocket at /ws (repeatable).
    ///
    /// Open the URL in a browser to join the same room as the line clients: a message
    /// list with senders and times, who is online, the same commands (/nick, /me, /who,
    /// /quit). Port 0 picks a free port; each prints `listening on http://HOST:PORT/`.
    /// With --tls-cert/--tls-key it is https:// and wss://. The page, its CSS and script
    /// are in the binary: no CDN, works offline.
    #[arg(long = "web", value_name = "HOST:PORT", value_parser = parse_web_addr)]
    pub web: Vec<SocketAddr>,

    /// Only pages from this origin may open the WebSocket (repeatable; for example
    /// https://chat.example.org or http://127.0.0.1:8080). Others get 403. Default: any
    /// origin.
    #[arg(long = "web-origin", value_name = "ORIGIN", requires = "web", value_parser = parse_origin)]
    pub web_origin: Vec<String>,

    /// Largest WebSocket message (and frame) a browser may send, in bytes; a larger one
    /// closes its connection with code 1009. A message within it but over --max-line is
    /// answered like an over-long line.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, requires = "web",
          value_parser = clap::value_parser!(u64).range(125..=(16 << 20)))]
    pub web_max_message: u64,

    /// Ping a browser not heard from for this long; close its connection if the next
    /// interval passes without an answer. Keeps proxies from dropping idle members, and
    /// finds dead ones. 0 disables.
    #[arg(long, value_name = "DURATION", default_value = "30s", requires = "web", value_parser = parse_duration)]
    pub web_ping: Duration,
}

/// `HOST:PORT` (or `tcp://HOST:PORT`), a host name resolved once.
fn parse_web_addr(text: &str) -> Result<SocketAddr, String> {
    let addr = text.strip_prefix("tcp://").unwrap_or(text);
    if addr.contains("://") || addr.starts_with("unix:") {
        return Err(format!(
            "{text:?}: --web takes HOST:PORT (TCP), like 127.0.0.1:8080"
        ));
    }
    addr.to_socket_addrs()
        .map_err(|e| format!("{text:?}: expected HOST:PORT, like 127.0.0.1:8080 ({e})"))?
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// An origin: `scheme://host[:port]`, nothing after.
fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim_end_matches('/');
    let valid = ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|host| !host.is_empty() && !host.contains('/'))
    });
    if valid {
        Ok(origin.to_owned())
    } else {
        Err(format!(
            "{text:?}: an origin is scheme://host[:port], like https://chat.example.org"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses_and_origins() {
        assert_eq!(
            parse_web_addr("127.0.0.1:8080"),
            Ok("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_web_addr("tcp://[::1]:0"),
            Ok("[::1]:0".parse().unwrap())
        );
        assert!(parse_web_addr("localhost:80").unwrap().ip().is_loopback());
        assert!(parse_web_addr("unix:/tmp/x")
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(parse_web_addr("http://a:1")
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(parse_web_addr("8080").is_err());
        assert_eq!(
            parse_origin("https://chat.example.org/"),
            Ok("https://chat.example.org".into())
        );
        assert!(parse_origin("chat.example.org").is_err());
        assert!(parse_origin("https://a/b").is_err());
    }
}
