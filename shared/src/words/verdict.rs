//! Whether each located address of a trace can really be where its source puts it, and why not, in plain words.
//!
//! The server judges places against the speed of light and sends the verdict in `geo.plausible`; this shows that
//! verdict. Where the server sent none (a trace stored before it judged, or a server without the rule), the same
//! rule is applied here: from the prober's location (`report.location`) when it is known, else by comparing every
//! pair of located addresses (two places cannot be further apart than the sum of their bounds). The rule itself
//! (the constant, the bound, the distance) is [`crate::place`]'s; this module applies it to every address of a hop
//! and words the verdicts for people.

use super::format_rtt;
use crate::place::{distance_km, excess_km, max_km};
use crate::{Geo, Hop, TraceReport};

/// What the page says about one located address's place.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// TTL of the hop.
    pub ttl: u8,
    /// The address.
    pub address: String,
    /// `Some(false)`: the place cannot be true; `Some(true)`: it fits; `None`: nothing could judge it.
    pub plausible: Option<bool>,
    /// Why it cannot be true, in a sentence, when it cannot.
    pub reason: Option<String>,
}

/// Who placed an address, for people: `DB-IP`, `its name (ams10)`, `the geofeed`...
pub fn source_name(geo: &Geo) -> String {
    let source = geo.source.as_deref().unwrap_or("");
    let lower = source.to_ascii_lowercase();
    if lower == "hostname" {
        match &geo.token {
            Some(token) => format!("its name ({token})"),
            None => "its name".to_owned(),
        }
    } else if lower.starts_with("geofeed") {
        "the geofeed".to_owned()
    } else if lower.contains("dbip") || lower.contains("db-ip") {
        "DB-IP".to_owned()
    } else if lower.contains("geolite") || lower.contains("geoip2") || lower.contains("maxmind") {
        "MaxMind".to_owned()
    } else if source.is_empty() {
        "the database".to_owned()
    } else {
        source.to_owned()
    }
}

/// The short note beside a place in the table: its source and, when it says, how precise it is.
pub fn source_note(geo: &Geo) -> String {
    let mut note = source_name(geo);
    if let Some(km) = geo.accuracy_km.filter(|&km| km > 0) {
        note.push_str(&format!(" · within {} km", thousands(f64::from(km))));
    }
    note
}

/// `Sydney`, else the country, else the coordinates.
pub fn place_name(geo: &Geo) -> String {
    geo.city.clone().or_else(|| geo.country.clone()).unwrap_or_else(|| format!("{:.2}, {:.2}", geo.lat, geo.lon))
}

/// `5 km`, `0.7 km`, `7,012 km`.
pub fn km_text(km: f64) -> String {
    if km < 10.0 {
        let text = format!("{km:.1}");
        format!("{} km", text.strip_suffix(".0").unwrap_or(&text))
    } else {
        format!("{} km", thousands(km))
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The smallest RTT of the answers from `address` at `hop`.
pub fn min_rtt(hop: &Hop, address: &str) -> Option<f64> {
    hop.probes.iter().flatten().filter(|r| r.from == address).map(|r| r.rtt_ms).reduce(f64::min)
}

/// One located address, with what the rule needs.
struct Located<'a> {
    ttl: u8,
    address: &'a str,
    geo: &'a Geo,
    rtt: Option<f64>,
}

/// Every located address of `report` (the shown one of each hop first), with its own place.
fn located(report: &TraceReport) -> Vec<Located<'_>> {
    let mut out = Vec::new();
    for hop in &report.hops {
        let mut seen: Vec<&str> = Vec::new();
        let shown = hop.address.as_deref().zip(hop.geo.as_ref());
        let others = hop.other_addresses().filter_map(|a| a.geo.as_ref().map(|g| (a.address.as_str(), g)));
        for (address, geo) in shown.into_iter().chain(others) {
            if seen.contains(&address) || !(geo.lat.is_finite() && geo.lon.is_finite()) {
                continue;
            }
            seen.push(address);
            out.push(Located { ttl: hop.ttl, address, geo, rtt: min_rtt(hop, address) });
        }
    }
    out
}

