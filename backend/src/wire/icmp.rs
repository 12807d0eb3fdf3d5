//! ICMPv4: the echo request we send as a probe, and the three answers a traceroute cares about.
//!
//! An echo reply comes from the destination itself. Time Exceeded and Destination Unreachable come from anywhere on
//! the path and quote the IPv4 header of our probe plus its first 8 bytes (RFC 792), which for an echo request are
//! exactly the identifier and sequence that tell which probe, of which trace, the error is about.

use std::net::Ipv4Addr;

use pnet_packet::Packet;
use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::{IcmpPacket, IcmpTypes, checksum};

use super::extensions::{self, LengthUnit, MplsStack};
use super::ipv4::Ipv4Header;
use super::tcp::{self, QuotedTcp};
use super::udp::{self, UdpHeader};
use super::{WireError, need};

/// IP protocol number of ICMP.
pub const PROTOCOL: u8 = 1;
/// Type, code, checksum and the 4-byte rest-of-header every ICMP message starts with.
pub const HEADER_LEN: usize = 8;

const ECHO_REPLY: u8 = 0;
const DESTINATION_UNREACHABLE: u8 = 3;
const ECHO_REQUEST: u8 = 8;
const TIME_EXCEEDED: u8 = 11;

/// An ICMP echo request, as a probe is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRequest<'a> {
    /// Names the trace: every reply and quoted probe carries it back.
    pub identifier: u16,
    /// Names the probe within the trace.
    pub sequence: u16,
    /// Bytes after the header.
    pub payload: &'a [u8],
}

impl EchoRequest<'_> {
    /// Size of the message on the wire (without the IPv4 header, which the kernel adds).
    pub fn len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Always false: an echo request has at least its 8-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message, checksum included, to the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.len();
        let too_small = WireError::BufferTooSmall { needed: len, available: buf.len() };
        let buf = buf.get_mut(..len).ok_or(too_small.clone())?;
        let mut packet = MutableEchoRequestPacket::new(buf).ok_or(too_small)?;
        packet.set_icmp_type(IcmpTypes::EchoRequest);
        packet.set_icmp_code(pnet_packet::icmp::IcmpCode(0));
        packet.set_identifier(self.identifier);
        packet.set_sequence_number(self.sequence);
        packet.set_payload(self.payload);
        packet.set_checksum(0);
        let sum = IcmpPacket::new(packet.packet()).map(|p| checksum(&p)).unwrap_or(0);
        packet.set_checksum(sum);
        Ok(len)
    }

    /// The message as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0; self.len()];
        // `buf` has exactly `len()` bytes, so emitting cannot fail.
        let _ = self.emit(&mut buf);
        buf
    }
}

/// What an ICMP error quotes of the datagram that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// The original datagram's IPv4 header (its destination is the traced address when the probe was ours).
    pub header: Ipv4Header,
    /// The original transport header, as far as this module understands it.
    pub probe: QuotedProbe,
}

/// The start of the quoted transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotedProbe {
    /// An ICMP echo request: an ICMP probe, possibly ours.
    EchoRequest {
        /// Identifier of the quoted request.
        identifier: u16,
        /// Sequence of the quoted request.
        sequence: u16,
    },
    /// A UDP datagram: a UDP probe, possibly ours.
    Udp(UdpHeader),
    /// A TCP segment: a TCP probe, possibly ours.
    Tcp(QuotedTcp),
    /// Some other protocol or ICMP type: not a probe.
    Other {
        /// IP protocol number of the quoted datagram.
        protocol: u8,
    },
}

/// An ICMP message received over IPv4, reduced to what tracing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpMessage {
    /// Type 0: the destination answered an echo request.
    EchoReply {
        /// Identifier echoed back.
        identifier: u16,
        /// Sequence echoed back.
        sequence: u16,
    },
    /// Type 11: a router dropped the datagram because its TTL ran out (code 0) or reassembly timed out (code 1).
    TimeExceeded {
        /// ICMP code.
        code: u8,
        /// The datagram that expired.
        quoted: Quoted,
        /// The MPLS label stack the datagram carried, from the RFC 4884 extensions (empty without them).
        mpls: MplsStack,
    },
    /// Type 3: the datagram could not be delivered; the code says why (network, host, protocol, port...).
    DestinationUnreachable {
        /// ICMP code.
        code: u8,
        /// Next-hop MTU when the code is 4 (fragmentation needed), else 0.
        next_hop_mtu: u16,
        /// The datagram that could not be delivered.
        quoted: Quoted,
        /// The MPLS label stack the datagram carried, from the RFC 4884 extensions (empty without them).
        mpls: MplsStack,
    },
    /// Any other type (echo requests, redirects...): never an answer to a probe.
    Other {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
}

