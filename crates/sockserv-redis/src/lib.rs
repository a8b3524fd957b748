//! A [`Bus`] on Redis Streams: the groups of several sockserv nodes become one room.
//!
//! Each node runs a [`RedisBus`] for its room. What a node publishes is appended to one
//! stream per room (`XADD`, trimmed to about [`BusConfig::max_len`] entries); every node
//! reads the stream from the last entry id it delivered (`XREAD BLOCK`), so a node that
//! loses Redis for a while picks up exactly where it stopped. Each entry carries its
//! node's id and a per-node sequence number: a line whose `XADD` is retried after a
//! lost reply is appended twice but delivered once. Lines are never delivered back to
//! their own node (it delivered them locally already).
//!
//! Names (chat nicks) are claimed in a hash (`name -> node`) atomically, so two nodes
//! cannot hand out the same one. Each node writes a heartbeat into a hash of nodes
//! every [`BusConfig::heartbeat`]; a node whose heartbeat is older than
//! [`BusConfig::dead_after`] (killed, or cut off) is reaped by the first live node that
//! notices: its names are released and announced as leaving, once.
//!
//! Two bridge threads per node talk to Redis with the `redis` crate's blocking client:
//! a writer (the outbox, claims, heartbeat, reaping) and a reader. Nothing the node's
//! sessions call ever waits on Redis: [`Bus::publish`] and [`Bus::claim`] only queue.
//! While Redis is away the writer keeps the node's lines (at most
//! [`BusConfig::max_queue`], in order), retries with back-off, and sends them when the
//! link is back; the handler hears [`BusHandler::link_changed`] once each way.
//!
//! # Other engines
//!
//! Anything with an ordered, durable, replayable log and an atomic compare-and-set can
//! sit behind the same [`Bus`] trait. NATS JetStream, for example: one stream per room
//! (subject `chat.ROOM`, `MaxMsgs` for the trim), each node an ordered consumer
//! resuming from the last delivered sequence, the message id header (`Nats-Msg-Id:
//! NODE-SEQ`) for the duplicate window, and a key-value bucket (`kv.create` only
//! succeeds for a new key) for names and heartbeats (a TTL on the bucket expires dead
//! nodes).
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use sockserv::Group;
//! use sockserv_redis::{BusConfig, RedisBus};
//!
//! let group = Group::new(1 << 20);
//! let bus = RedisBus::start("redis://127.0.0.1:6379", BusConfig::new("lobby"), Arc::new(group.clone()))?;
//! // what local members send goes to the group and to `bus.publish`; the bus
//! // delivers what the other nodes send to `group`.
//! # Ok::<(), sockserv_redis::StartError>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod keys;
mod link;
mod outbox;
mod presence;
mod reader;
mod shared;
mod writer;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use sockserv::bus::{Bus, BusHandler, ClaimAnswer, Presence};

use self::keys::Keys;
use self::link::Stopper;
use self::outbox::Outbox;
use self::shared::Shared;

/// How a node uses its room in Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusConfig {
    /// The room's name: nodes with the same name (on the same Redis and database) are
    /// one room.
    pub room: String,
    /// The stream is trimmed to about this many entries (`XADD MAXLEN ~`). A node that
    /// falls further behind than this (a link down for that many lines) misses the
    /// oldest ones.
    pub max_len: u64,
    /// Most lines kept for Redis while it is away; beyond this, `publish` refuses.
    pub max_queue: usize,
    /// How often a node writes its heartbeat.
    pub heartbeat: Duration,
    /// A node silent for this long is dead: its members leave the room.
    pub dead_after: Duration,
}

impl BusConfig {
    /// The defaults for `room`: 100,000 entries, 10,000 queued lines, a heartbeat every
    /// 500 ms, dead after 3 s of silence.
    pub fn new(room: &str) -> Self {
        Self {
            room: room.to_owned(),
            max_len: 100_000,
            max_queue: 10_000,
            heartbeat: Duration::from_millis(500),
            dead_after: Duration::from_secs(3),
        }
    }
}

/// Why a bus could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The URL is not a Redis URL (`redis://HOST:PORT[/DB]`).
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        source: redis::RedisError,
    },
    /// Redis did not answer at that URL.
    Unreachable {
        /// The URL given.
        url: String,
        /// The error.
        source: redis::RedisError,
    },
    /// A bridge thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Url { url, source } => write!(
                f,
                "invalid bus URL {url:?} (expected redis://HOST:PORT[/DB]): {source}"
            ),
            StartError::Unreachable { url, source } => {
                write!(f, "cannot reach Redis at {url}: {source}")
            }
            StartError::Thread(e) => write!(f, "cannot start the bus threads: {e}"),
        }
    }
}

/// The message already says what the source says (the `redis` crate's errors repeat
/// their own causes), so the chain stops here: one line, once.
impl std::error::Error for StartError {}

