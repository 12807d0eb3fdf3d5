//! RFC 4884 extension structures and RFC 4950 MPLS label stacks: the first byte is the ICMP length attribute, the
//! second picks the unit (ICMPv4 32-bit words or ICMPv6 64-bit words), the rest is the body after the ICMP header.
//! None of it may panic, and a stack never holds more than its capacity or an entry wider than its fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemap::wire::extensions::{LengthUnit, MAX_LABELS, mpls_labels};

fuzz_target!(|data: &[u8]| {
    let [length, unit, body @ ..] = data else { return };
    let unit = if unit & 1 == 0 { LengthUnit::Words32 } else { LengthUnit::Words64 };
    let stack = mpls_labels(*length, unit, body);
    assert!(stack.entries().len() <= MAX_LABELS);
    for entry in stack.entries() {
        assert!(entry.label < 1 << 20 && entry.tc < 8);
    }
});
