//! Addresses as tracemap judges them: CIDR prefixes (`--trusted-proxy`, the special-address table), the IPv4
//! address carried inside an IPv6 one, and the one table of special-purpose addresses ([`special`]) that the
//! target policy, `locate`, enrichment and the page all read. No I/O; nothing here knows HTTP.

pub mod special;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

pub use special::{AddressKind, Special, Verdict, judge, kind_of};

/// An address block such as `10.0.0.0/8` or `2001:db8::/32`; the address is kept with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The block of `len` leading bits of `addr` (`len` is capped at the family's width).
    pub const fn new(addr: IpAddr, len: u8) -> Prefix {
        match addr {
            IpAddr::V4(v4) => {
                let len = if len > 32 { 32 } else { len };
                let bits = v4.to_bits() & mask32(len);
                Prefix { addr: IpAddr::V4(Ipv4Addr::from_bits(bits)), len }
            }
            IpAddr::V6(v6) => {
                let len = if len > 128 { 128 } else { len };
                let bits = v6.to_bits() & mask128(len);
                Prefix { addr: IpAddr::V6(Ipv6Addr::from_bits(bits)), len }
            }
        }
    }

    /// An IPv4 block.
    pub const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Prefix {
        Prefix::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), len)
    }

    /// An IPv6 block from its eight 16-bit groups.
    pub const fn v6(groups: [u16; 8], len: u8) -> Prefix {
        let [a, b, c, d, e, f, g, h] = groups;
        Prefix::new(IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)), len)
    }

    /// The first address of the block.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// How many leading bits are fixed.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether the block is the whole address space of its family (`0.0.0.0/0`, `::/0`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `ip` is inside the block. IPv4 and IPv6 never mix: `::ffff:10.0.0.1` is not in `10.0.0.0/8`
    /// (callers that want that unwrap the IPv4-mapped address first).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => ip.to_bits() & mask32(self.len) == net.to_bits(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => ip.to_bits() & mask128(self.len) == net.to_bits(),
            _ => false,
        }
    }
}

const fn mask32(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len as u32) }
}

const fn mask128(len: u8) -> u128 {
    if len == 0 { 0 } else { u128::MAX << (128 - len as u32) }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address or a CIDR block (e.g. 127.0.0.1/32, 10.0.0.0/8, fd00::/8)")]
pub struct BadPrefix(pub String);

impl FromStr for Prefix {
    type Err = BadPrefix;

    /// `ADDR/LEN`, or a bare address (a block of one). Host bits set below the length are refused: `10.0.0.1/8`
    /// is more likely a typo than a wish for all of 10/8.
    fn from_str(s: &str) -> Result<Prefix, BadPrefix> {
        let bad = || BadPrefix(s.to_owned());
        let (addr, len) = match s.trim().split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => width,
            Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) && len.len() <= 3 => {
                len.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        if len > width {
            return Err(bad());
        }
        let prefix = Prefix::new(addr, len);
        if prefix.addr != addr {
            return Err(bad());
        }
        Ok(prefix)
    }
}

/// How an IPv6 address carries an IPv4 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:0:0/96` (RFC 4291): the same host, reached over an IPv6 socket.
    Mapped,
    /// `64:ff9b::/96` (RFC 6052): a NAT64 gateway forwards to the IPv4 address.
    Nat64,
    /// `64:ff9b:1::/48` (RFC 8215), local-use NAT64, the IPv4 address placed as RFC 6052 does for a /48.
    Nat64Local,
    /// `2002::/16` (RFC 3056): 6to4, the IPv4 address of the site's 6to4 router in bits 16–47.
    SixToFour,
    /// `2001::/32` (RFC 4380): Teredo; the client's public IPv4 address, bit-inverted, in the last 32 bits.
    Teredo,
}

impl Embedding {
    /// How the embedding is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped",
            Embedding::Nat64 => "NAT64",
            Embedding::Nat64Local => "local-use NAT64",
            Embedding::SixToFour => "6to4",
            Embedding::Teredo => "Teredo",
        }
    }
}

/// The IPv4 address an IPv6 address carries, and how, for the embeddings that reach an IPv4 host.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some((Embedding::Mapped, v4));
    }
    if Prefix::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96).contains(IpAddr::V6(ip)) {
        return Some((Embedding::Nat64, tail));
    }
    if Prefix::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48).contains(IpAddr::V6(ip)) {
        // RFC 6052 §2.2 for a /48: bits 48–63, then (after the zero "u" octet, bits 64–71) bits 72–87.
        return Some((Embedding::Nat64Local, Ipv4Addr::new(o[6], o[7], o[9], o[10])));
    }
    if Prefix::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16).contains(IpAddr::V6(ip)) {
        return Some((Embedding::SixToFour, Ipv4Addr::new(o[2], o[3], o[4], o[5])));
    }
    if Prefix::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32).contains(IpAddr::V6(ip)) {
        return Some((Embedding::Teredo, Ipv4Addr::from_bits(!tail.to_bits())));
    }
    None
}

/// `ip` with an IPv4-mapped IPv6 address turned into the IPv4 address it is (the same host either way).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn prefixes_parse_and_match() {
        let p: Prefix = "10.0.0.0/8".parse().expect("v4");
        assert!(p.contains(ip("10.255.0.1")) && !p.contains(ip("11.0.0.1")) && !p.contains(ip("::ffff:10.0.0.1")));
        let one: Prefix = "127.0.0.1".parse().expect("bare address");
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Prefix = "fd00::/8".parse().expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Prefix = "0.0.0.0/0".parse().expect("everything");
        assert!(all.is_empty() && all.contains(ip("203.0.113.1")) && !all.contains(ip("::1")));
        for bad in
            ["", "10.0.0.1/8", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/+8", "host/8", "::/-1", "1/2/3"]
        {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv4_addresses_inside_ipv6_are_found() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().expect("v6");
        let v4 = |s: &str| s.parse::<Ipv4Addr>().expect("v4");
        assert_eq!(embedded_v4(v6("::ffff:10.1.2.3")), Some((Embedding::Mapped, v4("10.1.2.3"))));
        assert_eq!(embedded_v4(v6("64:ff9b::c0a8:101")), Some((Embedding::Nat64, v4("192.168.1.1"))));
        // 192.168.1.1 in a /48 local-use prefix: c0a8 in group 3, then 00 01 01 around the u octet.
        assert_eq!(embedded_v4(v6("64:ff9b:1:c0a8:1:100::")), Some((Embedding::Nat64Local, v4("192.168.1.1"))));
        assert_eq!(embedded_v4(v6("2002:a00:1::1")), Some((Embedding::SixToFour, v4("10.0.0.1"))));
        // RFC 4380 §4's example: client 192.0.2.45 is stored inverted as 3fff:fdd2.
        assert_eq!(
            embedded_v4(v6("2001:0:4136:e378:8000:63bf:3fff:fdd2")),
            Some((Embedding::Teredo, v4("192.0.2.45")))
        );
        assert_eq!(embedded_v4(v6("2606:4700::1111")), None);
        assert_eq!(canonical(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(canonical(ip("::1")), ip("::1"));
    }
}
