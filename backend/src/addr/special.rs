//! The one table of special-purpose addresses, written from IANA's IPv4 and IPv6 Special-Purpose Address
//! Registries (RFC 6890), one row per registry entry, plus the few blocks those registries leave to the address
//! space registries (multicast, IPv6 site-local). Each row says what the page and `locate` call such an address
//! (its [`AddressKind`]) and whether a remote client may make the server probe it (the registry's "globally
//! reachable", except where an embedded IPv4 address decides). The target policy, enrichment, `locate` and the
//! page's `kind` words all come from here, so they cannot disagree.

use std::net::{IpAddr, Ipv4Addr};

use super::{Embedding, Prefix, embedded_v4};

/// What sort of address a hop or a target is, in the words users see (`kind` in JSON, events and the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// Globally routed: databases may know where it is.
    Public,
    /// RFC 1918 private use.
    Private,
    /// RFC 6598 carrier-grade NAT space, 100.64/10.
    Shared,
    /// 127/8 and ::1.
    Loopback,
    /// 169.254/16 and fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// Ranges set aside for examples in documents (RFC 5737, 3849, 9637).
    Documentation,
    /// 224/4 and ff00::/8.
    Multicast,
    /// 198.18/15 and 2001:2::/48, for network benchmarks.
    Benchmarking,
    /// 0.0.0.0 and ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// Reserved or deprecated space: 0/8, 240/4, 192.88.99/24, 2001:10::/28.
    Reserved,
    /// IETF protocol assignments (192.0.0/24, 2001::/23) that no host outside the protocol answers for.
    ProtocolAssignment,
    /// A well-known anycast service (PCP, TURN, AS112, AMT...), reachable like any public address.
    Anycast,
    /// An IPv4 host written in a NAT64 prefix (RFC 6052, RFC 8215).
    Nat64,
    /// A 6to4 address (RFC 3056).
    SixToFour,
    /// A Teredo tunnel address (RFC 4380).
    Teredo,
    /// A discard-only prefix (RFC 6666).
    Discard,
    /// A dummy address or prefix that stands for "none" (RFC 7600, RFC 9780).
    Dummy,
    /// Overlay identifiers (ORCHIDv2, drone remote IDs): names, not places.
    Identifier,
    /// Segment Routing (SRv6) SIDs, RFC 9602.
    SegmentRouting,
    /// fec0::/10, deprecated site-local (RFC 3879).
    SiteLocal,
}

