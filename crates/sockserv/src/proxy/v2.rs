//! PROXY protocol v2: the binary header, its address block and its TLVs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use super::{
    agrees_with, same_family, to_v6, Parse, ProxyError, ProxyHeader, V2_FIXED_LEN, V2_SIGNATURE,
};

pub(super) fn encode(header: ProxyHeader) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    let ProxyHeader::Proxied {
        source,
        destination,
    } = header
    else {
        out.extend_from_slice(&[0x20, 0x00, 0, 0]);
        return out;
    };
    match same_family(source, destination) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            out.extend_from_slice(&[0x21, 0x11, 0, 12]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        (src, dst) => {
            out.extend_from_slice(&[0x21, 0x21, 0, 36]);
            out.extend_from_slice(&to_v6(src).octets());
            out.extend_from_slice(&to_v6(dst).octets());
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
    out.extend_from_slice(&destination.port().to_be_bytes());
    out
}

/// The address block's length for a family/transport byte; `None` if the spec has none.
fn address_len(family: u8) -> Option<u16> {
    match family {
        0x00 => Some(0),
        0x11 | 0x12 => Some(12),
        0x21 | 0x22 => Some(36),
        0x31 | 0x32 => Some(216),
        _ => None,
    }
}

pub(super) fn parse(buf: &[u8]) -> Result<Parse, ProxyError> {
    if !agrees_with(buf, &V2_SIGNATURE) {
        return Err(ProxyError::NotProxy);
    }
    // Check each fixed byte as soon as it arrives.
    let command = buf.get(12).map(|&b| (b >> 4, b & 0x0f));
    match command {
        Some((version, _)) if version != 2 => return Err(ProxyError::Version(version)),
        Some((_, command)) if command > 1 => return Err(ProxyError::Command(command)),
        _ => {}
    }
    // LOCAL ignores the family; PROXY needs a known one.
    let proxied = command.is_some_and(|(_, command)| command == 1);
    let needed = match buf.get(13) {
        Some(&family) if proxied => address_len(family).ok_or(ProxyError::Family(family))?,
        _ => 0,
    };
    if buf.len() < V2_FIXED_LEN {
        return Ok(Parse::Incomplete {
            needed_at_least: V2_FIXED_LEN,
        });
    }
    let (family, length) = (buf[13], u16::from_be_bytes([buf[14], buf[15]]));
    if length < needed {
        return Err(ProxyError::AddressLength {
            family,
            length,
            needed,
        });
    }
    let total = V2_FIXED_LEN + usize::from(length);
    let Some(block) = buf.get(V2_FIXED_LEN..total) else {
        return Ok(Parse::Incomplete {
            needed_at_least: total,
        });
    };
    let header = if proxied && family != 0x00 {
        let (addresses, tlvs) = block.split_at(usize::from(needed));
        check_tlvs(tlvs, V2_FIXED_LEN + usize::from(needed))?;
        addresses_of(family, addresses)
    } else {
        ProxyHeader::Local
    };
    Ok(Parse::Done {
        header,
        consumed: total,
    })
}

/// TLVs (type, 16-bit length, value) must tile `tlvs` exactly; their content is skipped.
fn check_tlvs(tlvs: &[u8], base: usize) -> Result<(), ProxyError> {
    let mut at = 0;
    while at < tlvs.len() {
        let Some(&[_, hi, lo]) = tlvs.get(at..at + 3) else {
            return Err(ProxyError::Tlv { offset: base + at });
        };
        let next = at + 3 + usize::from(u16::from_be_bytes([hi, lo]));
        if next > tlvs.len() {
            return Err(ProxyError::Tlv { offset: base + at });
        }
        at = next;
    }
    Ok(())
}

/// The addresses of a known, non-UNSPEC family; `block` has exactly their length.
fn addresses_of(family: u8, block: &[u8]) -> ProxyHeader {
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    match (family >> 4, block) {
        (1, &[a, b, c, d, e, f, g, h, ..]) => ProxyHeader::Proxied {
            source: SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port(8)).into(),
            destination: SocketAddrV4::new(Ipv4Addr::new(e, f, g, h), port(10)).into(),
        },
        (2, _) => {
            let ip = |at: usize| {
                let mut octets = [0; 16];
                octets.copy_from_slice(&block[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            ProxyHeader::Proxied {
                source: SocketAddrV6::new(ip(0), port(32), 0, 0).into(),
                destination: SocketAddrV6::new(ip(16), port(34), 0, 0).into(),
            }
        }
        // UNIX paths are not socket addresses: the connection's own addresses stand in.
        _ => ProxyHeader::Local,
    }
}
