//! How a trace's probes carry their identity on the wire, for each protocol, and how a received packet is read
//! back into a [`Reply`] the tracer can match.
//!
//! The tracer only knows an `(identifier, sequence)` pair per trace and probe. This module says where each half
//! travels: the echo identifier and sequence (ICMP), the source and destination ports (classic UDP), the source port
//! and the checksum (Paris UDP, whose flow fields stay constant), or the source port and the sequence number (TCP).
//! Anything that does not fit the trace's method exactly, down to the probed port, is not a reply to it.

use std::net::IpAddr;

use tracemap_shared::Protocol;

use super::ProbeConfig;
use super::tracer::{Reply, Response};
use crate::wire::extensions::MplsStack;
use crate::wire::icmp::{IcmpMessage, Icmpv4Datagram, QuotedProbe};
use crate::wire::icmpv6::Icmpv6Message;
use crate::wire::tcp::Segment;
use crate::wire::udp;

/// The probing method of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// ICMP echo requests: identifier and sequence in the echo header.
    IcmpEcho,
    /// UDP with the destination port rising from `base_port` (the sequence); the source port is the identifier.
    UdpClassic {
        /// Destination port of the first probe (33434 unless `--port` says otherwise).
        base_port: u16,
    },
    /// UDP with constant ports and length; the checksum is the sequence, the source port the identifier.
    UdpParis {
        /// The destination port of every probe.
        port: u16,
    },
    /// TCP SYN to `port`; the source port is the sequence, and the sequence number carries the identifier in its
    /// upper half (its lower half repeats the source port).
    TcpSyn {
        /// The probed port.
        port: u16,
    },
}

impl Method {
    /// The method `config` asks for.
    pub fn for_config(config: &ProbeConfig) -> Method {
        match (config.protocol, config.paris) {
            (Protocol::Icmp, _) => Method::IcmpEcho,
            (Protocol::Udp, false) => Method::UdpClassic { base_port: config.port.unwrap_or(udp::BASE_PORT) },
            (Protocol::Udp, true) => Method::UdpParis { port: config.port.unwrap_or(udp::BASE_PORT) },
            (Protocol::Tcp, _) => Method::TcpSyn { port: config.port.unwrap_or(80) },
        }
    }

    /// The destination port the trace's (first) probe goes to; `None` for ICMP.
    pub fn port(&self) -> Option<u16> {
        match *self {
            Method::IcmpEcho => None,
            Method::UdpClassic { base_port: port } | Method::UdpParis { port } | Method::TcpSyn { port } => Some(port),
        }
    }

    /// The first sequence of a trace that uses `span` sequences (see [`super::Tracer::sequence_span`]), given a
    /// random number: random where the method allows, always leaving room for `span` sequences that are valid on the
    /// wire. `None` when the method cannot carry that many.
    pub fn first_sequence(&self, span: usize, random: u16) -> Option<u16> {
        let pick = |low: usize, high: usize| -> Option<u16> {
            // Sequences low..=high are usable; the trace needs `span` consecutive ones.
            let room = (high + 1).checked_sub(low)?.checked_sub(span)?;
            u16::try_from(low + usize::from(random) % (room + 1)).ok()
        };
        match self {
            Method::IcmpEcho => (span <= 1 << 16).then_some(random),
            Method::UdpClassic { base_port } => {
                (usize::from(*base_port) + span <= 1 << 16 && *base_port > 0).then_some(*base_port)
            }
            // A checksum of 0 or 0xffff cannot be produced on purpose (see `wire::udp`).
            Method::UdpParis { .. } => pick(1, 0xfffe),
            // Source ports below 1024 look like services; avoid them.
            Method::TcpSyn { .. } => pick(1024, 0xffff),
        }
    }

    /// The TCP sequence number of probe `sequence` of trace `identifier`.
    pub fn tcp_sequence(identifier: u16, sequence: u16) -> u32 {
        (u32::from(identifier) << 16) | u32::from(sequence)
    }

