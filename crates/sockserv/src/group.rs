//! 1:N broadcast: a group of connections with bounded per-member queues.
