//! Drawing a round world on a flat map: polygons that cross the antimeridian (±180° longitude).
//!
//! Natural Earth keeps Russia's and Fiji's rings whole, so one edge jumps from +180° to -180°. Drawn naively in Web
//! Mercator that edge runs across the whole map and the polygon fills a band around the world. Here each such ring
//! is *unwrapped* (longitudes made continuous, so it may reach past 180°) and drawn twice, once on each side, 360°
//! apart. Rings around a pole (Antarctica) cannot be unwrapped into a closed ring and are left as they are. The whole
//! world is also drawn a turn east and west, for routes whose unwrapped longitudes run past ±180°.

use super::topojson::{Feature, FeatureCollection, Geometry, Position};

/// The ring with continuous longitudes (every step at most 180°), and whether it still closes (a ring around a
/// pole does not: its unwrapped end is 360° from its start).
pub fn unwrap_ring(ring: &[Position]) -> (Vec<Position>, bool) {
    let mut out: Vec<Position> = Vec::with_capacity(ring.len());
    let mut offset = 0.0;
    for (i, p) in ring.iter().enumerate() {
        if i > 0 {
            let step = p[0] - ring[i - 1][0];
            if step > 180.0 {
                offset -= 360.0;
            } else if step < -180.0 {
                offset += 360.0;
            }
        }
        out.push([p[0] + offset, p[1]]);
    }
    (out, offset == 0.0)
}

/// One polygon (outer ring, then holes) as the polygons a flat map should draw.
pub fn planar_polygons(polygon: Vec<Vec<Position>>) -> Vec<Vec<Vec<Position>>> {
    let Some(outer) = polygon.first() else { return vec![polygon] };
    let (outer, closes) = unwrap_ring(outer);
    let (west, east) = outer.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(w, e), p| (w.min(p[0]), e.max(p[0])));
    if !closes || (west >= -180.0 && east <= 180.0) {
        return vec![polygon];
    }
    let centre = (west + east) / 2.0;
    let mut unwrapped = vec![outer];
    for hole in &polygon[1..] {
        let (mut hole, _) = unwrap_ring(hole);
        // Keep each hole on the same copy of the world as its outer ring.
        let shift = ((centre - hole.first().map_or(centre, |p| p[0])) / 360.0).round() * 360.0;
        hole.iter_mut().for_each(|p| p[0] += shift);
        unwrapped.push(hole);
    }
    let shifted = |by: f64| unwrapped.iter().map(|r| r.iter().map(|p| [p[0] + by, p[1]]).collect()).collect();
    let mut out = Vec::with_capacity(2);
    if east > 180.0 {
        out.push(shifted(-360.0));
    }
    if west < -180.0 {
        out.push(shifted(360.0));
    }
    out.push(unwrapped);
    out
}

/// A geometry whose polygons are safe to draw on a flat map; polygons that needed two copies become multipolygons.
pub fn planar_geometry(geometry: Geometry) -> Geometry {
    match geometry {
        Geometry::Polygon { coordinates } => {
            let mut parts = planar_polygons(coordinates);
            if parts.len() == 1 {
                Geometry::Polygon { coordinates: parts.remove(0) }
            } else {
                Geometry::MultiPolygon { coordinates: parts }
            }
        }
        Geometry::MultiPolygon { coordinates } => {
            Geometry::MultiPolygon { coordinates: coordinates.into_iter().flat_map(planar_polygons).collect() }
        }
        Geometry::GeometryCollection { geometries } => {
            Geometry::GeometryCollection { geometries: geometries.into_iter().map(planar_geometry).collect() }
        }
        other => other,
    }
}

/// Every feature's geometry made safe for a flat map.
pub fn planar_features(collection: FeatureCollection) -> FeatureCollection {
    let features =
        collection.features.into_iter().map(|f| Feature { geometry: f.geometry.map(planar_geometry), ..f }).collect();
    FeatureCollection { features, ..collection }
}

fn shift_rings(rings: &[Vec<Position>], dlon: f64) -> Vec<Vec<Position>> {
    rings.iter().map(|ring| ring.iter().map(|p| [p[0] + dlon, p[1]]).collect()).collect()
}

fn with_copies(geometry: Geometry, offsets: &[f64]) -> Geometry {
    let polygons = match geometry {
        Geometry::Polygon { coordinates } => vec![coordinates],
        Geometry::MultiPolygon { coordinates } => coordinates,
        Geometry::GeometryCollection { geometries } => {
            let geometries = geometries.into_iter().map(|g| with_copies(g, offsets)).collect();
            return Geometry::GeometryCollection { geometries };
        }
        other => return other,
    };
    let mut copies = polygons.clone();
    for &dlon in offsets {
        copies.extend(polygons.iter().map(|p| shift_rings(p, dlon)));
    }
    Geometry::MultiPolygon { coordinates: copies }
}

