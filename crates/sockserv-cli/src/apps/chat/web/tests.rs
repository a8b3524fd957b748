//! The web front and the WebSocket wrapper, pumped in memory: the client's frames are
//! built and read with tungstenite's frame codec, the server is the real Sessions. This
//! file holds the harness and the HTTP front's tests; `tests/protocol.rs` the
//! WebSocket's.

mod protocol;

use std::io::Cursor;
use std::time::Duration;

use sockserv::driver::{InMemory, OutputExt};
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

use super::*;
use crate::apps::chat::ChatConfig;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn peer() -> PeerAddr {
    PeerAddr::Inet(([127, 0, 0, 1], 5000).into())
}

/// One browser: the front Session under `sockserv::driver::InMemory`.
struct Browser {
    conn: InMemory<WebSession>,
    /// What the server sent and the test has not looked at yet.
    received: Vec<u8>,
    /// The peer reads what it is sent (else it piles up in the session's output).
    reading: bool,
}

impl Browser {
    fn connect(web: &WebChat) -> Browser {
        let conn = InMemory::open(web.session(&peer()));
        assert!(
            conn.output().wake_source().is_some(),
            "the front asks for a waker"
        );
        Browser {
            conn,
            received: Vec::new(),
            reading: true,
        }
    }

    /// Connects, upgrades, and reads the 101 answer; the welcome frame stays unread.
    fn upgraded(web: &WebChat) -> Browser {
        let mut browser = Browser::connect(web);
        browser.send(&upgrade_request(&[]));
        let head = browser.head();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        browser
    }

    fn send(&mut self, bytes: &[u8]) {
        self.conn.feed(bytes);
        self.deliver();
    }

    /// A wake-up, then (if the browser reads) what was sent and what `on_drained` added.
    fn deliver(&mut self) {
        self.conn.wake();
        if self.reading {
            for _ in 0..2 {
                let sent = self.conn.transmit().expect("no files");
                self.received.extend(sent);
            }
        }
    }

    /// The HTTP head at the front of what was received, taken off.
    fn head(&mut self) -> String {
        let end = self
            .received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head")
            + 4;
        let head: Vec<u8> = self.received.drain(..end).collect();
        String::from_utf8(head).unwrap()
    }

    /// Every complete frame received so far, taken off.
    fn frames(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let mut cursor = Cursor::new(&self.received[..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor).unwrap() else {
                break;
            };
            let start = cursor.position() as usize;
            let end = start + len as usize;
            if self.received.len() < end {
                break;
            }
            assert!(header.mask.is_none(), "server frames are not masked");
            let payload = self.received[start..end].to_vec();
            self.received.drain(..end);
            frames.push(Frame::from_payload(header, payload.into()));
        }
        frames
    }

    /// The text messages received so far.
    fn texts(&mut self) -> Vec<String> {
        self.frames()
            .into_iter()
            .filter(|f| f.header().opcode == OpCode::Data(Data::Text))
            .map(|f| f.into_text().unwrap().to_string())
            .collect()
    }

    /// The close frame's code among the frames received so far.
    fn close_code(&mut self) -> Option<CloseCode> {
        self.frames()
            .into_iter()
            .find_map(|f| match f.header().opcode {
                OpCode::Control(tungstenite::protocol::frame::coding::Control::Close) => {
                    Some(close_code(&f))
                }
                _ => None,
            })
            .flatten()
    }

    fn say(&mut self, text: &str) {
        self.send(&masked(Frame::message(
            text.to_owned(),
            OpCode::Data(Data::Text),
            true,
        )));
    }
}

/// Wakes every browser until none is pending (bounded).
fn settle(browsers: &mut [&mut Browser]) {
    for _ in 0..20 {
        for b in browsers.iter_mut() {
            b.deliver();
        }
    }
}

/// The code in a close frame's payload (its first two bytes), if any.
fn close_code(frame: &Frame) -> Option<CloseCode> {
    let code = frame.payload().get(..2)?;
    Some(CloseCode::from(u16::from_be_bytes([code[0], code[1]])))
}

fn masked(mut frame: Frame) -> Vec<u8> {
    frame.header_mut().mask = Some([0x12, 0x34, 0x56, 0x78]);
    let mut bytes = Vec::new();
    frame.format(&mut bytes).unwrap();
    bytes
}

fn unmasked(frame: Frame) -> Vec<u8> {
    let mut bytes = Vec::new();
    frame.format(&mut bytes).unwrap();
    bytes
}