impl AddressKind {
    /// The label used in every output (`kind` in JSON and events, the page's sentences).
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
            AddressKind::ProtocolAssignment => "protocol-assignment",
            AddressKind::Anycast => "anycast",
            AddressKind::Nat64 => "nat64",
            AddressKind::SixToFour => "6to4",
            AddressKind::Teredo => "teredo",
            AddressKind::Discard => "discard",
            AddressKind::Dummy => "dummy",
            AddressKind::Identifier => "identifier",
            AddressKind::SegmentRouting => "srv6-sid",
            AddressKind::SiteLocal => "site-local",
        }
    }

    /// "a private address", "an unspecified address": the kind in a sentence.
    pub fn phrase(self) -> String {
        let article = match self {
            AddressKind::Unspecified | AddressKind::Anycast | AddressKind::Identifier => "an",
            _ => "a",
        };
        format!("{article} {} address", self.as_str())
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

/// Which IANA registry a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// IANA IPv4 Special-Purpose Address Registry.
    Ipv4Special,
    /// IANA IPv6 Special-Purpose Address Registry.
    Ipv6Special,
    /// IANA IPv4 Address Space Registry (blocks the special-purpose registry leaves out).
    Ipv4Space,
    /// IANA IPv6 Address Space Registry (likewise).
    Ipv6Space,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Special {
    /// The block.
    pub prefix: Prefix,
    /// Its name in the registry.
    pub name: &'static str,
    /// The defining document(s).
    pub reference: &'static str,
    /// Where the row comes from.
    pub registry: Registry,
    /// What users are told it is.
    pub kind: AddressKind,
    /// Whether a remote client may have the server probe it: the registry's "globally reachable" (for the
    /// embeddings, the embedded IPv4 address must be a target too).
    pub target: bool,
}

const fn row(
    prefix: Prefix,
    name: &'static str,
    reference: &'static str,
    registry: Registry,
    kind: AddressKind,
    target: bool,
) -> Special {
    Special { prefix, name, reference, registry, kind, target }
}

use AddressKind as K;
use Registry::{Ipv4Space, Ipv4Special, Ipv6Space, Ipv6Special};

/// Every row, IPv4 then IPv6, in registry order. The most specific row containing an address wins.
pub const TABLE: &[Special] = &[
    // IANA IPv4 Special-Purpose Address Registry.
    row(Prefix::v4(0, 0, 0, 0, 8), "\"This network\"", "RFC 791 §3.2", Ipv4Special, K::Reserved, false),
    row(
        Prefix::v4(0, 0, 0, 0, 32),
        "\"This host on this network\"",
        "RFC 1122 §3.2.1.3",
        Ipv4Special,
        K::Unspecified,
        false,
    ),
    row(Prefix::v4(10, 0, 0, 0, 8), "Private-Use", "RFC 1918", Ipv4Special, K::Private, false),
    row(Prefix::v4(100, 64, 0, 0, 10), "Shared Address Space", "RFC 6598", Ipv4Special, K::Shared, false),
    row(Prefix::v4(127, 0, 0, 0, 8), "Loopback", "RFC 1122 §3.2.1.3", Ipv4Special, K::Loopback, false),
    row(Prefix::v4(169, 254, 0, 0, 16), "Link Local", "RFC 3927", Ipv4Special, K::LinkLocal, false),
    row(Prefix::v4(172, 16, 0, 0, 12), "Private-Use", "RFC 1918", Ipv4Special, K::Private, false),
    row(
        Prefix::v4(192, 0, 0, 0, 24),
        "IETF Protocol Assignments",
        "RFC 6890 §2.1",
        Ipv4Special,
        K::ProtocolAssignment,
        false,
    ),
    row(
        Prefix::v4(192, 0, 0, 0, 29),
        "IPv4 Service Continuity Prefix",
        "RFC 7335",
        Ipv4Special,
        K::ProtocolAssignment,
        false,
    ),
    row(Prefix::v4(192, 0, 0, 8, 32), "IPv4 dummy address", "RFC 7600", Ipv4Special, K::Dummy, false),
    row(Prefix::v4(192, 0, 0, 9, 32), "Port Control Protocol Anycast", "RFC 7723", Ipv4Special, K::Anycast, true),
    row(
        Prefix::v4(192, 0, 0, 10, 32),
        "Traversal Using Relays around NAT Anycast",
        "RFC 8155",
        Ipv4Special,
        K::Anycast,
        true,
    ),
    row(
        Prefix::v4(192, 0, 0, 170, 32),
        "NAT64/DNS64 Discovery",
        "RFC 8880, RFC 7050 §2.2",
        Ipv4Special,
        K::ProtocolAssignment,
        false,
    ),
    row(
        Prefix::v4(192, 0, 0, 171, 32),
        "NAT64/DNS64 Discovery",
        "RFC 8880, RFC 7050 §2.2",
        Ipv4Special,
        K::ProtocolAssignment,
        false,
    ),
    row(Prefix::v4(192, 0, 2, 0, 24), "Documentation (TEST-NET-1)", "RFC 5737", Ipv4Special, K::Documentation, false),
    row(Prefix::v4(192, 31, 196, 0, 24), "AS112-v4", "RFC 7535", Ipv4Special, K::Anycast, true),
    row(Prefix::v4(192, 52, 193, 0, 24), "AMT", "RFC 7450", Ipv4Special, K::Anycast, true),
    row(Prefix::v4(192, 88, 99, 0, 24), "Deprecated (6to4 Relay Anycast)", "RFC 7526", Ipv4Special, K::Reserved, false),
    row(Prefix::v4(192, 88, 99, 2, 32), "6a44-relay anycast address", "RFC 6751", Ipv4Special, K::Reserved, false),
    row(Prefix::v4(192, 168, 0, 0, 16), "Private-Use", "RFC 1918", Ipv4Special, K::Private, false),
    row(Prefix::v4(192, 175, 48, 0, 24), "Direct Delegation AS112 Service", "RFC 7534", Ipv4Special, K::Anycast, true),
    row(Prefix::v4(198, 18, 0, 0, 15), "Benchmarking", "RFC 2544", Ipv4Special, K::Benchmarking, false),
    row(
        Prefix::v4(198, 51, 100, 0, 24),
        "Documentation (TEST-NET-2)",
        "RFC 5737",
        Ipv4Special,
        K::Documentation,
        false,
    ),
    row(Prefix::v4(203, 0, 113, 0, 24), "Documentation (TEST-NET-3)", "RFC 5737", Ipv4Special, K::Documentation, false),
    row(Prefix::v4(240, 0, 0, 0, 4), "Reserved", "RFC 1112 §4", Ipv4Special, K::Reserved, false),
    row(
        Prefix::v4(255, 255, 255, 255, 32),
        "Limited Broadcast",
        "RFC 8190, RFC 919 §7",
        Ipv4Special,
        K::Broadcast,
        false,
    ),
    // IANA IPv4 Address Space Registry: multicast is not in the special-purpose registry.
    row(Prefix::v4(224, 0, 0, 0, 4), "Multicast", "RFC 5771", Ipv4Space, K::Multicast, false),
    // IANA IPv6 Special-Purpose Address Registry.
    row(Prefix::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "Loopback Address", "RFC 4291", Ipv6Special, K::Loopback, false),
    row(Prefix::v6([0; 8], 128), "Unspecified Address", "RFC 4291", Ipv6Special, K::Unspecified, false),
    row(Prefix::v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), "IPv4-mapped Address", "RFC 4291", Ipv6Special, K::Public, true),
    row(
        Prefix::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-IPv6 Translat.",
        "RFC 6052",
        Ipv6Special,
        K::Nat64,
        true,
    ),
    row(
        Prefix::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "IPv4-IPv6 Translat.",
        "RFC 8215",
        Ipv6Special,
        K::Nat64,
        false,
    ),
    row(
        Prefix::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "Discard-Only Address Block",
        "RFC 6666",
        Ipv6Special,
        K::Discard,
        false,
    ),
    row(Prefix::v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64), "Dummy IPv6 Prefix", "RFC 9780", Ipv6Special, K::Dummy, false),
    row(
        Prefix::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF Protocol Assignments",
        "RFC 2928",
        Ipv6Special,
        K::ProtocolAssignment,
        false,
    ),
    row(Prefix::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "TEREDO", "RFC 4380, RFC 8190", Ipv6Special, K::Teredo, false),
    row(
        Prefix::v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128),
        "Port Control Protocol Anycast",
        "RFC 7723",
        Ipv6Special,
        K::Anycast,
        true,
    ),
    row(
        Prefix::v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128),
        "Traversal Using Relays around NAT Anycast",
        "RFC 8155",
        Ipv6Special,
        K::Anycast,
        true,
    ),
    row(
        Prefix::v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128),
        "DNS-SD Service Registration Protocol Anycast",
        "RFC 9665",
        Ipv6Special,
        K::Anycast,
        true,
    ),
    row(
        Prefix::v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48),
        "Benchmarking",
        "RFC 5180, RFC Errata 1752",
        Ipv6Special,
        K::Benchmarking,
        false,
    ),
    row(Prefix::v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32), "AMT", "RFC 7450", Ipv6Special, K::Anycast, true),
    row(Prefix::v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48), "AS112-v6", "RFC 7535", Ipv6Special, K::Anycast, true),
    row(
        Prefix::v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28),
        "Deprecated (previously ORCHID)",
        "RFC 4843",
        Ipv6Special,
        K::Reserved,
        false,
    ),
    row(Prefix::v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), "ORCHIDv2", "RFC 7343", Ipv6Special, K::Identifier, true),
    row(
        Prefix::v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        "RFC 9374",
        Ipv6Special,
        K::Identifier,
        true,
    ),
    row(
        Prefix::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "Documentation",
        "RFC 3849",
        Ipv6Special,
        K::Documentation,
        false,
    ),
    row(Prefix::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), "6to4", "RFC 3056", Ipv6Special, K::SixToFour, true),
    row(
        Prefix::v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48),
        "Direct Delegation AS112 Service",
        "RFC 7534",
        Ipv6Special,
        K::Anycast,
        true,
    ),
    row(
        Prefix::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "Documentation",
        "RFC 9637",
        Ipv6Special,
        K::Documentation,
        false,
    ),
    row(
        Prefix::v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "Segment Routing (SRv6) SIDs",
        "RFC 9602",
        Ipv6Special,
        K::SegmentRouting,
        false,
    ),
    row(
        Prefix::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "Unique-Local",
        "RFC 4193, RFC 8190",
        Ipv6Special,
        K::UniqueLocal,
        false,
    ),
    row(
        Prefix::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "Link-Local Unicast",
        "RFC 4291",
        Ipv6Special,
        K::LinkLocal,
        false,
    ),
    // IANA IPv6 Address Space Registry: multicast, and the deprecated site-local block.
    row(
        Prefix::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "Site-Local (deprecated)",
        "RFC 3879",
        Ipv6Space,
        K::SiteLocal,
        false,
    ),
    row(Prefix::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "Multicast", "RFC 4291", Ipv6Space, K::Multicast, false),
];

