//! The WebSocket wrapper in a room: lines both ways, fragments, pings, errors and their
//! close codes, the close handshake, shutdown, slow members, keep-alive.

use super::*;

#[test]
fn browsers_and_line_members_share_the_room() {
    let web = web();
    let mut a = Browser::upgraded(&web);
    let mut b = Browser::upgraded(&web);
    settle(&mut [&mut a, &mut b]);
    assert_eq!(a.texts(), ["* welcome, you are guest1", "* guest2 joined"]);
    assert_eq!(b.texts(), ["* welcome, you are guest2"]);

    // A line member of the same room.
    let mut line = InMemory::open(web.room.session(&peer()));
    settle(&mut [&mut a, &mut b]);

    a.say("hello <img src=x onerror=alert(1)>");
    a.say("/nick alice");
    // Several lines in one message, and fragments.
    a.send(&masked(Frame::message(
        "two\nlines",
        OpCode::Data(Data::Text),
        true,
    )));
    a.send(&masked(Frame::message(
        "frag",
        OpCode::Data(Data::Text),
        false,
    )));
    a.send(&masked(Frame::ping(&b"keep"[..])));
    a.send(&masked(Frame::message(
        "ment",
        OpCode::Data(Data::Continue),
        true,
    )));
    line.feed(b"from the line\n");
    settle(&mut [&mut a, &mut b]);
    assert!(line.wake(), "the room woke the line member");
    settle(&mut [&mut a, &mut b]);

    let seen_by_a = a.texts();
    assert!(
        seen_by_a.contains(&"* guest1 is now alice".to_owned()),
        "{seen_by_a:?}"
    );
    assert!(
        seen_by_a.contains(&"guest3: from the line".to_owned()),
        "{seen_by_a:?}"
    );
    assert_eq!(
        b.texts(),
        [
            "* guest3 joined",
            "guest1: hello <img src=x onerror=alert(1)>",
            "* guest1 is now alice",
            "alice: two",
            "alice: lines",
            "alice: fragment",
            "guest3: from the line",
        ]
    );
    let line_text = String::from_utf8(line.transmit().unwrap()).unwrap();
    assert!(
        line_text.ends_with("alice: two\nalice: lines\nalice: fragment\n"),
        "{line_text}"
    );
    line.close();
}

#[test]
fn pings_are_answered_with_their_payload() {
    let web = web();
    let mut a = Browser::upgraded(&web);
    a.frames();
    a.send(&masked(Frame::ping(&b"abc"[..])));
    let frames = a.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        frames[0].header().opcode,
        OpCode::Control(tungstenite::protocol::frame::coding::Control::Pong)
    );
    assert_eq!(frames[0].payload(), b"abc");
}

#[test]
fn protocol_errors_close_with_their_codes() {
    let mut config = WebConfig::default();
    config.limits.ping_interval = None;
    config.limits.max_message = 1000;
    let web = web_with(ChatConfig::default(), config);
    let big = "x".repeat(1001);
    let cases: Vec<(Vec<u8>, CloseCode)> = vec![
        (
            masked(Frame::message(big.clone(), OpCode::Data(Data::Text), true)),
            CloseCode::Size,
        ),
        (
            [
                masked(Frame::message(
                    "x".repeat(600),
                    OpCode::Data(Data::Text),
                    false,
                )),
                masked(Frame::message(
                    "x".repeat(600),
                    OpCode::Data(Data::Continue),
                    true,
                )),
            ]
            .concat(),
            CloseCode::Size,
        ),
        (
            masked(Frame::message(
                vec![0xff, 0xfe],
                OpCode::Data(Data::Text),
                true,
            )),
            CloseCode::Invalid,
        ),
        (
            // A character split across fragments, then invalid.
            [
                masked(Frame::message(
                    vec![b'a', 0xc3],
                    OpCode::Data(Data::Text),
                    false,
                )),
                masked(Frame::message(
                    vec![0x28],
                    OpCode::Data(Data::Continue),
                    true,
                )),
            ]
            .concat(),
            CloseCode::Invalid,
        ),
        (
            unmasked(Frame::message("hi", OpCode::Data(Data::Text), true)),
            CloseCode::Protocol,
        ),
        (
            masked(Frame::message("c", OpCode::Data(Data::Continue), true)),
            CloseCode::Protocol,
        ),
        (
            masked(Frame::message(vec![1, 2], OpCode::Data(Data::Binary), true)),
            CloseCode::Unsupported,
        ),
    ];
    for (i, (bytes, code)) in cases.into_iter().enumerate() {
        let mut a = Browser::upgraded(&web);
        a.frames();
        a.send(&bytes);
        assert_eq!(a.close_code(), Some(code), "case {i}");
        assert!(a.conn.is_closing(), "case {i}");
    }
    // Split UTF-8 that completes across fragments is fine.
    let mut a = Browser::upgraded(&web);
    a.frames();
    a.send(&masked(Frame::message(
        vec![b'a', 0xc3],
        OpCode::Data(Data::Text),
        false,
    )));
    a.send(&masked(Frame::message(
        vec![0xa9],
        OpCode::Data(Data::Continue),
        true,
    )));
    assert!(!a.conn.is_closing());
}

