//! GeoIP lookups in MaxMind DB files, whatever their schema.
//!
//! Three families are common: MaxMind's GeoIP2/GeoLite2 City (nested `city.names`, `country`, `subdivisions`,
//! `location` with an accuracy radius), the flat one of the DB-IP Lite files published on npm (`city`,
//! `country_code`, `state1`, `latitude`, `longitude`) and IPinfo's (flat `city`, `region`, `country`, coordinates
//! as numbers or as text). One record type accepts all of them, field by field, so a file is usable without being
//! told which it is. Several files may be open at once (DB-IP ships IPv4 and IPv6 apart); the first that places
//! an address wins.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;
use tracemap_shared::Geo;

/// Why a GeoIP database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file could not be opened or is not a MaxMind DB.
    #[error("cannot open GeoIP database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        source: maxminddb::MaxMindDbError,
    },
}

/// One open database.
struct Database {
    reader: Reader<Vec<u8>>,
    /// Shown with every location it gives, for attribution and trust.
    label: String,
}

/// A set of GeoIP databases consulted in order.
pub struct GeoIp {
    databases: Vec<Database>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.databases.iter().map(|d| &d.label)).finish()
    }
}

impl GeoIp {
    /// Opens every file in `paths`; fails on the first that is not a readable MaxMind DB.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<GeoIp, GeoIpError> {
        let databases = paths
            .iter()
            .map(|path| {
                let path = path.as_ref();
                let reader =
                    Reader::open_readfile(path).map_err(|source| GeoIpError::Open { path: path.to_owned(), source })?;
                Ok(Database { label: label_for(&reader.metadata().database_type, path), reader })
            })
            .collect::<Result<_, GeoIpError>>()?;
        Ok(GeoIp { databases })
    }

    /// The labels of the open databases, in lookup order.
    pub fn labels(&self) -> Vec<&str> {
        self.databases.iter().map(|d| d.label.as_str()).collect()
    }

    /// Where the first database that knows `ip` places it. A record without coordinates does not count: a hop
    /// is only put on the map where a database actually located it.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        self.databases.iter().find_map(|db| {
            let record: Record = db.reader.lookup(ip).ok()?.decode().ok()??;
            record.into_geo(&db.label)
        })
    }
}

/// DB-IP's npm files call themselves `city ipv4`; MaxMind's say `GeoLite2-City`. Name the source after the
/// vendor where the type alone does not.
fn label_for(database_type: &str, path: &Path) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    if file.to_ascii_lowercase().starts_with("dbip") {
        "DB-IP Lite".to_owned()
    } else if database_type.is_empty() {
        file
    } else {
        database_type.to_owned()
    }
}

/// A field that is a plain string in flat schemas and `{names: {en: ...}, iso_code}` in MaxMind's.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Named {
    Plain(String),
    Nested {
        #[serde(default)]
        names: BTreeMap<String, String>,
        #[serde(default)]
        iso_code: Option<String>,
    },
}

impl Named {
    fn name(&self) -> Option<&str> {
        match self {
            Named::Plain(s) => Some(s.as_str()),
            Named::Nested { names, .. } => names.get("en").or_else(|| names.values().next()).map(String::as_str),
        }
        .filter(|s| !s.is_empty())
    }

