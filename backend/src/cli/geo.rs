//! Where hop information comes from: the enrichment options shared by `trace`, `locate` and `serve`, and opening
//! the sources once at start-up.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tracemap::data::DataDirs;
use tracemap::enrich::{self, AsnDb, Enricher, GeoIp, Geofeed, Loading, PlaceTable, ReverseDns, dns};
use tracemap_shared::Geo;

#[derive(Args, Debug, Clone)]
pub struct GeoArgs {
    /// Look for data (geoip/, asn/, ...) here first, before ~/.local/share/tracemap, /usr/local/share/tracemap,
    /// /usr/share/tracemap and ./data (`tracemap data` shows what is found where).
    #[arg(long = "data-dir", value_name = "DIR", env = "TRACEMAP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// MaxMind DB file for locations (MaxMind, DB-IP or IPinfo schema); repeat for several, the first that places
    /// an address wins. Default: the DB-IP files in the first data directory with a geoip/ folder.
    #[arg(long = "geoip-db", value_name = "PATH", env = "TRACEMAP_GEOIP_DB", value_delimiter = ',')]
    pub geoip_db: Vec<PathBuf>,
    /// Your own locations: an RFC 8805 geofeed CSV with latitude and longitude columns; overrides the databases.
    #[arg(long, value_name = "PATH", env = "TRACEMAP_GEOFEED")]
    pub geofeed: Option<PathBuf>,
    /// AS numbers: a range CSV (start,end,number,organisation) or an ASN mmdb (GeoLite2-ASN, IPinfo); repeatable.
    /// Default: the ip-location-db files in the first data directory with an asn/ folder.
    #[arg(long = "asn-db", value_name = "PATH", env = "TRACEMAP_ASN_DB", value_delimiter = ',')]
    pub asn_db: Vec<PathBuf>,
}

impl GeoArgs {
    /// The data search path, `--data-dir` first.
    pub fn data_dirs(&self) -> DataDirs {
        DataDirs::standard(self.data_dir.as_deref())
    }
}

/// The data sets read from the search path (those not replaced by `--geoip-db`/`--asn-db`), for `/api/config`.
pub fn sources_in_use(args: &GeoArgs) -> Vec<tracemap_shared::DataSource> {
    let mut sources = args.data_dirs().sources(tracemap::data::KNOWN_SETS);
    let replaced = |name: &str| match name {
        enrich::GEOIP_SET => !args.geoip_db.is_empty(),
        enrich::ASN_SET => !args.asn_db.is_empty(),
        _ => false,
    };
    sources.retain(|s| !replaced(&s.name));
    sources
}

/// Warns in one line about the data sets in use that are stale: the server, once at start-up.
pub fn warn_if_stale(sources: &[tracemap_shared::DataSource]) {
    if let Some(note) = tracemap::data::stale_note(sources) {
        tracing::warn!("{note}");
    }
}

