//! ICMP multi-part extensions (RFC 4884) and the MPLS label stack object they carry (RFC 4950).
//!
//! A router inside an MPLS tunnel that drops a probe may append, after the quoted original datagram, an extension
//! structure: a 4-byte header (version 2, a checksum over the whole structure) then objects, each with a length,
//! a class and a c-type. Class 1 c-type 1 is the label stack the probe carried when its TTL ran out, which is how a
//! traceroute shows the tunnel. Everything here reads untrusted bytes: each length is checked against the buffer,
//! and anything malformed yields no labels rather than an error, because the ICMP message itself is still a valid
//! answer to the probe.
//!
//! Where the structure starts:
//! - **RFC 4884**: the ICMP header's length field (ICMPv4: byte 5, in 32-bit words; ICMPv6: byte 4, in 64-bit
//!   words) gives the size of the original-datagram field, which must then be at least 128 bytes (zero-padded).
//! - **Legacy layout** (RFC 4884 section 5.5, still sent by routers built before it): length field 0, the quoted
//!   datagram cut or padded to exactly 128 bytes, the extension right after. Accepted only when the message is
//!   longer than 128 bytes of quote, the header says version 2 and a *non-zero, correct* checksum covers the rest:
//!   a long quote of an ordinary datagram would have to match all three by chance to be misread.
//! - **Short length field**: routers in the wild (over ICMPv4 and ICMPv6) fill the length field with the size of
//!   the quote they copied (say 28 bytes), then pad it with zeros to 128 bytes and append the extension there, as
//!   the legacy layout does. RFC 4884 calls a length below 128 bytes invalid, but the structure at byte 128 is read
//!   under the same strict conditions as the legacy layout, so it loses nothing a router meant to say.

use super::checksum::Checksum;

/// Bytes of original datagram before the extensions, at least (RFC 4884 section 4, and the legacy layout).
pub const ORIGINAL_DATAGRAM_MIN: usize = 128;
/// Extension structure header: version (4 bits), reserved (12), checksum (16).
const EXTENSION_HEADER_LEN: usize = 4;
/// Object header: length (16), class-num (8), c-type (8).
const OBJECT_HEADER_LEN: usize = 4;
const EXTENSION_VERSION: u8 = 2;
/// RFC 4950: MPLS Label Stack Class, incoming label stack c-type.
const CLASS_MPLS: u8 = 1;
const CTYPE_INCOMING_STACK: u8 = 1;

/// Most label stack entries kept; deeper stacks are cut (real stacks hold two or three labels). A fixed capacity
/// keeps parsed messages `Copy` and their size bounded whatever a packet claims.
pub const MAX_LABELS: usize = 8;

/// One MPLS label stack entry (RFC 3032 layout, as RFC 4950 quotes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MplsEntry {
    /// The label, 20 bits.
    pub label: u32,
    /// Traffic class (formerly EXP), 3 bits.
    pub tc: u8,
    /// Bottom of stack.
    pub bottom: bool,
    /// The entry's TTL.
    pub ttl: u8,
}

impl MplsEntry {
    /// Decodes one 4-byte entry.
    pub fn from_bytes(bytes: [u8; 4]) -> MplsEntry {
        let word = u32::from_be_bytes(bytes);
        MplsEntry { label: word >> 12, tc: ((word >> 9) & 0x7) as u8, bottom: word & 0x100 != 0, ttl: word as u8 }
    }

    /// Encodes the entry (the label is cut to its 20 bits, the class to 3).
    pub fn to_bytes(self) -> [u8; 4] {
        let word = ((self.label & 0xf_ffff) << 12)
            | (u32::from(self.tc & 0x7) << 9)
            | (u32::from(self.bottom) << 8)
            | u32::from(self.ttl);
        word.to_be_bytes()
    }
}

/// The label stack an ICMP error reported, outermost label first; empty when it carried none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MplsStack {
    entries: [MplsEntry; MAX_LABELS],
    len: u8,
}