/// The most specific row containing `ip`, if any (no unwrapping of embedded addresses).
pub fn row_of(ip: IpAddr) -> Option<&'static Special> {
    TABLE.iter().filter(|row| row.prefix.contains(ip)).max_by_key(|row| row.prefix.len())
}

/// What the table says about one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// What users are told it is.
    pub kind: AddressKind,
    /// Whether a remote client may have the server probe it.
    pub target: bool,
    /// The deciding row (`None` for an ordinary public address).
    pub row: Option<&'static Special>,
    /// When an embedded IPv4 address decided: how it was embedded and the address.
    pub via: Option<(Embedding, Ipv4Addr)>,
}

impl std::fmt::Display for Verdict {
    /// "a private address (Private-Use, RFC 1918), written as NAT64 IPv6 (10.0.0.1)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind.phrase())?;
        if let Some(row) = self.row {
            write!(f, " ({}, {})", row.name, row.reference)?;
        }
        if let Some((embedding, v4)) = self.via {
            write!(f, ", written as {} IPv6 ({v4})", embedding.as_str())?;
        }
        Ok(())
    }
}

/// Judges `ip` by the table. An IPv6 address that carries an IPv4 host (IPv4-mapped, NAT64, 6to4) is only a
/// target when that host is; an IPv4-mapped address is named by its IPv4 address (it is the same host).
pub fn judge(ip: IpAddr) -> Verdict {
    let of_row = |row: Option<&'static Special>| Verdict {
        kind: row.map_or(AddressKind::Public, |r| r.kind),
        target: row.is_none_or(|r| r.target),
        row,
        via: None,
    };
    let IpAddr::V6(v6) = ip else { return of_row(row_of(ip)) };
    let own = of_row(row_of(ip));
    match embedded_v4(v6) {
        Some((Embedding::Mapped, v4)) => Verdict { via: Some((Embedding::Mapped, v4)), ..judge(IpAddr::V4(v4)) },
        Some((embedding, v4)) if own.target => {
            let inner = judge(IpAddr::V4(v4));
            if inner.target { own } else { Verdict { via: Some((embedding, v4)), ..inner } }
        }
        _ => own,
    }
}

