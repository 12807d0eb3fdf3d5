//! A trace as a file to take elsewhere: CSV with one row per probe (for spreadsheets) and GeoJSON with the route
//! as a LineString plus a Point per located hop (for GIS tools and other maps). Pure functions of the report.

use serde_json::{Value, json};
use tracemap_shared::{Asn, Family, Geo, Hop, ProbeReply, TraceReport};

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

/// The trace's settings and start, the same on every row: protocol, port, family, tries, timeout, first TTL, max
/// hops and the start as Unix milliseconds (empty where a trace stored before they were recorded does not say).
fn settings_columns(report: &TraceReport) -> Vec<String> {
    let text = |value: Option<String>| value.unwrap_or_default();
    let family = report.options.family.map(|f| match f {
        Family::Ipv4 => "ipv4".to_owned(),
        Family::Ipv6 => "ipv6".to_owned(),
        Family::Auto => "auto".to_owned(),
    });
    vec![
        report.protocol.as_str().to_owned(),
        text(report.options.port.map(|p| p.to_string())),
        text(family),
        text((report.tries > 0).then(|| report.tries.to_string())),
        text(report.options.timeout_ms.map(|t| t.to_string())),
        text(report.first_ttl.map(|t| t.to_string())),
        text((report.max_hops > 0).then(|| report.max_hops.to_string())),
        text(report.started_at_ms.map(|t| t.to_string())),
    ]
}

/// What is known of one address of a hop: its own entry, or for a hop built without entries, the hop's shown
/// information when the address is the shown one.
struct Known<'a> {
    hostname: Option<&'a str>,
    geo: Option<&'a Geo>,
    asn: Option<&'a Asn>,
    kind: Option<&'a str>,
}

fn known<'a>(hop: &'a Hop, address: Option<&str>) -> Known<'a> {
    let address = address.or(hop.address.as_deref());
    if let Some(entry) = address.and_then(|a| hop.address_entry(a)) {
        return Known {
            hostname: entry.hostname.as_deref(),
            geo: entry.geo.as_ref(),
            asn: entry.asn.as_ref(),
            kind: entry.kind.as_deref(),
        };
    }
    if address.is_some() && address == hop.address.as_deref() {
        return Known {
            hostname: hop.hostname.as_deref(),
            geo: hop.geo.as_ref(),
            asn: hop.asn.as_ref(),
            kind: hop.kind.as_deref(),
        };
    }
    Known { hostname: None, geo: None, asn: None, kind: None }
}

/// `true`, `false` or empty (nothing could judge it).
fn optional_bool(value: Option<bool>) -> String {
    value.map(|b| b.to_string()).unwrap_or_default()
}

