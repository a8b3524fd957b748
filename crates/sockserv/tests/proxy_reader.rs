//! `read_header` takes exactly the PROXY header from a stream, whatever the reads return,
//! and leaves the application's bytes unread.

use std::io::{self, Cursor, Read};

use sockserv::proxy::{read_header, ProxyHeader};

fn proxied(source: &str, destination: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
    }
}

/// Checks `read_header` reads exactly the header from `bytes` + trailing data.
fn read_leaves_data(header: &[u8]) -> ProxyHeader {
    let mut stream = Cursor::new([header, b"hello"].concat());
    let parsed = read_header(&mut stream).unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "hello");
    parsed
}

#[test]
fn read_header_leaves_the_data_unread() {
    let header = proxied("10.1.2.3:4567", "10.0.0.1:80");
    assert_eq!(read_leaves_data(&header.encode_v1()), header);
    assert_eq!(read_leaves_data(&header.encode_v2()), header);
    assert_eq!(read_leaves_data(b"PROXY UNKNOWN\r\n"), ProxyHeader::Local);
    assert_eq!(
        read_leaves_data(&ProxyHeader::Local.encode_v2()),
        ProxyHeader::Local
    );
    // A PP2_TYPE_NOOP TLV after the addresses, counted in the length.
    let mut with_tlv = header.encode_v2();
    with_tlv.extend_from_slice(&[0x04, 0, 1, 0]);
    with_tlv[15] += 4;
    assert_eq!(read_leaves_data(&with_tlv), header);
}

/// A stream handing out one byte per read, and failing with `Interrupted` in between.
struct Trickle {
    data: Cursor<Vec<u8>>,
    interrupt: bool,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let one = buf.len().min(1);
        self.data.read(&mut buf[..one])
    }
}

#[test]
fn read_header_handles_short_reads_and_interrupts() {
    let header = proxied("[2001:db8::1]:1", "[2001:db8::2]:2");
    for bytes in [header.encode_v1(), header.encode_v2()] {
        let mut stream = Trickle {
            data: Cursor::new([&bytes[..], b"rest"].concat()),
            interrupt: false,
        };
        assert_eq!(read_header(&mut stream).unwrap(), header);
        assert_eq!(stream.data.position(), bytes.len() as u64);
    }
}

#[test]
fn read_header_reports_bad_and_cut_headers() {
    let err = read_header(&mut Cursor::new(b"GET / HTTP/1.0\r\n")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("not a PROXY"));
    let err = read_header(&mut Cursor::new(b"PROXY TCP4 1.2.3.4")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    let err = read_header(&mut Cursor::new(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let dyn_stream: &mut dyn Read = &mut Cursor::new(b"PROXY UNKNOWN\r\n");
    assert_eq!(read_header(dyn_stream).unwrap(), ProxyHeader::Local);
}