/// The kind of `ip`.
pub fn kind_of(ip: IpAddr) -> AddressKind {
    judge(ip).kind
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    /// One line per registry row: an address inside the row (and in no more specific row), the kind users see
    /// and whether a remote client may trace it.
    const ROWS: &[(&str, &str, &str, bool)] = &[
        ("0.0.0.0/8", "0.1.2.3", "reserved", false),
        ("0.0.0.0/32", "0.0.0.0", "unspecified", false),
        ("10.0.0.0/8", "10.255.255.254", "private", false),
        ("100.64.0.0/10", "100.127.255.254", "shared", false),
        ("127.0.0.0/8", "127.3.2.1", "loopback", false),
        ("169.254.0.0/16", "169.254.169.254", "link-local", false),
        ("172.16.0.0/12", "172.31.255.255", "private", false),
        ("192.0.0.0/24", "192.0.0.200", "protocol-assignment", false),
        ("192.0.0.0/29", "192.0.0.1", "protocol-assignment", false),
        ("192.0.0.8/32", "192.0.0.8", "dummy", false),
        ("192.0.0.9/32", "192.0.0.9", "anycast", true),
        ("192.0.0.10/32", "192.0.0.10", "anycast", true),
        ("192.0.0.170/32", "192.0.0.170", "protocol-assignment", false),
        ("192.0.0.171/32", "192.0.0.171", "protocol-assignment", false),
        ("192.0.2.0/24", "192.0.2.7", "documentation", false),
        ("192.31.196.0/24", "192.31.196.1", "anycast", true),
        ("192.52.193.0/24", "192.52.193.1", "anycast", true),
        ("192.88.99.0/24", "192.88.99.1", "reserved", false),
        ("192.88.99.2/32", "192.88.99.2", "reserved", false),
        ("192.168.0.0/16", "192.168.8.3", "private", false),
        ("192.175.48.0/24", "192.175.48.6", "anycast", true),
        ("198.18.0.0/15", "198.19.255.1", "benchmarking", false),
        ("198.51.100.0/24", "198.51.100.1", "documentation", false),
        ("203.0.113.0/24", "203.0.113.9", "documentation", false),
        ("240.0.0.0/4", "240.0.0.1", "reserved", false),
        ("255.255.255.255/32", "255.255.255.255", "broadcast", false),
        ("224.0.0.0/4", "239.255.255.250", "multicast", false),
        ("::1/128", "::1", "loopback", false),
        ("::/128", "::", "unspecified", false),
        ("::ffff:0.0.0.0/96", "::ffff:8.8.8.8", "public", true),
        ("64:ff9b::/96", "64:ff9b::808:808", "nat64", true),
        ("64:ff9b:1::/48", "64:ff9b:1:808:8:800::", "nat64", false),
        ("100::/64", "100::1", "discard", false),
        ("100:0:0:1::/64", "100:0:0:1::1", "dummy", false),
        ("2001::/23", "2001:100::1", "protocol-assignment", false),
        ("2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo", false),
        ("2001:1::1/128", "2001:1::1", "anycast", true),
        ("2001:1::2/128", "2001:1::2", "anycast", true),
        ("2001:1::3/128", "2001:1::3", "anycast", true),
        ("2001:2::/48", "2001:2::9", "benchmarking", false),
        ("2001:3::/32", "2001:3::1", "anycast", true),
        ("2001:4:112::/48", "2001:4:112::1", "anycast", true),
        ("2001:10::/28", "2001:10::1", "reserved", false),
        ("2001:20::/28", "2001:2f::1", "identifier", true),
        ("2001:30::/28", "2001:30::1", "identifier", true),
        ("2001:db8::/32", "2001:db8::1", "documentation", false),
        ("2002::/16", "2002:808:808::1", "6to4", true),
        ("2620:4f:8000::/48", "2620:4f:8000::42", "anycast", true),
        ("3fff::/20", "3fff:fff::1", "documentation", false),
        ("5f00::/16", "5f00::1", "srv6-sid", false),
        ("fc00::/7", "fd12:3456::1", "unique-local", false),
        ("fe80::/10", "fe80::1", "link-local", false),
        ("fec0::/10", "fec0::1", "site-local", false),
        ("ff00::/8", "ff02::1", "multicast", false),
    ];

    #[test]
    fn every_registry_row_has_its_kind_and_target_rule() {
        assert_eq!(ROWS.len(), TABLE.len(), "one test line per table row");
        for (row, (prefix, sample, kind, target)) in TABLE.iter().zip(ROWS) {
            assert_eq!(row.prefix.to_string(), *prefix, "table order");
            let found = row_of(ip(sample)).expect("inside a row");
            assert_eq!(found, row, "{sample} falls in {prefix}");
            let verdict = judge(ip(sample));
            assert_eq!((verdict.kind.as_str(), verdict.target), (*kind, *target), "{sample} ({prefix})");
        }
    }

    #[test]
    fn ordinary_addresses_are_public_targets() {
        for public in ["1.1.1.1", "8.8.4.4", "172.32.0.1", "100.128.0.1", "192.0.1.1", "198.20.0.1", "2606:4700::1111"]
        {
            let verdict = judge(ip(public));
            assert_eq!((verdict.kind, verdict.target, verdict.row), (AddressKind::Public, true, None), "{public}");
        }
    }

    #[test]
    fn embedded_ipv4_hosts_decide_for_their_ipv6_spelling() {
        for (addr, kind) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.1.1", "private"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::1", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("2002:c000:201::1", "documentation"),
        ] {
            let verdict = judge(ip(addr));
            assert!(!verdict.target, "{addr} must not be a target");
            assert_eq!(verdict.kind.as_str(), kind, "{addr}");
            assert!(verdict.via.is_some(), "{addr}");
        }
        let shown = judge(ip("64:ff9b::a00:1")).to_string();
        assert_eq!(shown, "a private address (Private-Use, RFC 1918), written as NAT64 IPv6 (10.0.0.1)");
        assert_eq!(judge(ip("::ffff:8.8.8.8")).kind, AddressKind::Public);
        assert!(judge(ip("2002:808:808::1")).target);
        // Teredo and local-use NAT64 are refused whatever they carry.
        assert!(!judge(ip("2001:0:4136:e378:8000:63bf:f7f7:f7f7")).target);
        assert!(!judge(ip("64:ff9b:1:808:8:800::")).target);
    }
}
