//! SIGHUP: reload what was read from files at start (the TLS certificate and key) in
//! place. New handshakes use the new files; established connections keep theirs; a file
//! that does not load leaves the last good configuration.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sockserv::tls::TlsAcceptor;

/// What SIGHUP reloads: each TLS acceptor with the files it came from.
static WATCHED: Mutex<Vec<(TlsAcceptor, PathBuf, PathBuf)>> = Mutex::new(Vec::new());
static RELOADED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Reloads, counted for `--metrics`: `[succeeded, failed]`; `None` when nothing is
/// reloadable (no `--tls-cert`).
pub fn counts() -> Option<[u64; 2]> {
    let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    (!watched.is_empty()).then(|| {
        [
            RELOADED.load(Ordering::Relaxed),
            FAILED.load(Ordering::Relaxed),
        ]
    })
}

/// Has SIGHUP reload `acceptor` from `cert` and `key`. SIGHUP is process-wide, so the
/// list is too: every command that reads certificates registers them here.
pub fn watch_tls(acceptor: &TlsAcceptor, cert: PathBuf, key: PathBuf) {
    let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    watched.push((acceptor.clone(), cert, key));
}

/// Reloads every watched file, logging one line for each outcome.
pub fn reload_all() {
    let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    if watched.is_empty() {
        crate::logging::status(format_args!("reload: nothing to reload (no --tls-cert)"));
    }
    for (acceptor, cert, key) in watched.iter() {
        match acceptor.reload_pem_files(cert, key) {
            Ok(()) => {
                RELOADED.fetch_add(1, Ordering::Relaxed);
                crate::logging::status(format_args!(
                    "reload: new TLS handshakes use {}",
                    cert.display()
                ));
            }
            Err(e) => {
                FAILED.fetch_add(1, Ordering::Relaxed);
                tracing::error!("reload failed, keeping the previous TLS certificate: {e}");
            }
        }
    }
}
