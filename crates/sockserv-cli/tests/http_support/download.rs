//! A download that stays in flight: a 64 MiB file, and a client that reads its head and
//! the first MiB, then stops reading.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::find;
use super::raw::request_bytes;
use crate::util::WAIT;

/// A download big enough to outlast every socket buffer: 64 MiB, not a repeating pattern (a lost or repeated chunk
/// shows).
pub const BIG: usize = 64 * 1024 * 1024;

pub fn big_file() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(BIG);
    while data.len() < BIG {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data
}

/// Starts `GET /big.bin` and reads the head and at least 1 MiB of the body; the
/// client then stops reading, so the response stays in flight.
pub fn start_download(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(&request_bytes(
            "GET",
            "/big.bin",
            &[("Connection", "close")],
        ))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while got.len() < 1024 * 1024 {
        let n = stream.read(&mut buf).expect("read the download");
        assert_ne!(n, 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    let end = find(&got, b"\r\n\r\n").expect("a complete head") + 4;
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {BIG}\r\n")),
        "{head}"
    );
    (stream, got.split_off(end))
}
