//! Who is in the room: the name registry, node heartbeats, and reaping dead nodes.

use std::collections::HashMap;

use redis::{Connection, Pipeline, RedisResult};
use sockserv::bus::Presence;

use crate::link::now_ms;
use crate::shared::Shared;

/// Claims a name for `node`: yes if it was free or is already this node's (a retried
/// claim whose first answer was lost must not be refused by itself).
const CLAIM: &str = "\
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
if owner == ARGV[2] then return 1 end
return 0";

/// Releases a name only if `node` holds it: a late release must not free a name that
/// someone else has claimed since.
const RELEASE: &str = "\
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0";

/// How many numbers to reserve at once, and when to top up.
const NUMBER_BLOCK: u64 = 100;
pub(crate) const NUMBER_LOW: usize = 50;

pub(crate) fn claim(pipe: &mut Pipeline, shared: &Shared, name: &str, node: &str) {
    pipe.cmd("EVAL")
        .arg(CLAIM)
        .arg(1)
        .arg(&shared.keys.names)
        .arg(name)
        .arg(node);
}

pub(crate) fn release(pipe: &mut Pipeline, shared: &Shared, name: &str, node: &str) {
    pipe.cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg(&shared.keys.names)
        .arg(name)
        .arg(node)
        .ignore();
}

/// Writes this node's heartbeat. Returns true if the node was not in the room (its
/// first beat, or it was reaped as dead while cut off).
pub(crate) fn beat(conn: &mut Connection, shared: &Shared) -> RedisResult<bool> {
    let added: i64 = redis::cmd("HSET")
        .arg(&shared.keys.nodes)
        .arg(&shared.node)
        .arg(now_ms())
        .query(conn)?;
    Ok(added == 1)
}

/// Removes this node from the room (on a clean stop).
pub(crate) fn leave(conn: &mut Connection, shared: &Shared) -> RedisResult<()> {
    redis::cmd("HDEL")
        .arg(&shared.keys.nodes)
        .arg(&shared.node)
        .query(conn)
}

/// Finds nodes whose heartbeat is older than `dead_after` and, for each one this node
/// is the first to remove, releases its names. Returns the names released, to be
/// announced as leaving.
pub(crate) fn reap(conn: &mut Connection, shared: &Shared) -> RedisResult<Vec<String>> {
    let nodes: HashMap<String, String> =
        redis::cmd("HGETALL").arg(&shared.keys.nodes).query(conn)?;
    let now = now_ms();
    let limit = shared.config.dead_after.as_millis() as u64;
    let mut released = Vec::new();
    for (node, beat) in nodes {
        // A heartbeat that is not a number is garbage: treat the node as dead.
        let beat = beat.parse::<u64>().unwrap_or(0);
        if node == shared.node || now.saturating_sub(beat) <= limit {
            continue;
        }
        // Whoever deletes the entry reaps the node; the others see 0 and leave it.
        let won: i64 = redis::cmd("HDEL")
            .arg(&shared.keys.nodes)
            .arg(&node)
            .query(conn)?;
        if won != 1 {
            continue;
        }
        let names: HashMap<String, String> =
            redis::cmd("HGETALL").arg(&shared.keys.names).query(conn)?;
        let mut pipe = redis::pipe();
        let mut dead: Vec<String> = names
            .into_iter()
            .filter(|(_, owner)| *owner == node)
            .map(|(name, _)| name)
            .collect();
        dead.sort();
        for name in &dead {
            release(&mut pipe, shared, name, &node);
        }
        pipe.query::<()>(conn)?;
        tracing::warn!(%node, members = dead.len(), "bus: reaped a dead node");
        released.extend(dead);
    }
    Ok(released)
}

/// Replaces the view of the other nodes' names with what the registry holds now.
pub(crate) fn refresh_remote(conn: &mut Connection, shared: &Shared) -> RedisResult<()> {
    let names: HashMap<String, String> =
        redis::cmd("HGETALL").arg(&shared.keys.names).query(conn)?;
    let remote = names
        .into_iter()
        .filter(|(_, owner)| *owner != shared.node)
        .collect();
    *shared.remote() = remote;
    Ok(())
}

/// Tops up the reserve of room-unique numbers when it runs low.
pub(crate) fn top_up_numbers(conn: &mut Connection, shared: &Shared) -> RedisResult<()> {
    if shared.numbers().len() >= NUMBER_LOW {
        return Ok(());
    }
    let end: u64 = redis::cmd("INCRBY")
        .arg(&shared.keys.numbers)
        .arg(NUMBER_BLOCK)
        .query(conn)?;
    shared
        .numbers()
        .extend(end.saturating_sub(NUMBER_BLOCK) + 1..=end);
    Ok(())
}

/// The stream fields of a membership change: kind, name, second name.
pub(crate) fn change_fields(change: &Presence) -> (&'static str, &str, &str) {
    match change {
        Presence::Joined(name) => ("joined", name, ""),
        Presence::Left(name) => ("left", name, ""),
        Presence::Renamed { from, to } => ("renamed", from, to),
        _ => ("", "", ""),
    }
}

/// The change a stream entry's fields describe; `None` for no or unknown change.
pub(crate) fn parse_change(kind: &str, a: &str, b: &str) -> Option<Presence> {
    let valid = |name: &str| !name.is_empty();
    match kind {
        "joined" if valid(a) => Some(Presence::Joined(a.to_owned())),
        "left" if valid(a) => Some(Presence::Left(a.to_owned())),
        "renamed" if valid(a) && valid(b) => Some(Presence::Renamed {
            from: a.to_owned(),
            to: b.to_owned(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_stream_fields() {
        for change in [
            Presence::Joined("ann".into()),
            Presence::Left("bob".into()),
            Presence::Renamed {
                from: "guest1".into(),
                to: "cy".into(),
            },
        ] {
            let (kind, a, b) = change_fields(&change);
            assert_eq!(parse_change(kind, a, b), Some(change));
        }
    }

    #[test]
    fn garbage_fields_are_no_change() {
        assert_eq!(parse_change("joined", "", ""), None);
        assert_eq!(parse_change("renamed", "a", ""), None);
        assert_eq!(parse_change("exploded", "a", "b"), None);
    }
}