/// The verdict on every located address of `report`, in hop order (the shown address of a hop first).
pub fn verdicts(report: &TraceReport) -> Vec<Verdict> {
    let located = located(report);
    let mut verdicts: Vec<Verdict> = located
        .iter()
        .map(|l| {
            let (plausible, reason) = match (l.geo.plausible, &report.location, l.rtt) {
                // The server judged it: show its verdict, explained with its bound.
                (Some(false), _, rtt) => {
                    let bound = l.geo.max_km.or(rtt.map(max_km));
                    (Some(false), Some(from_prober_reason(l.geo, rtt, bound)))
                }
                (Some(true), _, _) => (Some(true), None),
                (None, Some(prober), Some(rtt)) => {
                    if excess_km(l.geo, Some(prober), Some(rtt)).is_some_and(|excess| excess > 0.0) {
                        (Some(false), Some(from_prober_reason(l.geo, Some(rtt), Some(max_km(rtt)))))
                    } else {
                        (Some(true), None)
                    }
                }
                _ => (None, None),
            };
            Verdict { ttl: l.ttl, address: l.address.to_owned(), plausible, reason }
        })
        .collect();
    if report.location.is_none() {
        for (i, a) in located.iter().enumerate() {
            for (j, b) in located.iter().enumerate().skip(i + 1) {
                let (Some(ra), Some(rb)) = (a.rtt, b.rtt) else { continue };
                if a.geo.plausible.is_some() && b.geo.plausible.is_some() {
                    continue;
                }
                let apart = distance_km(a.geo.lat, a.geo.lon, b.geo.lat, b.geo.lon);
                let slack = f64::from(a.geo.accuracy_km.unwrap_or(0) + b.geo.accuracy_km.unwrap_or(0));
                let bound = max_km(ra) + max_km(rb);
                if apart - slack <= bound {
                    continue;
                }
                for (k, me, other, mine, theirs) in [(i, a, b, ra, rb), (j, b, a, rb, ra)] {
                    let verdict = &mut verdicts[k];
                    if verdict.plausible.is_some() || me.geo.plausible.is_some() {
                        continue;
                    }
                    verdict.plausible = Some(false);
                    verdict.reason = Some(pair_reason(me, other, apart, mine, theirs, bound));
                }
            }
        }
    }
    verdicts
}

/// The verdict on `address` at `ttl`, if it is located.
pub fn verdict_for<'a>(verdicts: &'a [Verdict], ttl: u8, address: &str) -> Option<&'a Verdict> {
    verdicts.iter().find(|v| v.ttl == ttl && v.address == address)
}

/// `DB-IP puts this router in Mumbai, but a 0.050 ms reply cannot have come from further than 5 km.`
fn from_prober_reason(geo: &Geo, rtt: Option<f64>, bound: Option<f64>) -> String {
    let claim = format!("{} puts this router in {}", source_name(geo), place_name(geo));
    match (rtt, bound) {
        (Some(rtt), Some(bound)) => format!(
            "{claim}, but a {} reply cannot have come from further than {} from this server.",
            format_rtt(rtt),
            km_text(bound)
        ),
        (None, Some(bound)) => {
            format!("{claim}, but its replies cannot have come from further than {} from this server.", km_text(bound))
        }
        _ => format!("{claim}, but its replies were too fast for that."),
    }
}

