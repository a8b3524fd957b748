//! An in-memory TLS pair for the `TlsSession` tests: a rustls client and the wrapped
//! Session under `sockserv::driver::InMemory`, pumping bytes both ways — no sockets, no
//! timing.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use sockserv::driver::InMemory;
use sockserv::tls::{TlsAcceptor, TlsSession};
use sockserv::{PeerAddr, Session, SessionFactory};
use testkit::Certs;

/// The server side of `certs`.
pub fn acceptor(certs: &Certs) -> TlsAcceptor {
    TlsAcceptor::from_pem_files(&certs.path("cert.pem"), &certs.path("key.pem")).unwrap()
}

/// A client of `localhost` that trusts `certs`' CA.
pub fn tls_client(certs: &Certs) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    roots.add(certs.ca().clone()).unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = ClientConnection::new(Arc::new(config), name).unwrap();
    // Large test payloads are written at once.
    client.set_buffer_limit(None);
    client
}

/// A rustls client and a TLS server session, connected in memory.
pub struct Pair<S: Session> {
    pub client: ClientConnection,
    pub server: InMemory<TlsSession<S>>,
    pub got: Vec<u8>,
    pub got_close_notify: bool,
    /// The most output the server held after a transmit (what it read ahead).
    pub most_queued: u64,
}

impl<S: Session> Pair<S> {
    pub fn open(certs: &Certs, factory: impl SessionFactory<Session = S>) -> Pair<S> {
        Pair::open_with(tls_client(certs), &acceptor(certs).wrap(factory))
    }

    /// `client` against a session `factory` opens (an acceptor's factory).
    pub fn open_with(
        client: ClientConnection,
        factory: &impl SessionFactory<Session = TlsSession<S>>,
    ) -> Pair<S> {
        let peer = PeerAddr::Inet("127.0.0.1:1".parse().unwrap());
        let server = InMemory::open(factory.open(&peer));
        Pair {
            client,
            server,
            got: Vec::new(),
            got_close_notify: false,
            most_queued: 0,
        }
    }

    /// Moves bytes both ways until neither side has anything to send.
    pub fn pump(&mut self) -> Result<(), rustls::Error> {
        loop {
            let mut to_server = Vec::new();
            while self.client.wants_write() {
                self.client.write_tls(&mut to_server).unwrap();
            }
            self.server.feed(&to_server);
            let to_client = self.server.transmit().expect("queued files are readable");
            self.most_queued = self.most_queued.max(self.server.output().queued());
            let mut rest = &to_client[..];
            while !rest.is_empty() {
                self.client.read_tls(&mut rest).unwrap();
                self.client.process_new_packets()?;
                self.drain_client();
            }
            if to_server.is_empty() && to_client.is_empty() {
                return Ok(());
            }
        }
    }

    /// The plaintext the client has received since the last call, and whether the
    /// server's close_notify came after it.
    pub fn received(&mut self) -> (Vec<u8>, bool) {
        (std::mem::take(&mut self.got), self.got_close_notify)
    }

    /// Reads the client's plaintext (rustls's buffer for it is bounded).
    pub fn drain_client(&mut self) {
        let mut buf = [0; 4096];
        loop {
            match self.client.reader().read(&mut buf) {
                Ok(0) => return self.got_close_notify = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.client.writer().write_all(data).unwrap();
    }

    /// The client's pending TLS records, handed to the server without reading its answer
    /// (a peer that does not read).
    pub fn send_records(&mut self) {
        let mut records = Vec::new();
        while self.client.wants_write() {
            self.client.write_tls(&mut records).unwrap();
        }
        self.server.feed(&records);
    }
}
