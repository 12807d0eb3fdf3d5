//! A trace as a file to take elsewhere: CSV with one row per probe (for spreadsheets) and GeoJSON with the route
//! as a LineString plus a Point per located hop (for GIS tools and other maps). Pure functions of the report.

use serde_json::{Value, json};
use tracemap_shared::{Hop, TraceReport};

/// The export formats, by the suffix of `/api/traces/{id}.{suffix}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The report as stored.
    Json,
    /// One row per probe.
    Csv,
    /// A FeatureCollection.
    GeoJson,
}

impl Format {
    /// Splits `abc.csv` into (`abc`, Csv); a bare id has no format.
    pub fn split(id: &str) -> (&str, Option<Format>) {
        for (suffix, format) in [(".json", Format::Json), (".csv", Format::Csv), (".geojson", Format::GeoJson)] {
            if let Some(bare) = id.strip_suffix(suffix) {
                return (bare, Some(format));
            }
        }
        (id, None)
    }

    /// The media type served for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::GeoJson => "application/geo+json",
        }
    }

    /// File extension for the download name.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::GeoJson => "geojson",
        }
    }

    /// The file's contents.
    pub fn render(self, report: &TraceReport) -> String {
        match self {
            Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
            Format::Csv => csv(report),
            Format::GeoJson => geojson(report).to_string(),
        }
    }
}

