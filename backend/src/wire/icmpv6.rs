//! ICMPv6 (RFC 4443): the echo request we send as a probe, and the answers a traceroute cares about.
//!
//! A raw ICMPv6 socket hands over the message alone (no IPv6 header) and the kernel both computes the checksum of
//! what we send and verifies the checksum of what we receive (it is mandatory for ICMPv6 raw sockets), so neither is
//! done here. Errors quote as much of the original datagram as fits in 1280 bytes: the IPv6 header and the start of
//! our probe, which names it.

use super::extensions::{self, LengthUnit, MplsStack};
use super::icmp::QuotedProbe;
use super::ipv6::Ipv6Header;
use super::tcp::{self, QuotedTcp};
use super::udp::{self, UdpHeader};
use super::{WireError, need};

/// IPv6 next-header number of ICMPv6.
pub const PROTOCOL: u8 = 58;
/// Type, code, checksum and the 4-byte rest-of-header.
pub const HEADER_LEN: usize = 8;

const DESTINATION_UNREACHABLE: u8 = 1;
const PACKET_TOO_BIG: u8 = 2;
const TIME_EXCEEDED: u8 = 3;
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;

/// The original datagram an ICMPv6 error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Its IPv6 header (the destination is the traced address when the probe was ours).
    pub header: Ipv6Header,
    /// Its transport header, as far as this module understands it.
    pub probe: QuotedProbe,
}

/// An ICMPv6 message, reduced to what tracing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Message {
    /// Type 129: the destination answered an echo request.
    EchoReply {
        /// Identifier echoed back.
        identifier: u16,
        /// Sequence echoed back.
        sequence: u16,
    },
    /// Type 3: the hop limit ran out (code 0) or reassembly timed out (code 1).
    TimeExceeded {
        /// ICMPv6 code.
        code: u8,
        /// The datagram that expired.
        quoted: Quoted,
        /// The MPLS label stack the datagram carried, from the RFC 4884 extensions (empty without them).
        mpls: MplsStack,
    },
    /// Type 1 (the code says why: no route, prohibited, address or port unreachable...) or type 2, packet too big
    /// (then `mtu` is set).
    DestinationUnreachable {
        /// ICMPv6 code (type 1), or 0 for packet too big.
        code: u8,
        /// The MTU a packet too big announces; `None` for type 1.
        mtu: Option<u32>,
        /// The datagram that could not be delivered.
        quoted: Quoted,
        /// The MPLS label stack the datagram carried, from the RFC 4884 extensions (always empty for packet too
        /// big, whose header has no length field).
        mpls: MplsStack,
    },
    /// Anything else, never an answer to a probe.
    Other {
        /// ICMPv6 type.
        icmp_type: u8,
        /// ICMPv6 code.
        code: u8,
    },
}

impl Icmpv6Message {
    /// Parses a message as a raw ICMPv6 socket delivers it.
    pub fn parse(buf: &[u8]) -> Result<Icmpv6Message, WireError> {
        need("ICMPv6 header", buf, HEADER_LEN)?;
        let (icmp_type, code) = (buf[0], buf[1]);
        let body = &buf[HEADER_LEN..];
        let be16 = |at: usize| u16::from_be_bytes([buf[at], buf[at + 1]]);
        // RFC 4884: the length of the original datagram field, in 64-bit words, is the first byte after the checksum.
        let mpls = || extensions::mpls_labels(buf[4], LengthUnit::Words64, body);
        Ok(match icmp_type {
            ECHO_REPLY => Icmpv6Message::EchoReply { identifier: be16(4), sequence: be16(6) },
            TIME_EXCEEDED => Icmpv6Message::TimeExceeded { code, quoted: Quoted::parse(body)?, mpls: mpls() },
            DESTINATION_UNREACHABLE => {
                Icmpv6Message::DestinationUnreachable { code, mtu: None, quoted: Quoted::parse(body)?, mpls: mpls() }
            }
            PACKET_TOO_BIG => {
                let mtu = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                Icmpv6Message::DestinationUnreachable {
                    code: 0,
                    mtu: Some(mtu),
                    quoted: Quoted::parse(body)?,
                    mpls: MplsStack::default(),
                }
            }
            _ => Icmpv6Message::Other { icmp_type, code },
        })
    }
}

impl Quoted {
    /// Parses the quoted IPv6 header and the start of its transport header.
    pub fn parse(buf: &[u8]) -> Result<Quoted, WireError> {
        let (header, payload) = Ipv6Header::parse_quoted(buf)?;
        let probe = match header.next_header {
            PROTOCOL => {
                need("quoted ICMPv6 header", payload, HEADER_LEN)?;
                if payload[0] == ECHO_REQUEST {
                    QuotedProbe::EchoRequest {
                        identifier: u16::from_be_bytes([payload[4], payload[5]]),
                        sequence: u16::from_be_bytes([payload[6], payload[7]]),
                    }
                } else {
                    QuotedProbe::Other { protocol: PROTOCOL }
                }
            }
            udp::PROTOCOL => QuotedProbe::Udp(UdpHeader::parse(payload)?),
            tcp::PROTOCOL => QuotedProbe::Tcp(QuotedTcp::parse(payload)?),
            protocol => QuotedProbe::Other { protocol },
        };
        Ok(Quoted { header, probe })
    }
}

