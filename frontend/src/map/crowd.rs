//! Markers that would cover each other at the map's current zoom, and tooltips that would leave the map.
//!
//! [`super::layout`] groups hops within a kilometre (one city in a GeoIP database) for good; at world zoom places
//! hundreds of kilometres apart (San Jose and San Francisco) still land on the same pixels, so the markers are
//! grouped again per zoom: one marker for every place whose marker would overlap the first one's, labelled with its
//! hops and counting them. A marker on top of the start of the route is moved beside it, so both stay visible. The
//! pixel maths is Leaflet's default (Web Mercator, 256-pixel tiles); pure, tested natively.

use super::geodesy::LatLon;
use super::layout::{Place, ttl_label};
use tracemap_shared::math::{cos, hypot, ln, powf, tan};

/// Markers closer than this many pixels (centre to centre) overlap: a marker is 26 px wide.
pub const OVERLAP_PX: f64 = 24.0;
/// How far a marker on top of the start is moved right and down, in pixels.
pub const BESIDE_START_PX: i32 = 18;

/// Where `position` lies at `zoom` in Leaflet's pixel space (Web Mercator, EPSG:3857, 256-pixel tiles).
pub fn to_pixels([lat, lon]: LatLon, zoom: f64) -> [f64; 2] {
    let size = 256.0 * powf(2.0, zoom);
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    let x = size * (lon + 180.0) / 360.0;
    let y = size * (1.0 - ln(tan(lat) + 1.0 / cos(lat)) / std::f64::consts::PI) / 2.0;
    [x, y]
}

/// One marker at the current zoom: the places it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Crowd {
    /// Where the marker goes: the first place's position.
    pub position: LatLon,
    /// Indexes into the route's points, in point (hop) order, of every place in the crowd.
    pub members: Vec<usize>,
    /// How many separate places (more than a kilometre apart) it covers.
    pub places: usize,
    /// Whether it would cover the start of the route (and is drawn beside it).
    pub on_start: bool,
}

/// Groups `places` whose markers overlap at `zoom` (within [`OVERLAP_PX`] of a crowd's first place), in the order
/// of their first places; `origin` is the start of the route, whose marker stays where it is.
pub fn crowds(places: &[Place], origin: Option<LatLon>, zoom: f64) -> Vec<Crowd> {
    let near = |a: [f64; 2], b: [f64; 2]| hypot(a[0] - b[0], a[1] - b[1]) < OVERLAP_PX;
    let mut crowds: Vec<(Crowd, [f64; 2])> = Vec::new();
    for place in places {
        let pixels = to_pixels(place.position, zoom);
        match crowds.iter_mut().find(|(_, at)| near(*at, pixels)) {
            Some((crowd, _)) => {
                crowd.members.extend_from_slice(&place.members);
                crowd.places += 1;
            }
            None => {
                let crowd =
                    Crowd { position: place.position, members: place.members.clone(), places: 1, on_start: false };
                crowds.push((crowd, pixels));
            }
        }
    }
    let start = origin.map(|o| to_pixels(o, zoom));
    crowds
        .into_iter()
        .map(|(mut crowd, at)| {
            crowd.members.sort_unstable();
            crowd.on_start = start.is_some_and(|s| near(s, at));
            crowd
        })
        .collect()
}

/// The number on a marker: `3`, `3–5`, `3, 7`; a long list of scattered hops is cut to its ends (`3…14`), the
/// count and the tooltip say the rest.
pub fn crowd_label(ttls: &[u8]) -> String {
    let label = ttl_label(ttls);
    match ttls {
        [first, .., last] if label.chars().count() > 6 => format!("{first}…{last}"),
        _ => label,
    }
}

/// A box on screen: `[left, top, right, bottom]` in CSS pixels.
pub type Rect = [f64; 4];

