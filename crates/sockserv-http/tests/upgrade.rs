//! Protocol upgrades: which requests ask for one, and the 101 and 426 answers as written.

use sockserv::driver::OutputExt;
use sockserv::Output;
use sockserv_http::request::{parse, Parsed, MAX_HEAD};
use sockserv_http::writer::{Framing, Writer};
use sockserv_http::{upgrade, Request, Status};

fn request(input: &[u8]) -> Request<'_> {
    match parse(input, MAX_HEAD) {
        Parsed::Complete(request, _) => request,
        other => panic!("not complete: {other:?}"),
    }
}

fn asks(head: &str) -> bool {
    upgrade::requested(&request(head.as_bytes()), "websocket")
}

#[test]
fn an_upgrade_needs_both_fields_in_http_1_1() {
    assert!(asks(
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"
    ));
    // The tokens may come in several fields of the same name.
    assert!(asks(
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n\
         Connection: keep-alive\r\nConnection: upgrade\r\n\r\n"
    ));
    for refused in [
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websockets\r\nConnection: Upgrade\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgraded\r\n\r\n",
        // RFC 9110, 7.8: Upgrade in an HTTP/1.0 request is ignored.
        "GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ] {
        assert!(!asks(refused), "{refused}");
    }
}

#[test]
fn the_101_head_has_no_length_and_nothing_follows_it() {
    let response = upgrade::switching_protocols("websocket").with_header("X-New", "1");
    let mut out = Output::new();
    let framing = Framing {
        keep_alive: true,
        minor: 1,
        head_only: false,
    };
    assert_eq!(Writer::new().write(response, framing, &mut out), 0);
    let head = String::from_utf8(out.take()).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.ends_with("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-New: 1\r\n\r\n"),
        "{head}"
    );
    assert!(!head.contains("Content-Length"), "{head}");
    assert!(!out.is_closing(), "the connection stays open");
}

#[test]
fn the_426_page_names_the_protocol_and_closes() {
    let response = upgrade::required("websocket", "Use a WebSocket");
    assert_eq!(response.status, Status::UPGRADE_REQUIRED);
    assert_eq!(response.header("upgrade"), Some("websocket"));
    assert!(response.close);
    assert_eq!(Status::UPGRADE_REQUIRED.to_string(), "426 Upgrade Required");
}
