//! Whole IPv4 datagrams as a raw ICMP socket delivers them: the outer header, the ICMP message, the quoted header
//! and the quoted transport header, then every probing method's reading of the result. None of it may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemap::probe::Method;
use tracemap::wire::icmp::{IcmpMessage, Icmpv4Datagram, Quoted};
use tracemap::wire::ipv4::Ipv4Header;

const METHODS: [Method; 4] = [
    Method::IcmpEcho,
    Method::UdpClassic { base_port: 33434 },
    Method::UdpParis { port: 33434 },
    Method::TcpSyn { port: 80 },
];

fuzz_target!(|data: &[u8]| {
    let _ = Ipv4Header::parse(data);
    let _ = Ipv4Header::parse_quoted(data);
    let _ = IcmpMessage::parse(data);
    let _ = Quoted::parse(data);
    if let Ok(datagram) = Icmpv4Datagram::parse(data) {
        for method in METHODS {
            let _ = method.reply_from_icmpv4(&datagram);
        }
    }
});
