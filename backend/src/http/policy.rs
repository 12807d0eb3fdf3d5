//! Which resolved addresses a client may have the server trace. Whoever reaches the server borrows its raw sockets,
//! so a remote client (see [`super::client`]) may not probe into the server's own networks: every address the
//! special-address table ([`crate::addr::special`]) marks as not a target (loopback, private, shared, link-local,
//! unique-local, documentation, benchmarking, multicast, reserved...), also when written as IPv4-mapped, NAT64 or
//! 6to4 IPv6, and the server's own addresses. A local client (this machine, straight to the server) may trace
//! anything, which is the point of a lab; `--allow-private` lifts the rule for everybody, deliberately.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::{self, special};

/// The target rules of one server.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Remote clients may trace internal and special addresses too (`--allow-private`).
    pub allow_private: bool,
    /// The server's own interface addresses.
    pub own: Vec<IpAddr>,
}

/// Why an address is refused: what it is, in a sentence fragment ("a loopback address (Loopback, RFC 1122 ...)").
pub type Refusal = String;

impl TargetPolicy {
    /// `Ok` when a client (`remote` or not) may trace `ip`, else what makes it internal.
    pub fn check(&self, ip: IpAddr, remote: bool) -> Result<(), Refusal> {
        if !remote || self.allow_private {
            return Ok(());
        }
        let verdict = special::judge(ip);
        if !verdict.target {
            return Err(verdict.to_string());
        }
        // The server itself, also as the IPv4 host an IPv6 spelling (mapped, NAT64, 6to4) leads to.
        let host = match ip {
            IpAddr::V6(v6) => addr::embedded_v4(v6).map_or(ip, |(_, v4)| IpAddr::V4(v4)),
            v4 => v4,
        };
        if self.own.iter().any(|own| addr::canonical(*own) == host || *own == ip) {
            return Err("one of this server's own addresses".to_owned());
        }
        Ok(())
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
    fn remote_clients_may_not_trace_internal_addresses_in_any_spelling() {
        let policy = TargetPolicy { allow_private: false, own: vec![ip("198.51.100.7"), ip("8.8.8.8")] };
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.8.3",
            "100.64.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "203.0.113.9",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            "64:ff9b:1:808:8:800::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let refusal = policy.check(ip(bad), true).expect_err(bad);
            assert!(!refusal.is_empty(), "{bad}");
            assert_eq!(policy.check(ip(bad), false), Ok(()), "{bad}: a local client may trace it");
        }
        for good in ["8.8.4.4", "2606:4700::1111", "64:ff9b::808:404", "::ffff:1.1.1.1", "192.0.0.9", "2002:101:101::1"]
        {
            assert_eq!(policy.check(ip(good), true), Ok(()), "{good}");
        }
        assert!(policy.check(ip("127.0.0.1"), true).expect_err("loopback").contains("loopback"));
        let open = TargetPolicy { allow_private: true, own: Vec::new() };
        assert_eq!(open.check(ip("127.0.0.1"), true), Ok(()));
    }

    #[test]
    fn loopback_is_among_local_addresses() {
        let own = local_addresses();
        assert!(own.contains(&ip("127.0.0.1")), "{own:?}");
    }
}