/// Opens the enrichment sources named, or the default data files when none are. Named files must open; missing
/// defaults only mean less information. Location sources (geofeed, GeoIP, the place table for router names) are
/// skipped unless `locations`; `-g` turns them off, and with them the default ASN tables (named `--asn-db` files
/// still load). Nothing slow happens here: databases are memory-mapped, and the ASN and place tables load on a
/// thread of their own while the first probes go out (the first lookup waits for them).
pub fn open_enricher(args: &GeoArgs, locations: bool) -> anyhow::Result<Enricher> {
    // Not a warning on every trace: `tracemap data`, `/api/config` and the server's start-up say it.
    if ((locations && args.geoip_db.is_empty()) || args.asn_db.is_empty())
        && let Some(note) = tracemap::data::stale_note(&sources_in_use(args))
    {
        tracing::debug!("{note}");
    }
    let enricher = if locations { open_locations(args)? } else { Enricher::default() };
    // Each trace still decides whether to use it (`-n`); a resolver unused sends nothing.
    let enricher = enricher.with_reverse_dns(ReverseDns::system(dns::DEFAULT_TIMEOUT));
    let enricher = if locations {
        let dir = args
            .data_dirs()
            .find_where(enrich::places::PLACES_SET, |dir| {
                dir.join("cities.pbf").is_file() || dir.join(enrich::places::INDEX_FILE).is_file()
            })
            .unwrap_or_else(|| PathBuf::from(enrich::places::DEFAULT_PLACES_DIR));
        enricher.with_places(Loading::spawn("places", move || match PlaceTable::open(&dir) {
            Ok(Some(table)) => {
                tracing::debug!(entries = table.len(), "place table ready");
                Some(table)
            }
            Ok(None) => {
                tracing::info!("no place table under {}: router names are not read for places", dir.display());
                None
            }
            Err(err) => {
                tracing::warn!(%err, "router names are not read for places");
                None
            }
        }))
    } else {
        enricher
    };
    let files = if !args.asn_db.is_empty() {
        args.asn_db.clone()
    } else if locations {
        let dirs = args.data_dirs();
        let dir = dirs.find_where(enrich::ASN_SET, |dir| !enrich::default_asn_files(dir).is_empty());
        dir.map(|dir| enrich::default_asn_files(&dir)).unwrap_or_default()
    } else {
        Vec::new()
    };
    if files.is_empty() {
        if locations {
            tracing::info!(
                "no ASN data found (`tracemap data` shows where tracemap looked): hops will have no AS numbers"
            );
        }
        return Ok(enricher);
    }
    // A named file that cannot be read is an error now, not a warning after the trace.
    for file in &files {
        std::fs::File::open(file).with_context(|| format!("cannot read ASN file {}", file.display()))?;
    }
    Ok(enricher.with_asn_loading(Loading::spawn("asn", move || match AsnDb::open(&files) {
        Ok((asn, problems)) => {
            for (file, problem) in problems.iter().take(5) {
                tracing::warn!(file = %file.display(), "skipped ASN {problem}");
            }
            if problems.len() > 5 {
                tracing::warn!(count = problems.len(), "skipped ASN lines in all");
            }
            tracing::debug!(sources = ?asn.labels(), "ASN ready");
            (!asn.is_empty()).then_some(asn)
        }
        Err(err) => {
            tracing::error!(%err, "no AS numbers");
            None
        }
    })))
}

/// `--location LAT,LON[,LABEL]`: where the prober stands.
pub fn parse_location(s: &str) -> Result<Geo, String> {
    let mut parts = s.splitn(3, ',');
    let mut number = |what: &str, range: std::ops::RangeInclusive<f64>| {
        parts
            .next()
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|v| range.contains(v))
            .ok_or_else(|| format!("expected LAT,LON[,LABEL] with a valid {what}"))
    };
    let lat = number("latitude", -90.0..=90.0)?;
    let lon = number("longitude", -180.0..=180.0)?;
    let label = parts.next().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned);
    Ok(Geo {
        city: label,
        region: None,
        country: None,
        country_code: None,
        lat,
        lon,
        accuracy_km: None,
        source: Some("--location".to_owned()),
        token: None,
        plausible: None,
        max_km: None,
        candidates: Vec::new(),
    })
}

fn open_locations(args: &GeoArgs) -> anyhow::Result<Enricher> {
    let geofeed = match &args.geofeed {
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
    let files = if args.geoip_db.is_empty() {
        let dirs = args.data_dirs();
        let dir = dirs.find_where(enrich::GEOIP_SET, |dir| !enrich::default_geoip_files(dir).is_empty());
        dir.map(|dir| enrich::default_geoip_files(&dir)).unwrap_or_default()
    } else {
        args.geoip_db.clone()
    };
    if files.is_empty() {
        tracing::warn!(
            "no GeoIP database found (`tracemap data` shows where tracemap looked): locations are unavailable \
             (install the tracemap-data package, or run scripts/setup.sh in a checkout)"
        );
        return Ok(Enricher::new(geofeed, None));
    }
    let geoip = GeoIp::open(&files)?;
    tracing::debug!(databases = ?geoip.labels(), "GeoIP ready");
    Ok(Enricher::new(geofeed, Some(geoip)))
}
