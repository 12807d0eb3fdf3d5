//! Reading a router's reverse-DNS name for where it is.
//!
//! Operators write a site code into their routers' names: an IATA airport or metro code with or without a number
//! (`ams10`, `mia03`, `cr1-lax2`, Google's `nrt12s45`), a city name (`Dallas3`, `ashburn`), an operator's own code
//! (`nyk`, `ldn`) or a CLLI-style abbreviation (`asbnva02`: four letters of the city, two of the state or
//! country). A token only counts where a code can stand: the registrable domain and TLD are ignored, names are
//! split on `.` and `-`, and interface and role words (`ae5`, `be3037`, `xe-0-0-1`, `cr1`, `core`, `ccr21`) are
//! not places. A two-letter label right after a token (`ams10.nl`, `ashburn.va`) confirms it. Every reading is
//! returned, best first; the caller lets the round-trip time pick among them (a code can mean several places).

use tracemap_shared::Geo;

use super::places::{Place, PlaceKind, PlaceTable, normalise};

/// `Geo::source` of a place read from a name.
pub const SOURCE: &str = "hostname";
/// How far from the named place a router may stand: a code names a metro area, not a building.
pub const HINT_ACCURACY_KM: u32 = 50;
/// Airports and metro codes near fewer people than this are not taken for a router's site.
const MIN_CODE_POPULATION: u32 = 50_000;
/// City names alone (`amsterdam`, `Dallas3`) must be this big; with a matching region label, any kept city.
const MIN_NAMED_CITY_POPULATION: u32 = 100_000;
/// An abbreviation whose region letters match nothing must be one of the world's big cities.
const MIN_UNQUALIFIED_ABBREVIATION_POPULATION: u32 = 500_000;

/// Words that appear in router names for roles, interfaces, services or customers, never for places. Some are
/// also airport codes or town names (`eth`, `ccr`, `mobile`), which is why they are listed.
const NOT_PLACES: &[&str] = &[
    // interfaces
    "ae",
    "be",
    "xe",
    "ge",
    "et",
    "te",
    "hu",
    "fo",
    "po",
    "lag",
    "vlan",
    "irb",
    "eth",
    "ether",
    "ethernet",
    "gige",
    "tengige",
    "tengig",
    "fortygige",
    "hundredgige",
    "gigabitethernet",
    "bundle",
    "pos",
    "atm",
    "serial",
    "tunnel",
    "tun",
    "loopback",
    "port",
    "channel",
    "xgige",
    "mpls",
    "ptp",
    "xcon",
    "lo",
    // roles
    "core",
    "tcore",
    "edge",
    "border",
    "bdr",
    "backbone",
    "bbr",
    "cbr",
    "rtr",
    "router",
    "switch",
    "gateway",
    "agg",
    "aggr",
    "dist",
    "acc",
    "access",
    "ccr",
    "ear",
    "mpr",
    "asr",
    "csr",
    "esr",
    "isr",
    "msr",
    "mcr",
    "bcr",
    "icr",
    "ipr",
    "lsr",
    "ler",
    "dsr",
    "car",
    "bar",
    "ebr",
    "agr",
    "xar",
    "rur",
    "pos",
    "transit",
    "peer",
    "peering",
    "ixp",
    "exchange",
    "link",
    "links",
    "mgmt",
    "oob",
    "metro",
    "spine",
    "leaf",
    "bras",
    "bng",
    "lns",
    "olt",
    "ibone",
    "hfc",
    "infra",
    "trans",
    "wholesale",
    "gin",
    "zip",
    "atlas",
    "tcore",
    "ntt",
    "crs",
    "ncs",
    // services and hosts
    "static",
    "dynamic",
    "customer",
    "cust",
    "client",
    "clients",
    "dsl",
    "adsl",
    "vdsl",
    "cable",
    "fiber",
    "fibre",
    "ftth",
    "pool",
    "dhcp",
    "ppp",
    "pppoe",
    "dialup",
    "dial",
    "host",
    "hosted",
    "hosting",
    "rev",
    "ptr",
    "res",
    "biz",
    "business",
    "broadband",
    "mobile",
    "wireless",
    "wifi",
    "lte",
    "cpe",
    "hsd",
    "user",
    "users",
    "home",
    "nat",
    "cgnat",
    "unassigned",
    "unknown",
    "reverse",
    "addr",
    "arpa",
    "deploy",
    "compute",
    "cloud",
    "server",
    "srv",
    "www",
    "mail",
    "smtp",
    "dns",
    "ntp",
    "web",
    "vps",
    "node",
    "cdn",
    "cache",
    "proxy",
    "firewall",
    "vpn",
    "net",
    "network",
    "internet",
    "telecom",
    "tel",
    "com",
    "org",
    "inet",
    "ipv",
    "local",
    "localhost",
    "localdomain",
    "lan",
    "wan",
    "corp",
    "office",
    "site",
    "colo",
    "any",
    "anycast",
    "prod",
    "dev",
    "test",
    "lab",
    "example",
    "rdns",
    "ent",
    "gov",
    "edu",
    "sub",
    "int",
    "ext",
    "pub",
    "priv",
    "dyn",
    "fix",
    "fixed",
    "range",
    "orange",
    "level",
    "lumen",
    "tech",
    "east",
    "west",
    "north",
    "south",
    "central",
    "static",
    "gprs",
    "ims",
    "amazonaws",
    "cloudfront",
    "akamai",
    "akamaitechnologies",
    "google",
    "bc",
    "in",
    "ip",
    "rr",
    "pe",
    "ce",
    "ar",
    "br",
    "cr",
    "er",
    "gw",
    "bb",
    "cs",
    "sw",
    "fw",
    "lb",
    "ix",
    "if",
    "as",
];