/// One CSV cell. Quoted when it holds a separator, quote or line break; a leading `= + - @` (which spreadsheets
/// would run as a formula) is defused with an apostrophe, since hostnames come from the network. Numbers such as
/// a negative latitude are left alone.
fn cell(value: &str) -> String {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.parse::<f64>().is_err();
    let value = if formula { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

/// One row per probe: ttl, try, who answered, RTT, reply kind and flag, then the hop's name, place, AS and address
/// kind (columns are only ever added at the end, so existing spreadsheets keep working).
pub fn csv(report: &TraceReport) -> String {
    let mut out = String::from(
        "ttl,probe,from,rtt_ms,kind,flag,hop_address,hostname,city,country,lat,lon,asn,as_org,address_kind,\
         rate_limited,mpls\n",
    );
    for hop in &report.hops {
        for (i, probe) in hop.probes.iter().enumerate() {
            let (from, rtt, kind, flag, mpls) = match probe {
                Some(p) => (
                    p.from.clone(),
                    format!("{:.3}", p.rtt_ms),
                    serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    p.flag.clone().unwrap_or_default(),
                    p.mpls.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "),
                ),
                None => Default::default(),
            };
            let rate_limited = hop.rate_limited.iter().any(|&r| usize::from(r) == i);
            let geo = hop.geo.as_ref();
            let fields = [
                hop.ttl.to_string(),
                (i + 1).to_string(),
                from,
                rtt,
                kind,
                flag,
                hop.address.clone().unwrap_or_default(),
                hop.hostname.clone().unwrap_or_default(),
                geo.and_then(|g| g.city.clone()).unwrap_or_default(),
                geo.and_then(|g| g.country.clone()).unwrap_or_default(),
                geo.map(|g| g.lat.to_string()).unwrap_or_default(),
                geo.map(|g| g.lon.to_string()).unwrap_or_default(),
                hop.asn.as_ref().map(|a| a.number.to_string()).unwrap_or_default(),
                hop.asn.as_ref().and_then(|a| a.org.clone()).unwrap_or_default(),
                hop.kind.clone().unwrap_or_default(),
                if rate_limited { "true".to_owned() } else { String::new() },
                mpls,
            ];
            let row: Vec<String> = fields.iter().map(|f| cell(f)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

fn rtt_stats(hop: &Hop) -> Value {
    let rtts: Vec<f64> = hop.probes.iter().flatten().map(|p| p.rtt_ms).collect();
    if rtts.is_empty() {
        return Value::Null;
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
    json!({"min": min, "avg": avg, "max": max})
}

/// The route as GeoJSON: a LineString through the located hops in TTL order (coordinates are `[lon, lat]`), then
/// a Point per located hop with its properties.
pub fn geojson(report: &TraceReport) -> Value {
    let located: Vec<(&Hop, [f64; 2])> =
        report.hops.iter().filter_map(|h| h.geo.as_ref().map(|g| (h, [g.lon, g.lat]))).collect();
    let mut features = vec![json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": located.iter().map(|(_, c)| c).collect::<Vec<_>>()},
        "properties": {
            "id": report.id, "target": report.target, "address": report.address,
            "protocol": report.protocol, "destination_reached": report.destination_reached,
        },
    })];
    for (hop, coords) in &located {
        let geo = hop.geo.as_ref();
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": coords},
            "properties": {
                "ttl": hop.ttl,
                "address": hop.address,
                "hostname": hop.hostname,
                "city": geo.and_then(|g| g.city.as_deref()),
                "region": geo.and_then(|g| g.region.as_deref()),
                "country": geo.and_then(|g| g.country.as_deref()),
                "accuracy_km": geo.and_then(|g| g.accuracy_km),
                "source": geo.and_then(|g| g.source.as_deref()),
                "asn": hop.asn.as_ref().map(|a| a.number),
                "as_org": hop.asn.as_ref().and_then(|a| a.org.as_deref()),
                "address_kind": hop.kind,
                "answered": hop.answered(),
                "sent": hop.probes.len(),
                "rtt_ms": rtt_stats(hop),
            },
        }));
    }
    json!({"type": "FeatureCollection", "features": features})
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{Asn, Geo, MplsLabel, ProbeReply, ReplyKind};

    fn report() -> TraceReport {
        let reply = |from: &str, rtt| Some(ProbeReply::new(from, rtt, ReplyKind::TimeExceeded));
        let geo = |city: &str, lat, lon| Geo {
            city: Some(city.into()),
            region: None,
            country: Some("AU".into()),
            country_code: Some("AU".into()),
            lat,
            lon,
            accuracy_km: Some(20),
            source: Some("test".into()),
            token: None,
            plausible: None,
            max_km: None,
            candidates: Vec::new(),
        };
        TraceReport {
            target: "dest".into(),
            hops: vec![
                Hop {
                    ttl: 1,
                    probes: vec![reply("10.0.0.2", 1.0), None],
                    address: Some("10.0.0.2".into()),
                    hostname: Some("=HYPERLINK(\"x\"),evil".into()),
                    geo: Some(geo("Sydney", -33.87, 151.21)),
                    asn: Some(Asn { number: 64500, org: Some("Example, Inc.".into()), source: None }),
                    kind: Some("private".into()),
                    rate_limited: Vec::new(),
                },
                Hop {
                    ttl: 2,
                    probes: vec![None, None],
                    address: None,
                    hostname: None,
                    geo: None,
                    asn: None,
                    kind: None,
                    rate_limited: vec![1],
                },
                Hop {
                    ttl: 3,
                    probes: vec![
                        reply("10.0.2.2", 3.0).map(|reply| ProbeReply {
                            mpls: vec![
                                MplsLabel { label: 24001, tc: 0, bottom_of_stack: false, ttl: 1 },
                                MplsLabel { label: 16, tc: 5, bottom_of_stack: true, ttl: 1 },
                            ],
                            ..reply
                        }),
                        reply("10.0.2.2", 5.0),
                    ],
                    address: Some("10.0.2.2".into()),
                    hostname: None,
                    geo: Some(geo("Perth", -31.95, 115.86)),
                    asn: None,
                    kind: None,
                    rate_limited: Vec::new(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn csv_has_a_row_per_probe_and_defuses_formulas() {
        let text = csv(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 6);
        assert_eq!(
            lines[1],
            r#"1,1,10.0.0.2,1.000,time_exceeded,,10.0.0.2,"'=HYPERLINK(""x""),evil",Sydney,AU,-33.87,151.21,64500,"Example, Inc.",private,,"#
        );
        assert_eq!(
            lines[2],
            r#"1,2,,,,,10.0.0.2,"'=HYPERLINK(""x""),evil",Sydney,AU,-33.87,151.21,64500,"Example, Inc.",private,,"#
        );
        assert_eq!(lines[3], "2,1,,,,,,,,,,,,,,,");
        assert_eq!(lines[4], "2,2,,,,,,,,,,,,,,true,", "the second try was lost to a rate limit");
        assert!(
            lines[5].ends_with(
                ",10.0.2.2,,Perth,AU,-31.95,115.86,,,,,MPLS L=24001 TC=0 S=0 TTL=1 | MPLS L=16 TC=5 S=1 TTL=1"
            ),
            "{}",
            lines[5]
        );
        assert!(lines.iter().all(|l| l.matches(',').count() >= 16), "every row has every column");
    }

    #[test]
    fn geojson_line_follows_located_hops() {
        let doc = geojson(&report());
        let features = doc["features"].as_array().expect("features");
        assert_eq!(features.len(), 3);
        assert_eq!(features[0]["geometry"]["coordinates"], json!([[151.21, -33.87], [115.86, -31.95]]));
        assert_eq!(features[2]["properties"]["ttl"], 3);
        assert_eq!(features[2]["properties"]["rtt_ms"], json!({"min": 3.0, "avg": 4.0, "max": 5.0}));
        assert_eq!(features[1]["properties"]["answered"], 1);
        assert_eq!(features[1]["properties"]["asn"], 64500);
        assert_eq!(features[1]["properties"]["as_org"], "Example, Inc.");
        assert_eq!(features[1]["properties"]["address_kind"], "private");
        assert_eq!(features[2]["properties"]["asn"], Value::Null);
    }

    #[test]
    fn suffixes_pick_formats() {
        assert_eq!(Format::split("abc.csv"), ("abc", Some(Format::Csv)));
        assert_eq!(Format::split("abc.geojson"), ("abc", Some(Format::GeoJson)));
        assert_eq!(Format::split("abc.json"), ("abc", Some(Format::Json)));
        assert_eq!(Format::split("abc"), ("abc", None));
    }
}
