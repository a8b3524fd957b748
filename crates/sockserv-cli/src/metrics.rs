//! `--metrics`: the servers' counters as a Prometheus page (served by `server.rs`).
//!
//! Nothing here touches the serving hot path: the page reads each server's
//! [`Stats`](sockserv::report::Stats) (relaxed atomics) and the chat room's gauges at scrape time.

mod server;

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use sockserv::report::StatsSnapshot;
use sockserv_http::Counters;
use sockserv_redis::BusStats;

pub use self::server::{serve, MetricsServer};
use crate::apps::chat::ChatRoom;

/// Gauges of the application behind the servers, beyond the library's counters.
#[derive(Clone, Default)]
pub enum AppMetrics {
    /// None (the echo server).
    #[default]
    None,
    /// The chat room's members and slow members dropped.
    Chat(ChatRoom),
    /// The HTTP server's responses by status class.
    Http(Arc<Counters>),
}

/// The chat room at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChatCounts {
    /// Members in the room now.
    pub members: usize,
    /// Members disconnected so far because they could not keep up.
    pub dropped: u64,
    /// The bus to the room's other nodes, with `--bus`.
    pub bus: Option<BusStats>,
}

/// Everything one scrape shows: each endpoint's counters, and the chat room's if any.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// `(endpoint URL, counters)`, one per `--listen`.
    pub endpoints: Vec<(String, StatsSnapshot)>,
    /// The chat room, when serving chat.
    pub chat: Option<ChatCounts>,
    /// HTTP responses by status class (`[1xx, 2xx, 3xx, 4xx, 5xx]`), when serving HTTP.
    pub http: Option<[u64; 5]>,
    /// SIGHUP reloads `[succeeded, failed]`, when there is something to reload (TLS).
    pub reloads: Option<[u64; 2]>,
}

/// One per-endpoint series: name, kind, help, and how to read it from a snapshot.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&StatsSnapshot) -> u64,
);

const ENDPOINT_SERIES: [Series; 9] = [
    (
        "sockserv_connections_active",
        "gauge",
        "Connections (or datagrams) being served now.",
        |s| s.active,
    ),
    (
        "sockserv_connections_total",
        "counter",
        "Connections (or datagrams) accepted, including rejected ones.",
        |s| s.accepted,
    ),
    (
        "sockserv_connections_rejected_total",
        "counter",
        "Connections refused before being served.",
        |s| s.rejected,
    ),
    (
        "sockserv_connections_closed_total",
        "counter",
        "Connections served and closed, for any reason.",
        |s| s.closed,
    ),
    (
        "sockserv_bytes_received_total",
        "counter",
        "Bytes received from clients, counted when their connection closes.",
        |s| s.bytes_in,
    ),
    (
        "sockserv_bytes_sent_total",
        "counter",
        "Bytes sent to clients, counted when their connection closes.",
        |s| s.bytes_out,
    ),
    (
        "sockserv_handler_errors_total",
        "counter",
        "Connections ended by a handler error (timeouts and panics excluded).",
        |s| s.handler_errors,
    ),
    (
        "sockserv_handler_panics_total",
        "counter",
        "Connections ended by a handler panic.",
        |s| s.panics,
    ),
    (
        "sockserv_timeouts_total",
        "counter",
        "Connections closed by an idle, read or write timeout.",
        |s| s.timeouts,
    ),
];

