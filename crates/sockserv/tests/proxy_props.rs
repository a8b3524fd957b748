//! PROXY protocol properties: no panics on any bytes, encode/parse round trips, prefixes
//! are `Incomplete` with a bound inside the header, trailing data is never consumed.

use std::io::{Cursor, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use sockserv::proxy::{parse, read_header, Parse, ProxyHeader, V2_MAX_LEN, V2_SIGNATURE};

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(IpAddr::V4),
        any::<Ipv6Addr>().prop_map(IpAddr::V6),
        any::<Ipv4Addr>().prop_map(|v4| IpAddr::V6(v4.to_ipv6_mapped())),
    ]
}

fn header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        1 => Just(ProxyHeader::Local),
        8 => (ip(), any::<u16>(), ip(), any::<u16>()).prop_map(|(s, sp, d, dp)| {
            ProxyHeader::Proxied {
                source: SocketAddr::new(s, sp),
                destination: SocketAddr::new(d, dp),
            }
        }),
    ]
}

/// What parsing an encoded `header` gives: mixed families come back IPv4-mapped.
fn expected(header: ProxyHeader) -> ProxyHeader {
    let ProxyHeader::Proxied {
        source,
        destination,
    } = header
    else {
        return header;
    };
    if source.is_ipv4() == destination.is_ipv4() {
        return header;
    }
    let mapped = |addr: SocketAddr| match addr.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), addr.port()),
        IpAddr::V6(_) => addr,
    };
    ProxyHeader::Proxied {
        source: mapped(source),
        destination: mapped(destination),
    }
}

/// A v2 PROXY header with `tlvs` (type, value) after the addresses.
fn v2_with_tlvs(header: ProxyHeader, tlvs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = header.encode_v2();
    for (kind, value) in tlvs {
        bytes.push(*kind);
        bytes.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(value);
    }
    let length = u16::try_from(bytes.len() - 16).unwrap();
    bytes[14..16].copy_from_slice(&length.to_be_bytes());
    bytes
}

/// Any valid encoding: v1, v2, or v2 with TLVs.
fn encoded() -> impl Strategy<Value = (ProxyHeader, Vec<u8>)> {
    let tlvs = prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)),
        0..4,
    );
    (header(), 0..3u8, tlvs).prop_map(|(header, form, tlvs)| {
        let bytes = match form {
            0 => header.encode_v1(),
            1 => header.encode_v2(),
            _ => v2_with_tlvs(header, &tlvs),
        };
        (header, bytes)
    })
}

/// Arbitrary bytes, half of them behind a start that leads deep into one parser.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        Just(Vec::new()),
        Just(b"PROXY ".to_vec()),
        Just(b"PROXY TCP4 ".to_vec()),
        Just(b"PROXY TCP6 ".to_vec()),
        Just(V2_SIGNATURE.to_vec()),
        Just([&V2_SIGNATURE[..], &[0x21, 0x11]].concat()),
        Just([&V2_SIGNATURE[..], &[0x21, 0x21, 0, 40]].concat()),
    ];
    let ascii = prop::collection::vec(prop_oneof![b' '..=b'~', Just(b'\r'), Just(b'\n')], 0..130);
    let bytes = prop::collection::vec(any::<u8>(), 0..300);
    (start, prop_oneof![ascii, bytes]).prop_map(|(start, rest)| [start, rest].concat())
}

/// Whatever `parse` says about `bytes` stays inside its documented bounds.
fn check_bounds(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse(bytes) {
        Ok(Parse::Done { consumed, .. }) => prop_assert!(consumed <= bytes.len()),
        Ok(Parse::Incomplete { needed_at_least }) => {
            prop_assert!(needed_at_least > bytes.len());
            prop_assert!(needed_at_least <= V2_MAX_LEN);
        }
        Err(err) => prop_assert!(!err.to_string().contains('\n')),
    }
    Ok(())
}

proptest! {
    #[test]
    fn parse_never_panics_and_keeps_its_bounds(bytes in noise()) {
        check_bounds(&bytes)?;
    }

    #[test]
    fn corrupted_headers_never_panic(
        (_, mut bytes) in encoded(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let at = at.index(bytes.len());
        bytes[at] = byte;
        check_bounds(&bytes)?;
        check_bounds(&bytes[..cut.index(bytes.len() + 1)])?;
    }

    #[test]
    fn encode_then_parse_round_trips(header in header()) {
        for bytes in [header.encode_v1(), header.encode_v2()] {
            let done = Parse::Done { header: expected(header), consumed: bytes.len() };
            prop_assert_eq!(parse(&bytes), Ok(done));
        }
        prop_assert!(header.encode_v1().len() <= sockserv::proxy::V1_MAX_LEN);
    }

    #[test]
    fn every_prefix_is_incomplete_within_the_header((_, bytes) in encoded()) {
        for len in 0..bytes.len() {
            match parse(&bytes[..len]) {
                Ok(Parse::Incomplete { needed_at_least }) => {
                    prop_assert!(needed_at_least > len);
                    prop_assert!(needed_at_least <= bytes.len());
                }
                other => prop_assert!(false, "prefix of {} bytes: {:?}", len, other),
            }
        }
    }

    #[test]
    fn trailing_data_is_not_consumed(
        (header, bytes) in encoded(),
        data in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let done = Parse::Done { header: expected(header), consumed: bytes.len() };
        prop_assert_eq!(parse(&[&bytes[..], &data].concat()), Ok(done));
    }

    #[test]
    fn read_header_stops_at_the_header(
        (header, bytes) in encoded(),
        data in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut stream = Cursor::new([&bytes[..], &data].concat());
        prop_assert_eq!(read_header(&mut stream).unwrap(), expected(header));
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        prop_assert_eq!(rest, data);
    }
}
