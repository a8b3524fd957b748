//! `sockserv chat --bus`'s flags: the room across nodes.

use clap::Args;

/// `sockserv chat --bus`: one room over several nodes through Redis.
#[derive(Debug, Args)]
pub struct BusArgs {
    /// Join the room with every other node on this Redis: redis://HOST:PORT[/DB].
    ///
    /// All nodes of a room behave as one server: lines, notices and /me reach every
    /// member, /who lists every node's members, a nick is unique across nodes. Lines go
    /// through a Redis stream that each node reads from where it stopped, so a node that
    /// loses Redis tells its members once, keeps them chatting locally, queues their
    /// lines (--bus-queue) and, when Redis is back, sends them and catches up: nothing
    /// lost, nothing twice. The node must reach Redis when it starts (else it exits with
    /// an error); afterwards it rides out Redis going away (a /nick asked meanwhile is
    /// answered when Redis is back). A node that dies is noticed by the others within
    /// about 3 s: its members leave /who, announced as leaving.
    #[arg(long, value_name = "URL", value_parser = parse_bus_url)]
    pub bus: Option<String>,

    /// The room's name on the bus: nodes with the same --bus and --room are one room.
    #[arg(long, value_name = "NAME", default_value = "lobby", requires = "bus", value_parser = parse_room)]
    pub room: String,

    /// Keep about this many lines in the room's Redis stream (XADD MAXLEN ~). A node cut
    /// off for longer than that many lines misses the oldest ones.
    #[arg(long, value_name = "N", default_value_t = 100_000, requires = "bus", value_parser = clap::value_parser!(u64).range(1000..))]
    pub bus_max_len: u64,

    /// Most lines a node keeps for Redis while it is away; past this a sender is told
    /// its line reached this node only.
    #[arg(long, value_name = "N", default_value_t = 10_000, requires = "bus", value_parser = clap::value_parser!(u64).range(1..))]
    pub bus_queue: u64,
}

/// `redis://HOST:PORT[/DB]`; the rest (reachability) is checked when the bus starts.
fn parse_bus_url(text: &str) -> Result<String, String> {
    match text.strip_prefix("redis://") {
        Some(rest) if !rest.is_empty() => Ok(text.to_owned()),
        _ => Err(format!(
            "invalid bus URL {text:?}: expected redis://HOST:PORT[/DB]"
        )),
    }
}

/// A room name: 1-64 of `A-Z a-z 0-9 _ - .` (it becomes part of Redis key names).
fn parse_room(text: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid room {text:?}: use 1-64 of A-Z a-z 0-9 _ - ."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_urls_and_room_names_are_checked_up_front() {
        assert!(parse_bus_url("redis://127.0.0.1:6379/2").is_ok());
        assert!(parse_bus_url("redis://").is_err());
        assert!(parse_bus_url("127.0.0.1:6379").is_err());
        assert_eq!(parse_room("team-1.eu"), Ok("team-1.eu".to_owned()));
        for bad in ["", "a b", "x{y}", &"r".repeat(65)] {
            assert!(parse_room(bad).is_err(), "{bad:?}");
        }
    }
}