fn upgrade_request(extra: &[&str]) -> Vec<u8> {
    let mut head = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn web_with(config: ChatConfig, web: WebConfig) -> WebChat {
    WebChat::new(ChatRoom::new(config), web)
}

fn web() -> WebChat {
    let mut config = WebConfig::default();
    config.limits.ping_interval = None;
    web_with(ChatConfig::default(), config)
}

#[test]
fn the_page_and_its_files_are_served_and_the_connection_closes() {
    let web = web();
    for (path, kind, marker) in [
        ("/", "text/html", "<title>sockserv chat</title>"),
        ("/chat.css", "text/css", "#messages"),
        ("/chat.js", "text/javascript", "textContent"),
    ] {
        let mut b = Browser::connect(&web);
        b.send(format!("GET {path}?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let head = b.head();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {kind}")), "{head}");
        for field in [
            "Cache-Control: no-cache\r\n",
            "X-Content-Type-Options: nosniff\r\n",
            "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:;",
            "Connection: close\r\n",
        ] {
            assert!(head.contains(field), "{field} in {head}");
        }
        assert!(
            String::from_utf8_lossy(&b.received).contains(marker),
            "{path}"
        );
        assert!(b.conn.is_closing());
    }
    // The script never builds HTML from what it receives.
    assert!(!CHAT_JS.contains("innerHTML"));
    let mut b = Browser::connect(&web);
    b.send(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(b
        .head()
        .contains(&format!("Content-Length: {}", INDEX_HTML.len())));
    assert!(b.received.is_empty(), "HEAD has no body");
}

#[test]
fn bad_requests_get_their_status() {
    let web = web_with(
        ChatConfig::default(),
        WebConfig {
            origins: vec!["http://good.example".into()],
            ..WebConfig::default()
        },
    );
    let version_8 = String::from_utf8(upgrade_request(&["Origin: http://good.example"]))
        .unwrap()
        .replace("Version: 13", "Version: 8");
    let short_key = String::from_utf8(upgrade_request(&["Origin: http://good.example"]))
        .unwrap()
        .replace(KEY, "c2hvcnQ=");
    // Each request, its status, and a field the answer must carry.
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), "404", ""),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "405",
            "\r\nAllow: GET, HEAD\r\n",
        ),
        (
            b"POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "405",
            "\r\nAllow: GET\r\n",
        ),
        (b"GET / HTTP/1.0\r\n\r\n".to_vec(), "505", ""),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(), "505", ""),
        (b"GARBAGE\0\r\n\r\n".to_vec(), "400", ""),
        (
            b"GET /ws HTTP/1.1\r\nHost: a\r\nOrigin: http://good.example\r\n\r\n".to_vec(),
            "400",
            "",
        ),
        (short_key.into_bytes(), "400", ""),
        (
            version_8.into_bytes(),
            "426",
            "\r\nSec-WebSocket-Version: 13\r\n",
        ),
        (upgrade_request(&["Origin: http://evil.example"]), "403", ""),
        (upgrade_request(&[]), "403", ""),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "a".repeat(9000)
            )
            .into_bytes(),
            "431",
            "",
        ),
    ];
    for (request, status, field) in cases {
        let mut b = Browser::connect(&web);
        b.send(&request);
        let head = b.head();
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{shown}: {head}"
        );
        assert!(head.contains(field), "{shown}: {field} in {head}");
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
        assert!(b.conn.is_closing());
    }
    let mut b = Browser::connect(&web);
    b.send(&upgrade_request(&["Origin: HTTP://good.example/"]));
    assert!(b.head().starts_with("HTTP/1.1 101 "));
}

#[test]
fn the_upgrade_answers_the_rfc_key_and_welcomes_the_member() {
    let web = web();
    let mut b = Browser::connect(&web);
    // The head arrives in pieces; a frame follows it in the same read.
    let mut request = upgrade_request(&[]);
    request.extend(masked(Frame::message(
        "/who",
        OpCode::Data(Data::Text),
        true,
    )));
    let (first, rest) = request.split_at(20);
    b.send(first);
    assert!(b.received.is_empty());
    b.send(rest);
    let head = b.head();
    // RFC 6455 section 1.3's example.
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    assert_eq!(
        b.texts(),
        ["* welcome, you are guest1", "* online (1): guest1"]
    );
}