/// One reading of a name: the token and the place it may mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The part of the name it came from, e.g. `ams10`.
    pub token: String,
    /// The place.
    pub place: Place,
    /// How strongly the name says so (higher first).
    pub score: u8,
}

impl Hint {
    /// As a location candidate (`source: "hostname"`, with the token).
    pub fn to_geo(&self) -> Geo {
        Geo {
            city: Some(self.place.name.clone()),
            region: None,
            country: Some(self.place.country_code.clone()),
            country_code: Some(self.place.country_code.clone()),
            lat: self.place.lat,
            lon: self.place.lon,
            accuracy_km: Some(HINT_ACCURACY_KM),
            source: Some(SOURCE.to_owned()),
            token: Some(self.token.clone()),
            plausible: None,
            max_km: None,
            candidates: Vec::new(),
        }
    }
}

/// Second-level labels under which names are registered in many country TLDs (`example.co.uk`).
const SECOND_LEVEL: &[&str] = &["co", "com", "net", "org", "ac", "ad", "ne", "or", "gov", "edu", "gr", "go", "ed"];

/// The labels of `name` where a site code can stand: everything before the registrable domain, lower-cased.
fn site_labels(name: &str) -> Vec<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_') {
        return Vec::new();
    }
    let labels: Vec<&str> = name.split('.').collect();
    let n = labels.len();
    let domain = if n >= 4 && labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) { 3 } else { 2 };
    if n <= domain {
        return Vec::new();
    }
    labels[..n - domain].iter().map(|l| (*l).to_owned()).collect()
}

/// The alphabetic stem of a part that looks like a site code (`ams10` → `ams`, `nrt12s45` → `nrt`, `lax` →
/// `lax`), with whether digits followed it; `None` for anything else (`0`, `100ge0`, `f14x`).
fn stem(part: &str) -> Option<(&str, bool)> {
    let letters = part.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters < 3 {
        return None;
    }
    let (alpha, rest) = part.split_at(letters);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    let ok = match tail.len() {
        0 => true,
        // Google's `nrt12s45`: site, number, a letter, a number.
        _ => {
            digits > 0
                && tail.len() >= 2
                && tail.as_bytes()[0].is_ascii_alphabetic()
                && tail[1..].bytes().all(|b| b.is_ascii_digit())
        }
    };
    ok.then_some((alpha, digits > 0))
}

/// Whether `abbreviation` is `name` with letters left out, starting with the same letter (`asbn` ⊂ `ashburn`).
fn abbreviates(abbreviation: &str, name: &str) -> bool {
    if abbreviation.as_bytes().first() != name.as_bytes().first() {
        return false;
    }
    let mut wanted = abbreviation.bytes().peekable();
    for b in name.bytes() {
        if wanted.peek() == Some(&b) {
            wanted.next();
        }
    }
    wanted.peek().is_none()
}

/// Whether a two-letter label names the place's country or first-level region (`uk` stands for GB).
fn region_matches(region: Option<&str>, place: &Place) -> bool {
    let Some(region) = region else { return false };
    let country = if region == "uk" { "gb" } else { region };
    place.country_code.eq_ignore_ascii_case(country)
        || (matches!(place.country_code.as_str(), "US" | "CA") && place.admin.eq_ignore_ascii_case(region))
}