impl MplsStack {
    /// The entries, outermost first.
    pub fn entries(&self) -> &[MplsEntry] {
        &self.entries[..usize::from(self.len).min(MAX_LABELS)]
    }

    /// Whether no label was reported.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A stack of `entries` (at most [`MAX_LABELS`] are kept).
    pub fn from_entries(entries: &[MplsEntry]) -> MplsStack {
        let mut stack = MplsStack::default();
        for entry in entries {
            stack.push(*entry);
        }
        stack
    }

    fn push(&mut self, entry: MplsEntry) {
        if let Some(slot) = self.entries.get_mut(usize::from(self.len)) {
            *slot = entry;
            self.len += 1;
        }
    }
}

/// Where an ICMP message's length attribute is and what unit it counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// ICMPv4: 32-bit words.
    Words32,
    /// ICMPv6: 64-bit words.
    Words64,
}

/// The MPLS labels in the extensions of an ICMP error whose length attribute is `length` and whose body (what
/// follows the 8-byte ICMP header) is `body`. Never fails: anything malformed gives an empty stack.
pub fn mpls_labels(length: u8, unit: LengthUnit, body: &[u8]) -> MplsStack {
    let structure = if length != 0 {
        let words = usize::from(length);
        let original = match unit {
            LengthUnit::Words32 => words * 4,
            LengthUnit::Words64 => words * 8,
        };
        if original < ORIGINAL_DATAGRAM_MIN {
            // Not RFC 4884; the quote padded to 128 bytes and a strictly valid structure after it, as routers send.
            legacy(body)
        } else {
            body.get(original..).and_then(|rest| extension_objects(rest, false))
        }
    } else {
        legacy(body)
    };
    let mut stack = MplsStack::default();
    for (class, ctype, payload) in structure.into_iter().flatten() {
        if class == CLASS_MPLS && ctype == CTYPE_INCOMING_STACK {
            for entry in payload.chunks_exact(4) {
                stack.push(MplsEntry::from_bytes([entry[0], entry[1], entry[2], entry[3]]));
            }
        }
    }
    stack
}

/// The extension structure right after a 128-byte original-datagram field, when there is one with version 2 and a
/// non-zero, correct checksum (the legacy layout, and a length field below 128 bytes).
fn legacy(body: &[u8]) -> Option<Objects<'_>> {
    if body.len() > ORIGINAL_DATAGRAM_MIN {
        body.get(ORIGINAL_DATAGRAM_MIN..).and_then(|rest| extension_objects(rest, true))
    } else {
        None
    }
}

/// Checks an extension structure's header and checksum and returns an iterator over its objects, or `None` when
/// it is not a valid structure. `strict` (the legacy layout) also refuses a zero (absent) checksum.
fn extension_objects(structure: &[u8], strict: bool) -> Option<Objects<'_>> {
    let header = structure.get(..EXTENSION_HEADER_LEN)?;
    if header[0] >> 4 != EXTENSION_VERSION {
        return None;
    }
    let checksum = u16::from_be_bytes([header[2], header[3]]);
    // RFC 4884 section 7: a zero checksum means none was computed.
    let unchecked = checksum == 0 && !strict;
    if !unchecked && (checksum == 0 || Checksum::new().add(structure).sum() != 0xffff) {
        return None;
    }
    Some(Objects { rest: &structure[EXTENSION_HEADER_LEN..] })
}

/// The objects of an extension structure: (class, c-type, payload). Stops at the first malformed object.
struct Objects<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Objects<'a> {
    type Item = (u8, u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let header = self.rest.get(..OBJECT_HEADER_LEN)?;
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        // A length below the header's own would never advance; one past the end cannot be trusted.
        let Some(object) = self.rest.get(..len).filter(|_| len >= OBJECT_HEADER_LEN) else {
            self.rest = &[];
            return None;
        };
        let item = (header[2], header[3], &object[OBJECT_HEADER_LEN..]);
        self.rest = &self.rest[len..];
        Some(item)
    }
}