    /// Reads a reply to one of this method's probes out of an ICMPv4 datagram; `None` when it cannot be one.
    pub fn reply_from_icmpv4(&self, datagram: &Icmpv4Datagram) -> Option<Reply> {
        let from = IpAddr::V4(datagram.source());
        let (response, quoted, mpls) = match datagram.message {
            IcmpMessage::EchoReply { identifier, sequence } => return self.echo_reply(from, identifier, sequence),
            // Code 1 (fragment reassembly) is not about a TTL and cannot be one of our unfragmented probes.
            IcmpMessage::TimeExceeded { code: 0, quoted, mpls } => (Response::TimeExceeded, quoted, mpls),
            IcmpMessage::DestinationUnreachable { code, next_hop_mtu, quoted, mpls } => {
                (Response::Unreachable { code, mtu: next_hop_mtu }, quoted, mpls)
            }
            _ => return None,
        };
        self.error_reply(from, response, &quoted.probe, IpAddr::V4(quoted.header.destination), mpls)
    }

    /// Reads a reply to one of this method's probes out of an ICMPv6 message from `from`; `None` when it cannot be
    /// one. ICMPv6 codes are given as their ICMPv4 equivalents, so both families show the same flags.
    pub fn reply_from_icmpv6(&self, from: IpAddr, message: &Icmpv6Message) -> Option<Reply> {
        let (response, quoted, mpls) = match *message {
            Icmpv6Message::EchoReply { identifier, sequence } => return self.echo_reply(from, identifier, sequence),
            Icmpv6Message::TimeExceeded { code: 0, quoted, mpls } => (Response::TimeExceeded, quoted, mpls),
            Icmpv6Message::DestinationUnreachable { code, mtu, quoted, mpls } => {
                (icmpv6_unreachable(code, mtu), quoted, mpls)
            }
            _ => return None,
        };
        self.error_reply(from, response, &quoted.probe, IpAddr::V6(quoted.header.destination), mpls)
    }

    /// An echo reply is the destination's answer, for ICMP traces only.
    pub fn echo_reply(&self, from: IpAddr, identifier: u16, sequence: u16) -> Option<Reply> {
        (*self == Method::IcmpEcho).then_some(Reply {
            from,
            response: Response::EchoReply,
            identifier,
            sequence,
            probe_destination: None,
            mpls: MplsStack::default(),
        })
    }

    /// An ICMP error (either family) about `probe`, one of ours if it fits this method.
    fn error_reply(
        &self,
        from: IpAddr,
        response: Response,
        probe: &QuotedProbe,
        probe_destination: IpAddr,
        mpls: MplsStack,
    ) -> Option<Reply> {
        let (identifier, sequence) = self.quoted_identity(probe)?;
        Some(Reply { from, response, identifier, sequence, probe_destination: Some(probe_destination), mpls })
    }

    /// The sequence of a probe an ICMP error from the error queue is about, from the probe's destination port
    /// (classic UDP), the two payload bytes after the checksum word (Paris UDP: `head` is the UDP payload) or the
    /// echo header's sequence (ICMP datagram socket: `head` is the echo header); `None` when it cannot be ours.
    pub fn queued_sequence(&self, port: u16, head: &[u8]) -> Option<u16> {
        let be16 = |at: usize| head.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match self {
            Method::UdpClassic { .. } => Some(port),
            Method::UdpParis { port: ours } if *ours == port => be16(2),
            // Echo request: type 8 (ICMPv4) or 128 (ICMPv6), then code, checksum, identifier, sequence.
            Method::IcmpEcho if matches!(head.first(), Some(8 | 128)) => be16(6),
            _ => None,
        }
    }

    /// The identity of the probe an ICMP error quotes, if it is one of this method's.
    pub fn quoted_identity(&self, probe: &QuotedProbe) -> Option<(u16, u16)> {
        match (self, probe) {
            (Method::IcmpEcho, QuotedProbe::EchoRequest { identifier, sequence }) => Some((*identifier, *sequence)),
            (Method::UdpClassic { .. }, QuotedProbe::Udp(header)) => {
                Some((header.source_port, header.destination_port))
            }
            (Method::UdpParis { port }, QuotedProbe::Udp(header)) if header.destination_port == *port => {
                Some((header.source_port, header.checksum))
            }
            (Method::TcpSyn { port }, QuotedProbe::Tcp(header))
                if header.destination_port == *port && header.sequence as u16 == header.source_port =>
            {
                Some(((header.sequence >> 16) as u16, header.source_port))
            }
            _ => None,
        }
    }