/// `DB-IP puts this router in Singapore, 6,300 km from hop 1 (Auckland), but their 0.007 ms and 0.010 ms replies
/// allow at most 1.7 km between them: one of the two places is wrong.`
fn pair_reason(me: &Located, other: &Located, apart: f64, mine: f64, theirs: f64, bound: f64) -> String {
    format!(
        "{} puts this router in {}, {} from hop {} ({}), but their {} and {} replies allow at most {} between them: \
         one of the two places is wrong.",
        source_name(me.geo),
        place_name(me.geo),
        km_text(apart),
        other.ttl,
        place_name(other.geo),
        format_rtt(mine),
        format_rtt(theirs),
        km_text(bound)
    )
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{EVENT_VERSION, ProbeReply, Protocol, ReplyKind, TraceEvent};

    pub(crate) fn geo(city: &str, lat: f64, lon: f64, source: &str) -> Geo {
        Geo { city: Some(city.into()), source: Some(source.into()), ..Geo::at(lat, lon) }
    }

    fn report(location: Option<Geo>, hops: &[(u8, &str, f64, Geo)]) -> TraceReport {
        let mut report = TraceReport::new("t", Protocol::Icmp);
        report.apply(&TraceEvent::Started {
            version: EVENT_VERSION,
            target: "t".into(),
            address: "192.0.2.9".into(),
            protocol: Protocol::Icmp,
            first_ttl: 1,
            max_hops: 30,
            tries: 1,
            started_at_ms: 0,
            mode: None,
            location,
            options: Default::default(),
        });
        for (ttl, address, rtt, geo) in hops {
            let reply = Some(ProbeReply::new(*address, *rtt, ReplyKind::TimeExceeded));
            report.apply(&TraceEvent::Probe { ttl: *ttl, index: 0, reply, rate_limited: false, send_error: None });
            report.apply(&TraceEvent::HopInfo {
                ttl: *ttl,
                address: (*address).into(),
                hostname: None,
                geo: Some(geo.clone()),
                asn: None,
                kind: None,
            });
        }
        report
    }

    #[test]
    fn sources_are_named_for_people() {
        assert_eq!(source_name(&geo("x", 0.0, 0.0, "DBIP-City-Lite")), "DB-IP");
        assert_eq!(source_name(&geo("x", 0.0, 0.0, "geofeed lab.csv")), "the geofeed");
        let named = Geo { token: Some("ams10".into()), ..geo("Amsterdam", 52.4, 4.9, "hostname") };
        assert_eq!(source_name(&named), "its name (ams10)");
        assert_eq!(source_name(&geo("x", 0.0, 0.0, "GeoLite2-City")), "MaxMind");
        let precise = Geo { accuracy_km: Some(1000), ..geo("x", 0.0, 0.0, "DBIP-City-Lite") };
        assert_eq!(source_note(&precise), "DB-IP · within 1,000 km");
        assert_eq!((km_text(5.0), km_text(0.7), km_text(7012.4)), ("5 km".into(), "0.7 km".into(), "7,012 km".into()));
    }

    #[test]
    fn from_the_probers_place_a_fast_reply_rules_out_a_far_city() {
        let here = geo("Sydney lab", -33.87, 151.21, "--location");
        let r = report(
            Some(here),
            &[
                (1, "10.0.0.1", 0.05, geo("Sydney", -33.87, 151.21, "DBIP")),
                (2, "10.0.1.1", 0.05, geo("Mumbai", 19.08, 72.88, "DBIP")),
            ],
        );
        let v = verdicts(&r);
        assert_eq!(v[0].plausible, Some(true));
        assert_eq!(v[1].plausible, Some(false));
        assert_eq!(
            v[1].reason.as_deref(),
            Some(
                "DB-IP puts this router in Mumbai, but a 0.050 ms reply cannot have come from further than 5 km from this server."
            )
        );
    }

    #[test]
    fn the_servers_verdict_is_shown_as_sent() {
        let judged = Geo { plausible: Some(false), max_km: Some(2.0), ..geo("London", 51.5, -0.1, "DBIP") };
        let fine = Geo { plausible: Some(true), ..geo("Paris", 48.9, 2.35, "DBIP") };
        let r = report(None, &[(1, "10.0.0.1", 0.02, judged), (2, "10.0.1.1", 0.02, fine)]);
        let v = verdicts(&r);
        assert_eq!(v[0].plausible, Some(false));
        assert!(v[0].reason.as_deref().unwrap().contains("further than 2 km"), "{v:?}");
        assert_eq!(v[1].plausible, Some(true), "no pairwise second-guessing of the server's verdicts");
    }

    #[test]
    fn without_a_location_pairs_of_hops_are_compared() {
        let r = report(
            None,
            &[
                (1, "10.0.0.1", 0.007, geo("Auckland", -36.85, 174.76, "geofeed")),
                (2, "10.0.1.1", 0.01, geo("Auckland", -36.86, 174.77, "geofeed")),
                (3, "10.0.2.1", 0.01, geo("Singapore", 1.29, 103.85, "DBIP")),
            ],
        );
        let v = verdicts(&r);
        assert_eq!(v[0].plausible, Some(false), "Auckland and Singapore cannot both be true");
        assert_eq!(v[1].plausible, Some(false));
        assert_eq!(v[2].plausible, Some(false));
        let reason = v[2].reason.as_deref().unwrap();
        assert!(reason.starts_with("DB-IP puts this router in Singapore, 8,"), "{reason}");
        assert!(
            reason.contains("from hop 1 (Auckland), but their 0.010 ms and 0.007 ms replies allow at most 1.7 km"),
            "{reason}"
        );
        // Slow replies allow anything: nothing is flagged, and nothing is called plausible either.
        let slow = report(
            None,
            &[
                (1, "10.0.0.1", 80.0, geo("Auckland", -36.85, 174.76, "x")),
                (2, "10.0.1.1", 90.0, geo("Sydney", -33.87, 151.21, "x")),
            ],
        );
        assert!(verdicts(&slow).iter().all(|v| v.plausible.is_none() && v.reason.is_none()));
    }
}