impl IcmpMessage {
    /// Parses an ICMP message (the payload of an IPv4 datagram), verifying its checksum.
    pub fn parse(buf: &[u8]) -> Result<IcmpMessage, WireError> {
        need("ICMP header", buf, HEADER_LEN)?;
        let packet = IcmpPacket::new(buf).ok_or(WireError::Truncated {
            what: "ICMP header",
            needed: HEADER_LEN,
            available: buf.len(),
        })?;
        if checksum(&packet) != packet.get_checksum() {
            return Err(WireError::Checksum);
        }
        let icmp_type = packet.get_icmp_type().0;
        let code = packet.get_icmp_code().0;
        let rest = &buf[4..HEADER_LEN];
        let body = &buf[HEADER_LEN..];
        Ok(match icmp_type {
            ECHO_REPLY => IcmpMessage::EchoReply { identifier: be16(rest, 0), sequence: be16(rest, 2) },
            TIME_EXCEEDED => IcmpMessage::TimeExceeded { code, quoted: Quoted::parse(body)?, mpls: mpls(rest, body) },
            DESTINATION_UNREACHABLE => IcmpMessage::DestinationUnreachable {
                code,
                next_hop_mtu: be16(rest, 2),
                quoted: Quoted::parse(body)?,
                mpls: mpls(rest, body),
            },
            _ => IcmpMessage::Other { icmp_type, code },
        })
    }
}