/// Every polygon also drawn `offsets` degrees east (e.g. `[-360, 360]`): a route that crosses the antimeridian is
/// drawn with continuous longitudes and may reach past ±180°, where it must still find land under it.
pub fn world_copies(collection: FeatureCollection, offsets: &[f64]) -> FeatureCollection {
    let features = collection
        .features
        .into_iter()
        .map(|f| Feature { geometry: f.geometry.map(|g| with_copies(g, offsets)), ..f })
        .collect();
    FeatureCollection { features, ..collection }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn square(west: f64, east: f64, south: f64, north: f64) -> Vec<Position> {
        vec![[west, north], [east, north], [east, south], [west, south], [west, north]]
    }

    #[test]
    fn world_copies_repeat_polygons_a_turn_away() {
        let collection = FeatureCollection {
            kind: "FeatureCollection",
            features: vec![Feature {
                kind: "Feature",
                id: None,
                properties: crate::map::topojson::Json::Null,
                geometry: Some(Geometry::Polygon { coordinates: vec![square(2.0, 8.0, 43.0, 51.0)] }),
            }],
        };
        let copied = world_copies(collection, &[-360.0, 360.0]);
        let Some(Geometry::MultiPolygon { coordinates }) = &copied.features[0].geometry else { panic!("multipolygon") };
        assert_eq!(coordinates.len(), 3);
        assert_eq!(coordinates[1][0][0], [2.0 - 360.0, 51.0]);
        assert_eq!(coordinates[2][0][0], [362.0, 51.0]);
    }

    #[test]
    fn ordinary_polygons_are_untouched() {
        let polygon = vec![square(2.0, 8.0, 43.0, 51.0)];
        assert_eq!(planar_polygons(polygon.clone()), vec![polygon]);
    }

    #[test]
    fn crossing_ring_is_drawn_on_both_sides() {
        // A Fiji-like island from 179°E to 179°W.
        let polygon = vec![square(179.0, -179.0, -17.0, -16.0)];
        let parts = planar_polygons(polygon);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0][0], square(-181.0, -179.0, -17.0, -16.0));
        assert_eq!(parts[1][0], square(179.0, 181.0, -17.0, -16.0));
        for part in &parts {
            let ring = &part[0];
            assert!(ring.windows(2).all(|w| (w[1][0] - w[0][0]).abs() <= 180.0), "no edge spans the map");
        }
    }

    #[test]
    fn ring_starting_west_of_the_antimeridian_unwraps_westwards() {
        let polygon = vec![square(-179.0, 178.0, 60.0, 70.0)];
        let (ring, closes) = unwrap_ring(&polygon[0]);
        assert!(closes);
        assert_eq!(ring[1][0], -182.0);
        let parts = planar_polygons(polygon);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p[0].windows(2).all(|w| (w[1][0] - w[0][0]).abs() <= 180.0)));
    }

    #[test]
    fn holes_stay_with_their_outer_ring() {
        let polygon = vec![square(170.0, -170.0, -10.0, 10.0), square(179.5, -179.5, -1.0, 1.0)];
        let parts = planar_polygons(polygon);
        let east_copy = parts.iter().find(|p| p[0][0][0] == 170.0).unwrap();
        assert_eq!(east_copy[1], square(179.5, 180.5, -1.0, 1.0));
    }

    #[test]
    fn ring_around_the_pole_is_left_alone() {
        // Antarctica-like: runs east all the way round, then back along the pole.
        let ring = vec![
            [-180.0, -70.0],
            [-60.0, -65.0],
            [60.0, -68.0],
            [180.0, -70.0],
            [180.0, -90.0],
            [-180.0, -90.0],
            [-180.0, -70.0],
        ];
        let (_, closes) = unwrap_ring(&ring);
        assert!(!closes);
        assert_eq!(planar_polygons(vec![ring.clone()]), vec![vec![ring]]);
    }

    #[test]
    fn crossing_polygon_becomes_a_multipolygon() {
        let g = planar_geometry(Geometry::Polygon { coordinates: vec![square(179.0, -179.0, -17.0, -16.0)] });
        assert!(matches!(g, Geometry::MultiPolygon { ref coordinates } if coordinates.len() == 2));
    }

    /// The real basemap, when `npm ci` has run: after the fix no drawn edge spans more than half the map, except in
    /// Antarctica's ring around the pole, which legitimately runs from 180° back to -180° along the map's bottom.
    #[test]
    fn world_atlas_has_no_edge_across_the_map() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/world-atlas/countries-110m.json");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is missing (run npm ci)");
            return;
        };
        let before = super::super::topojson::decode_object(&text, "countries").unwrap();
        let after = planar_features(before.clone());
        let long_edges = |fc: &FeatureCollection| {
            let mut n = 0;
            for f in &fc.features {
                let polygons = match &f.geometry {
                    Some(Geometry::Polygon { coordinates }) => vec![coordinates.clone()],
                    Some(Geometry::MultiPolygon { coordinates }) => coordinates.clone(),
                    _ => vec![],
                };
                for ring in polygons.iter().flatten() {
                    if unwrap_ring(ring).1 {
                        n += ring.windows(2).filter(|w| (w[1][0] - w[0][0]).abs() > 180.0).count();
                    }
                }
            }
            n
        };
        assert!(long_edges(&before) > 0, "the raw data does cross the antimeridian");
        assert_eq!(long_edges(&after), 0);
    }
}
