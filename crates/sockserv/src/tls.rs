//! TLS for [`Session`](crate::Session)s: a wrapper Session, TLS outside and plaintext inside.
//!
//! [`TlsSession`] owns a sans-IO [`rustls::ServerConnection`] and the application's own
//! Session: the driver feeds it ciphertext, the inner Session sees plaintext, and what
//! the inner Session writes goes out encrypted. Because the wrapper is just another
//! Session, TLS runs under every [`Strategy`](crate::Strategy) (threads, pool, fork,
//! events) with no change to the drivers.
//!
//! TLS covers Sessions only: a blocking [`StreamHandler`](crate::StreamHandler) reads its
//! socket itself and is served in plaintext. The stock servers are Sessions. Serve TLS on
//! stream endpoints only (TCP, Unix): a datagram is not a connection.
//!
//! Certificates are replaced in place: [`TlsAcceptor::reload_pem_files`] (or
//! [`TlsAcceptor::replace`]) changes what every later handshake uses, in every factory
//! the acceptor made, while connections already established keep theirs.
//!
//! # Examples
//!
//! ```no_run
//! use std::path::Path;
//! use sockserv::tls::TlsAcceptor;
//! use sockserv::{Output, PeerAddr, Server, Session};
//!
//! struct Echo;
//!
//! impl Session for Echo {
//!     fn on_data(&mut self, data: &[u8], out: &mut Output) {
//!         out.write(data);
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = TlsAcceptor::from_pem_files(Path::new("cert.pem"), Path::new("key.pem"))?;
//! let mut server = Server::builder("tcp://127.0.0.1:9443")
//!     .session_factory(tls.wrap(|_: &PeerAddr| Echo))
//!     .bind()?;
//! server.serve()?;
//! # Ok(())
//! # }
//! ```

mod session;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::endpoint::PeerAddr;
use crate::session::SessionFactory;

/// The rustls this module is built on, for building a [`rustls::ServerConfig`] by hand.
pub use rustls;
pub use session::TlsSession;

/// Makes TLS server sessions from a [`rustls::ServerConfig`] that can be replaced while
/// serving (a renewed certificate). Cheap to clone; clones share the configuration.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Shared,
}

/// The configuration every clone of an acceptor and every factory it made reads at each
/// new connection: one lock-free load per handshake, nothing per byte. Not a lock: under
/// the fork strategy a child opens its session in a copy of the parent, which must not
/// hold a lock another thread (a reload) took.
type Shared = Arc<ArcSwap<ServerConfig>>;

fn current(config: &Shared) -> Arc<ServerConfig> {
    config.load_full()
}

impl TlsAcceptor {
    /// An acceptor for `config` (certificates, protocol versions, ALPN: all rustls's).
    ///
    /// # Errors
    ///
    /// [`TlsError::Config`] if rustls cannot start a server connection with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Result<TlsAcceptor, TlsError> {
        check(&config)?;
        Ok(TlsAcceptor {
            config: Arc::new(ArcSwap::new(config)),
        })
    }

    /// An acceptor for a PEM certificate chain (the server's certificate first, then
    /// intermediates) and its PEM private key (PKCS#8, PKCS#1 or SEC1), with rustls's safe
    /// defaults: TLS 1.2 and 1.3, no client authentication, and the process-default
    /// crypto provider — the one the application installed with
    /// `rustls::crypto::CryptoProvider::install_default`, else `ring` (the provider this
    /// crate's `tls` feature enables).
    ///
    /// # Panics
    ///
    /// If no provider was installed and the build enables more than one (another crate
    /// turned on rustls's `aws-lc-rs` feature too): install one first, as rustls asks.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file that cannot be read or holds nothing usable, or
    /// [`TlsError::Config`] when the key does not match the certificate.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
        TlsAcceptor::new(config_from_pem_files(cert, key)?)
    }

    /// Offers `protocols` in ALPN (RFC 7301), most preferred first — `http/1.1` for an
    /// HTTP server, so clients that ask (browsers, curl) know what they speak — on every
    /// later handshake. A [`reload_pem_files`](TlsAcceptor::reload_pem_files) keeps them.
    pub fn with_alpn(self, protocols: &[&[u8]]) -> TlsAcceptor {
        let mut config = ServerConfig::clone(&self.config());
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        self.config.store(Arc::new(config));
        self
    }

    /// Makes every later handshake use `config`, in every clone of this acceptor and
    /// every factory it made. Connections already established, and handshakes already
    /// begun, keep the configuration they started with.
    ///
    /// # Errors
    ///
    /// [`TlsError::Config`] if rustls cannot start a server connection with `config`;
    /// the previous configuration stays then.
    pub fn replace(&self, config: Arc<ServerConfig>) -> Result<(), TlsError> {
        check(&config)?;
        self.config.store(config);
        Ok(())
    }

    /// Reads `cert` and `key` again (as [`TlsAcceptor::from_pem_files`] does) and
    /// [`replace`](TlsAcceptor::replace)s the configuration with them: how a renewed
    /// certificate is taken without a restart.
    ///
    /// # Panics
    ///
    /// As [`TlsAcceptor::from_pem_files`].
    ///
    /// # Errors
    ///
    /// As [`TlsAcceptor::from_pem_files`]; nothing changes then, so a half-written or
    /// mismatched pair never replaces a working one.
    pub fn reload_pem_files(&self, cert: &Path, key: &Path) -> Result<(), TlsError> {
        let mut config = config_from_pem_files(cert, key)?;
        // The files hold certificates only: the protocols offered stay as they were.
        let alpn = &self.config().alpn_protocols;
        if !alpn.is_empty() {
            Arc::make_mut(&mut config).alpn_protocols = alpn.clone();
        }
        self.replace(config)
    }

    /// The rustls configuration new sessions start from now.
    pub fn config(&self) -> Arc<ServerConfig> {
        current(&self.config)
    }

    /// A factory whose sessions run `factory`'s sessions over TLS, with the configuration
    /// current when each connection opens.
    pub fn wrap<F: SessionFactory>(&self, factory: F) -> TlsFactory<F> {
        TlsFactory {
            config: Arc::clone(&self.config),
            inner: factory,
        }
    }
}

