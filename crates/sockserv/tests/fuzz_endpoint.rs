//! Property-based fuzzing of endpoint parsing (proptest: `cargo fuzz` needs a nightly
//! toolchain, which this project does not use). `Endpoint::from_str` never panics and
//! never fails without a one-line reason; valid endpoints survive Display → parse.
//!
//! Host names other than `localhost` and IP literals would be looked up in DNS while
//! parsing, which a test must not do: such inputs are skipped (`would_ask_dns`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;

use proptest::prelude::*;
use sockserv::Endpoint;

/// Whether parsing `input` would resolve a host name through DNS (mirrors the parser:
/// a scheme-less or tcp/udp `HOST:PORT` whose host is neither an IP nor `localhost`).
fn would_ask_dns(input: &str) -> bool {
    if input.starts_with("unix:") || input.starts_with("unixgram:") {
        return false;
    }
    let rest = input
        .strip_prefix("tcp://")
        .or_else(|| input.strip_prefix("udp://"))
        .unwrap_or(input);
    if rest != input || !input.contains("://") {
        if rest.parse::<SocketAddr>().is_ok() {
            return false;
        }
        if let Some((host, port)) = rest.rsplit_once(':') {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            return !host.is_empty()
                && port.parse::<u16>().is_ok()
                && host.parse::<IpAddr>().is_err()
                && host != "localhost";
        }
    }
    false
}

/// Text that looks like an endpoint more often than pure noise does.
fn endpointish() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just(""),
        Just("tcp://"),
        Just("udp://"),
        Just("unix:"),
        Just("unixgram:"),
        Just("unix://"),
        Just("http://"),
        Just("://"),
    ];
    let host = prop_oneof![
        Just(String::new()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("::1".to_owned()),
        Just("localhost".to_owned()),
        Just("[fe80::1%2]".to_owned()),
        "[0-9.]{0,20}",
        "\\PC{0,12}",
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":".to_owned()),
        Just(":0".to_owned()),
        Just(":65535".to_owned()),
        Just(":65536".to_owned()),
        Just(":-1".to_owned()),
        ":[0-9]{1,8}",
        ":\\PC{0,6}",
    ];
    (scheme, host, port).prop_map(|(s, h, p)| format!("{s}{h}{p}"))
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, scope)| {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, scope))
        }),
    ]
}

/// A path the parser accepts: 1–107 bytes, no NUL.
fn socket_path() -> impl Strategy<Value = PathBuf> {
    prop_oneof!["/[a-zA-Z0-9._/-]{0,60}", "[^\\x00]{1,40}", "/\\PC{0,30}",]
        .prop_filter("at most 107 bytes", |p| !p.is_empty() && p.len() <= 107)
        .prop_map(PathBuf::from)
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop_oneof![
        socket_addr().prop_map(Endpoint::Tcp),
        socket_addr().prop_map(Endpoint::Udp),
        socket_path().prop_map(Endpoint::Unix),
        socket_path().prop_map(Endpoint::UnixDatagram),
    ]
}

fn check_no_panic(input: &str) -> Result<(), TestCaseError> {
    prop_assume!(!would_ask_dns(input));
    match input.parse::<Endpoint>() {
        Ok(endpoint) => {
            // Whatever parses prints as something that parses back to itself.
            let text = endpoint.to_string();
            let again = text.parse::<Endpoint>();
            prop_assert_eq!(again, Ok(endpoint), "{}", text);
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(!message.contains('\n'), "{}", message);
            prop_assert!(message.starts_with("invalid endpoint"), "{}", message);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(input in "\\PC{0,40}") {
        check_no_panic(&input)?;
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
        check_no_panic(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn endpoint_like_strings_never_panic(input in endpointish()) {
        check_no_panic(&input)?;
    }

    #[test]
    fn valid_endpoints_round_trip(endpoint in endpoint()) {
        let text = endpoint.to_string();
        prop_assert_eq!(text.parse::<Endpoint>(), Ok(endpoint), "{}", text);
    }
}
