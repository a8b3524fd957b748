//! Certificate rotation in place: `TlsAcceptor::reload_pem_files` changes what new
//! handshakes present, in every factory the acceptor made, while established sessions
//! go on; a file that does not load changes nothing.

mod tls_pair;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sockserv::{Output, PeerAddr, Session};
use testkit::Certs;
use tls_pair::{acceptor, tls_client, Pair};

struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

/// The certificate a handshake through `pair` presented.
fn presented(pair: &Pair<Echo>) -> CertificateDer<'static> {
    pair.client.peer_certificates().expect("handshake done")[0]
        .clone()
        .into_owned()
}

fn leaf(certs: &Certs) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(certs.path("cert.pem")).unwrap()
}

fn round_trip(pair: &mut Pair<Echo>, data: &[u8]) {
    pair.send(data);
    pair.pump().unwrap();
    assert_eq!(pair.received().0, data);
}

#[test]
fn reloaded_files_serve_new_handshakes_and_established_sessions_go_on() {
    let (first, second) = (Certs::generate(), Certs::generate());
    let tls = acceptor(&first);
    let factory = tls.wrap(|_: &PeerAddr| Echo);

    let mut before = Pair::open_with(tls_client(&first), &factory);
    before.pump().unwrap();
    assert_eq!(presented(&before), leaf(&first));

    tls.reload_pem_files(&second.path("cert.pem"), &second.path("key.pem"))
        .unwrap();
    let mut after = Pair::open_with(tls_client(&second), &factory);
    after.pump().unwrap();
    assert_eq!(
        presented(&after),
        leaf(&second),
        "a new handshake uses the new files"
    );
    round_trip(&mut after, b"new\n");
    round_trip(&mut before, b"the established session is untouched\n");
}

#[test]
fn a_file_that_does_not_load_leaves_the_last_good_one() {
    let (first, second) = (Certs::generate(), Certs::generate());
    let tls = acceptor(&first);
    let factory = tls.wrap(|_: &PeerAddr| Echo);
    let broken = first.path("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    for (cert, key) in [
        (broken.clone(), first.path("key.pem")),            // garbage
        (first.path("missing.pem"), first.path("key.pem")), // gone
        (second.path("cert.pem"), first.path("key.pem")),   // the key of another cert
    ] {
        let err = tls.reload_pem_files(&cert, &key).unwrap_err();
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        let mut pair = Pair::open_with(tls_client(&first), &factory);
        pair.pump().unwrap();
        assert_eq!(presented(&pair), leaf(&first), "after {err}");
        round_trip(&mut pair, b"still served\n");
    }
}

/// A client of `certs` that offers `h2` and `http/1.1` in ALPN.
fn alpn_client(certs: &Certs) -> rustls::ClientConnection {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs.ca().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}

#[test]
fn alpn_is_offered_and_survives_a_reload() {
    let (first, second) = (Certs::generate(), Certs::generate());
    let tls = acceptor(&first).with_alpn(&[b"http/1.1"]);
    let factory = tls.wrap(|_: &PeerAddr| Echo);
    let mut before = Pair::open_with(alpn_client(&first), &factory);
    before.pump().unwrap();
    assert_eq!(before.client.alpn_protocol(), Some(&b"http/1.1"[..]));

    tls.reload_pem_files(&second.path("cert.pem"), &second.path("key.pem"))
        .unwrap();
    let mut after = Pair::open_with(alpn_client(&second), &factory);
    after.pump().unwrap();
    assert_eq!(presented(&after), leaf(&second));
    assert_eq!(after.client.alpn_protocol(), Some(&b"http/1.1"[..]));

    // Without ALPN configured, nothing is chosen.
    let plain = acceptor(&first).wrap(|_: &PeerAddr| Echo);
    let mut none = Pair::open_with(alpn_client(&first), &plain);
    none.pump().unwrap();
    assert_eq!(none.client.alpn_protocol(), None);
}