#[test]
fn a_close_from_the_browser_is_answered_and_the_member_leaves() {
    let web = web();
    let mut a = Browser::upgraded(&web);
    let mut b = Browser::upgraded(&web);
    settle(&mut [&mut a, &mut b]);
    a.frames();
    b.send(&masked(Frame::close(Some(
        tungstenite::protocol::frame::CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        },
    ))));
    assert_eq!(b.close_code(), Some(CloseCode::Normal));
    assert!(b.conn.is_closing());
    b.conn.close();
    settle(&mut [&mut a]);
    assert_eq!(a.texts(), ["* guest2 left"]);
}

#[test]
fn quit_closes_normally_and_shutdown_says_going_away() {
    let web = web();
    let mut a = Browser::upgraded(&web);
    let mut b = Browser::upgraded(&web);
    settle(&mut [&mut a, &mut b]);
    a.frames();
    a.say("/quit");
    assert_eq!(a.close_code(), Some(CloseCode::Normal));
    // The close handshake: the connection ends when the browser answers.
    assert!(!a.conn.is_closing());
    a.send(&masked(Frame::close(None)));
    assert!(a.conn.is_closing());

    // The server drains: every connection hears it (`on_shutdown`); one that has not
    // sent its request yet closes.
    let mut idle = Browser::connect(&web);
    assert!(idle.conn.shutdown());
    assert!(b.conn.shutdown());
    settle(&mut [&mut b, &mut idle]);
    assert!(idle.conn.is_closing());
    let texts = b.texts();
    assert_eq!(
        texts.last().map(String::as_str),
        Some("* server shutting down"),
        "{texts:?}"
    );
    // (texts() took the frames; the close frame came after the notice.)
    b.send(&masked(Frame::close(None)));
    assert!(b.conn.is_closing());
    let mut c = Browser::connect(&web);
    c.send(&upgrade_request(&[]));
    assert!(c.conn.is_closing(), "no new members while shutting down");
}

#[test]
fn shutdown_close_code_is_going_away() {
    let web = web();
    let mut a = Browser::upgraded(&web);
    a.frames();
    web.room.shutdown();
    settle(&mut [&mut a]);
    let frames = a.frames();
    let last = frames.last().expect("frames").clone();
    assert_eq!(close_code(&last), Some(CloseCode::Away));
}

#[test]
fn a_browser_that_does_not_read_is_dropped_as_too_slow() {
    let mut config = WebConfig::default();
    config.limits.ping_interval = None;
    let web = web_with(
        ChatConfig {
            max_line: 4096,
            max_queue: 16 * 1024,
        },
        config,
    );
    let mut slow = Browser::upgraded(&web);
    let mut talker = Browser::upgraded(&web);
    slow.reading = false;
    settle(&mut [&mut slow, &mut talker]);
    for i in 0..100 {
        talker.say(&format!("{i:03} {}", "y".repeat(500)));
        settle(&mut [&mut slow, &mut talker]);
    }
    assert!(slow.conn.is_closing(), "the slow browser was dropped");
    slow.received.extend(slow.conn.transmit().unwrap());
    assert_eq!(slow.close_code(), Some(CloseCode::Policy));
    let texts = talker.texts();
    assert!(
        texts.contains(&"* guest1 left (too slow)".to_owned()),
        "{texts:?}"
    );
    assert_eq!(web.room.dropped(), 1);
}

#[test]
fn a_quiet_browser_is_pinged_and_dropped_when_it_does_not_answer() {
    let mut config = WebConfig::default();
    // Every firing of the keep-alive timer finds the interval passed: deterministic
    // without waiting (the timer fires on the test's clock).
    config.limits.ping_interval = Some(Duration::ZERO);
    let web = web_with(ChatConfig::default(), config);
    let mut a = Browser::upgraded(&web);
    a.frames();
    assert_eq!(
        a.conn.timer(),
        Some(Duration::ZERO),
        "the keep-alive timer is set"
    );
    assert!(a.conn.advance(Duration::ZERO));
    a.deliver();
    let frames = a.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        frames[0].header().opcode,
        OpCode::Control(tungstenite::protocol::frame::coding::Control::Ping)
    );
    // An answer resets the clock; the next quiet wake-up pings again.
    a.send(&masked(Frame::pong(Vec::new())));
    assert!(a.conn.advance(Duration::ZERO));
    a.deliver();
    assert_eq!(a.frames().len(), 1);
    assert!(!a.conn.is_closing());
    // No answer this time.
    assert!(a.conn.advance(Duration::ZERO));
    a.deliver();
    assert!(
        a.conn.is_closing(),
        "an unanswered ping closes the connection"
    );
}
