//! Access control by IP network: [`Cidr`] blocks and an allow/deny [`AccessList`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length, written `10.0.0.0/8`,
/// `fd00::/8`, or as a bare address meaning that one host (`/32`, `/128`).
///
/// The address must be the network's first address: `10.1.2.3/8` is rejected (it would
/// otherwise silently grow from what was likely meant as one host to a whole `/8`), and
/// the error names the network, `10.0.0.0/8`.
///
/// # Examples
///
/// ```
/// use sockserv::acl::Cidr;
///
/// let net: Cidr = "10.0.0.0/8".parse().unwrap();
/// assert!(net.contains("10.20.30.40".parse().unwrap()));
/// assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
/// assert!("10.1.2.3/8".parse::<Cidr>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `127.0.0.0/8`, the IPv4 loopback network.
    pub const LOOPBACK_V4: Cidr = Cidr {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
        prefix: 8,
    };

    /// `::1/128`, the IPv6 loopback address.
    pub const LOOPBACK_V6: Cidr = Cidr {
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        prefix: 128,
    };

    /// The network of `addr` with a `prefix`-bit mask.
    ///
    /// # Errors
    ///
    /// If `prefix` is longer than the address (32 or 128 bits), or `addr` has bits set
    /// past the prefix.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, ParseCidrError> {
        let fail = |reason: String| ParseCidrError {
            input: format!("{addr}/{prefix}"),
            reason,
        };
        let max = max_prefix(addr);
        if prefix > max {
            return Err(fail(format!("prefix length {prefix} is longer than {max}")));
        }
        let masked = mask(addr, prefix);
        if masked != addr {
            return Err(fail(format!(
                "host bits are set (the network is {masked}/{prefix})"
            )));
        }
        Ok(Cidr { addr, prefix })
    }

    /// The one-address network of `addr`: `/32` or `/128`.
    pub fn host(addr: IpAddr) -> Cidr {
        Cidr {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// The network's first address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as
    /// a dual-stack socket reports IPv4 peers) is matched as its IPv4 address against IPv4
    /// networks; a plain IPv4 address never matches an IPv6 network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            _ => ip,
        };
        mask(ip, self.prefix) == self.addr
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `addr` with all bits past the first `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    let keep = |bits: u32| bits.saturating_sub(u32::from(prefix));
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(keep(32)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(keep(128)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl fmt::Display for Cidr {
    /// Always with the prefix length: `10.0.0.0/8`, `::1/128`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a string is not a [`Cidr`]. Its `Display` is one line naming the input and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseCidrError {
    input: String,
    reason: String,
}

impl fmt::Display for ParseCidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid network {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseCidrError {}

impl FromStr for Cidr {
    type Err = ParseCidrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ParseCidrError {
            input: input.to_owned(),
            reason,
        };
        let (addr, prefix) = match input.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (input, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| fail(format!("{addr:?} is not an IP address")))?;
        let Some(prefix) = prefix else {
            return Ok(Cidr::host(addr));
        };
        // Digits only: u8's parser would also take "+8".
        let prefix = Some(prefix)
            .filter(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
            .ok_or_else(|| fail(format!("prefix length {prefix:?} is not a number")))?;
        Cidr::new(addr, prefix).map_err(|err| fail(err.reason))
    }
}

/// Which peers may connect: deny rules win, then the address must match an allow rule if
/// there is any. With no rules at all, everyone is permitted.
///
/// # Examples
///
/// ```
/// use sockserv::acl::{AccessList, Cidr};
///
/// let trusted = AccessList::new()
///     .allow("10.0.0.0/8".parse().unwrap())
///     .deny("10.0.0.66".parse().unwrap());
/// assert!(trusted.permits("10.1.2.3".parse().unwrap()));
/// assert!(!trusted.permits("10.0.0.66".parse().unwrap()));
/// assert!(!trusted.permits("192.168.1.1".parse().unwrap()));
/// assert!(AccessList::loopback().permits("::1".parse().unwrap()));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessList {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl AccessList {
    /// A list without rules: it permits every address.
    pub fn new() -> Self {
        AccessList::default()
    }

    /// A list allowing only loopback peers ([`Cidr::LOOPBACK_V4`], [`Cidr::LOOPBACK_V6`]):
    /// a safe default for "who may send a PROXY header".
    pub fn loopback() -> Self {
        AccessList::new()
            .allow(Cidr::LOOPBACK_V4)
            .allow(Cidr::LOOPBACK_V6)
    }

    /// Adds an allow rule: once there is one, only matching addresses are permitted.
    #[must_use = "allow returns the extended list"]
    pub fn allow(mut self, network: Cidr) -> Self {
        self.allow.push(network);
        self
    }

    /// Adds a deny rule: matching addresses are refused, whatever the allow rules say.
    #[must_use = "deny returns the extended list"]
    pub fn deny(mut self, network: Cidr) -> Self {
        self.deny.push(network);
        self
    }

    /// The allow rules, in the order added.
    pub fn allowed(&self) -> &[Cidr] {
        &self.allow
    }

    /// The deny rules, in the order added.
    pub fn denied(&self) -> &[Cidr] {
        &self.deny
    }

    /// Whether `ip` may connect.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let matches = |rules: &[Cidr]| rules.iter().any(|net| net.contains(ip));
        !matches(&self.deny) && (self.allow.is_empty() || matches(&self.allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_networks_and_bare_hosts() {
        for (text, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("192.168.1.7", "192.168.1.7/32"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
            ("fd00::/8", "fd00::/8"),
            ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ] {
            assert_eq!(cidr(text).to_string(), shown, "{text}");
        }
        assert_eq!(cidr("10.0.0.0/8").prefix_len(), 8);
        assert_eq!(cidr("10.0.0.0/8").addr(), ip("10.0.0.0"));
    }

    #[test]
    fn rejects_bad_networks_with_a_reason() {
        for (text, needle) in [
            ("10.0.0.0/33", "longer than 32"),
            ("::/129", "longer than 128"),
            (
                "10.1.2.3/8",
                "host bits are set (the network is 10.0.0.0/8)",
            ),
            ("fd00::1/8", "the network is fd00::/8"),
            ("10.0.0/8", "not an IP address"),
            ("example.com", "not an IP address"),
            ("", "not an IP address"),
            ("10.0.0.0/", "not a number"),
            ("10.0.0.0/+8", "not a number"),
            ("10.0.0.0/-1", "not a number"),
            ("10.0.0.0/1000", "not a number"),
            ("10.0.0.0/8/8", "not a number"),
            (" 10.0.0.0/8", "not an IP address"),
        ] {
            let err = text.parse::<Cidr>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains(&format!("{text:?}")), "{text}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn new_checks_like_parse() {
        assert_eq!(Cidr::new(ip("10.0.0.0"), 8), Ok(cidr("10.0.0.0/8")));
        let err = Cidr::new(ip("10.0.0.1"), 8).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid network \"10.0.0.1/8\": host bits are set (the network is 10.0.0.0/8)"
        );
        assert!(Cidr::new(ip("::"), 129).is_err());
        assert_eq!(Cidr::host(ip("::1")), Cidr::LOOPBACK_V6);
    }

    #[test]
    fn contains_matches_the_prefix_only() {
        let net = cidr("192.168.0.0/16");
        assert!(net.contains(ip("192.168.0.0")));
        assert!(net.contains(ip("192.168.255.255")));
        assert!(!net.contains(ip("192.169.0.0")));
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(cidr("1.2.3.4").contains(ip("1.2.3.4")));
        assert!(!cidr("1.2.3.4").contains(ip("1.2.3.5")));
        assert!(cidr("fd00::/8").contains(ip("fdff::1")));
        assert!(!cidr("fd00::/8").contains(ip("fe00::1")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_networks() {
        assert!(Cidr::LOOPBACK_V4.contains(ip("::ffff:127.0.0.1")));
        assert!(!Cidr::LOOPBACK_V4.contains(ip("::ffff:128.0.0.1")));
        // IPv4-compatible (deprecated) and other IPv6 addresses are not IPv4.
        assert!(!Cidr::LOOPBACK_V4.contains(ip("::127.0.0.1")));
        assert!(!Cidr::LOOPBACK_V4.contains(ip("::1")));
        // The mapped range as an IPv6 network still matches mapped addresses, not IPv4.
        assert!(cidr("::ffff:0:0/96").contains(ip("::ffff:1.2.3.4")));
        assert!(!cidr("::ffff:0:0/96").contains(ip("1.2.3.4")));
        assert!(!cidr("::/0").contains(ip("1.2.3.4")));
    }

    #[test]
    fn empty_list_permits_everyone() {
        let list = AccessList::new();
        assert!(list.permits(ip("1.2.3.4")));
        assert!(list.permits(ip("::")));
    }

    #[test]
    fn deny_wins_over_allow() {
        let list = AccessList::new()
            .deny(cidr("10.0.0.0/24"))
            .allow(cidr("10.0.0.0/8"));
        assert!(!list.permits(ip("10.0.0.9")));
        assert!(list.permits(ip("10.0.1.9")));
        assert!(!list.permits(ip("11.0.0.1")));
        assert_eq!(list.allowed(), &[cidr("10.0.0.0/8")]);
        assert_eq!(list.denied(), &[cidr("10.0.0.0/24")]);
    }

    #[test]
    fn deny_only_permits_the_rest() {
        let list = AccessList::new().deny(cidr("203.0.113.0/24"));
        assert!(!list.permits(ip("203.0.113.5")));
        assert!(!list.permits(ip("::ffff:203.0.113.5")));
        assert!(list.permits(ip("198.51.100.1")));
    }

    #[test]
    fn loopback_list_is_loopback_only() {
        let list = AccessList::loopback();
        for yes in ["127.0.0.1", "127.255.0.3", "::1", "::ffff:127.0.0.1"] {
            assert!(list.permits(ip(yes)), "{yes}");
        }
        for no in ["10.0.0.1", "::2", "0.0.0.0", "::"] {
            assert!(!list.permits(ip(no)), "{no}");
        }
    }
}
