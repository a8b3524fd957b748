//! The reader thread: follows the room's stream from the last delivered entry and hands
//! the other nodes' lines to the handler, each once.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use redis::streams::{StreamId, StreamReadReply};
use redis::{Connection, RedisResult, Value};

use crate::link::{self, now_ms, Backoff};
use crate::presence;
use crate::shared::Shared;

/// Entries read per XREAD, and how long one waits for new entries (ms).
const COUNT: usize = 1000;
const BLOCK_MS: u64 = 500;
/// Most bytes handed over at once: a member's queue is bounded (a chat member's by
/// `--max-queue`), and one delivery must stay well within any sane bound.
const MAX_BATCH: usize = 16 * 1024;

/// The id of the newest entry in `stream`, if it has any.
pub(crate) fn newest_id(conn: &mut Connection, stream: &str) -> RedisResult<Option<String>> {
    let reply: Value = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(conn)?;
    let Value::Array(entries) = reply else {
        return Ok(None);
    };
    Ok(entries.into_iter().next().and_then(|entry| match entry {
        Value::Array(parts) => match parts.into_iter().next() {
            Some(Value::BulkString(id)) => String::from_utf8(id).ok(),
            Some(Value::SimpleString(id)) => Some(id),
            _ => None,
        },
        _ => None,
    }))
}

/// A stream id as (milliseconds, sequence), for comparing; `None` if it is not one.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

pub(crate) fn run(shared: &Shared, mut last_id: String) {
    let mut reader = Reader {
        shared,
        seen: HashMap::new(),
        batch: Vec::new(),
    };
    let mut conn: Option<Connection> = None;
    let mut backoff = Backoff::default();
    while !shared.stopper.is_stopped() {
        let Some(live) = conn.as_mut() else {
            match link::connect(&shared.client).and_then(|mut c| {
                check_for_loss(&mut c, &shared.keys.stream, &mut last_id)?;
                Ok(c)
            }) {
                Ok(c) => {
                    conn = Some(c);
                    backoff.reset();
                }
                Err(e) => {
                    tracing::debug!(error = %e, "bus: reader reconnect failed");
                    shared.stopper.sleep(backoff.next());
                }
            }
            continue;
        };
        let reply: RedisResult<Option<StreamReadReply>> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(COUNT)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("STREAMS")
            .arg(&shared.keys.stream)
            .arg(&last_id)
            .query(live);
        match reply {
            Ok(Some(reply)) => {
                for key in reply.keys {
                    for entry in key.ids {
                        last_id.clone_from(&entry.id);
                        reader.apply(&entry);
                    }
                }
                reader.flush();
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "bus: Redis read failed");
                conn = None;
                shared.stopper.sleep(backoff.next());
            }
        }
    }
}

/// After a reconnect: if the stream is now behind the last id read, Redis lost data
/// (restarted without its append-only file, or the key was deleted). Reading on from
/// the old id would skip everything new, so read the stream from its start: the
/// per-node sequence numbers drop what was already delivered.
fn check_for_loss(conn: &mut Connection, stream: &str, last_id: &mut String) -> RedisResult<()> {
    let newest = newest_id(conn, stream)?;
    let behind = match (newest.as_deref().and_then(parse_id), parse_id(last_id)) {
        (Some(newest), Some(last)) => newest < last,
        (None, Some(last)) => last != (0, 0),
        (_, None) => true,
    };
    if behind {
        tracing::warn!(stream, last = %last_id, "bus: the stream lost entries (Redis lost its data?); reading it again from the start");
        *last_id = "0-0".to_owned();
    }
    Ok(())
}

struct Reader<'a> {
    shared: &'a Shared,
    /// The highest sequence number delivered from each node.
    seen: HashMap<String, u64>,
    /// The lines of the current read, delivered together by [`Reader::flush`].
    batch: Vec<u8>,
}

impl Reader<'_> {
    fn apply(&mut self, entry: &StreamId) {
        let shared = self.shared;
        let text = |field: &str| match entry.map.get(field) {
            Some(Value::BulkString(bytes)) => Some(bytes.as_slice()),
            Some(Value::SimpleString(s)) => Some(s.as_bytes()),
            _ => None,
        };
        let str_field = |field: &str| text(field).and_then(|b| std::str::from_utf8(b).ok());
        let (Some(node), Some(seq), Some(line)) = (
            str_field("node"),
            str_field("seq").and_then(|s| s.parse::<u64>().ok()),
            text("line"),
        ) else {
            tracing::warn!(id = %entry.id, "bus: skipping a stream entry that is not ours");
            return;
        };
        if node == shared.node {
            return;
        }
        let last = self.seen.entry(node.to_owned()).or_insert(0);
        if seq <= *last {
            return; // a retried XADD's second copy, or a re-read after data loss
        }
        *last = seq;
        if let Some(change) = presence::parse_change(
            str_field("change").unwrap_or(""),
            str_field("a").unwrap_or(""),
            str_field("b").unwrap_or(""),
        ) {
            shared.apply_remote(node, &change);
        }
        // Counted before delivery (at the end of the read): whoever has seen the line
        // sees it counted.
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        if let Some((ms, _)) = parse_id(&entry.id) {
            shared
                .lag_ms
                .store(now_ms().saturating_sub(ms), Ordering::Relaxed);
        }
        self.batch.extend_from_slice(line);
        if self.batch.len() >= MAX_BATCH {
            self.flush();
        }
    }

    /// Delivers the lines gathered from one read, in stream order, in one go.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.shared.handler.deliver(&self.batch);
            self.batch.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(parse_id("1700000000000-10") > parse_id("1700000000000-9"));
        assert!(parse_id("999-0") < parse_id("1000-0"));
        assert_eq!(parse_id("garbage"), None);
    }
}
