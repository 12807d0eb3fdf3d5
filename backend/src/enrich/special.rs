//! Address kinds: which special-purpose range (RFC 6890 and friends) an address falls in.
//!
//! Private, shared, link-local and similar addresses mean the same thing everywhere and so nowhere in particular:
//! no public database can place them, and guessing would draw a router in the wrong country. Naming their kind
//! tells the user why such a hop has no point on the map. IPv4-mapped IPv6 addresses are judged by their IPv4 part.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What sort of address a hop has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// Globally routed: databases may know where it is.
    Public,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16).
    Private,
    /// RFC 6598 carrier-grade NAT space, 100.64/10.
    Shared,
    /// 127/8 and ::1.
    Loopback,
    /// 169.254/16 and fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 (and 3fff::/20).
    Documentation,
    /// 224/4 and ff00::/8.
    Multicast,
    /// 198.18/15, for network benchmarks.
    Benchmarking,
    /// 0.0.0.0 and ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// Other reserved space: 0/8, 192.0.0/24, 240/4.
    Reserved,
}

impl AddressKind {
    /// The label used in every output (`kind` in JSON and events).
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Public => "public",
            AddressKind::Private => "private",
            AddressKind::Shared => "shared",
            AddressKind::Loopback => "loopback",
            AddressKind::LinkLocal => "link-local",
            AddressKind::UniqueLocal => "unique-local",
            AddressKind::Documentation => "documentation",
            AddressKind::Multicast => "multicast",
            AddressKind::Benchmarking => "benchmarking",
            AddressKind::Unspecified => "unspecified",
            AddressKind::Broadcast => "broadcast",
            AddressKind::Reserved => "reserved",
        }
    }

    /// Whether the address is special (anything but public).
    pub fn is_special(self) -> bool {
        self != AddressKind::Public
    }
}

impl std::fmt::Display for AddressKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of `ip`.
pub fn kind_of(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => kind_of_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => kind_of_v4(v4),
            None => kind_of_v6(v6),
        },
    }
}

fn kind_of_v4(ip: Ipv4Addr) -> AddressKind {
    let bits = u32::from(ip);
    let within = |net: [u8; 4], len: u32| bits >> (32 - len) == u32::from(Ipv4Addr::from(net)) >> (32 - len);
    if ip.is_unspecified() {
        AddressKind::Unspecified
    } else if ip.is_broadcast() {
        AddressKind::Broadcast
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if ip.is_private() {
        AddressKind::Private
    } else if within([100, 64, 0, 0], 10) {
        AddressKind::Shared
    } else if ip.is_link_local() {
        AddressKind::LinkLocal
    } else if ip.is_documentation() {
        AddressKind::Documentation
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if within([198, 18, 0, 0], 15) {
        AddressKind::Benchmarking
    } else if within([0, 0, 0, 0], 8) || within([192, 0, 0, 0], 24) || within([240, 0, 0, 0], 4) {
        AddressKind::Reserved
    } else {
        AddressKind::Public
    }
}

fn kind_of_v6(ip: Ipv6Addr) -> AddressKind {
    let bits = u128::from(ip);
    let within = |net: &str, len: u32| {
        let net: Ipv6Addr = net.parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        bits >> (128 - len) == u128::from(net) >> (128 - len)
    };
    if ip.is_unspecified() {
        AddressKind::Unspecified
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if ip.is_unicast_link_local() {
        AddressKind::LinkLocal
    } else if ip.is_unique_local() {
        AddressKind::UniqueLocal
    } else if within("2001:db8::", 32) || within("3fff::", 20) {
        AddressKind::Documentation
    } else if within("2001:2::", 48) {
        AddressKind::Benchmarking
    } else {
        AddressKind::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> &'static str {
        kind_of(s.parse().expect("test address")).as_str()
    }

    #[test]
    fn every_special_range_is_named() {
        for (addr, expected) in [
            ("10.0.2.1", "private"),
            ("172.16.0.3", "private"),
            ("172.31.255.255", "private"),
            ("172.32.0.1", "public"),
            ("192.168.8.3", "private"),
            ("100.64.0.1", "shared"),
            ("100.127.255.254", "shared"),
            ("100.128.0.1", "public"),
            ("127.0.0.1", "loopback"),
            ("169.254.1.1", "link-local"),
            ("192.0.2.7", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("198.19.0.1", "benchmarking"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("1.1.1.1", "public"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("2001:db8::1", "documentation"),
            ("ff02::1", "multicast"),
            ("2606:4700::1111", "public"),
            ("::ffff:192.168.1.1", "private"),
            ("::ffff:8.8.8.8", "public"),
        ] {
            assert_eq!(kind(addr), expected, "{addr}");
        }
    }
}
