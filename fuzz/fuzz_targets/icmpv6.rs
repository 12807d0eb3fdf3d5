//! ICMPv6 messages as a raw ICMPv6 socket delivers them (no IPv6 header), with the quoted IPv6 and transport
//! headers, then every probing method's reading of the result. None of it may panic.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use tracemap::probe::Method;
use tracemap::wire::icmpv6::{Icmpv6Message, Quoted};
use tracemap::wire::ipv6::Ipv6Header;

const METHODS: [Method; 4] = [
    Method::IcmpEcho,
    Method::UdpClassic { base_port: 33434 },
    Method::UdpParis { port: 33434 },
    Method::TcpSyn { port: 80 },
];

fuzz_target!(|data: &[u8]| {
    let _ = Ipv6Header::parse_quoted(data);
    let _ = Quoted::parse(data);
    if let Ok(message) = Icmpv6Message::parse(data) {
        let from: IpAddr = "fd00::2".parse().unwrap_or(IpAddr::from([0u8; 16]));
        for method in METHODS {
            let _ = method.reply_from_icmpv6(from, &message);
        }
    }
});
