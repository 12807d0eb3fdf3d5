//! UDP: the probe datagrams of classic and Paris traceroute, and the 8-byte UDP header an ICMP error quotes.
//!
//! A classic probe names itself by its destination port (rising from 33434). A Paris probe keeps every field a
//! load balancer hashes (addresses, ports, length) constant and names itself by its checksum instead, which it sets
//! by choosing the first two payload bytes. The kernel computes the checksum of what a datagram socket sends, so the
//! caller passes the payload from [`paris_payload`] and the checksum comes out as wanted.

use std::net::IpAddr;

use super::checksum::Checksum;
use super::{WireError, need};

/// IP protocol number of UDP.
pub const PROTOCOL: u8 = 17;
/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;
/// Destination port of the first classic probe, as traceroute has always used.
pub const BASE_PORT: u16 = 33434;

/// A UDP header, as quoted inside an ICMP error or built for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHeader {
    /// Sender's port: the trace's identifier.
    pub source_port: u16,
    /// Receiver's port: the probe's sequence in classic mode.
    pub destination_port: u16,
    /// Header plus payload, as the header says.
    pub length: u16,
    /// The checksum field: the probe's sequence in Paris mode.
    pub checksum: u16,
}

impl UdpHeader {
    /// Reads the header from the first 8 bytes of `buf` (a quote carries exactly these).
    pub fn parse(buf: &[u8]) -> Result<UdpHeader, WireError> {
        need("UDP header", buf, HEADER_LEN)?;
        let be16 = |at: usize| u16::from_be_bytes([buf[at], buf[at + 1]]);
        Ok(UdpHeader { source_port: be16(0), destination_port: be16(2), length: be16(4), checksum: be16(6) })
    }

    /// Writes the header to the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let available = buf.len();
        let buf = buf.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall { needed: HEADER_LEN, available })?;
        buf[0..2].copy_from_slice(&self.source_port.to_be_bytes());
        buf[2..4].copy_from_slice(&self.destination_port.to_be_bytes());
        buf[4..6].copy_from_slice(&self.length.to_be_bytes());
        buf[6..8].copy_from_slice(&self.checksum.to_be_bytes());
        Ok(())
    }
}

/// A whole UDP datagram (header and payload) with its checksum, as a raw socket would send it; also what the kernel
/// sends for the same payload on a datagram socket.
pub fn datagram(
    source: IpAddr,
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = HEADER_LEN + payload.len();
    let mut buf = vec![0; len];
    let header =
        UdpHeader { source_port, destination_port, length: u16::try_from(len).unwrap_or(u16::MAX), checksum: 0 };
    // `buf` holds the header by construction.
    let _ = header.emit(&mut buf);
    buf[HEADER_LEN..].copy_from_slice(payload);
    let mut sum = Checksum::new();
    sum.add_pseudo_header(source, destination, PROTOCOL, len).add(&buf);
    // A computed 0 is sent as all ones: 0 means "no checksum" over IPv4 and is forbidden over IPv6.
    let checksum = match sum.finish() {
        0 => 0xffff,
        value => value,
    };
    buf[6..8].copy_from_slice(&checksum.to_be_bytes());
    buf
}

/// The payload of a Paris probe: `tail` after two bytes chosen so the datagram's checksum is `wanted`, with every
/// other field fixed. `wanted` must be neither 0 nor 0xffff (the caller keeps sequences away from both).
pub fn paris_payload(
    source: IpAddr,
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
    wanted: u16,
    tail: &[u8],
) -> Vec<u8> {
    let len = HEADER_LEN + 2 + tail.len();
    let mut sum = Checksum::new();
    sum.add_pseudo_header(source, destination, PROTOCOL, len)
        .add_word(source_port)
        .add_word(destination_port)
        .add_word(u16::try_from(len).unwrap_or(u16::MAX))
        .add(tail);
    let mut payload = Vec::with_capacity(2 + tail.len());
    payload.extend_from_slice(&sum.word_for(wanted).to_be_bytes());
    payload.extend_from_slice(tail);
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 3, 2));

    #[test]
    fn classic_probe_is_byte_exact() {
        // 10.0.0.1:40000 -> 10.0.3.2:33434, payload "abcd". Sum by hand: pseudo-header 0a00+0001+0a00+0302+0011+000c,
        // header 9c40+829a+000c, payload 6162+6364, folded 0xfacd, inverted 0x0532.
        let datagram = datagram(CLIENT, SERVER, 40000, BASE_PORT, b"abcd");
        assert_eq!(datagram, hex("9c40 829a 000c 0532 6162 6364"));
        assert_eq!(
            UdpHeader::parse(&datagram),
            Ok(UdpHeader { source_port: 40000, destination_port: 33434, length: 12, checksum: 0x0532 })
        );
    }

    #[test]
    fn paris_payload_sets_the_checksum_and_nothing_else() {
        for wanted in [1u16, 0x1234, 0xfffe] {
            let payload = paris_payload(CLIENT, SERVER, 40000, BASE_PORT, wanted, b"tracemap");
            assert_eq!(payload.len(), 10);
            assert_eq!(&payload[2..], b"tracemap");
            let header = UdpHeader::parse(&datagram(CLIENT, SERVER, 40000, BASE_PORT, &payload)).unwrap();
            assert_eq!((header.destination_port, header.length, header.checksum), (BASE_PORT, 18, wanted));
        }
    }

    #[test]
    fn ipv6_checksum_uses_the_long_pseudo_header() {
        let source: IpAddr = "fd00::1".parse().unwrap();
        let destination: IpAddr = "fd00:3::2".parse().unwrap();
        let datagram = datagram(source, destination, 40000, BASE_PORT, b"abcd");
        // Re-summing everything, pseudo-header included, must give 0xffff (a valid checksum verifies to zero).
        let mut sum = Checksum::new();
        sum.add_pseudo_header(source, destination, PROTOCOL, datagram.len()).add(&datagram);
        assert_eq!(sum.finish(), 0);
        let payload = paris_payload(source, destination, 40000, BASE_PORT, 0x4242, b"x");
        assert_eq!(
            UdpHeader::parse(&super::datagram(source, destination, 40000, BASE_PORT, &payload)).unwrap().checksum,
            0x4242
        );
    }

    #[test]
    fn short_quote_is_an_error() {
        assert!(matches!(UdpHeader::parse(&[0; 7]), Err(WireError::Truncated { needed: 8, available: 7, .. })));
        let mut small = [0u8; 7];
        assert!(UdpHeader { source_port: 1, destination_port: 2, length: 8, checksum: 0 }.emit(&mut small).is_err());
    }
}
