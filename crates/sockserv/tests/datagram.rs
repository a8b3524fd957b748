//! Datagram servers (A11): truncation to `max_packet_size` is flagged, an empty reply is
//! not sent, and a Unix datagram client without a name is reported, not fatal.

mod util;

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use sockserv::{Datagram, Strategy};
use util::{DatagramClient, Serving, Transport, WAIT};

const DATAGRAM: [Transport; 2] = [Transport::Udp, Transport::UnixGram];

/// Replies with the length it saw and whether it was truncated.
fn describe(request: &Datagram<'_>, reply: &mut Vec<u8>) -> io::Result<()> {
    let text = format!("{} {}", request.data().len(), request.is_truncated());
    reply.extend_from_slice(text.as_bytes());
    Ok(())
}

// A11: longer datagrams are cut to max_packet_size and flagged; others are whole.
#[test]
fn oversized_datagrams_are_truncated_and_flagged() {
    util::for_each_strategy(&DATAGRAM, |case| {
        let server = case
            .builder()
            .max_packet_size(16)
            .datagram_handler(describe)
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let client = DatagramClient::new(&serving.endpoint, case.dir);
        for (size, expected) in [
            (40, "16 true"),
            (17, "16 true"),
            (16, "16 false"),
            (1, "1 false"),
        ] {
            client.send(&vec![b'x'; size]);
            let reply = client.recv(WAIT).expect("a reply");
            assert_eq!(
                String::from_utf8_lossy(&reply),
                expected,
                "{case}: {size} bytes sent"
            );
        }
        serving.stop().close().unwrap();
    });
}

// A11: an empty reply is not sent (Python sends an empty datagram); a failed handler
// sends nothing either.
#[test]
fn empty_replies_and_failed_handlers_send_nothing() {
    util::for_each_strategy(&DATAGRAM, |case| {
        let server = case
            .builder()
            // The closure's types are inferred from `datagram_handler`.
            .datagram_handler(|request, reply| match request.data() {
                b"quiet" => Ok(()),
                b"fail" => {
                    reply.extend_from_slice(b"half-written");
                    Err(io::Error::other("datagram handler boom"))
                }
                data => {
                    reply.extend_from_slice(data);
                    Ok(())
                }
            })
            .on_error(|_: &sockserv::report::ConnError| {})
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let client = DatagramClient::new(&serving.endpoint, case.dir);
        for silent in [&b"quiet"[..], b"fail"] {
            client.send(silent);
            client.send(b"loud");
            let reply = client.recv(WAIT).expect("a reply");
            assert_eq!(reply, b"loud", "{case}: after {silent:?}");
            client.assert_nothing_for(Duration::from_millis(200), &case.to_string());
        }
        serving.stop().close().unwrap();
    });
}

// A11: a Unix datagram client that did not bind a path cannot be answered: the error
// hook is told, and the server goes on.
#[test]
fn unnamed_unixgram_client_is_reported_and_the_server_goes_on() {
    util::for_each_strategy(&[Transport::UnixGram], |case| {
        let errors = case.dir.join("errors.log");
        let server = case
            .builder()
            .datagram_handler(util::echo_datagram)
            .on_error(util::log_errors_to(errors.clone()))
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let server_path = serving.endpoint.path().unwrap().to_owned();
        let unnamed = UnixDatagram::unbound().unwrap();
        unnamed.send_to(b"who am i", &server_path).unwrap();
        assert_eq!(
            util::hello(&serving.endpoint, case.dir).unwrap(),
            util::HELLO,
            "{case}: a named client after the unnamed one"
        );
        // Close waits for every worker (and child), so every report is written.
        serving.stop().close().unwrap();
        let log = util::read_log(&errors);
        assert_eq!(log.lines().count(), 1, "{case}: {log}");
        assert!(
            log.contains("unix:(unnamed)") && log.contains("unnamed: no address to reply to"),
            "{case}: {log}"
        );
    });
}

// Sanity for the strategy list used above: sequential serves datagrams inline.
#[test]
fn sequential_datagram_server_answers_in_order() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    let server = util::echo_builder(Transport::Udp.endpoint(dir.path()))
        .strategy(Strategy::Sequential)
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    let client = DatagramClient::new(&serving.endpoint, dir.path());
    for i in 0..5 {
        client.send(format!("n{i}").as_bytes());
    }
    for i in 0..5 {
        assert_eq!(client.recv(WAIT).unwrap(), format!("n{i}").as_bytes());
    }
    serving.stop().close().unwrap();
}
