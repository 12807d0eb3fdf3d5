//! Where everything of a route goes on the flat map: the start, each located hop, the arcs between them, and the
//! places where several hops share one marker.
//!
//! The route starts at the server's own location when it is known. Consecutive stops are joined by great-circle
//! arcs; an arc that passes over hops without a location is *bridged* (drawn dashed: the packets went somewhere in
//! between that no database could place). Longitudes are unwrapped along the route so it never jumps across the
//! map, then the whole route is shifted by whole turns so its middle lies on the main copy of the world.

use super::geodesy::{LatLon, distance_km, great_circle, near_lon};
use crate::state::RoutePoint;

/// Hops closer than this share a marker: GeoIP places whole cities on one coordinate.
pub const SAME_PLACE_KM: f64 = 1.0;

/// The arc from one stop of the route to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    /// The arc, sampled, with unwrapped longitudes.
    pub path: Vec<LatLon>,
    /// Whether hops without a location lie between the two ends (drawn dashed).
    pub bridged: bool,
    /// TTL of the hop the arc leads to: a replay draws the arc once it reaches that hop.
    pub to_ttl: u8,
    /// Whether either end is a place that cannot be true (drawn dashed, apart from the route).
    pub doubtful: bool,
}

/// One marker: every located hop at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Where the marker goes (unwrapped like the route).
    pub position: LatLon,
    /// Indexes into the route's points, in hop order.
    pub members: Vec<usize>,
}

/// The drawable route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteLayout {
    /// The server's own location, where the route starts, when known.
    pub origin: Option<LatLon>,
    /// Where each route point is drawn (unwrapped), one per point.
    pub positions: Vec<LatLon>,
    /// The arcs between consecutive stops.
    pub legs: Vec<Leg>,
    /// Markers: located hops grouped by place.
    pub places: Vec<Place>,
}

impl RouteLayout {
    /// Lays out `points` (located addresses in TTL order), starting at `origin` when given; `first_ttl` is the first
    /// TTL probed, so a first located hop after it is reached by a bridged leg. Where a hop has several located
    /// addresses (a load balancer's routers) the route forks: every address of a hop is joined to every address of
    /// the previous located hop, so the branches rejoin at the next hop with a single address.
    pub fn new(origin: Option<LatLon>, first_ttl: u8, points: &[RoutePoint]) -> RouteLayout {
        let mut positions = Vec::with_capacity(points.len());
        let mut legs = Vec::new();
        // The previous stops: their drawn positions and whether each cannot be true, and their TTL (the origin
        // counts as the TTL before the first).
        let mut previous: Vec<(LatLon, bool)> = origin.map(|o| (o, false)).into_iter().collect();
        let mut previous_ttl = first_ttl.saturating_sub(1);
        let mut start = 0;
        while start < points.len() {
            let ttl = points[start].ttl;
            let end = start + points[start..].iter().take_while(|p| p.ttl == ttl).count();
            let bridged = ttl > previous_ttl.saturating_add(1);
            let mut here = Vec::with_capacity(end - start);
            for point in &points[start..end] {
                let target = [point.lat, point.lon];
                let implausible = point.plausible == Some(false);
                // Unwrapped against the first previous stop, so the route never jumps across the map.
                let position = match previous.first() {
                    None => target,
                    Some((from, _)) => [point.lat, near_lon(from[1], point.lon)],
                };
                for &(from, from_implausible) in &previous {
                    if distance_km(from, position) < SAME_PLACE_KM {
                        continue;
                    }
                    let path = great_circle(from, position);
                    legs.push(Leg { path, bridged, doubtful: implausible || from_implausible, to_ttl: ttl });
                }
                here.push((position, implausible));
            }
            positions.extend(here.iter().map(|(p, _)| *p));
            previous = here;
            previous_ttl = ttl;
            start = end;
        }
        let mut layout = RouteLayout { origin, positions, legs, places: Vec::new() };
        layout.recentre();
        layout.places = group_places(&layout.positions);
        layout
    }

    /// Shifts everything by whole turns so the middle of the route's longitudes lies within ±180°.
    fn recentre(&mut self) {
        let (west, east) =
            self.all_points().fold((f64::INFINITY, f64::NEG_INFINITY), |(w, e), p| (w.min(p[1]), e.max(p[1])));
        if !west.is_finite() {
            return;
        }
        let middle = (west + east) / 2.0;
        let shift = ((middle + 180.0).div_euclid(360.0)) * 360.0;
        if shift == 0.0 {
            return;
        }
        let move_point = |p: &mut LatLon| p[1] -= shift;
        self.origin.iter_mut().for_each(move_point);
        self.positions.iter_mut().for_each(move_point);
        self.legs.iter_mut().flat_map(|l| l.path.iter_mut()).for_each(move_point);
    }

