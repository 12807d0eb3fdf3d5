//! Where hop locations come from: the options shared by `trace` and `serve`, and opening the sources once.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tracemap::enrich::{self, Enricher, GeoIp, Geofeed};

#[derive(Args, Debug)]
pub struct GeoArgs {
    /// MaxMind DB file(s) for locations; default: the DB-IP files under data/geoip.
    #[arg(long = "geoip-db", value_name = "PATH", env = "TRACEMAP_GEOIP_DB", value_delimiter = ',')]
    pub geoip_db: Vec<PathBuf>,
    /// Your own locations: an RFC 8805 geofeed CSV with latitude and longitude columns; overrides the databases.
    #[arg(long, value_name = "PATH", env = "TRACEMAP_GEOFEED")]
    pub geofeed: Option<PathBuf>,
}

/// Opens the geofeed and the GeoIP databases named, or the default DB-IP files when none are. Named files must
/// open; missing defaults only mean no locations.
pub fn open_enricher(geo: &GeoArgs, wanted: bool) -> anyhow::Result<Enricher> {
    if !wanted {
        return Ok(Enricher::default());
    }
    let geofeed = match &geo.geofeed {
        None => None,
        Some(path) => {
            let (feed, errors) = Geofeed::load(path).with_context(|| format!("reading geofeed {}", path.display()))?;
            for error in &errors {
                tracing::warn!(file = %path.display(), "skipped geofeed {error}");
            }
            tracing::info!(file = %path.display(), networks = feed.len(), skipped = errors.len(), "geofeed loaded");
            Some(feed)
        }
    };
    let files = if geo.geoip_db.is_empty() {
        enrich::default_geoip_files(Path::new(enrich::DEFAULT_GEOIP_DIR))
    } else {
        geo.geoip_db.clone()
    };
    if files.is_empty() {
        tracing::warn!(
            "no GeoIP database found under {}: locations are unavailable (the README's run command fetches one)",
            enrich::DEFAULT_GEOIP_DIR
        );
        return Ok(Enricher::new(geofeed, None));
    }
    let geoip = GeoIp::open(&files)?;
    tracing::debug!(databases = ?geoip.labels(), "GeoIP ready");
    Ok(Enricher::new(geofeed, Some(geoip)))
}
