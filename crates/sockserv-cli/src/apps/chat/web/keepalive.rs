//! [`Ticker`]: the web chat's connections, woken together — periodically from a thread
//! of its own, so each WebSocket can ping a quiet peer (Sessions have no timers), and
//! once at shutdown, so a connection still waiting for its request head closes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread;
use std::time::Duration;

use sockserv::SessionWaker;

/// Wakes its registered connections on [`wake_all`](Ticker::wake_all), and every
/// `period` (if any) from a thread of its own, which ends when the last handle to the
/// ticker is dropped.
pub struct Ticker {
    wakers: Mutex<HashMap<u64, SessionWaker>>,
    next_id: AtomicU64,
    /// Dropped with the ticker: the thread sees the channel close and ends.
    _stop: Mutex<Sender<()>>,
}

impl Ticker {
    /// A ticker; with a `period`, its thread is started.
    ///
    /// # Errors
    ///
    /// When the thread cannot be spawned.
    pub fn start(period: Option<Duration>) -> std::io::Result<Arc<Ticker>> {
        let (stop, stopped) = mpsc::channel::<()>();
        let ticker = Arc::new(Ticker {
            wakers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            _stop: Mutex::new(stop),
        });
        let Some(period) = period else {
            return Ok(ticker);
        };
        let weak: Weak<Ticker> = Arc::downgrade(&ticker);
        thread::Builder::new()
            .name("ws-keepalive".into())
            .spawn(move || loop {
                match stopped.recv_timeout(period) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                let Some(ticker) = weak.upgrade() else {
                    return;
                };
                ticker.wake_all();
            })?;
        Ok(ticker)
    }

    /// Wakes every registered connection now.
    pub fn wake_all(&self) {
        for waker in self.lock().values() {
            waker.wake();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SessionWaker>> {
        // Inserts and removes only: a panic cannot leave the map torn.
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes `waker` on every tick and [`wake_all`](Ticker::wake_all) until the returned registration is dropped.
    pub fn register(self: &Arc<Self>, waker: SessionWaker) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, waker);
        Registration {
            ticker: Arc::clone(self),
            id,
        }
    }
}

/// A connection's place on the [`Ticker`]; dropping it stops the wake-ups.
pub struct Registration {
    ticker: Arc<Ticker>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.ticker.lock().remove(&self.id);
    }
}