/// Renders `scrape` in the Prometheus text exposition format, version 0.0.4.
pub fn render(scrape: &Scrape) -> String {
    let mut page = String::new();
    for (name, kind, help, read) in ENDPOINT_SERIES {
        header(&mut page, name, kind, help);
        for (endpoint, stats) in &scrape.endpoints {
            let endpoint = escape_label(endpoint);
            if name == "sockserv_connections_rejected_total" {
                // By reason: the verify hook (--allow/--deny), or the PROXY protocol check
                // (an untrusted balancer, or no valid header).
                for (reason, value) in [("verify", stats.rejected), ("proxy", stats.proxy_rejected)]
                {
                    let _ = writeln!(
                        page,
                        "{name}{{endpoint=\"{endpoint}\",reason=\"{reason}\"}} {value}"
                    );
                }
                continue;
            }
            let _ = writeln!(page, "{name}{{endpoint=\"{endpoint}\"}} {}", read(stats));
        }
    }
    if let Some(chat) = scrape.chat {
        let members = "sockserv_chat_members";
        header(&mut page, members, "gauge", "Members in the chat room now.");
        let _ = writeln!(page, "{members} {}", chat.members);
        let dropped = "sockserv_chat_dropped_total";
        let help = "Chat members disconnected because they could not keep up.";
        header(&mut page, dropped, "counter", help);
        let _ = writeln!(page, "{dropped} {}", chat.dropped);
        if let Some(bus) = chat.bus {
            render_bus(&mut page, &bus);
        }
    }
    if let Some(classes) = scrape.http {
        let name = "sockserv_http_responses_total";
        header(
            &mut page,
            name,
            "counter",
            "HTTP responses sent, by status class.",
        );
        for (i, count) in classes.iter().enumerate() {
            let _ = writeln!(page, "{name}{{class=\"{}xx\"}} {count}", i + 1);
        }
    }
    if let Some([ok, failed]) = scrape.reloads {
        let name = "sockserv_reloads_total";
        let help = "SIGHUP reloads of the TLS certificate and key, by result.";
        header(&mut page, name, "counter", help);
        let _ = writeln!(page, "{name}{{result=\"ok\"}} {ok}");
        let _ = writeln!(page, "{name}{{result=\"failed\"}} {failed}");
    }
    page
}

