//! TCP segments as a raw TCP socket delivers them (with and without the IPv4 header), quoted UDP and TCP headers,
//! and the extended-error control message of the unprivileged mode. None of it may panic.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use tracemap::net::parse_extended_err;
use tracemap::probe::Method;
use tracemap::wire::ipv4::Ipv4Header;
use tracemap::wire::tcp::{QuotedTcp, Segment};
use tracemap::wire::udp::UdpHeader;

fuzz_target!(|data: &[u8]| {
    let _ = UdpHeader::parse(data);
    let _ = QuotedTcp::parse(data);
    let _ = parse_extended_err(data);
    let addresses = (IpAddr::from([10, 0, 3, 2]), IpAddr::from([10, 0, 0, 1]));
    let _ = Segment::parse(data, Some(addresses));
    let segment = match Ipv4Header::parse(data) {
        Ok((_, payload)) => Segment::parse(payload, None),
        Err(_) => Segment::parse(data, None),
    };
    if let Ok(segment) = segment {
        let _ = Method::TcpSyn { port: 80 }.reply_from_tcp(addresses.0, &segment);
    }
});