/// Fails here, once, rather than on every connection.
fn check(config: &Arc<ServerConfig>) -> Result<(), TlsError> {
    rustls::ServerConnection::new(Arc::clone(config))
        .map(drop)
        .map_err(|source| TlsError::Config { source })
}

/// rustls's safe defaults (TLS 1.2 and 1.3, the process-default provider, no client
/// authentication) with the PEM chain in `cert` and the PEM key in `key`.
fn config_from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_error = |path: &Path, what, source| TlsError::Pem {
        path: path.to_owned(),
        what,
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| pem_error(cert, "certificate", source))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificates {
            path: cert.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|source| pem_error(key, "private key", source))?;
    // The process-default provider: one the application installed, else the one this
    // crate's features select (ring). `rustls::crypto::ring::default_provider` is
    // deprecated since rustls 0.23.48.
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Config { source })?;
    Ok(Arc::new(config))
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

/// A [`SessionFactory`] making [`TlsSession`]s around another factory's sessions (see
/// [`TlsAcceptor::wrap`]).
pub struct TlsFactory<F> {
    config: Shared,
    inner: F,
}

impl<F: SessionFactory> SessionFactory for TlsFactory<F> {
    type Session = TlsSession<F::Session>;

    fn open(&self, peer: &PeerAddr) -> TlsSession<F::Session> {
        let conn = rustls::ServerConnection::new(current(&self.config))
            .expect("TlsAcceptor::new and replace checked that this config makes connections");
        TlsSession::new(conn, self.inner.open(peer))
    }
}

impl<F> fmt::Debug for TlsFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFactory").finish_non_exhaustive()
    }
}

/// Why a TLS configuration could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read, or holds no item of the kind wanted.
    Pem {
        /// The file.
        path: PathBuf,
        /// What was looked for: `"certificate"` or `"private key"`.
        what: &'static str,
        /// Why it failed.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration (for example the key does not match the
    /// certificate).
    Config {
        /// rustls's reason.
        source: rustls::Error,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { path, what, source } => {
                write!(f, "cannot load the {what} from {}: ", path.display())?;
                match source {
                    rustls_pki_types::pem::Error::Io(e) => write!(f, "{e}"),
                    rustls_pki_types::pem::Error::NoItemsFound => {
                        write!(f, "no PEM {what} in the file")
                    }
                    other => write!(f, "{other}"),
                }
            }
            TlsError::NoCertificates { path } => {
                write!(f, "no PEM certificate in {}", path.display())
            }
            TlsError::Config { source } => write!(f, "invalid TLS configuration: {source}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Pem { source, .. } => Some(source),
            TlsError::NoCertificates { .. } => None,
            TlsError::Config { source } => Some(source),
        }
    }
}