/// Every place `name` may mean, best first; empty when it names none.
pub fn hints(name: &str, table: &PlaceTable) -> Vec<Hint> {
    let labels = site_labels(name);
    let mut found: Vec<Hint> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let region = labels
            .get(i + 1)
            .map(String::as_str)
            .filter(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_alphabetic()));
        for part in label.split(['-', '_']) {
            let Some((alpha, numbered)) = stem(part) else { continue };
            if NOT_PLACES.contains(&alpha) {
                continue;
            }
            let token = part.to_owned();
            let mut push = |place: &Place, base: u8| {
                let score = base + if region_matches(region, place) { 2 } else { 0 };
                if !found.iter().any(|h| h.token == token && h.place == *place) {
                    found.push(Hint { token: token.clone(), place: place.clone(), score });
                }
            };
            if alpha.len() == 3 {
                // An operator's own code stands whatever the size of its town (Ashburn's data centres).
                let wanted = |p: &&Place| p.kind == PlaceKind::Operator || p.population >= MIN_CODE_POPULATION;
                for place in table.code(alpha).iter().filter(wanted) {
                    push(place, if numbered { 3 } else { 2 });
                }
                continue;
            }
            let cities: Vec<&Place> = table
                .city(alpha)
                .iter()
                .filter(|p| p.population >= MIN_NAMED_CITY_POPULATION || region_matches(region, p))
                .collect();
            if let Some(best) = cities.iter().find(|p| region_matches(region, p)).or(cities.first()) {
                push(best, 3);
                continue;
            }
            if alpha.len() == 6 && numbered {
                let (city, state) = alpha.split_at(4);
                let state = Some(state);
                let by_region = table
                    .by_population()
                    .iter()
                    .find(|p| region_matches(state, p) && abbreviates(city, &normalise(&p.name)));
                let any = || {
                    table
                        .by_population()
                        .iter()
                        .take_while(|p| p.population >= MIN_UNQUALIFIED_ABBREVIATION_POPULATION)
                        .find(|p| abbreviates(city, &normalise(&p.name)))
                };
                if let Some(place) = by_region.or_else(any) {
                    push(place, 3);
                } else if let Some(place) = table.code(&alpha[..3]).iter().find(|p| p.kind == PlaceKind::Metro) {
                    // `nycmny01`: the metro code, with a CLLI tail that abbreviates nothing the table knows.
                    push(place, 2);
                }
            }
        }
    }
    // Best first; among equals, the first written.
    found.sort_by_key(|h| std::cmp::Reverse(h.score));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::places::tests::sample;

    fn first(name: &str) -> Option<(String, String)> {
        hints(name, &sample()).first().map(|h| (h.token.clone(), h.place.name.clone()))
    }

    #[test]
    fn codes_and_cities_are_read_where_they_stand() {
        assert_eq!(first("ae5.cs2.ams10.nl.eth.zayo.com"), Some(("ams10".into(), "Amsterdam".into())));
        assert_eq!(first("ae-2-3602.ear4.Dallas3.Level3.net"), Some(("dallas3".into(), "Dallas".into())));
        assert_eq!(first("xe-1-0-0.cr1-lax2.ip4.gtt.net"), Some(("lax2".into(), "Los Angeles".into())));
        assert_eq!(first("be-1-cr01.ashburn.va.ibone.comcast.net"), Some(("ashburn".into(), "Ashburn".into())));
        assert_eq!(first("ldn-b2-link.ip.twelve99.net"), Some(("ldn".into(), "London".into())));
        assert_eq!(first("ae-5.r24.asbnva02.us.bb.gin.ntt.net"), Some(("asbnva02".into(), "Ashburn".into())));
        // The sample has no London among its cities: the metro code behind the CLI-style tail reads it.
        assert_eq!(first("ae-2.r20.londen12.uk.bb.gin.ntt.net"), Some(("londen12".into(), "London".into())));
        assert_eq!(first("lax17s55-in-f14.1e100.net"), Some(("lax17s55".into(), "Los Angeles".into())));
    }

    #[test]
    fn roles_interfaces_domains_and_customers_are_not_places() {
        for name in [
            "core1.example.net",
            "ae-5.r24",
            "localhost",
            "example.net",
            "amsterdam.nl",
            "static-203-0-113-7.customer.example.net",
            "xe-0-0-1.core.example.co.uk",
            "ccr21.example.com",
            "",
            "a..b",
            "dallas\u{1b}.example.net",
        ] {
            assert_eq!(hints(name, &sample()), Vec::new(), "{name}");
        }
    }

    #[test]
    fn stems_and_abbreviations() {
        assert_eq!(stem("ams10"), Some(("ams", true)));
        assert_eq!(stem("nrt12s45"), Some(("nrt", true)));
        assert_eq!(stem("lax"), Some(("lax", false)));
        assert_eq!(stem("100ge0"), None);
        assert_eq!(stem("r24"), None);
        assert_eq!(stem("f14x"), None);
        assert!(abbreviates("asbn", "ashburn"));
        assert!(abbreviates("dlls", "dallas"));
        assert!(!abbreviates("sbn", "ashburn"));
        assert!(!abbreviates("asbx", "ashburn"));
    }

    #[test]
    fn a_region_label_confirms_a_reading() {
        let all = hints("ae1.lon1.uk.example.net", &sample());
        assert_eq!(all[0].score, 5);
        let geo = all[0].to_geo();
        assert_eq!(
            (geo.source.as_deref(), geo.token.as_deref(), geo.accuracy_km),
            (Some("hostname"), Some("lon1"), Some(50))
        );
    }
}