/// How far to move a tooltip (`tip`) so it lies inside the map (`frame`), `margin` pixels from its edges; a tooltip
/// larger than the map keeps its top left corner inside.
pub fn nudge(tip: Rect, frame: Rect, margin: f64) -> (f64, f64) {
    let axis = |low: f64, high: f64, frame_low: f64, frame_high: f64| {
        if high > frame_high - margin {
            // Up or left, but never past the near edge.
            (frame_high - margin - high).max(frame_low + margin - low)
        } else if low < frame_low + margin {
            frame_low + margin - low
        } else {
            0.0
        }
    };
    (axis(tip[0], tip[2], frame[0], frame[2]), axis(tip[1], tip[3], frame[1], frame[3]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(lat: f64, lon: f64, members: &[usize]) -> Place {
        Place { position: [lat, lon], members: members.to_vec() }
    }

    #[test]
    fn pixels_follow_leaflets_web_mercator() {
        assert_eq!(to_pixels([0.0, 0.0], 0.0), [128.0, 128.0]);
        assert_eq!(to_pixels([0.0, -180.0], 1.0), [0.0, 256.0]);
        let north = to_pixels([85.051_128_78, 180.0], 0.0);
        assert!((north[0] - 256.0).abs() < 1e-9 && north[1].abs() < 1e-6, "{north:?}");
    }

    #[test]
    fn nearby_places_share_a_marker_at_world_zoom_and_part_when_zoomed_in() {
        // San Francisco, San Jose (70 km apart), then London.
        let places = [place(37.77, -122.42, &[0]), place(37.34, -121.89, &[1, 2]), place(51.51, -0.13, &[3])];
        let world = crowds(&places, None, 1.0);
        assert_eq!(world.len(), 2);
        assert_eq!((world[0].members.clone(), world[0].places), (vec![0, 1, 2], 2));
        assert_eq!(world[0].position, [37.77, -122.42]);
        assert_eq!((world[1].members.clone(), world[1].places), (vec![3], 1));
        let close = crowds(&places, None, 8.0);
        assert_eq!(close.len(), 3, "70 km is many markers apart at zoom 8");
        assert!(close.iter().all(|c| c.places == 1 && !c.on_start));
    }

    #[test]
    fn a_marker_on_the_start_is_flagged_and_members_stay_in_hop_order() {
        // The start in Wellington; hop 1 in Wellington too, hop 3 in Auckland, hop 2 back in Wellington.
        let places = [place(-41.29, 174.78, &[0, 2]), place(-36.85, 174.76, &[1])];
        let world = crowds(&places, Some([-41.3, 174.77]), 2.0);
        assert_eq!(world.len(), 1, "500 km is one spot at zoom 2");
        assert_eq!(world[0].members, vec![0, 1, 2]);
        assert!(world[0].on_start);
        let zoomed = crowds(&places, Some([-41.3, 174.77]), 6.0);
        assert_eq!(zoomed.iter().map(|c| c.on_start).collect::<Vec<_>>(), [true, false]);
        assert!(crowds(&places, None, 2.0).iter().all(|c| !c.on_start));
    }

    #[test]
    fn labels_stay_short() {
        assert_eq!(crowd_label(&[4]), "4");
        assert_eq!(crowd_label(&[3, 4, 5, 6, 7, 8]), "3–8");
        assert_eq!(crowd_label(&[3, 7]), "3, 7");
        assert_eq!(crowd_label(&[3, 7, 9, 14]), "3…14");
    }

    #[test]
    fn tooltips_are_moved_inside_the_map() {
        let frame = [100.0, 100.0, 500.0, 400.0];
        assert_eq!(nudge([200.0, 200.0, 300.0, 250.0], frame, 4.0), (0.0, 0.0), "inside: left alone");
        assert_eq!(nudge([450.0, 380.0, 550.0, 420.0], frame, 4.0), (-54.0, -24.0), "off the bottom right");
        assert_eq!(nudge([60.0, 80.0, 160.0, 120.0], frame, 4.0), (44.0, 24.0), "off the top left");
        assert_eq!(nudge([90.0, 200.0, 700.0, 240.0], frame, 4.0), (14.0, 0.0), "wider than the map: its left edge in");
    }
}
