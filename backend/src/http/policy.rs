//! Which resolved addresses a server may trace. A server that listens beyond loopback lends its raw sockets to
//! whoever reaches it, so in that mode it refuses to probe into its own networks: loopback, private, shared,
//! link-local, unique-local, multicast, unspecified, reserved and its own addresses, including those addresses
//! written as IPv4-mapped, NAT64 or 6to4 IPv6. `--allow-private` lifts this, deliberately.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The target rules of one server.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Refuse internal addresses (the server listens beyond loopback and `--allow-private` was not given).
    pub restrict: bool,
    /// The server's own interface addresses.
    pub own: Vec<IpAddr>,
}

/// Why an address is refused: the kind of address it is.
pub type Refusal = &'static str;

impl TargetPolicy {
    /// `Ok` when `ip` may be traced, else the kind of address that makes it internal.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.restrict {
            return Ok(());
        }
        for candidate in [Some(ip), embedded_v4(ip).map(IpAddr::V4)].into_iter().flatten() {
            if self.own.contains(&candidate) {
                return Err("one of this server's own addresses");
            }
            if let Some(kind) = internal_kind(candidate) {
                return Err(kind);
            }
        }
        Ok(())
    }
}

/// The IPv4 address carried inside an IPv4-mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`) or 6to4
/// (`2002::/16`) IPv6 address.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    let s = v6.segments();
    let o = v6.octets();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// The kind of a non-public address, or `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address (RFC 1918)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared address (RFC 6598)")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique-local address")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// This host's interface addresses, for refusing traces to the server itself.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that we walk read-only and free exactly once below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list getifaddrs returned, alive until freeifaddrs.
        let entry = unsafe { &*cursor };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr is non-null and points to a sockaddr whose family says which struct it is.
            let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: the family is AF_INET, so the storage is a sockaddr_in.
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
            } else if family == libc::AF_INET6 {
                // SAFETY: the family is AF_INET6, so the storage is a sockaddr_in6.
                let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn restricted_policy_refuses_internal_addresses_in_every_spelling() {
        let policy = TargetPolicy { restrict: true, own: vec![ip("198.51.100.7")] };
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.8.3",
            "100.64.0.1",
            "169.254.1.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "198.51.100.7",
            "::ffff:198.51.100.7",
        ] {
            assert!(policy.check(ip(bad)).is_err(), "{bad} must be refused");
        }
        for good in ["203.0.113.9", "8.8.4.4", "2001:db8::1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert_eq!(policy.check(ip(good)), Ok(()), "{good}");
        }
        assert_eq!(TargetPolicy::default().check(ip("127.0.0.1")), Ok(()));
    }

    #[test]
    fn loopback_is_among_local_addresses() {
        let own = local_addresses();
        assert!(own.contains(&ip("127.0.0.1")), "{own:?}");
    }
}