/// One row per probe: ttl, try, who answered, RTT, reply kind and flag, the hop's shown address, then the name,
/// place, AS and address kind of the address that answered this try (of the shown address for a try with no
/// answer), and where that place came from and whether the speed of light allows it (columns are only ever added
/// at the end, so existing spreadsheets keep working), then the trace's settings, the same on every row.
pub fn csv(report: &TraceReport) -> String {
    let mut out = String::from(
        "ttl,probe,from,rtt_ms,kind,flag,hop_address,hostname,city,country,lat,lon,asn,as_org,address_kind,\
         rate_limited,mpls,geo_source,plausible,max_km,protocol,port,family,tries,timeout_ms,first_ttl,max_hops,started_at_ms\n",
    );
    let settings = settings_columns(report);
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
            let who = known(hop, probe.as_ref().map(|p| p.from.as_str()));
            let geo = who.geo;
            let fields = [
                hop.ttl.to_string(),
                (i + 1).to_string(),
                from,
                rtt,
                kind,
                flag,
                hop.address.clone().unwrap_or_default(),
                who.hostname.unwrap_or_default().to_owned(),
                geo.and_then(|g| g.city.clone()).unwrap_or_default(),
                geo.and_then(|g| g.country.clone()).unwrap_or_default(),
                geo.map(|g| g.lat.to_string()).unwrap_or_default(),
                geo.map(|g| g.lon.to_string()).unwrap_or_default(),
                who.asn.map(|a| a.number.to_string()).unwrap_or_default(),
                who.asn.and_then(|a| a.org.clone()).unwrap_or_default(),
                who.kind.unwrap_or_default().to_owned(),
                if rate_limited { "true".to_owned() } else { String::new() },
                mpls,
                geo.and_then(|g| g.source.clone()).unwrap_or_default(),
                optional_bool(geo.and_then(|g| g.plausible)),
                geo.and_then(|g| g.max_km).map(|km| km.to_string()).unwrap_or_default(),
            ];
            let row: Vec<String> = fields.iter().chain(&settings).map(|f| cell(f)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

fn rtt_stats(replies: &[&ProbeReply]) -> Value {
    let rtts: Vec<f64> = replies.iter().map(|p| p.rtt_ms).collect();
    if rtts.is_empty() {
        return Value::Null;
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
    json!({"min": min, "avg": avg, "max": max})
}

/// The route as GeoJSON: a LineString through the shown address of each located hop in TTL order (coordinates are
/// `[lon, lat]`), then a Point per located address of every hop (a load-balanced hop has one per router), each
/// with its own name, AS, tries and RTTs, where its place came from (`source`) and whether the speed of light
/// allows it (`plausible`, `max_km`); `shown` marks the hop's majority address.
pub fn geojson(report: &TraceReport) -> Value {
    let located: Vec<[f64; 2]> = report.hops.iter().filter_map(|h| h.geo.as_ref().map(|g| [g.lon, g.lat])).collect();
    let mut features = vec![json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": located},
        "properties": {
            "id": report.id, "target": report.target, "address": report.address,
            "protocol": report.protocol, "destination_reached": report.destination_reached,
            "port": report.options.port, "family": report.options.family, "tries": report.tries,
            "timeout_ms": report.options.timeout_ms, "first_ttl": report.first_ttl, "max_hops": report.max_hops,
            "started_at_ms": report.started_at_ms, "duration_ms": report.duration_ms, "status": report.status,
        },
    })];
    for hop in &report.hops {
        // Every address with an entry; a hop built without entries has only its shown address.
        let mut addresses: Vec<&str> = hop.addresses.iter().map(|a| a.address.as_str()).collect();
        if addresses.is_empty() {
            addresses.extend(hop.address.as_deref());
        }
        for address in addresses {
            let who = known(hop, Some(address));
            let Some(geo) = who.geo else { continue };
            let replies: Vec<&ProbeReply> = hop.probes.iter().flatten().filter(|p| p.from == address).collect();
            features.push(json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [geo.lon, geo.lat]},
                "properties": {
                    "ttl": hop.ttl,
                    "address": address,
                    "shown": hop.address.as_deref() == Some(address),
                    "hostname": who.hostname,
                    "city": geo.city.as_deref(),
                    "region": geo.region.as_deref(),
                    "country": geo.country.as_deref(),
                    "accuracy_km": geo.accuracy_km,
                    "source": geo.source.as_deref(),
                    "plausible": geo.plausible,
                    "max_km": geo.max_km,
                    "asn": who.asn.map(|a| a.number),
                    "as_org": who.asn.and_then(|a| a.org.as_deref()),
                    "address_kind": who.kind,
                    "answered": replies.len(),
                    "sent": hop.probes.len(),
                    "rtt_ms": rtt_stats(&replies),
                },
            }));
        }
    }
    json!({"type": "FeatureCollection", "features": features})
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{MplsLabel, ReplyKind, TraceEvent};

    fn report() -> TraceReport {
        let reply = |from: &str, rtt| Some(ProbeReply::new(from, rtt, ReplyKind::TimeExceeded));
        let geo = |city: &str, lat, lon| Geo {
            city: Some(city.into()),
            country: Some("AU".into()),
            country_code: Some("AU".into()),
            accuracy_km: Some(20),
            source: Some("test".into()),
            ..Geo::at(lat, lon)
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
                    not_sent: Vec::new(),
                    addresses: Vec::new(),
                    stats: None,
                    probable_rate_limits: Vec::new(),
                    loss_at: None,
                    load_balanced: false,
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
                    not_sent: Vec::new(),
                    addresses: Vec::new(),
                    stats: None,
                    probable_rate_limits: Vec::new(),
                    loss_at: None,
                    load_balanced: false,
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
                    not_sent: Vec::new(),
                    addresses: Vec::new(),
                    stats: None,
                    probable_rate_limits: Vec::new(),
                    loss_at: None,
                    load_balanced: false,
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
            r#"1,1,10.0.0.2,1.000,time_exceeded,,10.0.0.2,"'=HYPERLINK(""x""),evil",Sydney,AU,-33.87,151.21,64500,"Example, Inc.",private,,,test,,,icmp,,,,,,,"#
        );
        assert_eq!(
            lines[2],
            r#"1,2,,,,,10.0.0.2,"'=HYPERLINK(""x""),evil",Sydney,AU,-33.87,151.21,64500,"Example, Inc.",private,,,test,,,icmp,,,,,,,"#
        );
        assert_eq!(lines[3], "2,1,,,,,,,,,,,,,,,,,,,icmp,,,,,,,");
        assert_eq!(lines[4], "2,2,,,,,,,,,,,,,,true,,,,,icmp,,,,,,,", "the second try was lost to a rate limit");
        assert!(
            lines[5].ends_with(
                ",10.0.2.2,,Perth,AU,-31.95,115.86,,,,,MPLS L=24001 TC=0 S=0 TTL=1 | MPLS L=16 TC=5 S=1 TTL=1,test,,,icmp,,,,,,,"
            ),
            "{}",
            lines[5]
        );
        assert!(lines.iter().all(|l| l.matches(',').count() >= 19), "every row has every column");
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

    /// TTL 1 answered by A (try 1, placed in Sydney but ruled out by its RTT) and B (tries 2 and 3, in Perth).
    fn load_balanced() -> TraceReport {
        let places = report();
        let mut balanced = TraceReport::new("dest", tracemap_shared::Protocol::Udp);
        let probe = |index, from: &str, rtt| TraceEvent::Probe {
            ttl: 1,
            index,
            reply: Some(ProbeReply::new(from, rtt, ReplyKind::TimeExceeded)),
            rate_limited: false,
            send_error: None,
        };
        let info = |address: &str, name: &str, geo: Geo, number| TraceEvent::HopInfo {
            ttl: 1,
            address: address.into(),
            hostname: Some(name.into()),
            geo: Some(geo),
            asn: Some(Asn { number, org: None, source: None }),
            kind: Some("public".into()),
        };
        let sydney = Geo { plausible: Some(false), max_km: Some(5.0), ..places.hops[0].geo.clone().expect("geo") };
        let perth = places.hops[2].geo.clone().expect("geo");
        for event in [
            probe(0, "192.0.2.1", 0.05),
            info("192.0.2.1", "a.test", sydney, 64501),
            probe(1, "192.0.2.2", 0.07),
            probe(2, "192.0.2.2", 0.09),
            info("192.0.2.2", "b.test", perth, 64502),
        ] {
            balanced.apply(&event);
        }
        balanced
    }

    #[test]
    fn csv_rows_of_a_load_balanced_hop_carry_the_answering_addresss_own_information() {
        let text = csv(&load_balanced());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains(",rate_limited,mpls,geo_source,plausible,max_km,"), "{}", lines[0]);
        // The trace's settings follow in the last eight columns.
        assert!(
            lines[1].starts_with(
                "1,1,192.0.2.1,0.050,time_exceeded,,192.0.2.2,a.test,Sydney,AU,-33.87,151.21,64501,,public,,,test,false,5,"
            ),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with(
                "1,2,192.0.2.2,0.070,time_exceeded,,192.0.2.2,b.test,Perth,AU,-31.95,115.86,64502,,public,,,test,,,"
            ),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn geojson_has_a_point_per_located_address_with_its_source_and_plausibility() {
        let doc = geojson(&load_balanced());
        let features = doc["features"].as_array().expect("features");
        assert_eq!(features.len(), 3, "the line, then A and B");
        let a = &features[1]["properties"];
        assert_eq!((a["address"].as_str(), a["shown"].as_bool()), (Some("192.0.2.1"), Some(false)));
        assert_eq!((a["hostname"].as_str(), a["asn"].as_u64()), (Some("a.test"), Some(64501)));
        assert_eq!(
            (a["source"].as_str(), a["plausible"].as_bool(), a["max_km"].as_f64()),
            (Some("test"), Some(false), Some(5.0))
        );
        assert_eq!((a["answered"].as_u64(), a["sent"].as_u64()), (Some(1), Some(3)));
        let b = &features[2]["properties"];
        assert_eq!(
            (b["address"].as_str(), b["shown"].as_bool(), b["city"].as_str()),
            (Some("192.0.2.2"), Some(true), Some("Perth"))
        );
        assert_eq!(b["plausible"], Value::Null);
        assert_eq!(b["rtt_ms"]["max"], 0.09);
        assert_eq!(features[2]["geometry"]["coordinates"], json!([115.86, -31.95]));
    }

    #[test]
    fn exports_carry_every_setting_and_the_start() {
        let mut report = report();
        report.protocol = tracemap_shared::Protocol::Tcp;
        report.tries = 3;
        report.max_hops = 30;
        report.first_ttl = Some(2);
        report.started_at_ms = Some(1_700_000_000_000);
        report.options = tracemap_shared::TraceOptions {
            port: Some(8080),
            family: Some(Family::Ipv4),
            timeout_ms: Some(800),
            ..Default::default()
        };
        let text = csv(&report);
        let header: Vec<&str> = text.lines().next().unwrap_or_default().split(',').collect();
        let row: Vec<&str> = text.lines().nth(3).unwrap_or_default().split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name).and_then(|i| row.get(i).copied());
        assert_eq!(column("protocol"), Some("tcp"));
        assert_eq!(column("port"), Some("8080"));
        assert_eq!(column("family"), Some("ipv4"));
        assert_eq!(column("tries"), Some("3"));
        assert_eq!(column("timeout_ms"), Some("800"));
        assert_eq!(column("first_ttl"), Some("2"));
        assert_eq!(column("max_hops"), Some("30"));
        assert_eq!(column("started_at_ms"), Some("1700000000000"));
        let doc = geojson(&report);
        let line = &doc["features"][0]["properties"];
        assert_eq!(
            (line["port"].clone(), line["family"].clone(), line["timeout_ms"].clone()),
            (json!(8080), json!("ipv4"), json!(800))
        );
        assert_eq!(
            (line["tries"].clone(), line["first_ttl"].clone(), line["max_hops"].clone()),
            (json!(3), json!(2), json!(30))
        );
        assert_eq!(line["started_at_ms"], 1_700_000_000_000_u64);
        let json: Value = serde_json::from_str(&Format::Json.render(&report)).unwrap_or_default();
        assert_eq!((json["port"].clone(), json["first_ttl"].clone()), (json!(8080), json!(2)));
    }

    #[test]
    fn suffixes_pick_formats() {
        assert_eq!(Format::split("abc.csv"), ("abc", Some(Format::Csv)));
        assert_eq!(Format::split("abc.geojson"), ("abc", Some(Format::GeoJson)));
        assert_eq!(Format::split("abc.json"), ("abc", Some(Format::Json)));
        assert_eq!(Format::split("abc"), ("abc", None));
    }
}