/// Builds an extension structure holding one MPLS label stack object, checksum included (for tests and fuzz seeds).
pub fn mpls_extension(entries: &[MplsEntry]) -> Vec<u8> {
    let object_len = OBJECT_HEADER_LEN + 4 * entries.len();
    let mut out = vec![EXTENSION_VERSION << 4, 0, 0, 0];
    out.extend_from_slice(&u16::try_from(object_len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&[CLASS_MPLS, CTYPE_INCOMING_STACK]);
    for entry in entries {
        out.extend_from_slice(&entry.to_bytes());
    }
    let sum = Checksum::new().add(&out).finish();
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    const L24001: MplsEntry = MplsEntry { label: 24001, tc: 0, bottom: true, ttl: 1 };

    /// A 28-byte quote padded to 128 bytes.
    fn padded_quote() -> Vec<u8> {
        let mut quote = vec![0x45; 28];
        quote.resize(ORIGINAL_DATAGRAM_MIN, 0);
        quote
    }

    #[test]
    fn entries_are_byte_exact() {
        // Label 24001 = 0x05dc1, TC 0, S 1, TTL 1: 0x05dc1 << 12 | 1 << 8 | 1.
        assert_eq!(L24001.to_bytes(), [0x05, 0xdc, 0x11, 0x01]);
        assert_eq!(MplsEntry::from_bytes([0x05, 0xdc, 0x11, 0x01]), L24001);
        let top = MplsEntry { label: 0xf_ffff, tc: 7, bottom: false, ttl: 255 };
        assert_eq!(top.to_bytes(), [0xff, 0xff, 0xfe, 0xff]);
        assert_eq!(MplsEntry::from_bytes(top.to_bytes()), top);
        // Version 2, checksum, one object of 8 bytes, class 1, c-type 1, the entry.
        assert_eq!(mpls_extension(&[L24001]), hex("2000 c819 0008 0101 05dc1101"));
    }

    #[test]
    fn rfc4884_layout_is_read_through_the_length_field() {
        let mut body = padded_quote();
        body.extend_from_slice(&mpls_extension(&[MplsEntry { bottom: false, ..L24001 }, L24001]));
        // 128 bytes = 32 words of 4 (ICMPv4) or 16 of 8 (ICMPv6).
        let stack = mpls_labels(32, LengthUnit::Words32, &body);
        assert_eq!(stack.entries(), [MplsEntry { bottom: false, ..L24001 }, L24001]);
        assert_eq!(mpls_labels(16, LengthUnit::Words64, &body), stack);
        // A length pointing elsewhere finds no valid header there.
        assert!(mpls_labels(33, LengthUnit::Words32, &body).is_empty());
    }

    #[test]
    fn a_length_field_below_128_bytes_still_finds_a_valid_structure_at_byte_128() {
        // What routers in the wild send: the length of the copied quote (28 bytes: 7 words of 4, or 4 of 8 rounded
        // up), the quote padded to 128 bytes, then the extension with its checksum.
        let mut body = padded_quote();
        body.extend_from_slice(&mpls_extension(&[MplsEntry { bottom: false, ..L24001 }, L24001]));
        for (length, unit) in [(7, LengthUnit::Words32), (1, LengthUnit::Words32), (31, LengthUnit::Words32)]
            .into_iter()
            .chain([(4, LengthUnit::Words64), (15, LengthUnit::Words64)])
        {
            let stack = mpls_labels(length, unit, &body);
            assert_eq!(stack.entries(), [MplsEntry { bottom: false, ..L24001 }, L24001], "{length} {unit:?}");
        }
        // The same strictness as the legacy layout: no zero checksum, no wrong one, no other version.
        let mut unchecked = body.clone();
        unchecked[128 + 2..128 + 4].copy_from_slice(&[0, 0]);
        assert!(mpls_labels(7, LengthUnit::Words32, &unchecked).is_empty());
        let mut corrupt = body.clone();
        corrupt[128 + 9] ^= 0x01;
        assert!(mpls_labels(7, LengthUnit::Words32, &corrupt).is_empty());
        assert!(mpls_labels(4, LengthUnit::Words64, &corrupt).is_empty());
        let mut version = body.clone();
        version[128] = 0x10;
        assert!(mpls_labels(7, LengthUnit::Words32, &version).is_empty());
        // An ordinary quote longer than 128 bytes with a short length field has no labels.
        let mut plain = padded_quote();
        plain.extend_from_slice(&[0x45; 40]);
        assert!(mpls_labels(7, LengthUnit::Words32, &plain).is_empty());
    }

    #[test]
    fn a_longer_original_datagram_moves_the_extensions() {
        let mut body = padded_quote();
        body.resize(136, 0);
        body.extend_from_slice(&mpls_extension(&[L24001]));
        assert_eq!(mpls_labels(34, LengthUnit::Words32, &body).entries(), [L24001]);
        assert_eq!(mpls_labels(17, LengthUnit::Words64, &body).entries(), [L24001]);
    }

    #[test]
    fn legacy_layout_needs_a_valid_checksum() {
        let mut body = padded_quote();
        body.extend_from_slice(&mpls_extension(&[L24001]));
        assert_eq!(mpls_labels(0, LengthUnit::Words32, &body).entries(), [L24001]);
        // A zero checksum is allowed by RFC 4884 with the length field, but too weak a sign without it.
        let mut unchecked = body.clone();
        unchecked[128 + 2..128 + 4].copy_from_slice(&[0, 0]);
        assert!(mpls_labels(0, LengthUnit::Words32, &unchecked).is_empty());
        assert_eq!(mpls_labels(32, LengthUnit::Words32, &unchecked).entries(), [L24001]);
        // A wrong checksum is never accepted.
        let mut corrupt = body.clone();
        corrupt[128 + 8] ^= 0x40;
        assert!(mpls_labels(0, LengthUnit::Words32, &corrupt).is_empty());
        assert!(mpls_labels(32, LengthUnit::Words32, &corrupt).is_empty());
        // A quote of exactly 128 bytes has no room for extensions.
        assert!(mpls_labels(0, LengthUnit::Words32, &padded_quote()).is_empty());
    }

    #[test]
    fn malformed_structures_give_no_labels_and_never_panic() {
        let mut body = padded_quote();
        body.extend_from_slice(&mpls_extension(&[L24001]));
        // Every truncation, every version, every object length.
        for len in 0..body.len() {
            let _ = mpls_labels(32, LengthUnit::Words32, &body[..len]);
            let _ = mpls_labels(0, LengthUnit::Words32, &body[..len]);
        }
        for length in 0..=255 {
            let _ = mpls_labels(length, LengthUnit::Words64, &body);
        }
        let mut version = body.clone();
        version[128] = 0x10;
        assert!(mpls_labels(32, LengthUnit::Words32, &version).is_empty());
        for object_len in [0u16, 1, 3, 13, 0xffff] {
            let mut bad = padded_quote();
            let mut structure = vec![0x20, 0, 0, 0];
            structure.extend_from_slice(&object_len.to_be_bytes());
            structure.extend_from_slice(&[1, 1, 0x05, 0xdc, 0x11, 0x01]);
            bad.extend_from_slice(&structure);
            assert!(mpls_labels(32, LengthUnit::Words32, &bad).is_empty(), "object length {object_len}");
        }
        // Other classes are skipped; a partial entry at the end of an MPLS object is dropped.
        let mut mixed = padded_quote();
        mixed.extend_from_slice(&hex("2000 0000  0008 0201 deadbeef  000a 0101 05dc1101 0102"));
        assert_eq!(mpls_labels(32, LengthUnit::Words32, &mixed).entries(), [L24001]);
        // Deep stacks are cut at MAX_LABELS.
        let deep = vec![L24001; 20];
        let mut body = padded_quote();
        body.extend_from_slice(&mpls_extension(&deep));
        assert_eq!(mpls_labels(32, LengthUnit::Words32, &body).entries().len(), MAX_LABELS);
    }
}
