//! Great circles on a flat map: the arcs between hops, and longitudes that take the short way round.
//!
//! A route is drawn as great-circle arcs (the path a packet's cable most plausibly follows, and what a globe shows),
//! sampled finely enough to look smooth in Web Mercator. Longitudes are *unwrapped*: each point is placed within
//! 180° of the one before it, so an arc from Auckland to Los Angeles crosses the antimeridian eastwards (reaching
//! 241°) instead of running back across the whole map. Pure math, tested natively.

use tracemap_shared::math::{atan2, cos, hypot, sin};

/// `[lat, lon]` in degrees, Leaflet's order.
pub type LatLon = [f64; 2];

/// Mean Earth radius in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// One sample per this many degrees of arc: smooth at every zoom the route is shown at.
const DEGREES_PER_SAMPLE: f64 = 2.0;
/// Most samples in one arc (half the world at 2°).
const MAX_SAMPLES: usize = 90;

/// `lon` moved by whole turns to lie within 180° of `reference`: the short way from `reference` to `lon`.
pub fn near_lon(reference: f64, lon: f64) -> f64 {
    let delta = (lon - reference).rem_euclid(360.0);
    let delta = if delta >= 180.0 { delta - 360.0 } else { delta };
    reference + delta
}

/// `lon` brought into `[-180, 180)`.
pub fn normalize_lon(lon: f64) -> f64 {
    (lon + 180.0).rem_euclid(360.0) - 180.0
}

fn to_vector([lat, lon]: LatLon) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [cos(lat) * cos(lon), cos(lat) * sin(lon), sin(lat)]
}

fn to_lat_lon([x, y, z]: [f64; 3]) -> LatLon {
    [atan2(z, hypot(x, y)).to_degrees(), atan2(y, x).to_degrees()]
}

/// Central angle between two points, in radians (stable for tiny and near-antipodal angles).
pub fn central_angle(a: LatLon, b: LatLon) -> f64 {
    let (va, vb) = (to_vector(a), to_vector(b));
    let cross = [va[1] * vb[2] - va[2] * vb[1], va[2] * vb[0] - va[0] * vb[2], va[0] * vb[1] - va[1] * vb[0]];
    let dot = va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2];
    atan2(hypot(hypot(cross[0], cross[1]), cross[2]), dot)
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: LatLon, b: LatLon) -> f64 {
    central_angle(a, b) * EARTH_RADIUS_KM
}

/// The great-circle arc from `a` to `b` (the shorter one), sampled every couple of degrees, both ends included.
///
/// The first point is `a` as given; every later longitude is unwrapped to lie within 180° of the point before it,
/// so the arc is continuous on a flat map and may end outside `[-180, 180]`. Antipodal points have no single great
/// circle; they get the straight line the short way.
pub fn great_circle(a: LatLon, b: LatLon) -> Vec<LatLon> {
    let angle = central_angle(a, b);
    let steps = ((angle.to_degrees() / DEGREES_PER_SAMPLE).ceil() as usize).clamp(1, MAX_SAMPLES);
    let (va, vb) = (to_vector(a), to_vector(b));
    let sin_angle = sin(angle);
    let mut out = Vec::with_capacity(steps + 1);
    out.push(a);
    for i in 1..=steps {
        let f = i as f64 / steps as f64;
        let [lat, lon] = if i == steps || sin_angle.abs() < 1e-9 {
            // The end point exactly; or (antipodes, no unique arc) a straight interpolation.
            let end_lon = near_lon(a[1], b[1]);
            [a[0] + (b[0] - a[0]) * f, a[1] + (end_lon - a[1]) * f]
        } else {
            let (wa, wb) = (sin((1.0 - f) * angle) / sin_angle, sin(f * angle) / sin_angle);
            to_lat_lon([wa * va[0] + wb * vb[0], wa * va[1] + wb * vb[1], wa * va[2] + wb * vb[2]])
        };
        let previous = out[out.len() - 1][1];
        out.push([lat, near_lon(previous, lon)]);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn short_way_longitudes() {
        assert_eq!(near_lon(170.0, -170.0), 190.0);
        assert_eq!(near_lon(-170.0, 170.0), -190.0);
        assert_eq!(near_lon(10.0, 20.0), 20.0);
        assert_eq!(near_lon(190.0, 10.0), 10.0);
        assert_eq!(normalize_lon(190.0), -170.0);
        assert_eq!(normalize_lon(-190.0), 170.0);
        assert_eq!(normalize_lon(180.0), -180.0);
    }

    #[test]
    fn distances_are_great_circle() {
        // London to New York is about 5570 km.
        let d = distance_km([51.51, -0.13], [40.71, -74.01]);
        assert!(close(d, 5570.0, 15.0), "{d}");
        assert!(distance_km([10.0, 10.0], [10.0, 10.0]).abs() < 1e-9);
        assert!(close(distance_km([0.0, 0.0], [0.0, 180.0]), std::f64::consts::PI * EARTH_RADIUS_KM, 1e-6));
    }

    #[test]
    fn arcs_start_and_end_on_the_hops() {
        let arc = great_circle([51.51, -0.13], [40.71, -74.01]);
        assert_eq!(arc[0], [51.51, -0.13]);
        let end = arc[arc.len() - 1];
        assert!(close(end[0], 40.71, 1e-9) && close(end[1], -74.01, 1e-9), "{end:?}");
        assert!(arc.len() > 10, "a transatlantic arc is sampled finely: {}", arc.len());
    }

    #[test]
    fn arcs_bow_towards_the_pole() {
        // On a great circle between two points at the same northern latitude the path runs further north.
        let arc = great_circle([50.0, -120.0], [50.0, 0.0]);
        let highest = arc.iter().map(|p| p[0]).fold(f64::MIN, f64::max);
        assert!(highest > 65.0, "{highest}");
        // Every interpolated point lies on the great circle: the two legs through it add up to the whole.
        let total = central_angle(arc[0], arc[arc.len() - 1]);
        for p in &arc {
            let sum = central_angle(arc[0], *p) + central_angle(*p, arc[arc.len() - 1]);
            assert!(close(sum, total, 1e-9));
        }
    }

    #[test]
    fn arcs_cross_the_antimeridian_the_short_way() {
        // Auckland to Los Angeles goes east across 180°, not west across Asia and Europe.
        let arc = great_circle([-36.85, 174.76], [34.05, -118.24]);
        let end = arc[arc.len() - 1];
        assert!(close(end[1], -118.24 + 360.0, 1e-9), "{end:?}");
        assert!(arc.windows(2).all(|w| (w[1][1] - w[0][1]).abs() < 10.0), "no jump across the map");
        assert!(arc.iter().all(|p| p[1] >= 174.0), "always eastwards of Auckland");
        // And westwards: Tokyo from Honolulu.
        let arc = great_circle([21.31, -157.86], [35.68, 139.69]);
        assert!(close(arc[arc.len() - 1][1], 139.69 - 360.0, 1e-9));
    }

    #[test]
    fn degenerate_arcs() {
        assert_eq!(great_circle([1.0, 2.0], [1.0, 2.0]), vec![[1.0, 2.0], [1.0, 2.0]]);
        let antipodes = great_circle([0.0, 0.0], [0.0, 180.0]);
        assert!(antipodes.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        let end = antipodes[antipodes.len() - 1];
        assert_eq!((end[0], end[1].abs()), (0.0, 180.0), "{end:?}");
    }
}