    /// Reads the destination's answer to a TCP probe (SYN-ACK or RST from the probed port); `None` otherwise.
    pub fn reply_from_tcp(&self, from: IpAddr, segment: &Segment) -> Option<Reply> {
        let Method::TcpSyn { port } = self else { return None };
        if segment.source_port != *port || !(segment.syn_ack || segment.rst) {
            return None;
        }
        // The answer acknowledges our sequence + 1 (a SYN counts as one byte).
        let acknowledged = segment.acknowledgement.wrapping_sub(1);
        if acknowledged as u16 != segment.destination_port {
            return None;
        }
        Some(Reply {
            from,
            response: Response::TcpAnswer { open: segment.syn_ack },
            identifier: (acknowledged >> 16) as u16,
            sequence: segment.destination_port,
            probe_destination: None,
            mpls: MplsStack::default(),
        })
    }
}

/// What an ICMPv4 error of `icmp_type` and `code` says about a probe (`mtu` for fragmentation needed); `None` for
/// types that never answer a probe.
pub fn icmpv4_error(icmp_type: u8, code: u8, mtu: u16) -> Option<Response> {
    match (icmp_type, code) {
        (11, 0) => Some(Response::TimeExceeded),
        (3, code) => Some(Response::Unreachable { code, mtu }),
        _ => None,
    }
}

/// What an ICMPv6 error says about a probe, with unreachable codes given as their ICMPv4 equivalents so that both
/// families show the same flags: packet too big is fragmentation needed (`!F-1280`); no route and beyond the
/// source's scope are `!N`; address unreachable `!H`; port unreachable the destination's answer; administratively
/// prohibited, failed policy and reject route `!X`.
pub fn icmpv6_error(icmp_type: u8, code: u8, mtu: u32) -> Option<Response> {
    match (icmp_type, code) {
        (3, 0) => Some(Response::TimeExceeded),
        (2, _) => Some(icmpv6_unreachable(0, Some(mtu))),
        (1, code) => Some(icmpv6_unreachable(code, None)),
        _ => None,
    }
}

