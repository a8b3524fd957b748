//! The PROXY protocol parser on the spec's examples and on every malformed header we
//! could think of.

use std::io;

use sockserv::proxy::{
    parse, Parse, ProxyError, ProxyHeader, V1_MAX_LEN, V2_MAX_LEN, V2_SIGNATURE,
};

fn proxied(source: &str, destination: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
    }
}

/// A v2 header: signature, the two fixed bytes, the length, then `rest`.
fn v2(ver_cmd: u8, family: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.extend_from_slice(&[ver_cmd, family]);
    out.extend_from_slice(&u16::try_from(rest.len()).unwrap().to_be_bytes());
    out.extend_from_slice(rest);
    out
}

const TCP4_BLOCK: [u8; 12] = [192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb];

fn tcp6_block() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
    [&src.octets()[..], &dst.octets(), &[0xdc, 0x04, 0x01, 0xbb]].concat()
}

/// Parses `bytes` as a whole header, checking every shorter prefix is `Incomplete` with a
/// bound that never overshoots the header.
fn parse_whole(bytes: &[u8]) -> ProxyHeader {
    for len in 0..bytes.len() {
        match parse(&bytes[..len]) {
            Ok(Parse::Incomplete { needed_at_least }) => {
                assert!(
                    needed_at_least > len && needed_at_least <= bytes.len(),
                    "{len}"
                );
            }
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
    let mut with_data = bytes.to_vec();
    with_data.extend_from_slice(b"\r\nPROXY data");
    match parse(&with_data) {
        Ok(Parse::Done { header, consumed }) => {
            assert_eq!(consumed, bytes.len());
            header
        }
        other => panic!("{other:?}"),
    }
}

fn error(bytes: &[u8]) -> ProxyError {
    match parse(bytes) {
        Err(err) => {
            assert!(!err.to_string().contains('\n'));
            err
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn line_error(line: &[u8]) -> String {
    match error(line) {
        ProxyError::Line { reason } => reason,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn v1_spec_examples() {
    assert_eq!(
        parse_whole(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        proxied("192.168.0.1:56324", "192.168.0.11:443")
    );
    assert_eq!(
        parse_whole(b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"),
        proxied("[2001:db8::1]:56324", "[2001:db8::2]:443")
    );
    assert_eq!(parse_whole(b"PROXY UNKNOWN\r\n"), ProxyHeader::Local);
    assert_eq!(
        parse_whole(b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"),
        ProxyHeader::Local
    );
    assert_eq!(
        parse_whole(b"PROXY UNKNOWN \xff\xfe\r\n"),
        ProxyHeader::Local
    );
}

#[test]
fn v1_longest_lines_fit() {
    let max = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let line = format!("PROXY TCP6 {max} {max} 65535 65535\r\n");
    assert_eq!(line.len(), 104);
    assert!(matches!(
        parse_whole(line.as_bytes()),
        ProxyHeader::Proxied { .. }
    ));
    let unknown = format!("PROXY UNKNOWN {}\r\n", "x".repeat(V1_MAX_LEN - 16));
    assert_eq!(unknown.len(), V1_MAX_LEN);
    assert_eq!(parse_whole(unknown.as_bytes()), ProxyHeader::Local);
}

#[test]
fn v1_ports_edges() {
    assert_eq!(
        parse_whole(b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
        proxied("0.0.0.0:0", "255.255.255.255:65535")
    );
}

#[test]
fn v1_malformed_lines() {
    for (line, needle) in [
        ("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "protocol \"TCP5\""),
        ("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "protocol \"tcp4\""),
        ("PROXY UNKNOWNX\r\n", "protocol \"UNKNOWNX\""),
        ("PROXY \r\n", "protocol \"\""),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "exactly four fields"),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            "exactly four fields",
        ),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "exactly four fields"),
        ("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "exactly four fields"),
        ("PROXY TCP4\r\n", "exactly four fields"),
        (
            "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
            "source \"1.2.3\" is not an TCP4",
        ),
        (
            "PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
            "destination \"::1\" is not an TCP4",
        ),
        (
            "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            "source \"1.2.3.4\" is not an TCP6",
        ),
        ("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "source \"01.2.3.4\""),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
            "destination \"5.6.7.256\"",
        ),
        (
            "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
            "source \"fe80::1%eth0\"",
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            "source port \"65536\"",
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
            "destination port \"-2\"",
        ),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "source port \"+1\""),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "source port \"01\""),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", "destination port \"\""),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n", "source port \"x\""),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999\r\n",
            "destination port",
        ),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR"),
        ("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "exactly four fields"),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
            "destination port \"2\\r\"",
        ),
        ("PROXY TCP4 1.2.3.4 5.6.7.8 1 é\r\n", "not ASCII"),
    ] {
        let reason = line_error(line.as_bytes());
        assert!(reason.contains(needle), "{line:?}: {reason}");
    }
    let reason = line_error(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xff\r\n");
    assert!(reason.contains("not ASCII"), "{reason}");
}

#[test]
fn v1_without_crlf_in_107_bytes_is_too_long() {
    let long = format!("PROXY UNKNOWN {}", "x".repeat(200));
    assert!(matches!(
        parse(&long.as_bytes()[..V1_MAX_LEN - 1]),
        Ok(Parse::Incomplete { .. })
    ));
    assert_eq!(
        error(&long.as_bytes()[..V1_MAX_LEN]),
        ProxyError::LineTooLong
    );
    assert_eq!(error(long.as_bytes()), ProxyError::LineTooLong);
    // A CRLF just past the limit does not help.
    let over = format!("PROXY UNKNOWN {}\r\n", "x".repeat(V1_MAX_LEN - 15));
    assert_eq!(over.len(), V1_MAX_LEN + 1);
    assert_eq!(error(over.as_bytes()), ProxyError::LineTooLong);
}

#[test]
fn neither_signature_is_not_proxy() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"proxy TCP4",
        b"PROXYTCP4",
        b"PROXY\r\n",
        b"P\n",
        b"\r\n\r\n\0\r\nQUIX\n",
        b"\r\r",
        b"\0",
        b"\x16\x03\x01",
    ] {
        assert_eq!(error(bytes), ProxyError::NotProxy, "{bytes:?}");
    }
    assert_eq!(
        parse(b""),
        Ok(Parse::Incomplete {
            needed_at_least: 15
        })
    );
}

#[test]
fn v2_spec_examples() {
    assert_eq!(
        parse_whole(&v2(0x21, 0x11, &TCP4_BLOCK)),
        proxied("192.168.0.1:56324", "192.168.0.11:443")
    );
    assert_eq!(
        parse_whole(&v2(0x21, 0x12, &TCP4_BLOCK)),
        proxied("192.168.0.1:56324", "192.168.0.11:443")
    );
    let six = proxied("[2001:db8::1]:56324", "[2001:db8::2]:443");
    assert_eq!(parse_whole(&v2(0x21, 0x21, &tcp6_block())), six);
    assert_eq!(parse_whole(&v2(0x21, 0x22, &tcp6_block())), six);
}

#[test]
fn v2_tlvs_are_skipped() {
    // PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP with an empty value, PP2_TYPE_AUTHORITY.
    let tlvs = [
        &[0x01, 0, 2][..],
        b"h2",
        &[0x04, 0, 0],
        &[0x02, 0, 3],
        b"a.b",
    ]
    .concat();
    let block = [&TCP4_BLOCK[..], &tlvs].concat();
    assert_eq!(
        parse_whole(&v2(0x21, 0x11, &block)),
        proxied("192.168.0.1:56324", "192.168.0.11:443")
    );
    let block = [&tcp6_block()[..], &tlvs].concat();
    assert!(matches!(
        parse_whole(&v2(0x21, 0x21, &block)),
        ProxyHeader::Proxied { .. }
    ));
}

#[test]
fn v2_local_unspec_and_unix_carry_no_ip() {
    assert_eq!(parse_whole(&v2(0x20, 0x00, &[])), ProxyHeader::Local);
    // LOCAL ignores the family and whatever the block holds.
    assert_eq!(
        parse_whole(&v2(0x20, 0x11, &TCP4_BLOCK)),
        ProxyHeader::Local
    );
    assert_eq!(parse_whole(&v2(0x20, 0x77, &[1, 2, 3])), ProxyHeader::Local);
    assert_eq!(parse_whole(&v2(0x21, 0x00, &[])), ProxyHeader::Local);
    assert_eq!(parse_whole(&v2(0x21, 0x00, &[9; 7])), ProxyHeader::Local);
    let unix = [&[0u8; 216][..], &[0x04, 0, 1, 0]].concat();
    assert_eq!(parse_whole(&v2(0x21, 0x31, &unix)), ProxyHeader::Local);
    assert_eq!(
        parse_whole(&v2(0x21, 0x32, &unix[..216])),
        ProxyHeader::Local
    );
}

#[test]
fn v2_malformed_headers() {
    assert_eq!(error(&v2(0x11, 0x11, &TCP4_BLOCK)), ProxyError::Version(1));
    assert_eq!(
        error(&v2(0x31, 0x11, &TCP4_BLOCK)[..13]),
        ProxyError::Version(3)
    );
    assert_eq!(
        error(&v2(0x22, 0x11, &TCP4_BLOCK)[..13]),
        ProxyError::Command(2)
    );
    assert_eq!(error(&v2(0x2f, 0x11, &TCP4_BLOCK)), ProxyError::Command(15));
    for family in [0x01, 0x10, 0x13, 0x23, 0x33, 0x41, 0xff] {
        assert_eq!(
            error(&v2(0x21, family, &TCP4_BLOCK)[..14]),
            ProxyError::Family(family)
        );
    }
    let short = ProxyError::AddressLength {
        family: 0x11,
        length: 11,
        needed: 12,
    };
    // Known from the fixed 16 bytes alone: no need to wait for the block.
    assert_eq!(error(&v2(0x21, 0x11, &TCP4_BLOCK[..11])[..16]), short);
    assert!(error(&v2(0x21, 0x21, &TCP4_BLOCK))
        .to_string()
        .contains("36 bytes"));
    assert!(matches!(
        error(&v2(0x21, 0x31, &[0; 215])),
        ProxyError::AddressLength { needed: 216, .. }
    ));
}

#[test]
fn v2_tlvs_must_stay_within_the_length() {
    let tlv_error = |tlvs: &[u8]| error(&v2(0x21, 0x11, &[&TCP4_BLOCK[..], tlvs].concat()));
    assert_eq!(tlv_error(&[0x04]), ProxyError::Tlv { offset: 28 });
    assert_eq!(tlv_error(&[0x04, 0]), ProxyError::Tlv { offset: 28 });
    assert_eq!(tlv_error(&[0x04, 0, 1]), ProxyError::Tlv { offset: 28 });
    assert_eq!(
        tlv_error(&[0x04, 0, 0, 0x04, 0xff, 0xff, 1]),
        ProxyError::Tlv { offset: 31 }
    );
    // The value runs past the header's length, even if bytes follow in the buffer.
    let mut bytes = v2(
        0x21,
        0x11,
        &[&TCP4_BLOCK[..], &[0x01, 0, 4, b'h', b'2']].concat(),
    );
    bytes.extend_from_slice(b"ab");
    assert_eq!(error(&bytes), ProxyError::Tlv { offset: 28 });
}

#[test]
fn v2_never_asks_past_the_largest_header() {
    let mut header = V2_SIGNATURE.to_vec();
    header.extend_from_slice(&[0x20, 0x00, 0xff, 0xff]);
    assert_eq!(
        parse(&header),
        Ok(Parse::Incomplete {
            needed_at_least: V2_MAX_LEN
        })
    );
    header.resize(V2_MAX_LEN + 10, 0);
    assert_eq!(
        parse(&header),
        Ok(Parse::Done {
            header: ProxyHeader::Local,
            consumed: V2_MAX_LEN
        })
    );
}

#[test]
fn errors_convert_to_invalid_data() {
    let err = io::Error::from(ProxyError::NotProxy);
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(err.to_string(), "not a PROXY protocol header");
}