impl Quoted {
    /// Parses the quoted IPv4 header and the first 8 bytes of its payload.
    pub fn parse(buf: &[u8]) -> Result<Quoted, WireError> {
        let (header, payload) = Ipv4Header::parse_quoted(buf)?;
        // RFC 792 promises 64 bits of the original datagram; an error that quotes less cannot be matched.
        let probe = match header.protocol {
            PROTOCOL => {
                need("quoted ICMP header", payload, HEADER_LEN)?;
                if payload[0] == ECHO_REQUEST {
                    QuotedProbe::EchoRequest { identifier: be16(payload, 4), sequence: be16(payload, 6) }
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

/// An ICMP message together with the IPv4 header it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv4Datagram {
    /// The outer header: `source` is the address that answered.
    pub header: Ipv4Header,
    /// The message itself.
    pub message: IcmpMessage,
}

impl Icmpv4Datagram {
    /// Parses a whole datagram as a raw ICMPv4 socket delivers it (IPv4 header first).
    pub fn parse(buf: &[u8]) -> Result<Icmpv4Datagram, WireError> {
        let (header, payload) = Ipv4Header::parse(buf)?;
        if header.protocol != PROTOCOL {
            return Err(WireError::Malformed { what: "IPv4 datagram", reason: "protocol is not ICMP" });
        }
        Ok(Icmpv4Datagram { header, message: IcmpMessage::parse(payload)? })
    }

    /// The address that sent the message.
    pub fn source(&self) -> Ipv4Addr {
        self.header.source
    }
}

/// The label stack in the extensions of an error whose rest-of-header is `rest`: RFC 4884 puts the length of the
/// original datagram field, in 32-bit words, in its second byte.
fn mpls(rest: &[u8], body: &[u8]) -> MplsStack {
    extensions::mpls_labels(rest[1], LengthUnit::Words32, body)
}

/// Big-endian u16 at `at`; callers have checked that `buf` holds `at + 2` bytes.
fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    /// Echo request id 0x1234, sequence 1, payload "abcd".
    const ECHO_REQUEST_HEX: &str = "0800 2104 1234 0001 61626364";
    /// The header an ICMP error quotes: 10.0.0.1 → 10.0.3.2, TTL 1, ICMP, total length 32.
    const QUOTED_IP: &str = "4500 0020 0000 4000 0101 62db 0a000001 0a000302";
    /// Echo reply from 10.0.3.2 to 10.0.0.1 for the request above.
    const ECHO_REPLY_DATAGRAM: &str = "4500 0020 0000 0000 4001 63db 0a000302 0a000001  0000 2904 1234 0001 61626364";

    /// Time Exceeded from router 10.0.1.2 quoting the request.
    fn time_exceeded() -> Vec<u8> {
        hex(&format!(
            "4500 0038 0000 0000 4001 65c3 0a000102 0a000001  0b00 b9c6 00000000 {QUOTED_IP} 0800 2104 1234 0001"
        ))
    }

    /// Host Unreachable (code 1) from 10.0.1.2 quoting the same request.
    fn host_unreachable() -> Vec<u8> {
        hex(&format!(
            "4500 0038 0000 0000 4001 65c3 0a000102 0a000001  0301 c1c5 00000000 {QUOTED_IP} 0800 2104 1234 0001"
        ))
    }

    fn quoted_request() -> QuotedProbe {
        QuotedProbe::EchoRequest { identifier: 0x1234, sequence: 1 }
    }

    #[test]
    fn echo_request_is_byte_exact() {
        let request = EchoRequest { identifier: 0x1234, sequence: 1, payload: b"abcd" };
        assert_eq!(request.to_bytes(), hex(ECHO_REQUEST_HEX));
        let mut small = [0u8; 11];
        assert_eq!(request.emit(&mut small), Err(WireError::BufferTooSmall { needed: 12, available: 11 }));
        let mut large = [0xffu8; 16];
        assert_eq!(request.emit(&mut large), Ok(12));
        assert_eq!(&large[..12], hex(ECHO_REQUEST_HEX).as_slice());
        assert_eq!(&large[12..], [0xff; 4], "nothing written past the message");
    }

    #[test]
    fn parses_echo_reply() {
        let datagram = Icmpv4Datagram::parse(&hex(ECHO_REPLY_DATAGRAM)).unwrap();
        assert_eq!(datagram.source(), Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(datagram.message, IcmpMessage::EchoReply { identifier: 0x1234, sequence: 1 });
    }

    #[test]
    fn parses_time_exceeded_with_quoted_probe() {
        let datagram = Icmpv4Datagram::parse(&time_exceeded()).unwrap();
        assert_eq!(datagram.source(), Ipv4Addr::new(10, 0, 1, 2));
        let IcmpMessage::TimeExceeded { code: 0, quoted, .. } = datagram.message else { panic!("{datagram:?}") };
        assert_eq!(quoted.header.destination, Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(quoted.header.total_len, 32, "the original length, beyond the quote");
        assert_eq!(quoted.probe, quoted_request());
    }

    /// Time Exceeded from 10.0.1.2 quoting the request, padded to 128 bytes, with an MPLS extension after it;
    /// `length` is the RFC 4884 length attribute (0 for the legacy layout).
    fn time_exceeded_with_labels(length: u8) -> Vec<u8> {
        let mut message = hex(&format!("0b00 0000 00{length:02x}0000 {QUOTED_IP} 0800 2104 1234 0001"));
        message.resize(HEADER_LEN + extensions::ORIGINAL_DATAGRAM_MIN, 0);
        let entry = |label, bottom| extensions::MplsEntry { label, tc: 0, bottom, ttl: 1 };
        message.extend_from_slice(&extensions::mpls_extension(&[entry(24001, false), entry(16, true)]));
        let sum = crate::wire::checksum::Checksum::new().add(&message).finish();
        message[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut datagram = hex("4500 0000 0000 0000 4001 0000 0a000102 0a000001");
        datagram[2..4].copy_from_slice(&u16::try_from(20 + message.len()).unwrap().to_be_bytes());
        datagram.extend_from_slice(&message);
        datagram
    }

    #[test]
    fn time_exceeded_carries_its_mpls_labels() {
        for length in [32, 0] {
            let datagram = Icmpv4Datagram::parse(&time_exceeded_with_labels(length)).unwrap();
            let IcmpMessage::TimeExceeded { code: 0, quoted, mpls } = datagram.message else { panic!("{datagram:?}") };
            assert_eq!(quoted.probe, quoted_request(), "length {length}");
            let labels: Vec<(u32, bool)> = mpls.entries().iter().map(|e| (e.label, e.bottom)).collect();
            assert_eq!(labels, [(24001, false), (16, true)], "length {length}");
        }
        // A plain quote has no labels; a length attribute below 128 bytes (the quote's own length, as routers
        // send it) with the structure at byte 128 keeps them.
        let IcmpMessage::TimeExceeded { mpls, .. } = Icmpv4Datagram::parse(&time_exceeded()).unwrap().message else {
            panic!("time exceeded")
        };
        assert!(mpls.is_empty());
        let short = time_exceeded_with_labels(7);
        let IcmpMessage::TimeExceeded { quoted, mpls, .. } = Icmpv4Datagram::parse(&short).unwrap().message else {
            panic!("time exceeded")
        };
        assert_eq!((quoted.probe, mpls.entries().len()), (quoted_request(), 2));
    }

    #[test]
    fn parses_destination_unreachable() {
        let datagram = Icmpv4Datagram::parse(&host_unreachable()).unwrap();
        let IcmpMessage::DestinationUnreachable { code: 1, next_hop_mtu: 0, quoted, .. } = datagram.message else {
            panic!("{datagram:?}")
        };
        assert_eq!(quoted.probe, quoted_request());
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let mut buf = time_exceeded();
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(Icmpv4Datagram::parse(&buf), Err(WireError::Checksum));
    }

    #[test]
    fn quote_shorter_than_eight_bytes_is_an_error() {
        // Quoted ICMP cut to 4 bytes: outer total length 52, ICMP checksum recomputed for the shorter message.
        let msg = format!("0b00 0000 00000000 {QUOTED_IP} 0800 2104");
        let mut icmp = hex(&msg);
        let sum = checksum(&IcmpPacket::new(&icmp).unwrap());
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        assert!(matches!(IcmpMessage::parse(&icmp), Err(WireError::Truncated { what: "quoted ICMP header", .. })));
    }

    #[test]
    fn quoted_udp_and_tcp_headers_are_read() {
        let mut quoted = hex(QUOTED_IP);
        quoted[9] = 17;
        quoted.extend_from_slice(&hex("8235 829a 0010 abcd"));
        let udp = UdpHeader { source_port: 0x8235, destination_port: 33434, length: 16, checksum: 0xabcd };
        assert_eq!(Quoted::parse(&quoted).unwrap().probe, QuotedProbe::Udp(udp));
        quoted[9] = 6;
        let tcp = QuotedTcp { source_port: 0x8235, destination_port: 33434, sequence: 0x0010_abcd };
        assert_eq!(Quoted::parse(&quoted).unwrap().probe, QuotedProbe::Tcp(tcp));
        quoted[9] = 47;
        assert_eq!(Quoted::parse(&quoted).unwrap().probe, QuotedProbe::Other { protocol: 47 });
        // Seven bytes of a UDP or TCP header cannot name a probe.
        quoted.pop();
        for protocol in [6, 17] {
            quoted[9] = protocol;
            assert!(matches!(Quoted::parse(&quoted), Err(WireError::Truncated { .. })));
        }
    }

    #[test]
    fn other_types_are_reported_as_other() {
        // Our own echo request, as a raw socket also sees it.
        assert_eq!(IcmpMessage::parse(&hex(ECHO_REQUEST_HEX)), Ok(IcmpMessage::Other { icmp_type: 8, code: 0 }));
    }

    #[test]
    fn non_icmp_datagram_is_rejected() {
        let mut buf = hex(ECHO_REPLY_DATAGRAM);
        buf[9] = 17;
        assert!(matches!(Icmpv4Datagram::parse(&buf), Err(WireError::Malformed { .. })));
    }

    /// Captured with tcpdump in the namespace test network: a Linux router's Time Exceeded for one of our probes
    /// (TOS 0xc0, the whole 64-byte probe quoted), and the destination's echo reply to another.
    const CAPTURED_TIME_EXCEEDED: &str = "45c0 005c a6d9 0000 4001 bf05 0a00 0002 0a00 0001 0b00 f4ff 0000 0000 \
        4500 0040 12ef 4000 0101 4fcc 0a00 0001 0a00 0302 0800 3f7d 53bc 6ffa 7472 6163 656d 6170 2074 7261 \
        6365 726f 7574 6520 7072 6f62 6520 2868 6172 6d6c 6573 7329";
    const CAPTURED_ECHO_REPLY: &str = "4500 0040 5668 0000 3d01 1053 0a00 0302 0a00 0001 0000 477a 53bc 6ffd \
        7472 6163 656d 6170 2074 7261 6365 726f 7574 6520 7072 6f62 6520 2868 6172 6d6c 6573 7329";
    /// The probe the router quoted, as it left the client (after its 20-byte IPv4 header).
    const CAPTURED_ECHO_REQUEST: &str = "0800 3f7d 53bc 6ffa 7472 6163 656d 6170 2074 7261 6365 726f 7574 6520 \
        7072 6f62 6520 2868 6172 6d6c 6573 7329";

    #[test]
    fn captured_packets_parse_and_our_probe_is_byte_exact() {
        let request =
            EchoRequest { identifier: 0x53bc, sequence: 0x6ffa, payload: b"tracemap traceroute probe (harmless)" };
        assert_eq!(request.to_bytes(), hex(CAPTURED_ECHO_REQUEST));

        let datagram = Icmpv4Datagram::parse(&hex(CAPTURED_TIME_EXCEEDED)).unwrap();
        assert_eq!(datagram.source(), Ipv4Addr::new(10, 0, 0, 2));
        let IcmpMessage::TimeExceeded { code: 0, quoted, .. } = datagram.message else { panic!("{datagram:?}") };
        assert_eq!(quoted.header.destination, Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(quoted.header.ttl, 1);
        assert_eq!(quoted.probe, QuotedProbe::EchoRequest { identifier: 0x53bc, sequence: 0x6ffa });

        let datagram = Icmpv4Datagram::parse(&hex(CAPTURED_ECHO_REPLY)).unwrap();
        assert_eq!(datagram.source(), Ipv4Addr::new(10, 0, 3, 2));
        assert_eq!(datagram.message, IcmpMessage::EchoReply { identifier: 0x53bc, sequence: 0x6ffd });
    }

    #[test]
    fn every_prefix_and_every_byte_flip_is_handled_without_panic() {
        for packet in [
            hex(ECHO_REPLY_DATAGRAM),
            time_exceeded(),
            host_unreachable(),
            hex(CAPTURED_TIME_EXCEEDED),
            hex(CAPTURED_ECHO_REPLY),
        ] {
            for len in 0..packet.len() {
                assert!(Icmpv4Datagram::parse(&packet[..len]).is_err(), "prefix {len} of a valid packet parsed");
                let _ = IcmpMessage::parse(&packet[..len]);
                let _ = Quoted::parse(&packet[..len]);
            }
            assert!(Icmpv4Datagram::parse(&packet).is_ok());
            // Corrupt every byte in turn, including every length field, with values around the boundaries.
            for at in 0..packet.len() {
                for value in [0x00, 0x01, 0x05, 0x0f, 0x45, 0x4f, 0x7f, 0x80, 0xff] {
                    let mut bad = packet.clone();
                    bad[at] = value;
                    let _ = Icmpv4Datagram::parse(&bad);
                }
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        use rand::{Rng, SeedableRng};
        // Seeded, so a failure reproduces; cargo-fuzz targets (issue 3) search much further.
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x07ac_e3a9);
        let seeds = [hex(ECHO_REPLY_DATAGRAM), time_exceeded(), hex(CAPTURED_TIME_EXCEEDED), hex(CAPTURED_ECHO_REPLY)];
        for round in 0..50_000 {
            let mut packet = seeds[round % seeds.len()].clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..packet.len());
                packet[at] = rng.random();
            }
            let len = rng.random_range(0..=packet.len());
            let _ = Icmpv4Datagram::parse(&packet[..len]);
            let _ = IcmpMessage::parse(packet.get(20..len).unwrap_or_default());
        }
    }

    #[test]
    fn lengths_in_the_quote_are_checked() {
        let mut buf = time_exceeded();
        // Quoted IHL 15: 60 bytes of header promised, 28 quoted.
        buf[28] = 0x4f;
        let icmp = &mut buf[20..];
        icmp[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&IcmpPacket::new(icmp).unwrap());
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        assert!(matches!(
            Icmpv4Datagram::parse(&buf),
            Err(WireError::Truncated { what: "quoted IPv4 header", needed: 60, available: 28 })
        ));
    }
}