fn icmpv6_unreachable(code: u8, mtu: Option<u32>) -> Response {
    match (code, mtu) {
        (_, Some(mtu)) => Response::Unreachable { code: 4, mtu: u16::try_from(mtu).unwrap_or(u16::MAX) },
        (0 | 2, None) => Response::Unreachable { code: 0, mtu: 0 },
        (3, None) => Response::Unreachable { code: 1, mtu: 0 },
        (4, None) => Response::Unreachable { code: 3, mtu: 0 },
        (1 | 5 | 6, None) => Response::Unreachable { code: 13, mtu: 0 },
        // Unknown codes keep a mark of their own rather than pass for an ICMPv4 one.
        (other, None) => Response::Unreachable { code: other.saturating_add(100), mtu: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::icmp::Quoted;
    use crate::wire::ipv4::Ipv4Header;
    use crate::wire::tcp::QuotedTcp;
    use crate::wire::udp::UdpHeader;
    use std::net::Ipv4Addr;

    fn header() -> Ipv4Header {
        Ipv4Header {
            source: Ipv4Addr::new(10, 0, 0, 1),
            destination: Ipv4Addr::new(10, 0, 3, 2),
            protocol: 17,
            ttl: 1,
            identification: 0,
            header_len: 20,
            total_len: 60,
        }
    }

    fn time_exceeded(probe: QuotedProbe) -> Icmpv4Datagram {
        let outer =
            Ipv4Header { source: Ipv4Addr::new(10, 0, 1, 2), destination: Ipv4Addr::new(10, 0, 0, 1), ..header() };
        Icmpv4Datagram {
            header: outer,
            message: IcmpMessage::TimeExceeded {
                code: 0,
                quoted: Quoted { header: header(), probe },
                mpls: MplsStack::default(),
            },
        }
    }

    #[test]
    fn each_method_reads_its_own_fields_and_nothing_else() {
        let udp =
            QuotedProbe::Udp(UdpHeader { source_port: 40000, destination_port: 33440, length: 60, checksum: 0x1234 });
        let tcp = QuotedProbe::Tcp(QuotedTcp { source_port: 5000, destination_port: 80, sequence: 0xbeef_1388 });
        let echo = QuotedProbe::EchoRequest { identifier: 7, sequence: 9 };
        let classic = Method::UdpClassic { base_port: 33434 };
        assert_eq!(classic.quoted_identity(&udp), Some((40000, 33440)));
        assert_eq!(Method::UdpParis { port: 33440 }.quoted_identity(&udp), Some((40000, 0x1234)));
        assert_eq!(Method::UdpParis { port: 33434 }.quoted_identity(&udp), None, "another port: another trace");
        assert_eq!(Method::TcpSyn { port: 80 }.quoted_identity(&tcp), Some((0xbeef, 5000)));
        assert_eq!(Method::TcpSyn { port: 443 }.quoted_identity(&tcp), None);
        assert_eq!(Method::IcmpEcho.quoted_identity(&echo), Some((7, 9)));
        for (method, other) in [(Method::IcmpEcho, udp), (classic, tcp), (Method::TcpSyn { port: 80 }, echo)] {
            assert_eq!(method.quoted_identity(&other), None, "{method:?} must not read {other:?}");
        }
        let reply = classic.reply_from_icmpv4(&time_exceeded(udp)).unwrap();
        assert_eq!((reply.identifier, reply.sequence, reply.response), (40000, 33440, Response::TimeExceeded));
        assert_eq!(reply.probe_destination, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 2))));
    }

    #[test]
    fn tcp_answers_name_the_probe_they_acknowledge() {
        let method = Method::TcpSyn { port: 80 };
        let from = IpAddr::V4(Ipv4Addr::new(10, 0, 3, 2));
        let sequence = Method::tcp_sequence(0xbeef, 5000);
        let syn_ack = Segment {
            source_port: 80,
            destination_port: 5000,
            acknowledgement: sequence + 1,
            syn_ack: true,
            rst: false,
        };
        let reply = method.reply_from_tcp(from, &syn_ack).unwrap();
        assert_eq!(
            (reply.identifier, reply.sequence, reply.response),
            (0xbeef, 5000, Response::TcpAnswer { open: true })
        );
        let rst = Segment { syn_ack: false, rst: true, ..syn_ack };
        assert_eq!(method.reply_from_tcp(from, &rst).unwrap().response, Response::TcpAnswer { open: false });
        assert_eq!(method.reply_from_tcp(from, &Segment { source_port: 81, ..syn_ack }), None);
        assert_eq!(method.reply_from_tcp(from, &Segment { acknowledgement: sequence + 2, ..syn_ack }), None);
        assert_eq!(method.reply_from_tcp(from, &Segment { syn_ack: false, ..syn_ack }), None, "a bare ACK");
    }

    #[test]
    fn first_sequences_leave_room_for_the_whole_trace() {
        let span = 180;
        assert_eq!(Method::UdpClassic { base_port: 33434 }.first_sequence(span, 999), Some(33434));
        assert_eq!(Method::UdpClassic { base_port: 65500 }.first_sequence(span, 0), None);
        for random in [0u16, 1, 0x7fff, 0xfffe, 0xffff] {
            let first = Method::UdpParis { port: 1 }.first_sequence(span, random).unwrap();
            assert!(first >= 1 && usize::from(first) + span - 1 <= 0xfffe, "{first}");
            let first = Method::TcpSyn { port: 80 }.first_sequence(span, random).unwrap();
            assert!(first >= 1024 && usize::from(first) + span - 1 <= 0xffff, "{first}");
        }
        assert_eq!(Method::IcmpEcho.first_sequence(span, 42), Some(42));
    }
}
