//! PROXY protocol v1: one text line, `PROXY TCP4|TCP6|UNKNOWN ...\r\n`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{agrees_with, same_family, Parse, ProxyError, ProxyHeader, V1_MAX_LEN, V1_MIN_LEN};

const PREFIX: &[u8] = b"PROXY ";

pub(super) fn encode(header: ProxyHeader) -> Vec<u8> {
    let ProxyHeader::Proxied {
        source,
        destination,
    } = header
    else {
        return b"PROXY UNKNOWN\r\n".to_vec();
    };
    let (src_ip, dst_ip) = same_family(source, destination);
    let protocol = if src_ip.is_ipv4() { "TCP4" } else { "TCP6" };
    let (src_port, dst_port) = (source.port(), destination.port());
    format!("PROXY {protocol} {src_ip} {dst_ip} {src_port} {dst_port}\r\n").into_bytes()
}

pub(super) fn parse(buf: &[u8]) -> Result<Parse, ProxyError> {
    if !agrees_with(buf, PREFIX) {
        return Err(ProxyError::NotProxy);
    }
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX_LEN {
            return Err(ProxyError::LineTooLong);
        }
        // Still to come: the "\n", and the "\r" too unless it is the last byte seen.
        let rest = if buf.ends_with(b"\r") { 1 } else { 2 };
        return Ok(Parse::Incomplete {
            needed_at_least: (buf.len() + rest).max(V1_MIN_LEN),
        });
    };
    let line = window[..lf]
        .strip_suffix(b"\r")
        .ok_or_else(|| line_error("the line ends in LF without CR".into()))?;
    Ok(Parse::Done {
        header: parse_line(&line[PREFIX.len()..])?,
        consumed: lf + 1,
    })
}

fn line_error(reason: String) -> ProxyError {
    ProxyError::Line { reason }
}

/// The line after `PROXY `, without `\r\n`.
fn parse_line(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    // The spec says to ignore whatever follows UNKNOWN, so it need not even be text.
    if line == b"UNKNOWN" || line.starts_with(b"UNKNOWN ") {
        return Ok(ProxyHeader::Local);
    }
    let text = std::str::from_utf8(line)
        .ok()
        .filter(|text| text.is_ascii())
        .ok_or_else(|| line_error("the line is not ASCII".into()))?;
    let mut fields = text.split(' ');
    let protocol = fields.next().unwrap_or_default();
    let v4 = match protocol {
        "TCP4" => true,
        "TCP6" => false,
        _ => {
            return Err(line_error(format!(
                "protocol {protocol:?} is not TCP4, TCP6 or UNKNOWN"
            )))
        }
    };
    let (Some(src), Some(dst), Some(src_port), Some(dst_port), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(line_error(format!(
            "{protocol} needs exactly four fields separated by single spaces"
        )));
    };
    let ip = |field: &str, what: &str| -> Result<IpAddr, ProxyError> {
        let parsed = if v4 {
            field.parse::<Ipv4Addr>().map(IpAddr::V4)
        } else {
            field.parse::<Ipv6Addr>().map(IpAddr::V6)
        };
        parsed.map_err(|_| line_error(format!("{what} {field:?} is not an {protocol} address")))
    };
    Ok(ProxyHeader::Proxied {
        source: SocketAddr::new(ip(src, "source")?, port(src_port, "source")?),
        destination: SocketAddr::new(ip(dst, "destination")?, port(dst_port, "destination")?),
    })
}

/// A decimal port without sign or leading zeros (which senders never write).
fn port(field: &str, what: &str) -> Result<u16, ProxyError> {
    let canonical = (1..=5).contains(&field.len())
        && field.bytes().all(|b| b.is_ascii_digit())
        && (field == "0" || !field.starts_with('0'));
    field
        .parse()
        .ok()
        .filter(|_| canonical)
        .ok_or_else(|| line_error(format!("{what} port {field:?} is not a number 0-65535")))
}
