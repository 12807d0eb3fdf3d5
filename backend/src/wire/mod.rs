//! Packet wire formats (IPv4, IPv6, ICMP, ICMPv6 with RFC 4884 extensions, UDP, TCP): checked views over received bytes and builders for the
//! probes we send. No I/O.
//!
//! Everything that arrives from the network is untrusted: every parser here checks each length field (IHL, total
//! length, the header quoted inside an ICMP error) against the real buffer and returns a [`WireError`] instead of
//! panicking. pnet_packet provides the field accessors; the bounds checks are ours, done before any accessor runs.

pub mod checksum;
pub mod extensions;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

/// Why a received buffer could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer ends before a field its own headers promise.
    #[error("truncated {what}: needs {needed} bytes, has {available}")]
    Truncated {
        /// What was being parsed.
        what: &'static str,
        /// Bytes the headers call for.
        needed: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// A field holds a value the format forbids.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// Which rule the bytes break.
        reason: &'static str,
    },
    /// The ICMP checksum does not match the message.
    #[error("bad ICMP checksum")]
    Checksum,
    /// A buffer given to a builder is too small for the packet.
    #[error("buffer of {available} bytes is too small for a {needed}-byte packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

/// Fails with [`WireError::Truncated`] unless `buf` holds at least `needed` bytes.
fn need(what: &'static str, buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed { Err(WireError::Truncated { what, needed, available: buf.len() }) } else { Ok(()) }
}

#[cfg(test)]
pub(crate) mod test_hex {
    /// Bytes from a hex literal; spaces and newlines are ignored so literals can be laid out by field.
    pub fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(digits.len().is_multiple_of(2), "odd number of hex digits in {text:?}");
        digits
            .chunks(2)
            .map(|pair| {
                let pair = std::str::from_utf8(pair).expect("ascii");
                u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("bad hex {pair:?}"))
            })
            .collect()
    }
}