/// An ICMPv6 echo request with checksum 0: the kernel fills it in for a raw ICMPv6 socket.
pub fn echo_request(identifier: u16, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
    buf.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    buf.extend_from_slice(&identifier.to_be_bytes());
    buf.extend_from_slice(&sequence.to_be_bytes());
    buf.extend_from_slice(payload);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;
    use std::net::Ipv6Addr;

    fn quoted_ip(next_header: u8, payload_len: usize) -> Vec<u8> {
        Ipv6Header {
            source: "fd00::1".parse().unwrap(),
            destination: "fd00:3::2".parse().unwrap(),
            next_header,
            hop_limit: 1,
            payload_len,
        }
        .to_bytes()
        .to_vec()
    }

    #[test]
    fn echo_request_layout_and_reply() {
        assert_eq!(echo_request(0x1234, 1, b"ab"), hex("8000 0000 1234 0001 6162"));
        assert_eq!(
            Icmpv6Message::parse(&hex("8100 0000 1234 0001 6162")),
            Ok(Icmpv6Message::EchoReply { identifier: 0x1234, sequence: 1 })
        );
    }

    #[test]
    fn time_exceeded_quotes_each_probe_kind() {
        for (next, transport, expected) in [
            (58u8, hex("8000 0000 1234 0001"), QuotedProbe::EchoRequest { identifier: 0x1234, sequence: 1 }),
            (
                17,
                hex("9c40 829a 0010 abcd"),
                QuotedProbe::Udp(UdpHeader {
                    source_port: 40000,
                    destination_port: 33434,
                    length: 16,
                    checksum: 0xabcd,
                }),
            ),
            (
                6,
                hex("9c40 0050 beef 0001"),
                QuotedProbe::Tcp(QuotedTcp { source_port: 40000, destination_port: 80, sequence: 0xbeef_0001 }),
            ),
            (0, hex("0000 0000 0000 0000"), QuotedProbe::Other { protocol: 0 }),
        ] {
            let mut message = hex("0300 0000 0000 0000");
            message.extend_from_slice(&quoted_ip(next, 16));
            message.extend_from_slice(&transport);
            let Icmpv6Message::TimeExceeded { code: 0, quoted, .. } = Icmpv6Message::parse(&message).unwrap() else {
                panic!("time exceeded")
            };
            assert_eq!(quoted.header.destination, "fd00:3::2".parse::<Ipv6Addr>().unwrap());
            assert_eq!(quoted.probe, expected);
        }
    }

    #[test]
    fn time_exceeded_and_unreachable_carry_mpls_labels() {
        let entry = crate::wire::extensions::MplsEntry { label: 24001, tc: 5, bottom: true, ttl: 254 };
        // 128 bytes of original datagram are 16 words of 64 bits; 0 is the legacy layout; 6 (48 bytes, the quote
        // alone) is what routers in the wild send before padding the quote to 128 bytes.
        for (icmp_type, length) in [(3u8, 16u8), (1, 16), (3, 0), (3, 6), (1, 6)] {
            let mut message = vec![icmp_type, 0, 0, 0, length, 0, 0, 0];
            message.extend_from_slice(&quoted_ip(17, 16));
            message.extend_from_slice(&hex("9c40 829a 0010 abcd"));
            message.resize(HEADER_LEN + 128, 0);
            message.extend_from_slice(&crate::wire::extensions::mpls_extension(&[entry]));
            let mpls = match Icmpv6Message::parse(&message).unwrap() {
                Icmpv6Message::TimeExceeded { mpls, .. } | Icmpv6Message::DestinationUnreachable { mpls, .. } => mpls,
                other => panic!("{other:?}"),
            };
            assert_eq!(mpls.entries(), [entry], "type {icmp_type}, length {length}");
        }
    }

    #[test]
    fn unreachable_and_packet_too_big() {
        let mut message = hex("0104 0000 0000 0000");
        message.extend_from_slice(&quoted_ip(17, 16));
        message.extend_from_slice(&hex("9c40 829a 0010 abcd"));
        assert!(matches!(
            Icmpv6Message::parse(&message),
            Ok(Icmpv6Message::DestinationUnreachable { code: 4, mtu: None, .. })
        ));
        message[0] = 2;
        message[4..8].copy_from_slice(&1280u32.to_be_bytes());
        assert!(matches!(
            Icmpv6Message::parse(&message),
            Ok(Icmpv6Message::DestinationUnreachable { mtu: Some(1280), .. })
        ));
    }

    #[test]
    fn every_prefix_and_byte_flip_is_handled_without_panic() {
        let mut message = hex("0300 0000 0000 0000");
        message.extend_from_slice(&quoted_ip(17, 16));
        message.extend_from_slice(&hex("9c40 829a 0010 abcd"));
        assert!(Icmpv6Message::parse(&message).is_ok());
        for len in 0..message.len() {
            assert!(Icmpv6Message::parse(&message[..len]).is_err(), "prefix {len} parsed");
        }
        for at in 0..message.len() {
            for value in [0x00, 0x01, 0x06, 0x11, 0x3a, 0x60, 0x80, 0xff] {
                let mut bad = message.clone();
                bad[at] = value;
                let _ = Icmpv6Message::parse(&bad);
            }
        }
    }
}
