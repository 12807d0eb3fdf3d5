//! The speed-of-light rule: how far a reply can have come, and which places it rules out.
//!
//! A reply's smallest round-trip time bounds the distance between the prober and the router that sent it, whatever
//! the path. A place further away than that bound (less its own uncertainty) cannot be right, however confident the
//! database; a place within it may still be wrong, so the rule only ever rules out. Without the prober's place, two
//! hops still bound each other: they cannot be further apart than the sum of their own bounds. Pure functions, so
//! the backend, the command line and the page all judge alike.

use serde::{Deserialize, Serialize};

use crate::math::{asin, cos, sin};
use crate::{Geo, Hop, TraceReport};

/// Kilometres of distance one millisecond of round trip can cover at most.
///
/// Light in optical fibre travels at about two thirds of its speed in vacuum, ≈ 200,000 km/s, i.e. 200 km per
/// millisecond one way. A round trip covers the distance twice, so each millisecond of RTT allows at most ~100 km
/// between prober and router. Real cables are longer than great circles and routers add queueing and the time to
/// build the ICMP reply, so true distances are well below this bound: it is a ceiling, never an estimate.
pub const KM_PER_MS_RTT: f64 = 100.0;

/// Mean Earth radius (IUGG), for great-circle distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance between two points given in degrees (haversine formula), in kilometres.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = sin(dp / 2.0).powi(2) + cos(p1) * cos(p2) * sin(dl / 2.0).powi(2);
    2.0 * EARTH_RADIUS_KM * asin(a.sqrt().min(1.0))
}

/// The furthest (km) a router can be from the prober when its fastest reply took `rtt_ms`.
pub fn max_km(rtt_ms: f64) -> f64 {
    if rtt_ms.is_finite() { rtt_ms.max(0.0) * KM_PER_MS_RTT } else { f64::INFINITY }
}

/// How far `place` lies beyond what `min_rtt_ms` allows from `prober` (km; zero or less when it fits), or `None`
/// when either is unknown.
pub fn excess_km(place: &Geo, prober: Option<&Geo>, min_rtt_ms: Option<f64>) -> Option<f64> {
    let prober = prober?;
    let bound = max_km(min_rtt_ms.filter(|r| r.is_finite() && *r >= 0.0)?);
    let distance = distance_km(prober.lat, prober.lon, place.lat, place.lon);
    Some(distance - f64::from(place.accuracy_km.unwrap_or(0)) - bound)
}

/// The verdict on one place: `(plausible, max_km)`. `max_km` is known whenever an RTT is; `plausible` only when
/// the prober's place is known too. A place is implausible when its distance from the prober, less its
/// `accuracy_km`, exceeds the bound.
pub fn judge(place: &Geo, prober: Option<&Geo>, min_rtt_ms: Option<f64>) -> (Option<bool>, Option<f64>) {
    let bound = min_rtt_ms.filter(|r| r.is_finite() && *r >= 0.0).map(max_km);
    (excess_km(place, prober, min_rtt_ms).map(|excess| excess <= 0.0), bound)
}

/// Judges every candidate and returns the chosen one carrying them all: the first plausible in the given order
/// (geofeed → hostname → databases), else the first that nothing could judge, else the one the speed of light
/// misses by the least, flagged `plausible: Some(false)`. `None` only when there is no candidate at all.
pub fn settle(candidates: Vec<Geo>, prober: Option<&Geo>, min_rtt_ms: Option<f64>) -> Option<Geo> {
    let judged: Vec<Geo> = candidates
        .into_iter()
        .map(|mut c| {
            (c.plausible, c.max_km) = judge(&c, prober, min_rtt_ms);
            c.candidates.clear();
            c
        })
        .collect();
    let chosen = judged
        .iter()
        .position(|c| c.plausible == Some(true))
        .or_else(|| judged.iter().position(|c| c.plausible.is_none()))
        .or_else(|| {
            let excess = |c: &Geo| excess_km(c, prober, min_rtt_ms).unwrap_or(f64::INFINITY);
            (0..judged.len()).min_by(|&a, &b| excess(&judged[a]).total_cmp(&excess(&judged[b])))
        })?;
    let mut geo = judged[chosen].clone();
    geo.candidates = judged;
    Some(geo)
}

/// Judges an already settled location again with a new RTT (or prober); `None` when nothing changed.
pub fn resettle(geo: &Geo, prober: Option<&Geo>, min_rtt_ms: Option<f64>) -> Option<Geo> {
    let candidates = if geo.candidates.is_empty() { vec![geo.clone()] } else { geo.candidates.clone() };
    let settled = settle(candidates, prober, min_rtt_ms)?;
    (settled != *geo).then_some(settled)
}

