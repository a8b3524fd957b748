//! The Redis keys of one room, all under `sockserv:chat:{ROOM}:`.

/// Key names for one room. The `{ROOM}` braces make every key of a room hash to the
/// same Redis Cluster slot, so multi-key transactions stay possible there.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    /// The stream: one entry per published line, in publish order per node.
    pub(crate) stream: String,
    /// Hash: member name -> id of the node it is on (the name registry).
    pub(crate) names: String,
    /// Hash: node id -> its last heartbeat, in ms since the Unix epoch.
    pub(crate) nodes: String,
    /// Counter handing out numbers unique across nodes (guest names).
    pub(crate) numbers: String,
}

impl Keys {
    pub(crate) fn new(room: &str) -> Self {
        let base = format!("sockserv:chat:{{{room}}}:");
        Self {
            stream: format!("{base}stream"),
            names: format!("{base}names"),
            nodes: format!("{base}nodes"),
            numbers: format!("{base}numbers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_a_room_share_a_hash_tag() {
        let keys = Keys::new("lobby");
        assert_eq!(keys.stream, "sockserv:chat:{lobby}:stream");
        assert_eq!(keys.names, "sockserv:chat:{lobby}:names");
        assert!(keys.nodes.starts_with("sockserv:chat:{lobby}:"));
    }
}
