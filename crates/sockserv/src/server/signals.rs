//! [`StopOnSignals`]: SIGINT and SIGTERM turned into a shutdown, for servers that should
//! stop cleanly on Ctrl-C.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::shutdown::ShutdownHandle;

/// While alive, SIGINT (Ctrl-C) and SIGTERM ask servers to shut down instead of killing
/// the process; a *second* signal ends the process at once, as it would without this
/// guard (so a stuck drain can always be interrupted). Dropping the guard stops listening
/// and leaves later signals with their default effect (terminating the process).
///
/// [`Server::serve_until_signal`](crate::Server::serve_until_signal) uses one; use it
/// directly to stop several servers with one Ctrl-C. The signals are caught through a
/// self-pipe and a thread (`signal-hook`): nothing runs inside the signal handler.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use sockserv::{ClosePolicy, Server, StopOnSignals};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut server = Server::builder("tcp://127.0.0.1:9000")
///     .close_policy(ClosePolicy::Drain(Duration::from_secs(5)))
///     .handler(|_conn| Ok(()))
///     .bind()?;
/// let _signals = StopOnSignals::install([server.shutdown_handle()])?;
/// server.serve()?; // returns on Ctrl-C
/// let report = server.close()?; // at most 5 s, then the rest is cut
/// println!("{} finished, {} cut", report.finished, report.cut);
/// # Ok(())
/// # }
/// ```
pub struct StopOnSignals {
    /// Set once a signal came (or the guard is gone): the next one is fatal.
    second_is_fatal: Arc<AtomicBool>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl StopOnSignals {
    /// Starts turning SIGINT and SIGTERM into [`ShutdownHandle::shutdown`] on every one
    /// of `handles`.
    ///
    /// # Errors
    ///
    /// The signal handlers or the thread could not be set up.
    pub fn install(handles: impl IntoIterator<Item = ShutdownHandle>) -> io::Result<Self> {
        let handles: Vec<ShutdownHandle> = handles.into_iter().collect();
        let second_is_fatal = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered before the iterator: a signal that finds the flag set runs the
            // default action (terminates) before anything else.
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&second_is_fatal))?;
        }
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let fatal = Arc::clone(&second_is_fatal);
        let thread = thread::Builder::new()
            .name("sockserv-signals".into())
            .spawn(move || {
                for _signal in signals.forever() {
                    fatal.store(true, Ordering::SeqCst);
                    for stop in &handles {
                        stop.shutdown();
                    }
                }
            });
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                handle.close();
                second_is_fatal.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        Ok(StopOnSignals {
            second_is_fatal,
            handle,
            thread: Some(thread),
        })
    }

    /// Whether a signal has come.
    pub fn signalled(&self) -> bool {
        self.second_is_fatal.load(Ordering::SeqCst)
    }
}

impl Drop for StopOnSignals {
    fn drop(&mut self) {
        // From now on a signal has its default effect again.
        self.second_is_fatal.store(true, Ordering::SeqCst);
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for StopOnSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopOnSignals")
            .field("signalled", &self.signalled())
            .finish_non_exhaustive()
    }
}