/// Two hops whose places cannot both be right: they are further apart than the sum of what their replies allow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// The later hop's TTL.
    pub ttl: u8,
    /// The later hop's address.
    pub address: String,
    /// The earlier hop it contradicts.
    pub other_ttl: u8,
    /// That hop's address.
    pub other_address: String,
    /// Great-circle distance between the two places (km).
    pub distance_km: f64,
    /// The furthest apart the two routers can be (km): the sum of both bounds plus both places' accuracy radii.
    pub bound_km: f64,
}

/// The smallest RTT of the replies from `hop`'s shown address.
pub fn min_rtt_ms(hop: &Hop) -> Option<f64> {
    let address = hop.address.as_deref()?;
    hop.probes.iter().flatten().filter(|p| p.from == address).map(|p| p.rtt_ms).min_by(f64::total_cmp)
}

/// Pairs of located hops that the speed of light says cannot both be where they are drawn, for when the prober's
/// place is unknown. Each hop is reported at most once, against the earlier hop it misses by the most.
pub fn pair_conflicts(report: &TraceReport) -> Vec<Conflict> {
    let located: Vec<(&Hop, &Geo, f64)> = report
        .hops
        .iter()
        .filter_map(|hop| Some((hop, hop.geo.as_ref()?, min_rtt_ms(hop)?)))
        .filter(|(hop, _, _)| hop.address.is_some())
        .collect();
    let mut conflicts = Vec::new();
    for (j, (hop, geo, rtt)) in located.iter().enumerate() {
        let worst = located[..j]
            .iter()
            .filter(|(other, _, _)| other.address != hop.address)
            .map(|(other, other_geo, other_rtt)| {
                let distance = distance_km(geo.lat, geo.lon, other_geo.lat, other_geo.lon);
                let slack = f64::from(geo.accuracy_km.unwrap_or(0)) + f64::from(other_geo.accuracy_km.unwrap_or(0));
                let bound = max_km(*rtt) + max_km(*other_rtt) + slack;
                (other, distance, bound)
            })
            .filter(|(_, distance, bound)| distance > bound)
            .max_by(|a, b| (a.1 - a.2).total_cmp(&(b.1 - b.2)));
        if let Some((other, distance, bound)) = worst {
            conflicts.push(Conflict {
                ttl: hop.ttl,
                address: hop.address.clone().unwrap_or_default(),
                other_ttl: other.ttl,
                other_address: other.address.clone().unwrap_or_default(),
                distance_km: distance,
                bound_km: bound,
            });
        }
    }
    conflicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProbeReply, ReplyKind};

    fn place(city: &str, lat: f64, lon: f64, accuracy_km: Option<u32>, source: &str) -> Geo {
        Geo { city: Some(city.into()), accuracy_km, source: Some(source.into()), ..Geo::at(lat, lon) }
    }

    fn amsterdam() -> Geo {
        place("Amsterdam", 52.37, 4.89, None, "--location")
    }

    #[test]
    fn distances_are_great_circles() {
        assert!(distance_km(0.0, 0.0, 0.0, 0.0).abs() < 1e-9);
        // Amsterdam–London ≈ 358 km; Sydney–London ≈ 16,990 km; a quarter meridian ≈ 10,008 km.
        assert!((distance_km(52.37, 4.89, 51.51, -0.13) - 358.0).abs() < 5.0);
        assert!((distance_km(-33.87, 151.21, 51.51, -0.13) - 16_990.0).abs() < 30.0);
        assert!((distance_km(0.0, 0.0, 90.0, 0.0) - 10_007.5).abs() < 1.0);
        // Across the antimeridian the short way round.
        assert!(distance_km(0.0, 179.5, 0.0, -179.5) < 112.0);
    }

    #[test]
    fn a_millisecond_of_round_trip_is_a_hundred_kilometres() {
        assert_eq!(max_km(1.0), 100.0);
        assert_eq!(max_km(0.05), 5.0);
        assert_eq!(max_km(-1.0), 0.0);
        assert_eq!(max_km(f64::NAN), f64::INFINITY);
    }

    #[test]
    fn far_places_are_ruled_out_near_ones_kept() {
        let prober = amsterdam();
        let mumbai = place("Mumbai", 19.08, 72.88, None, "DB-IP Lite");
        assert_eq!(judge(&mumbai, Some(&prober), Some(0.05)), (Some(false), Some(5.0)));
        // 7,000 km needs at least 70 ms.
        assert_eq!(judge(&mumbai, Some(&prober), Some(80.0)).0, Some(true));
        let london = place("London", 51.51, -0.13, None, "hostname");
        assert_eq!(judge(&london, Some(&prober), Some(3.0)).0, Some(false));
        assert_eq!(judge(&london, Some(&prober), Some(3.6)).0, Some(true));
        // A database's own radius counts in its favour.
        let vague = place("London", 51.51, -0.13, Some(1000), "GeoLite2-City");
        assert_eq!(judge(&vague, Some(&prober), Some(0.1)).0, Some(true));
        // Nothing to judge with.
        assert_eq!(judge(&mumbai, None, Some(0.05)), (None, Some(5.0)));
        assert_eq!(judge(&mumbai, Some(&prober), None), (None, None));
    }

    #[test]
    fn settle_prefers_the_first_plausible_and_never_drops_one() {
        let prober = amsterdam();
        let name = place("Amsterdam", 52.31, 4.76, Some(50), "hostname");
        let db = place("Mumbai", 19.08, 72.88, None, "DB-IP Lite");
        let chosen = settle(vec![name.clone(), db.clone()], Some(&prober), Some(0.2)).expect("a place");
        assert_eq!((chosen.city.as_deref(), chosen.plausible), (Some("Amsterdam"), Some(true)));
        assert_eq!(chosen.candidates.len(), 2);
        assert_eq!(chosen.candidates[1].plausible, Some(false));
        assert_eq!(chosen.candidates[1].max_km, Some(20.0));
        assert!(chosen.candidates.iter().all(|c| c.candidates.is_empty()));

        // Order decides among plausible ones: the geofeed's word first.
        let feed = place("Haarlem", 52.38, 4.64, None, "geofeed");
        let chosen = settle(vec![feed, name.clone()], Some(&prober), Some(1.0)).expect("a place");
        assert_eq!(chosen.city.as_deref(), Some("Haarlem"));

        // None plausible: the nearest miss, flagged.
        let sydney = place("Sydney", -33.87, 151.21, None, "other db");
        let chosen = settle(vec![sydney, db.clone()], Some(&prober), Some(0.2)).expect("a place");
        assert_eq!((chosen.city.as_deref(), chosen.plausible), (Some("Mumbai"), Some(false)));

        // Nothing to judge with: the first, unjudged.
        let chosen = settle(vec![db.clone(), name], None, Some(0.2)).expect("a place");
        assert_eq!((chosen.city.as_deref(), chosen.plausible, chosen.max_km), (Some("Mumbai"), None, Some(20.0)));
        assert_eq!(settle(Vec::new(), Some(&prober), Some(1.0)), None);
    }

    #[test]
    fn a_smaller_rtt_can_change_the_verdict() {
        let prober = amsterdam();
        let db = place("London", 51.51, -0.13, None, "DB-IP Lite");
        let first = settle(vec![db], Some(&prober), Some(9.0)).expect("a place");
        assert_eq!(first.plausible, Some(true));
        assert_eq!(resettle(&first, Some(&prober), Some(9.0)), None, "same RTT, same verdict");
        let again = resettle(&first, Some(&prober), Some(1.0)).expect("changed");
        assert_eq!((again.plausible, again.max_km), (Some(false), Some(100.0)));
        // An old location without candidates is judged as its own only candidate.
        let mut bare = again.clone();
        bare.candidates.clear();
        assert_eq!(resettle(&bare, Some(&prober), Some(1.0)).map(|g| g.candidates.len()), Some(1));
    }

    fn hop(ttl: u8, address: &str, rtt: f64, geo: Option<Geo>) -> Hop {
        Hop {
            probes: vec![Some(ProbeReply::new(address, rtt, ReplyKind::TimeExceeded))],
            address: Some(address.into()),
            geo,
            ..Hop::new(ttl, 1)
        }
    }

    #[test]
    fn pairs_of_hops_bound_each_other() {
        // The README's old screenshot: Auckland, Sydney, Singapore, London at a few microseconds.
        let report = TraceReport {
            hops: vec![
                hop(1, "10.0.0.1", 0.007, Some(place("Auckland", -36.85, 174.76, None, "geofeed"))),
                hop(2, "10.0.1.2", 0.010, Some(place("Sydney", -33.87, 151.21, None, "geofeed"))),
                hop(3, "10.0.2.2", 0.020, None),
                hop(4, "10.0.3.2", 0.030, Some(place("Auckland", -36.86, 174.77, Some(5), "geofeed"))),
            ],
            ..TraceReport::default()
        };
        let conflicts = pair_conflicts(&report);
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        assert_eq!((conflicts[0].ttl, conflicts[0].other_ttl), (2, 1));
        assert!((conflicts[0].distance_km - 2_160.0).abs() < 30.0, "{conflicts:?}");
        assert!((conflicts[0].bound_km - 1.7).abs() < 1e-9);
        // Hop 4 is beside hop 1 but far from hop 2: it contradicts hop 2.
        assert_eq!((conflicts[1].ttl, conflicts[1].other_ttl, conflicts[1].other_address.as_str()), (4, 2, "10.0.1.2"));

        // Real RTTs make the same places possible.
        let mut slow = report.clone();
        for hop in &mut slow.hops {
            for probe in hop.probes.iter_mut().flatten() {
                probe.rtt_ms = 30.0;
            }
        }
        assert!(pair_conflicts(&slow).is_empty());
    }
}
