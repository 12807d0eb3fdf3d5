//! The Internet checksum (RFC 1071) and the pseudo-headers UDP and TCP include in it, for IPv4 and IPv6.
//!
//! Kept apart from the protocols because UDP, TCP and ICMPv6 all fold the same pseudo-header in, and because Paris
//! probes need the arithmetic backwards: choosing payload bytes so that the checksum comes out as a wanted value.

use std::net::IpAddr;

/// A running one's-complement sum of 16-bit big-endian words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u32,
}

impl Checksum {
    /// An empty sum.
    pub fn new() -> Checksum {
        Checksum::default()
    }

    /// Adds `data`, padded with a zero byte when its length is odd (only the last chunk of a message may be odd).
    pub fn add(&mut self, data: &[u8]) -> &mut Checksum {
        let mut words = data.chunks_exact(2);
        for word in &mut words {
            self.add_word(u16::from_be_bytes([word[0], word[1]]));
        }
        if let [last] = words.remainder() {
            self.add_word(u16::from_be_bytes([*last, 0]));
        }
        self
    }

    /// Adds one 16-bit word.
    pub fn add_word(&mut self, word: u16) -> &mut Checksum {
        self.sum += u32::from(word);
        // Folding as we go keeps the sum far from overflow whatever the message length.
        self.sum = (self.sum & 0xffff) + (self.sum >> 16);
        self
    }

    /// Adds the pseudo-header of UDP, TCP and ICMPv6: both addresses, the protocol and the upper-layer length.
    pub fn add_pseudo_header(&mut self, source: IpAddr, destination: IpAddr, protocol: u8, len: usize) -> &mut Self {
        match (source, destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.add(&s.octets()).add(&d.octets()).add_word(u16::from(protocol));
                self.add_word((len & 0xffff) as u16);
            }
            _ => {
                self.add(&v6_octets(source)).add(&v6_octets(destination));
                self.add_word((len >> 16) as u16).add_word((len & 0xffff) as u16).add_word(u16::from(protocol));
            }
        }
        self
    }

    /// The one's-complement sum so far (not yet inverted).
    pub fn sum(&self) -> u16 {
        // `add_word` keeps the sum folded to at most 0x1_fffe; one more fold yields 16 bits.
        let folded = (self.sum & 0xffff) + (self.sum >> 16);
        (folded & 0xffff) as u16
    }

    /// The checksum field's value: the inverted sum.
    pub fn finish(&self) -> u16 {
        !self.sum()
    }

    /// The 16-bit word that, added to this sum, makes the checksum come out as `wanted` (Paris probes). `wanted`
    /// must not be 0 or 0xffff, which UDP cannot carry as computed values.
    pub fn word_for(&self, wanted: u16) -> u16 {
        // finish = !(sum + word) in one's complement, so sum + word must equal !wanted: word = !wanted - sum, and
        // one's-complement subtraction is the addition of the complement.
        let mut target = Checksum::new();
        target.add_word(!wanted).add_word(!self.sum());
        target.sum()
    }
}

/// IPv6 octets of an address; an IPv4 address mixed with an IPv6 one is taken in its mapped form.
fn v6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(Checksum::new().add(&hex("0001 f203 f4f5 f6f7")).sum(), 0xddf2);
        assert_eq!(Checksum::new().add(&hex("0001 f203 f4f5 f6f7")).finish(), 0x220d);
    }

    #[test]
    fn odd_length_is_padded() {
        assert_eq!(Checksum::new().add(&[0x12, 0x34, 0x56]).sum(), 0x1234 + 0x5600);
    }

    #[test]
    fn word_for_reaches_every_wanted_value() {
        let mut base = Checksum::new();
        base.add(b"tracemap paris probe");
        for wanted in [1u16, 2, 0x1234, 0x8000, 0xfffe] {
            let word = base.word_for(wanted);
            let mut total = base;
            total.add_word(word);
            assert_eq!(total.finish(), wanted, "wanted {wanted:#06x}");
        }
    }
}
