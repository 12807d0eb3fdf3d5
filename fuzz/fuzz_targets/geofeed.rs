//! An RFC 8805 geofeed (with tracemap's latitude and longitude columns) as a user hands it to `--geofeed`: any
//! bytes, read as text the way a file would be. Parsing must never panic; every error names a line that exists;
//! every place a lookup returns has coordinates on the globe and a two-letter country code or none.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tracemap::enrich::geofeed::Geofeed;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (feed, errors) = Geofeed::parse(&text, "geofeed fuzz");
    let lines = text.lines().count();
    for error in &errors {
        assert!(error.line >= 1 && error.line <= lines, "line {} of {lines}", error.line);
    }
    assert!(feed.len() + errors.len() <= lines);
    // Addresses from the input itself (so prefixes it wrote can match), and the edges of both families.
    let mut probes = vec![
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    ];
    for chunk in data.chunks(16) {
        let mut v6 = [0u8; 16];
        v6[..chunk.len()].copy_from_slice(chunk);
        probes.push(IpAddr::V6(Ipv6Addr::from(v6)));
        probes.push(IpAddr::V4(Ipv4Addr::new(v6[0], v6[1], v6[2], v6[3])));
    }
    for line in text.lines() {
        let prefix = line.split(',').next().unwrap_or("").split('/').next().unwrap_or("").trim();
        if let Ok(ip) = prefix.parse() {
            probes.push(ip);
        }
    }
    for ip in probes {
        if let Some(geo) = feed.lookup(ip) {
            assert!((-90.0..=90.0).contains(&geo.lat) && (-180.0..=180.0).contains(&geo.lon), "{geo:?}");
            if let Some(code) = &geo.country_code {
                assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()), "{geo:?}");
            }
        }
    }
});