    fn code(&self) -> Option<&str> {
        match self {
            Named::Plain(_) => None,
            Named::Nested { iso_code, .. } => iso_code.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Location {
    latitude: Option<Number>,
    longitude: Option<Number>,
    accuracy_radius: Option<Number>,
}

/// A number as files actually store it. The mmdb decoder is strict about widths (MaxMind's accuracy radius is a
/// uint16, DB-IP's coordinates 32-bit floats) and some of IPinfo's files hold decimal text, so fields are read as
/// whatever they are and converted after.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Number {
    Integer(u64),
    Float(f64),
    Text(String),
}

impl Number {
    fn value(&self) -> Option<f64> {
        match self {
            Number::Integer(n) => Some(*n as f64),
            Number::Float(f) => Some(*f),
            Number::Text(t) => t.trim().parse().ok(),
        }
        .filter(|d: &f64| d.is_finite())
    }

    /// A radius in whole kilometres.
    fn kilometres(&self) -> Option<u32> {
        self.value().filter(|km| (0.0..=20_000.0).contains(km)).map(|km| km.round() as u32)
    }
}

/// The union of the schemas' fields; every one optional.
#[derive(Debug, Deserialize)]
struct Record {
    city: Option<Named>,
    country: Option<Named>,
    country_code: Option<String>,
    state1: Option<String>,
    region: Option<String>,
    #[serde(default)]
    subdivisions: Vec<Named>,
    location: Option<Location>,
    #[serde(alias = "lat")]
    latitude: Option<Number>,
    #[serde(alias = "lng", alias = "lon")]
    longitude: Option<Number>,
    #[serde(alias = "radius")]
    accuracy_radius: Option<Number>,
}

impl Record {
    fn into_geo(self, source: &str) -> Option<Geo> {
        let nested = self.location.as_ref();
        let lat = self.latitude.as_ref().or(nested.and_then(|l| l.latitude.as_ref()))?.value()?;
        let lon = self.longitude.as_ref().or(nested.and_then(|l| l.longitude.as_ref()))?.value()?;
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return None;
        }
        let country_code = self
            .country_code
            .filter(|c| !c.is_empty())
            .or_else(|| self.country.as_ref().and_then(|c| c.code().map(str::to_owned)))
            .or_else(|| match &self.country {
                Some(Named::Plain(code)) if code.len() == 2 => Some(code.clone()),
                _ => None,
            });
        let country = self.country.as_ref().and_then(|c| c.name().map(str::to_owned)).or_else(|| country_code.clone());
        let region = self
            .state1
            .or(self.region)
            .filter(|r| !r.is_empty())
            .or_else(|| self.subdivisions.first().and_then(|s| s.name().map(str::to_owned)));
        Some(Geo {
            city: self.city.as_ref().and_then(|c| c.name().map(str::to_owned)),
            region,
            country,
            country_code,
            lat: round6(lat),
            lon: round6(lon),
            accuracy_km: nested
                .and_then(|l| l.accuracy_radius.as_ref())
                .or(self.accuracy_radius.as_ref())
                .and_then(Number::kilometres),
            source: Some(source.to_owned()),
            token: None,
            plausible: None,
            max_km: None,
            candidates: Vec::new(),
        })
    }
}

/// DB-IP stores coordinates as 32-bit floats; six decimals (~0.1 m) is all they carry.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Record {
        serde_json::from_str(json).expect("fixture parses")
    }

    #[test]
    fn flat_dbip_record() {
        let r = decode(
            r#"{"city":"Sydney","country_code":"AU","latitude":-33.868801,"longitude":151.209,"postcode":"",
                "state1":"New South Wales","state2":"","timezone":""}"#,
        );
        let geo = r.into_geo("DB-IP Lite").expect("located");
        assert_eq!(geo.city.as_deref(), Some("Sydney"));
        assert_eq!(geo.country.as_deref(), Some("AU"));
        assert_eq!(geo.country_code.as_deref(), Some("AU"));
        assert_eq!(geo.region.as_deref(), Some("New South Wales"));
        assert_eq!((geo.lat, geo.lon), (-33.868801, 151.209));
        assert_eq!(geo.accuracy_km, None);
        assert_eq!(geo.source.as_deref(), Some("DB-IP Lite"));
    }

    #[test]
    fn nested_maxmind_record() {
        let r = decode(
            r#"{"city":{"names":{"en":"London","de":"London"}},"country":{"iso_code":"GB","names":{"en":"United Kingdom"}},
                "subdivisions":[{"iso_code":"ENG","names":{"en":"England"}}],
                "location":{"latitude":51.5142,"longitude":-0.0931,"accuracy_radius":10}}"#,
        );
        let geo = r.into_geo("GeoLite2-City").expect("located");
        assert_eq!(geo.city.as_deref(), Some("London"));
        assert_eq!(geo.country.as_deref(), Some("United Kingdom"));
        assert_eq!(geo.country_code.as_deref(), Some("GB"));
        assert_eq!(geo.region.as_deref(), Some("England"));
        assert_eq!(geo.accuracy_km, Some(10));
    }

    #[test]
    fn flat_ipinfo_record_with_text_coordinates() {
        let r = decode(
            r#"{"city":"Tokyo","region":"Tokyo","country":"JP","latitude":"35.6895","longitude":"139.69171",
                "postal_code":"101-8656","timezone":"Asia/Tokyo","radius":50}"#,
        );
        let geo = r.into_geo("ipinfo location").expect("located");
        assert_eq!((geo.city.as_deref(), geo.region.as_deref()), (Some("Tokyo"), Some("Tokyo")));
        assert_eq!((geo.country.as_deref(), geo.country_code.as_deref()), (Some("JP"), Some("JP")));
        assert_eq!((geo.lat, geo.lon, geo.accuracy_km), (35.6895, 139.69171, Some(50)));
        let named = decode(r#"{"country":"Japan","country_code":"JP","lat":35.0,"lng":139.0}"#);
        let geo = named.into_geo("ipinfo").expect("located");
        assert_eq!((geo.country.as_deref(), geo.country_code.as_deref()), (Some("Japan"), Some("JP")));
        assert!(decode(r#"{"latitude":"north","longitude":"1"}"#).into_geo("x").is_none());
        assert!(decode(r#"{"latitude":"NaN","longitude":"1"}"#).into_geo("x").is_none());
    }

    #[test]
    fn record_without_coordinates_is_not_a_location() {
        assert!(decode(r#"{"country":{"iso_code":"DE"}}"#).into_geo("x").is_none());
        assert!(decode(r#"{"latitude":91.0,"longitude":0.0}"#).into_geo("x").is_none());
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = GeoIp::open(&["/nonexistent/geo.mmdb"]).expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent/geo.mmdb"), "{err}");
    }
}
