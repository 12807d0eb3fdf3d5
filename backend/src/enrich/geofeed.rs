//! The user's own map of networks: an RFC 8805 geofeed CSV, optionally with coordinates.
//!
//! Columns, in RFC 8805 order: prefix, country code, region code (ISO 3166-2), city, postal code; tracemap reads
//! two optional extra columns, latitude and longitude, because a route map needs a point. `#` starts a comment.
//! This is how a campus or a classroom lab puts its private routers on the map. The longest matching prefix wins
//! and overrides any database. Bad lines are reported with their line number and skipped.

use std::net::IpAddr;
use std::path::Path;

use tracemap_shared::Geo;

/// One network of the feed.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    network: IpAddr,
    prefix_len: u8,
    geo: Geo,
}

/// A problem on one line of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed geofeed.
#[derive(Debug, Clone, Default)]
pub struct Geofeed {
    entries: Vec<Entry>,
    label: String,
}

impl Geofeed {
    /// Reads the feed at `path`; the label shown as the source of its locations is the file name.
    pub fn load(path: &Path) -> std::io::Result<(Geofeed, Vec<LineError>)> {
        let text = std::fs::read_to_string(path)?;
        let label = format!("geofeed {}", path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default());
        Ok(Geofeed::parse(&text, &label))
    }

    /// Parses feed text. Every good line is kept; every bad one is returned as an error.
    pub fn parse(text: &str, label: &str) -> (Geofeed, Vec<LineError>) {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match parse_line(line, label) {
                Ok(entry) => entries.push(entry),
                Err(message) => errors.push(LineError { line: i + 1, message }),
            }
        }
        // Longest prefix first, so the first match is the most specific.
        entries.sort_by_key(|e| std::cmp::Reverse(e.prefix_len));
        (Geofeed { entries, label: label.to_owned() }, errors)
    }

    /// Number of usable networks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the feed has no usable network.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The label shown as the source of this feed's locations.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The most specific network containing `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        self.entries.iter().find(|e| contains(e.network, e.prefix_len, ip)).map(|e| e.geo.clone())
    }
}

fn parse_line(line: &str, label: &str) -> Result<Entry, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    // RFC 8805 lets trailing empty fields be left out: a missing column reads as empty.
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let (network, prefix_len) = parse_prefix(field(0))?;
    let country_code = field(1);
    let code_ok = country_code.len() == 2 && country_code.bytes().all(|b| b.is_ascii_alphabetic());
    if !country_code.is_empty() && !code_ok {
        return Err(format!("'{country_code}' is not a two-letter country code"));
    }
    let (lat, lon) = match (field(5), field(6)) {
        ("", "") => return Err("no latitude and longitude (columns 6 and 7): tracemap cannot place it".to_owned()),
        (lat, lon) => {
            let lat: f64 = lat.parse().map_err(|_| format!("'{lat}' is not a latitude"))?;
            let lon: f64 = lon.parse().map_err(|_| format!("'{lon}' is not a longitude"))?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(format!("{lat},{lon} is not a point on Earth"));
            }
            (lat, lon)
        }
    };
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let region = field(2);
    // ISO 3166-2 codes read "US-CA"; the part after the country is the region.
    let region = region.split_once('-').map_or(region, |(_, r)| r);
    let country_code = text(&country_code.to_ascii_uppercase());
    Ok(Entry {
        network,
        prefix_len,
        geo: Geo {
            city: text(field(3)),
            region: text(region),
            country: country_code.clone(),
            country_code,
            lat,
            lon,
            accuracy_km: None,
            source: Some(label.to_owned()),
            token: None,
            plausible: None,
            max_km: None,
            candidates: Vec::new(),
        },
    })
}

fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    let addr: IpAddr = addr.parse().map_err(|_| format!("'{s}' is not an IP prefix"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len =
        if len.is_empty() { max } else { len.parse::<u8>().map_err(|_| format!("'{s}' has a bad prefix length"))? };
    if len > max {
        return Err(format!("'{s}' has a prefix length over {max}"));
    }
    Ok((addr, len))
}

/// Whether `ip` lies in `network/len` (IPv4 and IPv6 never match each other).
fn contains(network: IpAddr, len: u8, ip: IpAddr) -> bool {
    fn masked(bits: u128, len: u8, width: u8) -> u128 {
        if len == 0 { 0 } else { bits >> (width - len) }
    }
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            masked(u128::from(u32::from(n)), len, 32) == masked(u128::from(u32::from(a)), len, 32)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => masked(u128::from(n), len, 128) == masked(u128::from(a), len, 128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = "\
# campus lab
10.0.0.0/8,NZ,NZ-AUK,Auckland,,-36.85,174.76
10.0.2.0/24,AU,AU-NSW,Sydney,2000,-33.87,151.21   # the core router
2001:db8::/32,JP,JP-13,Tokyo,,35.68,139.69
10.9.0.0/16,US,US-CA,San Jose
not-a-prefix,US,,,,1,1
10.1.0.0/33,US,,,,1,1
10.2.0.0/16,USA,,,,1,1
10.3.0.0/16,US,,,,95,1
";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn longest_prefix_wins() {
        let (feed, _) = Geofeed::parse(FEED, "lab");
        assert_eq!(feed.lookup(ip("10.0.2.7")).and_then(|g| g.city), Some("Sydney".into()));
        let akl = feed.lookup(ip("10.0.3.7")).expect("in 10/8");
        assert_eq!((akl.city.as_deref(), akl.region.as_deref(), akl.lat), (Some("Auckland"), Some("AUK"), -36.85));
        assert_eq!(akl.source.as_deref(), Some("lab"));
        assert_eq!(feed.lookup(ip("2001:db8::1")).and_then(|g| g.city), Some("Tokyo".into()));
        assert_eq!(feed.lookup(ip("11.0.0.1")), None);
        assert_eq!(feed.lookup(ip("::ffff:10.0.2.7")), None);
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let (feed, errors) = Geofeed::parse(FEED, "lab");
        assert_eq!(feed.len(), 3);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 7, 8, 9]);
        assert!(errors[0].to_string().starts_with("line 5: no latitude"), "{}", errors[0]);
        assert!(errors[1].message.contains("not an IP prefix"));
        assert!(errors[3].message.contains("two-letter"));
        assert!(errors[4].message.contains("not a point on Earth"));
    }

    #[test]
    fn random_lines_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let alphabet: Vec<char> = "0123456789abcdefUSNZ.:,/-#\" \t\r\u{0}é".chars().collect();
        for _ in 0..2000 {
            let mut text: String = FEED.to_owned();
            for _ in 0..rng.random_range(1..40) {
                text.push(alphabet[rng.random_range(0..alphabet.len())]);
                if rng.random_bool(0.1) {
                    text.push('\n');
                }
            }
            let (feed, _) = Geofeed::parse(&text, "fuzz");
            for probe in ["10.0.2.7", "::", "2001:db8::1", "255.255.255.255"] {
                let _ = feed.lookup(ip(probe));
            }
        }
    }

    #[test]
    fn prefix_edges() {
        assert!(contains(ip("0.0.0.0"), 0, ip("203.0.113.9")));
        assert!(contains(ip("10.0.0.1"), 32, ip("10.0.0.1")));
        assert!(!contains(ip("10.0.0.1"), 32, ip("10.0.0.2")));
        assert!(contains(ip("2001:db8::"), 127, ip("2001:db8::1")));
    }
}
