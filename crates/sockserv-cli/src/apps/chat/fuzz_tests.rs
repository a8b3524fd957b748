//! Property-based fuzzing of the chat's line framing (proptest; `cargo fuzz` needs a
//! nightly toolchain, which this project does not use).
//!
//! Arbitrary byte streams (noise, NULs, invalid UTF-8, `\r`, over-long lines, commands),
//! cut at arbitrary points into `on_data` calls:
//! * never panic;
//! * never leave more than `max_line + 1` bytes of a partial line buffered (and the
//!   buffer's capacity within twice that);
//! * produce the same output — byte for byte, for the sender and for another member —
//!   however the stream is cut, including one byte per call. (This found that the
//!   sender's own rename notice went through the room's queue: after `/nick bob\n/who\n`
//!   in one read the `/who` reply overtook it, and `/nick bob\n/quit\n` lost it.)

use proptest::prelude::*;

use super::*;
use sockserv::driver::InMemory;

/// What came out of one run: the sender's own output, what another member received, and
/// whether the sender's connection was asked to close.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    sender: Vec<u8>,
    observer: Vec<u8>,
    closed: bool,
}

/// Feeds `input`, cut before each index in `cuts`, to one member of a fresh room while
/// another member (joined first) listens; then EOF. Both run under `InMemory`, reading
/// everything they are sent.
fn run(config: ChatConfig, input: &[u8], cuts: &[usize]) -> Transcript {
    let room = ChatRoom::new(config);
    let peer = PeerAddr::Inet(([127, 0, 0, 1], 4000).into());
    let mut observer = InMemory::open(room.session(&peer));
    let mut sender = InMemory::open(room.session(&peer));

    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(0);
    bounds.push(input.len());
    bounds.sort_unstable();
    bounds.dedup();

    let mut transcript = Transcript {
        sender: sender.transmit().unwrap(),
        observer: observer.transmit().unwrap(),
        closed: false,
    };
    let limit = config.max_line + 1;
    for piece in bounds.windows(2).map(|w| &input[w[0]..w[1]]) {
        if !sender.feed(piece) {
            break; // a driver stops reading once the session closes
        }
        let lines = &sender.session().lines;
        assert!(
            lines.buffered() <= limit,
            "{} bytes of a partial line buffered (max_line {})",
            lines.buffered(),
            config.max_line
        );
        assert!(
            lines.capacity() <= (2 * limit).max(8),
            "line buffer capacity {} for max_line {}",
            lines.capacity(),
            config.max_line
        );
        // Deliver what the room queued: to the other member, and to the sender (notices
        // such as its own rename).
        sender.wake();
        transcript.sender.extend(sender.transmit().unwrap());
        observer.wake();
        transcript.observer.extend(observer.transmit().unwrap());
    }
    sender.eof();
    transcript.closed = sender.is_closing();
    transcript.sender.extend(sender.transmit().unwrap());
    sender.close();
    observer.wake();
    transcript.observer.extend(observer.transmit().unwrap());
    transcript
}

/// Input pieces: raw noise, and the protocol's own words so commands and limits get hit.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\0".to_vec()),
        1 => Just(b"\xff\xfe\xc3".to_vec()),
        1 => Just("h\u{e9}llo \u{1f600}".as_bytes().to_vec()),
        1 => Just(b"/nick bob\n".to_vec()),
        1 => Just(b"/nick \xff\n".to_vec()),
        1 => Just(b"/who\n".to_vec()),
        1 => Just(b"/me waves\n".to_vec()),
        1 => Just(b"/help\n".to_vec()),
        1 => Just(b"/bogus\n".to_vec()),
        1 => Just(b"/quit\n".to_vec()),
        1 => (0usize..300).prop_map(|n| vec![b'x'; n]),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn config() -> impl Strategy<Value = ChatConfig> {
    prop_oneof![Just(1usize), Just(2), Just(8), 1usize..64, Just(1024)].prop_map(|max_line| {
        ChatConfig {
            max_line,
            // Far above anything these inputs queue: eviction plays no part here.
            max_queue: 1 << 24,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn framing_does_not_depend_on_how_the_stream_is_cut(
        config in config(),
        input in input(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = run(config, &input, &[]);
        // Every byte the server sends is valid UTF-8 (invalid input becomes U+FFFD).
        prop_assert!(std::str::from_utf8(&whole.sender).is_ok());
        prop_assert!(std::str::from_utf8(&whole.observer).is_ok());
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        let cut = run(config, &input, &cuts);
        prop_assert_eq!(&cut, &whole);
        let every_byte: Vec<usize> = (0..=input.len()).collect();
        let bytewise = run(config, &input, &every_byte);
        prop_assert_eq!(&bytewise, &whole);
    }

    #[test]
    fn pure_noise_never_panics_and_stays_bounded(
        max_line in 1usize..200,
        input in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..32),
    ) {
        let config = ChatConfig { max_line, max_queue: 1 << 24 };
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        // run() asserts the buffer bound after every call.
        let _ = run(config, &input, &cuts);
    }
}
