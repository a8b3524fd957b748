//! The writer: one response value in, the bytes on the connection out.

use std::time::{SystemTime, UNIX_EPOCH};

use sockserv::driver::OutputExt;
use sockserv::Output;
use sockserv_http::writer::{Framing, Writer};
use sockserv_http::{Body, Response, Status};

const CLOSE: Framing = Framing {
    keep_alive: false,
    minor: 1,
    head_only: false,
};

fn head(response: &Response, framing: Framing) -> String {
    String::from_utf8(Writer::new().head(response, framing).to_vec()).unwrap()
}

#[test]
fn a_head_has_status_server_date_fields_length_and_connection() {
    let response = Response::new(Status::NOT_FOUND)
        .with_header("Content-Type", "text/html")
        .with_body("twelve bytes");
    let text = head(&response, CLOSE);
    assert!(
        text.starts_with("HTTP/1.1 404 Not Found\r\nServer: sockserv/"),
        "{text}"
    );
    let date = text
        .split("\r\nDate: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap();
    let sent = httpdate::parse_http_date(date).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let secs = sent.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(secs + 1 >= now && secs <= now + 1, "{date}");
    assert!(text.ends_with(
        "\r\nContent-Type: text/html\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    ));
}

#[test]
fn keep_alive_is_said_only_to_http_1_0() {
    let response = Response::new(Status::OK);
    let kept = |minor| Framing {
        keep_alive: true,
        minor,
        head_only: false,
    };
    assert!(!head(&response, kept(1)).contains("Connection"));
    assert!(head(&response, kept(0)).ends_with("\r\nConnection: keep-alive\r\n\r\n"));
}

#[test]
fn head_only_and_bodiless_statuses_send_no_body() {
    let mut out = Output::new();
    let mut writer = Writer::new();
    let head_only = Framing {
        head_only: true,
        ..CLOSE
    };
    let sent = writer.write(
        Response::new(Status::OK).with_body("body"),
        head_only,
        &mut out,
    );
    assert_eq!(sent, 0);
    let bytes = String::from_utf8(out.take()).unwrap();
    assert!(
        bytes.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n"),
        "{bytes}"
    );
    let sent = writer.write(
        Response::new(Status::NOT_MODIFIED).with_body("x"),
        CLOSE,
        &mut out,
    );
    assert_eq!(sent, 0);
    let bytes = String::from_utf8(out.take()).unwrap();
    assert!(
        !bytes.contains("Content-Length") && bytes.ends_with("\r\n\r\n"),
        "{bytes}"
    );
}

#[test]
fn a_file_body_is_queued_as_a_file_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut out = Output::new();
    let sent = Writer::new().write(
        Response::new(Status::OK).with_file(file, 2, 5),
        CLOSE,
        &mut out,
    );
    assert_eq!(sent, 5);
    let head = out.take();
    assert!(head.ends_with(b"Content-Length: 5\r\nConnection: close\r\n\r\n"));
    let range = out.front_file().expect("the file range, not its bytes");
    assert_eq!((range.offset(), range.len()), (2, 5));
}

#[test]
fn the_error_page_is_pythons_and_escapes_the_message() {
    let response = Response::error(Status::NOT_FOUND, "File <not> found & gone");
    let Body::Bytes(page) = response.body else {
        panic!("the page in memory");
    };
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with("<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n"));
    assert!(page.contains("        <p>Error code: 404</p>\n"));
    assert!(page.contains("<p>Message: File &lt;not&gt; found &amp; gone.</p>"));
    assert!(page.contains("<p>Error code explanation: 404 - Nothing matches the given URI.</p>"));
    assert!(page.ends_with("</html>\n"));
}

#[test]
fn statuses_have_pythons_reasons_and_bodiless_ones_are_known() {
    assert_eq!(
        Status::METHOD_NOT_ALLOWED.to_string(),
        "405 Method Not Allowed"
    );
    assert_eq!(Status(299).reason(), "Unknown");
    assert!(Status::NOT_MODIFIED.is_bodiless() && Status::NO_CONTENT.is_bodiless());
    assert!(Status(100).is_bodiless());
    assert!(!Status::OK.is_bodiless() && !Status::NOT_FOUND.is_bodiless());
}