    /// Every drawn coordinate: the start, the hops and the arcs' samples (arcs bow away from the straight line).
    pub fn all_points(&self) -> impl Iterator<Item = LatLon> + '_ {
        self.origin
            .into_iter()
            .chain(self.positions.iter().copied())
            .chain(self.legs.iter().flat_map(|l| l.path.iter().copied()))
    }

    /// The arcs drawn solid and the ones drawn dashed across unlocated hops, each as a list of paths (arcs to a
    /// place that cannot be true are in neither: see [`RouteLayout::doubtful`]).
    pub fn solid_and_bridged(&self) -> (Vec<Vec<LatLon>>, Vec<Vec<LatLon>>) {
        self.solid_and_bridged_until(None)
    }

    /// The same, up to the hop with TTL `step` when a replay is on show (the route grows as the replay goes, so
    /// it does not give the ending away); every arc when `step` is `None`.
    pub fn solid_and_bridged_until(&self, step: Option<u8>) -> (Vec<Vec<LatLon>>, Vec<Vec<LatLon>>) {
        let shown = self.legs.iter().filter(|l| !l.doubtful && step.is_none_or(|step| l.to_ttl <= step));
        let (bridged, solid): (Vec<&Leg>, Vec<&Leg>) = shown.partition(|l| l.bridged);
        let paths = |legs: Vec<&Leg>| legs.into_iter().map(|l| l.path.clone()).collect();
        (paths(solid), paths(bridged))
    }

    /// The arcs to places that cannot be true, drawn dashed apart from the route.
    pub fn doubtful(&self) -> Vec<Vec<LatLon>> {
        self.doubtful_until(None)
    }

    /// The same, up to the hop with TTL `step` when a replay is on show.
    pub fn doubtful_until(&self, step: Option<u8>) -> Vec<Vec<LatLon>> {
        let shown = |l: &&Leg| l.doubtful && step.is_none_or(|step| l.to_ttl <= step);
        self.legs.iter().filter(shown).map(|l| l.path.clone()).collect()
    }
}

/// Groups positions that lie within [`SAME_PLACE_KM`] of a place's first member.
pub fn group_places(positions: &[LatLon]) -> Vec<Place> {
    let mut places: Vec<Place> = Vec::new();
    for (index, &position) in positions.iter().enumerate() {
        match places.iter_mut().find(|p| distance_km(p.position, position) < SAME_PLACE_KM) {
            Some(place) => place.members.push(index),
            None => places.push(Place { position, members: vec![index] }),
        }
    }
    places
}