/// The chat bus's series (`--bus`).
fn render_bus(page: &mut String, bus: &BusStats) {
    let series: [(&str, &str, &str, String); 7] = [
        (
            "sockserv_chat_bus_connected",
            "gauge",
            "Whether the link to the room's other nodes (Redis) is up: 1 or 0.",
            u8::from(bus.connected).to_string(),
        ),
        (
            "sockserv_chat_bus_published_total",
            "counter",
            "Lines this node sent to the room's other nodes.",
            bus.published.to_string(),
        ),
        (
            "sockserv_chat_bus_delivered_total",
            "counter",
            "Lines from the room's other nodes delivered here.",
            bus.delivered.to_string(),
        ),
        (
            "sockserv_chat_bus_refused_total",
            "counter",
            "Lines that reached this node only: the link was down and its queue full.",
            bus.refused.to_string(),
        ),
        (
            "sockserv_chat_bus_queued",
            "gauge",
            "Lines and nick claims waiting for Redis now.",
            bus.queued.to_string(),
        ),
        (
            "sockserv_chat_bus_lag_seconds",
            "gauge",
            "Age of the last line delivered from another node when it was delivered.",
            format!("{:.3}", bus.lag_ms as f64 / 1e3),
        ),
        (
            "sockserv_chat_bus_disconnects_total",
            "counter",
            "Times the link to Redis was lost.",
            bus.disconnects.to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        header(page, name, kind, help);
        let _ = writeln!(page, "{name} {value}");
    }
}

fn header(page: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(page, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newline escaped.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Parses `--metrics HOST:PORT`; a host name is resolved once, to its first address.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("invalid metrics address {text:?}: {e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| format!("invalid metrics address {text:?}: it resolves to nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(accepted: u64, closed: u64, bytes: u64) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.accepted = accepted;
        s.closed = closed;
        s.active = accepted - closed;
        s.bytes_in = bytes;
        s.bytes_out = bytes;
        s
    }

    #[test]
    fn renders_every_series_with_help_type_and_labels() {
        let page = render(&Scrape {
            endpoints: vec![
                ("tcp://127.0.0.1:9000".into(), stats(3, 2, 10)),
                ("unix:/tmp/a\"b\\c".into(), stats(0, 0, 0)),
            ],
            chat: None,
            http: None,
            reloads: None,
        });
        let expected_start = "\
# HELP sockserv_connections_active Connections (or datagrams) being served now.
# TYPE sockserv_connections_active gauge
sockserv_connections_active{endpoint=\"tcp://127.0.0.1:9000\"} 1
sockserv_connections_active{endpoint=\"unix:/tmp/a\\\"b\\\\c\"} 0
# HELP sockserv_connections_total ";
        assert!(page.starts_with(expected_start), "{page}");
        for line in [
            "sockserv_connections_total{endpoint=\"tcp://127.0.0.1:9000\"} 3",
            "sockserv_connections_rejected_total{endpoint=\"tcp://127.0.0.1:9000\",reason=\"verify\"} 0",
            "sockserv_connections_rejected_total{endpoint=\"tcp://127.0.0.1:9000\",reason=\"proxy\"} 0",
            "sockserv_connections_closed_total{endpoint=\"tcp://127.0.0.1:9000\"} 2",
            "sockserv_bytes_received_total{endpoint=\"tcp://127.0.0.1:9000\"} 10",
            "sockserv_bytes_sent_total{endpoint=\"tcp://127.0.0.1:9000\"} 10",
            "sockserv_handler_errors_total{endpoint=\"tcp://127.0.0.1:9000\"} 0",
            "sockserv_handler_panics_total{endpoint=\"tcp://127.0.0.1:9000\"} 0",
            "sockserv_timeouts_total{endpoint=\"tcp://127.0.0.1:9000\"} 0",
            "# TYPE sockserv_timeouts_total counter",
        ] {
            assert!(page.lines().any(|l| l == line), "missing {line:?} in\n{page}");
        }
        assert!(!page.contains("chat"));
        // Every series has exactly one HELP and one TYPE line, and the page ends a line.
        assert_eq!(page.matches("# HELP ").count(), ENDPOINT_SERIES.len());
        assert_eq!(page.matches("# TYPE ").count(), ENDPOINT_SERIES.len());
        assert!(page.ends_with('\n'));
    }

    #[test]
    fn renders_the_bus_series_with_chat() {
        let bus = BusStats {
            connected: true,
            published: 7,
            delivered: 9,
            lag_ms: 1500,
            ..BusStats::default()
        };
        let page = render(&Scrape {
            chat: Some(ChatCounts {
                bus: Some(bus),
                ..ChatCounts::default()
            }),
            ..Scrape::default()
        });
        for line in [
            "sockserv_chat_bus_connected 1\n",
            "sockserv_chat_bus_published_total 7\n",
            "sockserv_chat_bus_delivered_total 9\n",
            "sockserv_chat_bus_lag_seconds 1.500\n",
            "# TYPE sockserv_chat_bus_queued gauge\n",
        ] {
            assert!(page.contains(line), "{line:?} missing from\n{page}");
        }
    }

    #[test]
    fn renders_the_chat_gauges() {
        let page = render(&Scrape {
            endpoints: Vec::new(),
            chat: Some(ChatCounts {
                members: 2,
                dropped: 5,
                bus: None,
            }),
            http: None,
            reloads: None,
        });
        assert!(page.ends_with(
            "# HELP sockserv_chat_members Members in the chat room now.\n\
             # TYPE sockserv_chat_members gauge\n\
             sockserv_chat_members 2\n\
             # HELP sockserv_chat_dropped_total Chat members disconnected because they could not keep up.\n\
             # TYPE sockserv_chat_dropped_total counter\n\
             sockserv_chat_dropped_total 5\n"
        ));
    }

    #[test]
    fn renders_http_responses_by_class() {
        let page = render(&Scrape {
            http: Some([0, 7, 1, 2, 0]),
            ..Scrape::default()
        });
        assert!(
            page.ends_with(
                "# HELP sockserv_http_responses_total HTTP responses sent, by status class.\n\
             # TYPE sockserv_http_responses_total counter\n\
             sockserv_http_responses_total{class=\"1xx\"} 0\n\
             sockserv_http_responses_total{class=\"2xx\"} 7\n\
             sockserv_http_responses_total{class=\"3xx\"} 1\n\
             sockserv_http_responses_total{class=\"4xx\"} 2\n\
             sockserv_http_responses_total{class=\"5xx\"} 0\n"
            ),
            "{page}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn metrics_addresses_parse() {
        assert_eq!(
            parse_addr("127.0.0.1:0"),
            Ok("127.0.0.1:0".parse().unwrap())
        );
        assert!(parse_addr("nonsense").is_err());
    }
}
