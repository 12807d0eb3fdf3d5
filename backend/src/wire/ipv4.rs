//! IPv4 headers: the outer header of every datagram a raw socket hands us, and the header an ICMP error quotes.
//!
//! The two differ in one rule: an outer header's total length must fit the buffer (the kernel gave us the whole
//! datagram), while a quoted header describes the original datagram of which only the first bytes were quoted, so its
//! total length may exceed what we hold and the quoted payload is whatever is left.

use std::net::Ipv4Addr;

use pnet_packet::ipv4::Ipv4Packet;

use super::{WireError, need};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// The fields of an IPv4 header that probing needs, after every length was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Sender address.
    pub source: Ipv4Addr,
    /// Receiver address.
    pub destination: Ipv4Addr,
    /// Transport protocol number (1 = ICMP, 6 = TCP, 17 = UDP).
    pub protocol: u8,
    /// Time to live as seen in the header.
    pub ttl: u8,
    /// Identification field.
    pub identification: u16,
    /// Header length in bytes, options included.
    pub header_len: usize,
    /// Total length field: header plus payload of the datagram this header belongs to.
    pub total_len: usize,
}

impl Ipv4Header {
    /// Parses a datagram as received: header and payload, the payload cut to the total length (the buffer may
    /// carry trailing padding, never less than the total length).
    pub fn parse(buf: &[u8]) -> Result<(Ipv4Header, &[u8]), WireError> {
        let header = Self::parse_header(buf, "IPv4 header")?;
        if header.total_len > buf.len() {
            return Err(WireError::Truncated { what: "IPv4 datagram", needed: header.total_len, available: buf.len() });
        }
        Ok((header, &buf[header.header_len..header.total_len]))
    }

    /// Parses the header quoted inside an ICMP error. The returned payload is what the quote holds after the
    /// header, at most the original datagram's payload.
    pub fn parse_quoted(buf: &[u8]) -> Result<(Ipv4Header, &[u8]), WireError> {
        let header = Self::parse_header(buf, "quoted IPv4 header")?;
        let end = header.total_len.min(buf.len());
        Ok((header, &buf[header.header_len..end]))
    }

    /// Checks version, IHL and total length against each other and the buffer, then reads the fields.
    fn parse_header(buf: &[u8], what: &'static str) -> Result<Ipv4Header, WireError> {
        need(what, buf, MIN_HEADER_LEN)?;
        let packet =
            Ipv4Packet::new(buf).ok_or(WireError::Truncated { what, needed: MIN_HEADER_LEN, available: buf.len() })?;
        if packet.get_version() != 4 {
            return Err(WireError::Malformed { what, reason: "version is not 4" });
        }
        let header_len = usize::from(packet.get_header_length()) * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(WireError::Malformed { what, reason: "header length below 20 bytes" });
        }
        need(what, buf, header_len)?;
        let total_len = usize::from(packet.get_total_length());
        if total_len < header_len {
            return Err(WireError::Malformed { what, reason: "total length shorter than the header" });
        }
        Ok(Ipv4Header {
            source: packet.get_source(),
            destination: packet.get_destination(),
            protocol: packet.get_next_level_protocol().0,
            ttl: packet.get_ttl(),
            identification: packet.get_identification(),
            header_len,
            total_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    /// 10.0.0.2 → 10.0.1.2, ICMP, TTL 64, id 0x1c46, total length 28 (8 bytes of payload).
    const HEADER: &str = "4500 001c 1c46 4000 4001 0000 0a000002 0a000102";

    #[test]
    fn parses_a_datagram_and_cuts_padding() {
        let mut buf = hex(HEADER);
        buf.extend_from_slice(&hex("0102030405060708 ffff"));
        let (header, payload) = Ipv4Header::parse(&buf).unwrap();
        assert_eq!(header.source, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(header.destination, Ipv4Addr::new(10, 0, 1, 2));
        assert_eq!((header.protocol, header.ttl, header.identification), (1, 64, 0x1c46));
        assert_eq!((header.header_len, header.total_len), (20, 28));
        assert_eq!(payload, hex("0102030405060708"));
    }

    #[test]
    fn outer_total_length_must_fit_the_buffer() {
        let mut buf = hex(HEADER);
        buf.extend_from_slice(&hex("01020304"));
        assert!(matches!(Ipv4Header::parse(&buf), Err(WireError::Truncated { needed: 28, available: 24, .. })));
        // A quoted header may promise more than was quoted.
        let (header, payload) = Ipv4Header::parse_quoted(&buf).unwrap();
        assert_eq!(header.total_len, 28);
        assert_eq!(payload, hex("01020304"));
    }

    #[test]
    fn rejects_bad_version_ihl_and_total_length() {
        let mut buf = hex(HEADER);
        buf.extend_from_slice(&[0; 8]);
        let mut bad = buf.clone();
        bad[0] = 0x65;
        assert!(matches!(Ipv4Header::parse(&bad), Err(WireError::Malformed { reason: "version is not 4", .. })));
        bad[0] = 0x44;
        assert!(matches!(Ipv4Header::parse(&bad), Err(WireError::Malformed { .. })));
        // IHL 15 (60 bytes) in a 28-byte buffer.
        bad[0] = 0x4f;
        assert!(matches!(Ipv4Header::parse(&bad), Err(WireError::Truncated { needed: 60, .. })));
        assert!(matches!(Ipv4Header::parse_quoted(&bad), Err(WireError::Truncated { needed: 60, .. })));
        let mut short_total = buf.clone();
        short_total[2..4].copy_from_slice(&[0, 19]);
        assert!(matches!(Ipv4Header::parse(&short_total), Err(WireError::Malformed { .. })));
        assert!(matches!(Ipv4Header::parse_quoted(&short_total), Err(WireError::Malformed { .. })));
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one word of options (NOP NOP NOP EOL), total length 28.
        let buf = hex("4600 001c 0001 0000 4001 0000 0a000002 0a000102 01010100 aabbccdd");
        let (header, payload) = Ipv4Header::parse(&buf).unwrap();
        assert_eq!(header.header_len, 24);
        assert_eq!(payload, hex("aabbccdd"));
    }

    #[test]
    fn every_prefix_is_handled_without_panic() {
        let mut buf = hex(HEADER);
        buf.extend_from_slice(&[7; 8]);
        for len in 0..=buf.len() {
            let ok = Ipv4Header::parse(&buf[..len]).is_ok();
            assert_eq!(ok, len == buf.len(), "prefix {len}");
            assert_eq!(Ipv4Header::parse_quoted(&buf[..len]).is_ok(), len >= 20, "quoted prefix {len}");
        }
    }
}