/// A snapshot of a bus's counters, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Whether the link to Redis is up now.
    pub connected: bool,
    /// Lines this node appended to the stream.
    pub published: u64,
    /// Lines from other nodes delivered to this node.
    pub delivered: u64,
    /// Lines refused because the queue was full while Redis was away.
    pub refused: u64,
    /// Lines and claims waiting for Redis now.
    pub queued: usize,
    /// Age of the last delivered line when it was delivered, in ms (how far behind the
    /// reader runs).
    pub lag_ms: u64,
    /// Times the link was lost.
    pub disconnects: u64,
}

/// One node's link to its room in Redis; see the [crate docs](crate).
///
/// Dropping it (or [`RedisBus::close`]) stops the bridge threads after trying, for up
/// to two seconds, to send what is still queued, and removes the node from the room.
pub struct RedisBus {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("node", &self.shared.node)
            .field("room", &self.shared.config.room)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisBus {
    /// Connects to Redis at `url` (`redis://HOST:PORT[/DB]`), joins the room and starts
    /// the bridge threads; lines from other nodes go to `handler`.
    ///
    /// # Errors
    ///
    /// [`StartError::Url`] for a URL that is not Redis's, [`StartError::Unreachable`]
    /// when Redis does not answer there now (a node does not start without its room;
    /// once started, it rides out Redis going away).
    pub fn start(
        url: &str,
        config: BusConfig,
        handler: Arc<dyn BusHandler>,
    ) -> Result<RedisBus, StartError> {
        let client = redis::Client::open(url).map_err(|source| StartError::Url {
            url: url.to_owned(),
            source,
        })?;
        let unreachable = |source| StartError::Unreachable {
            url: url.to_owned(),
            source,
        };
        let mut conn = link::connect(&client).map_err(unreachable)?;
        redis::cmd("PING")
            .query::<()>(&mut conn)
            .map_err(unreachable)?;
        let keys = Keys::new(&config.room);
        // Read from the stream's end as it is now: a new node hears what is sent after
        // it joined, like a new member.
        let start_id = reader::newest_id(&mut conn, &keys.stream)
            .map_err(unreachable)?
            .unwrap_or_else(|| "0-0".to_owned());
        let max_queue = config.max_queue;
        let shared = Arc::new(Shared {
            client,
            keys,
            node: node_id(),
            config,
            handler,
            outbox: Mutex::new(Outbox::new(max_queue)),
            work: Condvar::new(),
            remote: Mutex::new(BTreeMap::new()),
            numbers: Mutex::new(VecDeque::new()),
            stopper: Stopper::default(),
            connected: AtomicBool::new(true),
            published: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            lag_ms: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
        });
        let mut writer = writer::Writer::new(Arc::clone(&shared));
        writer.register(&mut conn).map_err(unreachable)?;
        tracing::info!(node = %shared.node, room = %shared.config.room, "bus: joined the room on Redis");
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(body)
                .map_err(StartError::Thread)
        };
        let reader_shared = Arc::clone(&shared);
        let threads = vec![
            spawn("bus-writer", Box::new(move || writer.run(Some(conn))))?,
            spawn(
                "bus-reader",
                Box::new(move || reader::run(&reader_shared, start_id)),
            )?,
        ];
        Ok(RedisBus {
            shared,
            threads: Mutex::new(threads),
        })
    }

    /// This node's id in the room (unique per process start).
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// The counters now.
    pub fn stats(&self) -> BusStats {
        let s = &self.shared;
        BusStats {
            connected: s.connected.load(Ordering::Acquire),
            published: s.published.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            queued: s.outbox().len(),
            lag_ms: s.lag_ms.load(Ordering::Relaxed),
            disconnects: s.disconnects.load(Ordering::Relaxed),
        }
    }

    /// Sends what is queued (for up to two seconds), leaves the room and stops the
    /// threads; publishing afterwards only queues. Dropping the bus does this too; call
    /// it when the bus is shared (its handler usually holds it too).
    pub fn close(&self) {
        self.shared.stopper.stop();
        self.shared.work.notify_all();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("bus: a bridge thread panicked");
            }
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.close();
    }
}

impl Bus for RedisBus {
    fn publish(&self, line: &[u8], change: Option<Presence>) -> bool {
        let queued = self.shared.outbox().publish(line, change);
        if queued {
            self.shared.work.notify_one();
        } else {
            self.shared.refused.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    fn claim(&self, name: &str, answer: ClaimAnswer) {
        self.shared.outbox().claim(name, answer);
        self.shared.work.notify_one();
    }

    fn remote_names(&self) -> Vec<String> {
        self.shared.remote().keys().cloned().collect()
    }

    fn unique_number(&self) -> Option<u64> {
        let number = self.shared.numbers().pop_front();
        // The writer tops the reserve up on its next round.
        self.shared.work.notify_one();
        number
    }
}

/// An id for this process's node: host, pid, and random bits (a restarted node is a new
/// node; its old self is reaped like a dead one).
fn node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{}-{}-{:08x}",
        if host.is_empty() { "node" } else { &host },
        std::process::id(),
        random as u32
    )
}
