//! The writer thread: sends the outbox to Redis in order, answers claims, beats the
//! heartbeat, reaps dead nodes, and rides out a lost link.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use redis::{Connection, RedisResult};
use sockserv::bus::Presence;

use crate::link::{self, Backoff};
use crate::outbox::Item;
use crate::presence;
use crate::shared::Shared;

/// Most outbox items sent in one pipeline.
const BATCH: usize = 512;
/// On stop, how long the writer keeps trying to send what is queued.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// Names this node holds in the registry, to claim again if it was reaped.
    mine: BTreeSet<String>,
    /// Whether the node has been in the room (so a missing heartbeat means reaped).
    registered: bool,
    /// Since when the link is up: a node reaps others only after a full `dead_after`
    /// connected, so that after an outage everyone has had time to beat again.
    connected_since: Instant,
    next_beat: Instant,
    backoff: Backoff,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            mine: BTreeSet::new(),
            registered: false,
            connected_since: Instant::now(),
            next_beat: Instant::now(),
            backoff: Backoff::default(),
        }
    }

    /// Joins (or rejoins) the room on a fresh connection.
    pub(crate) fn register(&mut self, conn: &mut Connection) -> RedisResult<()> {
        self.housekeeping(conn, false)?;
        self.registered = true;
        self.connected_since = Instant::now();
        Ok(())
    }

    pub(crate) fn run(mut self, mut conn: Option<Connection>) {
        let mut stop_deadline = None;
        loop {
            if self.shared.stopper.is_stopped() {
                let deadline = *stop_deadline.get_or_insert_with(|| Instant::now() + FLUSH_LIMIT);
                let queued = self.shared.outbox().len();
                if queued == 0 || Instant::now() >= deadline {
                    if queued > 0 {
                        tracing::warn!(queued, "bus: stopping with lines Redis never took");
                    }
                    if let Some(conn) = conn.as_mut() {
                        if let Err(e) = presence::leave(conn, &self.shared) {
                            tracing::debug!(error = %e, "bus: could not leave the room cleanly");
                        }
                    }
                    return;
                }
            }
            let Some(live) = conn.as_mut() else {
                let fresh = link::connect(&self.shared.client).and_then(|mut c| {
                    self.register(&mut c)?;
                    Ok(c)
                });
                match fresh {
                    Ok(c) => {
                        conn = Some(c);
                        self.backoff.reset();
                        self.shared.set_connected(true, None);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "bus: reconnect failed");
                        let delay = self.backoff.next();
                        if self.shared.stopper.is_stopped() {
                            std::thread::sleep(delay.min(Duration::from_millis(100)));
                        } else {
                            self.shared.stopper.sleep(delay);
                        }
                    }
                }
                continue;
            };
            if let Err(e) = self.round(live) {
                conn = None;
                self.shared.set_connected(false, Some(&e));
            }
        }
    }

    /// Sends one batch, and does the periodic work when it is due.
    fn round(&mut self, conn: &mut Connection) -> RedisResult<()> {
        let batch = self.wait_for_work();
        if !batch.is_empty() {
            self.send(conn, batch)?;
        }
        if self.shared.numbers().len() < presence::NUMBER_LOW {
            presence::top_up_numbers(conn, &self.shared)?;
        }
        if Instant::now() >= self.next_beat {
            self.housekeeping(conn, true)?;
        }
        Ok(())
    }

    /// Waits until there is something to send, the heartbeat is due, or the numbers
    /// run low; takes a batch.
    fn wait_for_work(&self) -> Vec<Item> {
        let shared = &self.shared;
        let mut outbox = shared.outbox();
        loop {
            if !outbox.is_empty() || shared.stopper.is_stopped() {
                return outbox.take(BATCH);
            }
            let now = Instant::now();
            if now >= self.next_beat || shared.numbers().len() < presence::NUMBER_LOW {
                return Vec::new();
            }
            outbox = shared
                .work
                .wait_timeout(outbox, self.next_beat - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sends a batch in one pipeline; if Redis does not confirm it, it goes back to the
    /// front of the outbox (a retry may append a line twice; readers drop the copy).
    fn send(&mut self, conn: &mut Connection, batch: Vec<Item>) -> RedisResult<()> {
        let shared = Arc::clone(&self.shared);
        let node = shared.node.as_str();
        let mut pipe = redis::pipe();
        for item in &batch {
            match item {
                Item::Publish { seq, line, change } => {
                    let xadd = pipe
                        .cmd("XADD")
                        .arg(&shared.keys.stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(shared.config.max_len)
                        .arg("*")
                        .arg("node")
                        .arg(node)
                        .arg("seq")
                        .arg(*seq)
                        .arg("line")
                        .arg(line.as_slice());
                    if let Some(change) = change {
                        let (kind, a, b) = presence::change_fields(change);
                        xadd.arg("change").arg(kind).arg("a").arg(a).arg("b").arg(b);
                    }
                    xadd.ignore();
                    match change {
                        Some(Presence::Joined(name)) => {
                            presence::claim(&mut pipe, &shared, name, node);
                        }
                        Some(Presence::Left(name)) => {
                            presence::release(&mut pipe, &shared, name, node)
                        }
                        Some(Presence::Renamed { from, .. }) => {
                            presence::release(&mut pipe, &shared, from, node)
                        }
                        _ => {}
                    }
                }
                Item::Claim { name, .. } => presence::claim(&mut pipe, &shared, name, node),
            }
        }
        let answers: Vec<i64> = match pipe.query(conn) {
            Ok(answers) => answers,
            Err(e) => {
                shared.outbox().put_back(batch);
                return Err(e);
            }
        };
        let mut answers = answers.into_iter();
        for item in batch {
            match item {
                Item::Publish { change, .. } => {
                    shared.published.fetch_add(1, Ordering::Relaxed);
                    match change {
                        Some(Presence::Joined(name)) => {
                            // Room-wide numbers make guest names unique; only a member
                            // who took `guestN` by hand a moment before can clash.
                            if answers.next() != Some(1) {
                                tracing::warn!(%name, "bus: a newcomer's name is held on another node too");
                            }
                            self.mine.insert(name);
                        }
                        Some(Presence::Left(name)) => {
                            self.mine.remove(&name);
                        }
                        Some(Presence::Renamed { from, to }) => {
                            self.mine.remove(&from);
                            self.mine.insert(to);
                        }
                        _ => {}
                    }
                }
                Item::Claim { name, answer } => {
                    let won = answers.next() == Some(1);
                    if won {
                        self.mine.insert(name);
                    }
                    answer(won);
                }
            }
        }
        Ok(())
    }

    /// The heartbeat, and what rides on it: rejoining if this node was reaped, reaping
    /// dead nodes, refreshing the view of the other nodes' names.
    fn housekeeping(&mut self, conn: &mut Connection, reap: bool) -> RedisResult<()> {
        let shared = Arc::clone(&self.shared);
        self.next_beat = Instant::now() + shared.config.heartbeat;
        let was_out = presence::beat(conn, &shared)?;
        if was_out && self.registered {
            self.rejoin(conn)?;
        }
        if reap && self.connected_since.elapsed() >= shared.config.dead_after {
            for name in presence::reap(conn, &shared)? {
                let change = Presence::Left(name.clone());
                let line = shared.handler.announce(&change);
                shared.remote().remove(&name);
                if !line.is_empty() {
                    shared.handler.deliver(&line);
                }
                shared.outbox().publish(&line, Some(change));
            }
        }
        presence::refresh_remote(conn, &shared)?;
        presence::top_up_numbers(conn, &shared)
    }

    /// This node was reaped while it was cut off: the others announced its members as
    /// gone. Claims their names again and announces them as joining.
    fn rejoin(&mut self, conn: &mut Connection) -> RedisResult<()> {
        let shared = Arc::clone(&self.shared);
        tracing::warn!(node = %shared.node, members = self.mine.len(), "bus: this node was taken for dead; rejoining");
        if self.mine.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for name in &self.mine {
            presence::claim(&mut pipe, &shared, name, &shared.node);
        }
        let answers: Vec<i64> = pipe.query(conn)?;
        let names = std::mem::take(&mut self.mine);
        for (name, won) in names.into_iter().zip(answers) {
            if won != 1 {
                tracing::warn!(%name, "bus: a name this node held was taken while it was cut off");
                continue;
            }
            let change = Presence::Joined(name);
            let line = shared.handler.announce(&change);
            shared.outbox().publish(&line, Some(change));
        }
        Ok(())
    }
}
