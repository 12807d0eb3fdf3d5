//! TCP: the SYN a TCP probe sends, the segment the destination answers with (SYN-ACK when the port is open, RST
//! when closed), and the first 8 bytes of a TCP header an ICMP error quotes.
//!
//! A probe names itself by its source port and its sequence number: both come back in a quote (ports and sequence
//! are the first 8 bytes), and in the answer of the destination (ports swapped, sequence + 1 as acknowledgement).

use std::net::IpAddr;

use super::checksum::Checksum;
use super::{WireError, need};

/// IP protocol number of TCP.
pub const PROTOCOL: u8 = 6;
/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// What an ICMP error is guaranteed to quote of a transport header (RFC 792).
pub const QUOTED_LEN: usize = 8;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// A SYN segment, as a probe is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syn {
    /// Source port (names the probe).
    pub source_port: u16,
    /// The port probed on the destination.
    pub destination_port: u16,
    /// Sequence number (names the trace and the probe).
    pub sequence: u32,
}

impl Syn {
    /// The 20-byte segment with its checksum for `source` → `destination`.
    pub fn to_bytes(&self, source: IpAddr, destination: IpAddr) -> Vec<u8> {
        let mut buf = vec![0u8; MIN_HEADER_LEN];
        buf[0..2].copy_from_slice(&self.source_port.to_be_bytes());
        buf[2..4].copy_from_slice(&self.destination_port.to_be_bytes());
        buf[4..8].copy_from_slice(&self.sequence.to_be_bytes());
        // Acknowledgement 0; data offset 5 words; SYN; a window of 64 KiB less one, as stacks commonly send.
        buf[12] = 5 << 4;
        buf[13] = SYN;
        buf[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
        let mut sum = Checksum::new();
        sum.add_pseudo_header(source, destination, PROTOCOL, buf.len()).add(&buf);
        buf[16..18].copy_from_slice(&sum.finish().to_be_bytes());
        buf
    }
}

/// The start of a TCP header quoted in an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedTcp {
    /// Source port of the quoted segment.
    pub source_port: u16,
    /// Destination port of the quoted segment.
    pub destination_port: u16,
    /// Its sequence number.
    pub sequence: u32,
}

impl QuotedTcp {
    /// Reads the first 8 bytes of a quoted TCP header.
    pub fn parse(buf: &[u8]) -> Result<QuotedTcp, WireError> {
        need("quoted TCP header", buf, QUOTED_LEN)?;
        Ok(QuotedTcp {
            source_port: u16::from_be_bytes([buf[0], buf[1]]),
            destination_port: u16::from_be_bytes([buf[2], buf[3]]),
            sequence: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        })
    }
}

/// A received TCP segment, reduced to what recognises an answer to a SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Sender's port (the probed port, in an answer).
    pub source_port: u16,
    /// Receiver's port (the probe's source port, in an answer).
    pub destination_port: u16,
    /// Acknowledgement number (the probe's sequence + 1, in an answer).
    pub acknowledgement: u32,
    /// SYN and ACK set: the port is open.
    pub syn_ack: bool,
    /// RST set: the port is closed (or the host refuses).
    pub rst: bool,
}

impl Segment {
    /// Parses a segment's header, checking its data offset against the buffer and, when the addresses are given,
    /// its checksum (a raw socket hands over segments before TCP has verified them).
    pub fn parse(buf: &[u8], addresses: Option<(IpAddr, IpAddr)>) -> Result<Segment, WireError> {
        need("TCP header", buf, MIN_HEADER_LEN)?;
        let header_len = usize::from(buf[12] >> 4) * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(WireError::Malformed { what: "TCP header", reason: "data offset below 5 words" });
        }
        need("TCP header", buf, header_len)?;
        if let Some((source, destination)) = addresses {
            let mut sum = Checksum::new();
            sum.add_pseudo_header(source, destination, PROTOCOL, buf.len()).add(buf);
            if sum.finish() != 0 {
                return Err(WireError::Checksum);
            }
        }
        let flags = buf[13];
        Ok(Segment {
            source_port: u16::from_be_bytes([buf[0], buf[1]]),
            destination_port: u16::from_be_bytes([buf[2], buf[3]]),
            acknowledgement: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            syn_ack: flags & (SYN | ACK) == SYN | ACK && flags & (RST | FIN) == 0,
            rst: flags & RST != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 3, 2));

    #[test]
    fn syn_is_byte_exact_and_verifies() {
        let syn = Syn { source_port: 40000, destination_port: 80, sequence: 0xbeef_0001 };
        let bytes = syn.to_bytes(CLIENT, SERVER);
        // Checksum by hand: pseudo-header 0a00+0001+0a00+0302+0006+0014, then 9c40+0050+beef+0001+5002+ffff.
        assert_eq!(bytes, hex("9c40 0050 beef0001 00000000 5002 ffff 3d5f 0000"));
        let quoted = QuotedTcp::parse(&bytes).unwrap();
        assert_eq!((quoted.source_port, quoted.destination_port, quoted.sequence), (40000, 80, 0xbeef_0001));
        // Our own SYN parses as a segment with a valid checksum, neither SYN-ACK nor RST.
        let segment = Segment::parse(&bytes, Some((CLIENT, SERVER))).unwrap();
        assert!(!segment.syn_ack && !segment.rst);
    }

    #[test]
    fn answers_are_recognised() {
        // SYN-ACK 80 -> 40000, ack 0xbeef0002, checksum left 0 and not verified.
        let syn_ack = hex("0050 9c40 12345678 beef0002 5012 ffff 0000 0000");
        let segment = Segment::parse(&syn_ack, None).unwrap();
        assert_eq!((segment.source_port, segment.destination_port, segment.acknowledgement), (80, 40000, 0xbeef_0002));
        assert!(segment.syn_ack && !segment.rst);
        let mut rst = syn_ack.clone();
        rst[13] = RST | ACK;
        let segment = Segment::parse(&rst, None).unwrap();
        assert!(segment.rst && !segment.syn_ack);
        assert_eq!(Segment::parse(&syn_ack, Some((SERVER, CLIENT))), Err(WireError::Checksum));
    }

    #[test]
    fn lengths_are_checked() {
        let mut segment = hex("0050 9c40 12345678 beef0002 5012 ffff 0000 0000");
        for len in 0..segment.len() {
            assert!(Segment::parse(&segment[..len], None).is_err());
            assert_eq!(QuotedTcp::parse(&segment[..len]).is_ok(), len >= 8);
        }
        segment[12] = 0xf0; // 60 bytes of header promised
        assert!(matches!(Segment::parse(&segment, None), Err(WireError::Truncated { needed: 60, .. })));
        segment[12] = 0x40;
        assert!(matches!(Segment::parse(&segment, None), Err(WireError::Malformed { .. })));
    }
}
