//! `TlsSession` and what the inner Session queues: files read as the peer takes them,
//! output taken back (a chat room dropping a slow member), in memory.
#![cfg(feature = "tls")]

mod tls_pair;

use sockserv::{Output, PeerAddr, Session};
use testkit::Certs;
use tls_pair::Pair;

/// Sends a file the inner way (`Output::send_file`) and a trailer after it.
struct FileSender(std::path::PathBuf);

impl Session for FileSender {
    fn on_data(&mut self, _data: &[u8], out: &mut Output) {
        let file = std::fs::File::open(&self.0).unwrap();
        let len = file.metadata().unwrap().len();
        out.send_file(file, 0, len);
        out.write(b"<end>");
        out.close();
    }
}

#[test]
fn inner_files_are_read_as_the_peer_takes_them_and_arrive_whole() {
    let certs = Certs::generate();
    let content = testkit::payload(3_000_000);
    let path = certs.path("file.bin");
    std::fs::write(&path, &content).unwrap();
    let file_path = path.clone();
    let mut pair = Pair::open(&certs, move |_: &PeerAddr| FileSender(file_path.clone()));
    pair.pump().unwrap();
    pair.send(b"go");
    // The driver reads the file on only as the peer takes what was sent, a bounded
    // piece each time the output drains.
    pair.pump().unwrap();
    let (got, closed) = pair.received();
    assert!(
        closed,
        "the session closed with close_notify after the file"
    );
    assert!(
        pair.most_queued > 0 && pair.most_queued < 512 * 1024,
        "ciphertext read ahead is bounded, got {}",
        pair.most_queued
    );
    let mut want = content;
    want.extend_from_slice(b"<end>");
    assert!(
        got == want,
        "{} bytes received, {} expected",
        got.len(),
        want.len()
    );
}

/// Queues a large backlog on `fill`; on `drop` takes it back (as the chat room does to a
/// slow member), says so and closes.
struct TakesBack;

impl Session for TakesBack {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        if data.starts_with(b"fill") {
            out.write(&vec![b'x'; 200_000]);
        } else {
            let _ = sockserv::driver::OutputExt::take(out);
            out.write(b"dropped\n");
            out.close();
        }
    }
}

#[test]
fn an_inner_session_taking_back_its_backlog_is_not_a_panic() {
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, |_: &PeerAddr| TakesBack);
    pair.pump().unwrap();
    // The backlog goes to rustls and the driver's output, and stays there: the peer is
    // not reading.
    pair.send(b"fill");
    pair.send_records();
    assert!(pair.server.output().queued() > 0);
    pair.send(b"drop");
    pair.pump().unwrap();
    let (got, close_notify) = pair.received();
    assert!(close_notify, "closed after the notice");
    assert!(got.ends_with(b"dropped\n"), "the notice arrives last");
    assert!(got[..got.len() - 8].iter().all(|&b| b == b'x'));
}

/// Echoes every byte.
struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

// A peer that sends and never reads: the ciphertext waiting for it stops at half the
// connection's high-water mark (where a driver stops reading), the other half being for
// plaintext not yet encrypted; nothing grows past the budget however much is sent.
#[test]
fn a_tls_peer_that_never_reads_backs_up_within_the_high_water_mark() {
    use sockserv::driver::OutputExt;
    let certs = Certs::generate();
    let mut pair = Pair::open(&certs, |_: &PeerAddr| Echo);
    pair.pump().unwrap();
    let budget = 64 * 1024; // the default high-water mark
    assert_eq!(pair.server.output().high_water(), budget / 2);
    let chunk = vec![b'x'; 16 * 1024];
    let mut sent = 0;
    // A driver feeds input only while the output is not backed up.
    while !pair.server.output().is_backed_up() {
        pair.send(&chunk);
        pair.send_records();
        sent += chunk.len();
        assert!(sent < 1024 * 1024, "never backed up");
    }
    let queued = pair.server.output().queued();
    assert!(
        queued < budget,
        "{queued} bytes of ciphertext queued for a peer that does not read"
    );
    assert!(pair.server.output().pending().len() as u64 <= queued);
}
