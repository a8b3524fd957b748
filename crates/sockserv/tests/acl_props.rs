//! `Cidr` against a naive bit-by-bit model, and parse/display round trips.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sockserv::acl::{AccessList, Cidr};

/// The address's bits, most significant first.
fn bits(ip: IpAddr) -> Vec<bool> {
    let octets = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    octets
        .iter()
        .flat_map(|byte| (0..8).rev().map(move |i| byte >> i & 1 == 1))
        .collect()
}

/// `ip` with every bit past `prefix` cleared, one bit at a time.
fn naive_network(ip: IpAddr, prefix: u8) -> IpAddr {
    let mut octets = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    for bit in usize::from(prefix)..octets.len() * 8 {
        octets[bit / 8] &= !(0x80 >> (bit % 8));
    }
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(octets).unwrap())),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(octets).unwrap())),
    }
}

/// The model: same family (an IPv4-mapped address counting as IPv4 for IPv4 networks)
/// and the first `prefix` bits equal.
fn naive_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.octets() {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] => {
                IpAddr::V4(Ipv4Addr::new(a, b, c, d))
            }
            _ => return false,
        },
        (IpAddr::V6(_), IpAddr::V4(_)) => return false,
        _ => ip,
    };
    let p = usize::from(prefix);
    bits(net)[..p] == bits(ip)[..p]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(IpAddr::V4),
        any::<Ipv6Addr>().prop_map(IpAddr::V6),
        any::<Ipv4Addr>().prop_map(|v4| IpAddr::V6(v4.to_ipv6_mapped())),
    ]
}

/// An address and a prefix length that fits it (anything from 0 to the full length).
fn ip_and_prefix() -> impl Strategy<Value = (IpAddr, u8)> {
    ip().prop_flat_map(|ip| {
        let max = if ip.is_ipv4() { 32u8 } else { 128 };
        (Just(ip), 0..=max)
    })
}

/// An address close to `net` (sharing a random number of leading bits), or any address.
fn probe(net: IpAddr) -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        ip(),
        (any::<u128>(), 0..=128u32).prop_map(move |(noise, keep)| {
            match net {
                IpAddr::V4(v4) => {
                    let flip = (noise as u32).checked_shr(keep % 33).unwrap_or(0);
                    IpAddr::V4(Ipv4Addr::from(u32::from(v4) ^ flip))
                }
                IpAddr::V6(v6) => {
                    let flip = noise.checked_shr(keep).unwrap_or(0);
                    IpAddr::V6(Ipv6Addr::from(u128::from(v6) ^ flip))
                }
            }
        }),
    ]
}

proptest! {
    #[test]
    fn contains_agrees_with_the_bitwise_model(
        (net, prefix, probe) in ip_and_prefix()
            .prop_flat_map(|(ip, prefix)| {
                let net = naive_network(ip, prefix);
                (Just(net), Just(prefix), probe(net))
            })
    ) {
        let cidr = Cidr::new(net, prefix).unwrap();
        prop_assert_eq!(cidr.contains(probe), naive_contains(net, prefix, probe));
        prop_assert!(cidr.contains(net));
    }

    #[test]
    fn host_bits_are_rejected_exactly_when_set((ip, prefix) in ip_and_prefix()) {
        let text = format!("{ip}/{prefix}");
        let network = naive_network(ip, prefix);
        match text.parse::<Cidr>() {
            Ok(cidr) => {
                prop_assert_eq!(network, ip);
                prop_assert_eq!((cidr.addr(), cidr.prefix_len()), (ip, prefix));
            }
            Err(err) => {
                prop_assert_ne!(network, ip);
                let expected = format!("the network is {network}/{prefix}");
                prop_assert!(err.to_string().contains(&expected));
            }
        }
    }

    #[test]
    fn display_then_parse_round_trips((ip, prefix) in ip_and_prefix()) {
        let cidr = Cidr::new(naive_network(ip, prefix), prefix).unwrap();
        prop_assert_eq!(cidr.to_string().parse::<Cidr>(), Ok(cidr));
        let host = Cidr::host(ip);
        prop_assert_eq!(ip.to_string().parse::<Cidr>(), Ok(host));
        prop_assert_eq!(host.to_string().parse::<Cidr>(), Ok(host));
    }

    #[test]
    fn permits_is_deny_then_allow(
        allow in prop::collection::vec(ip_and_prefix(), 0..4),
        deny in prop::collection::vec(ip_and_prefix(), 0..4),
        probe in ip(),
    ) {
        let cidrs = |rules: Vec<(IpAddr, u8)>| -> Vec<Cidr> {
            rules.into_iter().map(|(ip, p)| Cidr::new(naive_network(ip, p), p).unwrap()).collect()
        };
        let (allow, deny) = (cidrs(allow), cidrs(deny));
        let mut list = AccessList::new();
        for &net in &allow {
            list = list.allow(net);
        }
        for &net in &deny {
            list = list.deny(net);
        }
        let denied = deny.iter().any(|net| net.contains(probe));
        let allowed = allow.is_empty() || allow.iter().any(|net| net.contains(probe));
        prop_assert_eq!(list.permits(probe), !denied && allowed);
    }
}
