//! An ASN ranges file (`start,end,number,organisation`, the ip-location-db and `--asn-db` CSV form): any bytes,
//! read as text. Parsing must never panic, every error names a line that exists, and every answer to a lookup is
//! a real AS (never 0, which marks unannounced space) with the table's label as its source.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tracemap::enrich::asn::{AsnDb, RangeTable};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (table, errors) = RangeTable::parse(&text, "asn fuzz");
    let lines = text.lines().count();
    for error in &errors {
        assert!(error.line >= 1 && error.line <= lines, "line {} of {lines}", error.line);
    }
    assert!(table.len() + errors.len() <= lines);
    let mut probes = vec![
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    ];
    // Every address the input wrote, and the one before and after it (range ends are inclusive).
    for line in text.lines() {
        for field in line.split(',').take(2) {
            if let Ok(ip) = field.trim().parse::<IpAddr>() {
                probes.push(ip);
                match ip {
                    IpAddr::V4(v4) => {
                        probes.push(IpAddr::V4(Ipv4Addr::from(u32::from(v4).wrapping_add(1))));
                        probes.push(IpAddr::V4(Ipv4Addr::from(u32::from(v4).wrapping_sub(1))));
                        probes.push(IpAddr::V6(v4.to_ipv6_mapped()));
                    }
                    IpAddr::V6(v6) => {
                        probes.push(IpAddr::V6(Ipv6Addr::from(u128::from(v6).wrapping_add(1))));
                        probes.push(IpAddr::V6(Ipv6Addr::from(u128::from(v6).wrapping_sub(1))));
                    }
                }
            }
        }
    }
    let db = AsnDb::from_table(table);
    for ip in probes {
        if let Some(asn) = db.lookup(ip) {
            assert_ne!(asn.number, 0, "{ip}: {asn:?}");
            assert_eq!(asn.source.as_deref(), Some("asn fuzz"));
        }
    }
});
