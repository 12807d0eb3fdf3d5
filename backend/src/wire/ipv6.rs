//! IPv6 headers, as quoted inside an ICMPv6 error (a raw IPv6 socket never hands us the outer header: the kernel
//! strips it and gives the sender's address separately).
//!
//! Like the quoted IPv4 header, the payload length describes the original datagram, of which only the first bytes
//! were quoted, so it may exceed what we hold. Our probes carry no extension headers, so the next header is the
//! transport; a quote with extension headers cannot be one of our probes.

use std::net::Ipv6Addr;

use super::{WireError, need};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The fields of an IPv6 header that probing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Sender address.
    pub source: Ipv6Addr,
    /// Receiver address.
    pub destination: Ipv6Addr,
    /// The next header: the transport protocol when there are no extension headers (58 ICMPv6, 6 TCP, 17 UDP).
    pub next_header: u8,
    /// Hop limit as seen in the header.
    pub hop_limit: u8,
    /// Payload length field: bytes after the fixed header in the original datagram.
    pub payload_len: usize,
}

impl Ipv6Header {
    /// Parses a quoted header; the returned payload is what the quote holds after it, at most the original payload.
    pub fn parse_quoted(buf: &[u8]) -> Result<(Ipv6Header, &[u8]), WireError> {
        need("quoted IPv6 header", buf, HEADER_LEN)?;
        if buf[0] >> 4 != 6 {
            return Err(WireError::Malformed { what: "quoted IPv6 header", reason: "version is not 6" });
        }
        let address = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&buf[at..at + 16]);
            Ipv6Addr::from(octets)
        };
        let header = Ipv6Header {
            source: address(8),
            destination: address(24),
            next_header: buf[6],
            hop_limit: buf[7],
            payload_len: usize::from(u16::from_be_bytes([buf[4], buf[5]])),
        };
        let end = (HEADER_LEN + header.payload_len).min(buf.len());
        Ok((header, &buf[HEADER_LEN..end]))
    }

    /// The 40-byte header, for tests and fuzz seeds.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut buf = [0u8; HEADER_LEN];
        buf[0] = 0x60;
        buf[4..6].copy_from_slice(&u16::try_from(self.payload_len).unwrap_or(u16::MAX).to_be_bytes());
        buf[6] = self.next_header;
        buf[7] = self.hop_limit;
        buf[8..24].copy_from_slice(&self.source.octets());
        buf[24..40].copy_from_slice(&self.destination.octets());
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    /// fd00::1 → fd00:3::2, UDP, hop limit 1, payload length 12.
    const HEADER: &str =
        "6000 0000 000c 1101 fd00 0000 0000 0000 0000 0000 0000 0001 fd00 0003 0000 0000 0000 0000 0000 0002";

    #[test]
    fn parses_and_round_trips() {
        let mut buf = hex(HEADER);
        buf.extend_from_slice(&hex("9c40 829a 000c 1234 ffff ffff 0000"));
        let (header, payload) = Ipv6Header::parse_quoted(&buf).unwrap();
        assert_eq!(header.source, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(header.destination, "fd00:3::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!((header.next_header, header.hop_limit, header.payload_len), (17, 1, 12));
        assert_eq!(payload.len(), 12, "cut to the payload length");
        assert_eq!(header.to_bytes().to_vec(), hex(HEADER));
    }

    #[test]
    fn short_or_wrong_version_is_an_error() {
        let buf = hex(HEADER);
        for len in 0..HEADER_LEN {
            assert!(Ipv6Header::parse_quoted(&buf[..len]).is_err());
        }
        let mut v4 = buf.clone();
        v4[0] = 0x45;
        assert!(matches!(Ipv6Header::parse_quoted(&v4), Err(WireError::Malformed { .. })));
    }
}