/// `3`, `3–5` for consecutive hops, `3, 7` otherwise: the number on a grouped marker.
pub fn ttl_label(ttls: &[u8]) -> String {
    match ttls {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if ttls.windows(2).all(|w| w[1] == w[0] + 1) => format!("{first}–{last}"),
        _ => ttls.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(ttl: u8, lat: f64, lon: f64) -> RoutePoint {
        RoutePoint {
            ttl,
            address: format!("10.0.{ttl}.1"),
            plausible: None,
            doubt: None,
            lat,
            lon,
            label: String::new(),
            rtt_ms: None,
            accuracy_km: None,
        }
    }

    #[test]
    fn a_load_balanced_hop_forks_the_route_and_the_next_hop_rejoins_it() {
        // Hop 2 answered from Frankfurt and from Amsterdam; hop 3 is in London.
        let mut amsterdam = at(2, 52.37, 4.90);
        amsterdam.address = "10.0.2.2".into();
        let points = [at(1, 48.85, 2.35), at(2, 50.11, 8.68), amsterdam, at(3, 51.51, -0.13)];
        let layout = RouteLayout::new(None, 1, &points);
        assert_eq!(layout.positions.len(), 4);
        assert_eq!(layout.places.len(), 4, "each address of hop 2 has its own marker");
        let ends: Vec<(LatLon, LatLon)> = layout.legs.iter().map(|l| (l.path[0], l.path[l.path.len() - 1])).collect();
        let (paris, frankfurt, amsterdam, london) =
            (layout.positions[0], layout.positions[1], layout.positions[2], layout.positions[3]);
        let expected = [(paris, frankfurt), (paris, amsterdam), (frankfurt, london), (amsterdam, london)];
        let close = |a: LatLon, b: LatLon| (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9;
        assert_eq!(ends.len(), expected.len(), "{ends:?}");
        for (got, want) in ends.iter().zip(&expected) {
            assert!(close(got.0, want.0) && close(got.1, want.1), "{ends:?}");
        }
        assert!(layout.legs.iter().all(|l| !l.bridged && !l.doubtful));
    }

    #[test]
    fn a_place_that_cannot_be_true_is_reached_by_a_doubtful_leg() {
        let mut mumbai = at(2, 19.08, 72.88);
        mumbai.plausible = Some(false);
        let layout = RouteLayout::new(None, 1, &[at(1, -33.87, 151.21), mumbai, at(3, -33.87, 151.0)]);
        assert_eq!(layout.legs.len(), 2);
        assert!(layout.legs[0].doubtful, "to Mumbai");
        assert!(layout.legs[1].doubtful, "and from it");
        let sydney = RouteLayout::new(None, 1, &[at(1, -33.87, 151.21), at(2, -33.87, 151.0), at(3, -34.0, 150.0)]);
        assert!(sydney.legs.iter().all(|l| !l.doubtful));
        let (solid, bridged) = layout.solid_and_bridged();
        assert_eq!((solid.len(), bridged.len(), layout.doubtful().len()), (0, 0, 2));
    }

    #[test]
    fn legs_join_consecutive_stops_and_bridge_gaps() {
        let points = [at(1, 48.85, 2.35), at(2, 50.11, 8.68), at(4, 52.37, 4.90)];
        let layout = RouteLayout::new(None, 1, &points);
        assert_eq!(layout.legs.len(), 2);
        assert!(!layout.legs[0].bridged);
        assert!(layout.legs[1].bridged, "hop 3 has no location");
        assert_eq!(layout.positions.len(), 3);
        assert_eq!(layout.places.len(), 3);
        let (solid, bridged) = layout.solid_and_bridged();
        assert_eq!((solid.len(), bridged.len()), (1, 1));
        assert_eq!(layout.solid_and_bridged_until(Some(2)), (solid.clone(), vec![]), "a replay at hop 2");
        assert_eq!(layout.solid_and_bridged_until(Some(1)), (vec![], vec![]), "hop 1 has no arc without a start");
        assert_eq!(layout.solid_and_bridged_until(Some(9)), layout.solid_and_bridged());
    }

    #[test]
    fn the_route_starts_at_the_server() {
        let origin = Some([47.37, 8.54]);
        let layout = RouteLayout::new(origin, 1, &[at(1, 48.85, 2.35)]);
        assert_eq!(layout.legs.len(), 1);
        assert!(!layout.legs[0].bridged);
        assert_eq!(layout.legs[0].path[0], [47.37, 8.54]);
        let late = RouteLayout::new(origin, 1, &[at(3, 48.85, 2.35)]);
        assert!(late.legs[0].bridged, "hops 1 and 2 have no location");
        let first_ttl_three = RouteLayout::new(origin, 3, &[at(3, 48.85, 2.35)]);
        assert!(!first_ttl_three.legs[0].bridged, "probing began at TTL 3");
    }

    #[test]
    fn hops_at_one_place_share_a_marker_and_no_arc() {
        let points = [at(1, 50.11, 8.68), at(2, 50.11, 8.68), at(3, 52.37, 4.90), at(5, 50.1101, 8.6801)];
        let layout = RouteLayout::new(None, 1, &points);
        assert_eq!(layout.places.len(), 2);
        assert_eq!(layout.places[0].members, vec![0, 1, 3]);
        assert_eq!(layout.places[1].members, vec![2]);
        assert_eq!(layout.legs.len(), 2, "no zero-length arc between hops 1 and 2");
    }

    #[test]
    fn a_route_across_the_pacific_stays_continuous_and_centred() {
        // Sydney → Auckland → Los Angeles → New York: east across the antimeridian.
        let points = [at(1, -33.87, 151.21), at(2, -36.85, 174.76), at(3, 34.05, -118.24), at(4, 40.71, -74.01)];
        let layout = RouteLayout::new(None, 1, &points);
        let lons: Vec<f64> = layout.positions.iter().map(|p| p[1]).collect();
        assert!(lons.windows(2).all(|w| w[1] > w[0]), "always eastwards: {lons:?}");
        let all: Vec<LatLon> = layout.all_points().collect();
        assert!(all.windows(2).all(|w| (w[1][1] - w[0][1]).abs() < 180.0));
        let (west, east) = (lons[0], lons[3]);
        let middle = (west + east) / 2.0;
        assert!((-180.0..180.0).contains(&middle), "centred on the main world: {lons:?}");
        // Los Angeles is drawn one turn east or west of its coordinate, never half way.
        let drawn = layout.positions[2][1];
        assert!(((drawn - -118.24).rem_euclid(360.0)).abs() < 1e-6 || (drawn - -118.24).rem_euclid(360.0) > 359.999);
    }

    #[test]
    fn recentring_moves_a_route_that_drifted_a_whole_turn() {
        // Starting far east (Honolulu) and going further east to Los Angeles keeps the route near the Pacific.
        let layout = RouteLayout::new(Some([21.31, -157.86]), 1, &[at(1, 34.05, -118.24)]);
        assert_eq!(layout.origin, Some([21.31, -157.86]));
        assert!((layout.positions[0][1] - -118.24).abs() < 1e-9);
    }

    #[test]
    fn grouped_marker_numbers() {
        assert_eq!(ttl_label(&[4]), "4");
        assert_eq!(ttl_label(&[3, 4, 5]), "3–5");
        assert_eq!(ttl_label(&[3, 7]), "3, 7");
        assert_eq!(ttl_label(&[]), "");
    }
}
