//! TopoJSON to GeoJSON, in pure Rust, so the offline basemap needs no JavaScript library: the page draws it with
//! Leaflet, the server into link previews and offline copies.
//!
//! A TopoJSON topology stores each shared border once as an *arc*; geometries refer to arcs by index (a negative
//! index `!i` means arc `i` reversed). Quantized topologies also delta-encode each arc's integer positions and carry a
//! `transform` that maps them back to degrees. [`decode_object`] undoes all of that for one named object (such as
//! `countries` in `world-atlas`) and returns plain GeoJSON features that Leaflet draws as vector layers.
//!
//! **Packed arcs.** Besides TopoJSON's arrays of positions, an arc of a quantized topology may be one string: each
//! delta-encoded integer, x then y, zigzag-encoded (`0, -1, 1, -2` → `0, 1, 2, 3`) and written in 5-bit groups,
//! least significant first, as characters of `A–Z a–z 0–9 - _` (values 0–63); a character of value 32 or more says
//! another group follows. The page's basemap is written so by `scripts/slim-basemap.mjs`: 3 kB gzip less than the
//! same numbers as JSON arrays (BENCHMARKS.md, "WASM bundle size").

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A longitude/latitude pair in degrees, GeoJSON order.
pub type Position = [f64; 2];

/// Why a topology could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum TopoError {
    /// The text is not a TopoJSON topology.
    Json(String),
    /// The topology has no object of that name.
    MissingObject(String),
    /// A geometry refers to an arc that does not exist.
    BadArc(i64),
    /// A geometry's `arcs` or `coordinates` do not have the nesting its type requires.
    BadShape(String),
}

impl fmt::Display for TopoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopoError::Json(e) => write!(f, "not a TopoJSON topology: {e}"),
            TopoError::MissingObject(name) => write!(f, "the topology has no object named {name:?}"),
            TopoError::BadArc(i) => write!(f, "a geometry refers to arc {i}, which does not exist"),
            TopoError::BadShape(kind) => write!(f, "a {kind} geometry has malformed arcs or coordinates"),
        }
    }
}

impl std::error::Error for TopoError {}

/// A position as stored in the topology: the first two numbers of an array (extra dimensions are ignored).
#[derive(Debug, Clone, Copy, PartialEq)]
struct RawPosition(f64, f64);

impl<'de> Deserialize<'de> for RawPosition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PositionVisitor;
        impl<'de> Visitor<'de> for PositionVisitor {
            type Value = RawPosition;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of at least two numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPosition, A::Error> {
                let x: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let y: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(RawPosition(x, y))
            }
        }
        deserializer.deserialize_seq(PositionVisitor)
    }
}

/// Any JSON value, for the parts of a topology the decoder passes through (ids, properties) or reads by shape
/// (`arcs`, `coordinates`): a plain enum rather than `serde_json::Value`, so the page can read a topology with the
/// browser's `JSON.parse` and link no serde_json (see [`Topology`]). Read by a visitor of its own rather than
/// `#[serde(untagged)]`, which would buffer every value before trying each variant on it (more code in the page's
/// module, and slower on the basemap's many numbers).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;
        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
                Json::deserialize(deserializer)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
                Ok(Json::Bool(value))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
                Ok(Json::Number(value as f64))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
                Ok(Json::Number(value as f64))
            }
            fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
                Ok(Json::Number(value))
            }
            fn visit_str<E>(self, value: &str) -> Result<Json, E> {
                Ok(Json::String(value.to_owned()))
            }
            fn visit_string<E>(self, value: String) -> Result<Json, E> {
                Ok(Json::String(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    fields.insert(key, value);
                }
                Ok(Json::Object(fields))
            }
        }
        deserializer.deserialize_any(JsonVisitor)
    }
}

impl Json {
    /// An object's field.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.get(key),
            _ => None,
        }
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Self {
        Json::String(text.to_owned())
    }
}

/// The items of an array, each read by `item`; `None` if it is not an array or an item does not fit.
fn list<T>(json: &Json, item: impl Fn(&Json) -> Option<T>) -> Option<Vec<T>> {
    match json {
        Json::Array(items) => items.iter().map(item).collect(),
        _ => None,
    }
}

/// A whole number (an arc index).
fn int(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

/// A position: the first two numbers of an array.
fn position(json: &Json) -> Option<RawPosition> {
    match json {
        Json::Array(items) => match items.as_slice() {
            [Json::Number(x), Json::Number(y), ..] => Some(RawPosition(*x, *y)),
            _ => None,
        },
        _ => None,
    }
}

/// Maps quantized integer positions back to degrees: `x * scale + translate`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

/// A parsed TopoJSON topology: [`decode_object`] parses the text with serde_json; the page parses it its own way
/// (any serde deserializer) and calls [`Topology::decode`].
#[derive(Debug, Deserialize)]
pub struct Topology {
    #[serde(default)]
    transform: Option<Transform>,
    #[serde(default)]
    arcs: Vec<RawArc>,
    #[serde(default)]
    objects: BTreeMap<String, TopoGeometry>,
}

/// One arc as stored: an array of positions, or a packed string (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
struct RawArc(Vec<RawPosition>);

impl<'de> Deserialize<'de> for RawArc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArcVisitor;
        impl<'de> Visitor<'de> for ArcVisitor {
            type Value = RawArc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an arc: an array of positions or a packed string")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawArc, A::Error> {
                let mut points = Vec::new();
                while let Some(point) = seq.next_element()? {
                    points.push(point);
                }
                Ok(RawArc(points))
            }
            fn visit_str<E: de::Error>(self, packed: &str) -> Result<RawArc, E> {
                unpack_arc(packed).map(RawArc).ok_or_else(|| E::custom(format!("a malformed packed arc: {packed:.40}")))
            }
        }
        deserializer.deserialize_any(ArcVisitor)
    }
}

/// The positions of a packed arc; `None` if a character is outside the alphabet, a number is cut off or too
/// long, or the count is odd.
fn unpack_arc(packed: &str) -> Option<Vec<RawPosition>> {
    let mut numbers = Vec::with_capacity(packed.len());
    let (mut value, mut shift) = (0u64, 0u32);
    for byte in packed.bytes() {
        let digit = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        if shift > 55 {
            return None;
        }
        value |= u64::from(digit & 31) << shift;
        if digit < 32 {
            let magnitude = (value >> 1) as f64;
            numbers.push(if value & 1 == 1 { -magnitude - 1.0 } else { magnitude });
            (value, shift) = (0, 0);
        } else {
            shift += 5;
        }
    }
    if shift != 0 || numbers.len() % 2 != 0 {
        return None;
    }
    Some(numbers.chunks_exact(2).map(|xy| RawPosition(xy[0], xy[1])).collect())
}

#[derive(Debug, Deserialize)]
struct TopoGeometry {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    arcs: Json,
    #[serde(default)]
    coordinates: Json,
    #[serde(default)]
    geometries: Vec<TopoGeometry>,
    #[serde(default)]
    id: Option<Json>,
    #[serde(default)]
    properties: Option<Json>,
}

/// A GeoJSON geometry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
#[allow(missing_docs)]
pub enum Geometry {
    Point { coordinates: Position },
    MultiPoint { coordinates: Vec<Position> },
    LineString { coordinates: Vec<Position> },
    MultiLineString { coordinates: Vec<Vec<Position>> },
    Polygon { coordinates: Vec<Vec<Position>> },
    MultiPolygon { coordinates: Vec<Vec<Vec<Position>>> },
    GeometryCollection { geometries: Vec<Geometry> },
}

/// A GeoJSON feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feature {
    /// Always `"Feature"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The geometry's id in the topology (world-atlas uses ISO 3166-1 numeric codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Json>,
    /// The geometry's properties (world-atlas: `name`).
    pub properties: Json,
    /// `None` for a null geometry.
    pub geometry: Option<Geometry>,
}

/// A GeoJSON feature collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureCollection {
    /// Always `"FeatureCollection"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The features, in topology order.
    pub features: Vec<Feature>,
}

/// Decodes the object `name` of the TopoJSON text `json` into a GeoJSON feature collection.
pub fn decode_object(json: &str, name: &str) -> Result<FeatureCollection, TopoError> {
    let topology: Topology = serde_json::from_str(json).map_err(|e| TopoError::Json(e.to_string()))?;
    topology.decode(name)
}

impl Topology {
    /// Decodes the object `name` into a GeoJSON feature collection.
    pub fn decode(&self, name: &str) -> Result<FeatureCollection, TopoError> {
        decode(self, name)
    }
}

fn decode(topology: &Topology, name: &str) -> Result<FeatureCollection, TopoError> {
    let object = topology.objects.get(name).ok_or_else(|| TopoError::MissingObject(name.to_owned()))?;
    let arcs = decode_arcs(&topology.arcs, topology.transform);
    let decoder = Decoder { arcs: &arcs, transform: topology.transform };
    let features = if object.kind.as_deref() == Some("GeometryCollection") {
        object.geometries.iter().map(|g| decoder.feature(g)).collect::<Result<_, _>>()?
    } else {
        vec![decoder.feature(object)?]
    };
    Ok(FeatureCollection { kind: "FeatureCollection", features })
}

/// Every arc in degrees: undoes delta encoding and the transform (when the topology is quantized).
fn decode_arcs(arcs: &[RawArc], transform: Option<Transform>) -> Vec<Vec<Position>> {
    arcs.iter()
        .map(|RawArc(arc)| match transform {
            Some(t) => {
                let (mut x, mut y) = (0.0, 0.0);
                arc.iter()
                    .map(|p| {
                        x += p.0;
                        y += p.1;
                        [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]]
                    })
                    .collect()
            }
            None => arc.iter().map(|p| [p.0, p.1]).collect(),
        })
        .collect()
}

struct Decoder<'a> {
    arcs: &'a [Vec<Position>],
    transform: Option<Transform>,
}

impl Decoder<'_> {
    fn feature(&self, g: &TopoGeometry) -> Result<Feature, TopoError> {
        Ok(Feature {
            kind: "Feature",
            id: g.id.clone(),
            properties: g.properties.clone().unwrap_or_else(|| Json::Object(BTreeMap::new())),
            geometry: self.geometry(g)?,
        })
    }

    fn geometry(&self, g: &TopoGeometry) -> Result<Option<Geometry>, TopoError> {
        let Some(kind) = g.kind.as_deref() else { return Ok(None) };
        let shape = || TopoError::BadShape(kind.to_owned());
        let geometry = match kind {
            "Point" => {
                let p = position(&g.coordinates).ok_or_else(shape)?;
                Geometry::Point { coordinates: self.point(p) }
            }
            "MultiPoint" => {
                let ps = list(&g.coordinates, position).ok_or_else(shape)?;
                Geometry::MultiPoint { coordinates: ps.into_iter().map(|p| self.point(p)).collect() }
            }
            "LineString" => {
                let refs = list(&g.arcs, int).ok_or_else(shape)?;
                Geometry::LineString { coordinates: self.line(&refs)? }
            }
            "MultiLineString" => {
                let refs = list(&g.arcs, |l| list(l, int)).ok_or_else(shape)?;
                Geometry::MultiLineString { coordinates: refs.iter().map(|l| self.line(l)).collect::<Result<_, _>>()? }
            }
            "Polygon" => {
                let refs = list(&g.arcs, |l| list(l, int)).ok_or_else(shape)?;
                Geometry::Polygon { coordinates: self.polygon(&refs)? }
            }
            "MultiPolygon" => {
                let refs = list(&g.arcs, |p| list(p, |l| list(l, int))).ok_or_else(shape)?;
                Geometry::MultiPolygon { coordinates: refs.iter().map(|p| self.polygon(p)).collect::<Result<_, _>>()? }
            }
            "GeometryCollection" => Geometry::GeometryCollection {
                geometries: g
                    .geometries
                    .iter()
                    .filter_map(|child| self.geometry(child).transpose())
                    .collect::<Result<_, _>>()?,
            },
            _ => return Err(TopoError::BadShape(kind.to_owned())),
        };
        Ok(Some(geometry))
    }

    /// Points are quantized but not delta-encoded.
    fn point(&self, p: RawPosition) -> Position {
        match self.transform {
            Some(t) => [p.0 * t.scale[0] + t.translate[0], p.1 * t.scale[1] + t.translate[1]],
            None => [p.0, p.1],
        }
    }

    /// Joins arcs end to start; each arc after the first repeats the previous arc's last position, kept once.
    fn line(&self, refs: &[i64]) -> Result<Vec<Position>, TopoError> {
        let mut out: Vec<Position> = Vec::new();
        for &r in refs {
            let index = if r < 0 { !r } else { r };
            let arc = usize::try_from(index).ok().and_then(|i| self.arcs.get(i)).ok_or(TopoError::BadArc(r))?;
            out.pop();
            if r < 0 {
                out.extend(arc.iter().rev());
            } else {
                out.extend(arc.iter());
            }
        }
        // A line needs two positions even when it collapsed to one.
        if out.len() == 1 {
            out.push(out[0]);
        }
        Ok(out)
    }

    /// A ring is a closed line; GeoJSON wants at least four positions, so degenerate rings are padded.
    fn ring(&self, refs: &[i64]) -> Result<Vec<Position>, TopoError> {
        let mut ring = self.line(refs)?;
        if let Some(&first) = ring.first() {
            while ring.len() < 4 {
                ring.push(first);
            }
        }
        Ok(ring)
    }

    fn polygon(&self, rings: &[Vec<i64>]) -> Result<Vec<Vec<Position>>, TopoError> {
        rings.iter().map(|r| self.ring(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two squares sharing an edge, quantized with a transform: arc 0 is the shared edge, arc 1 the left square's
    /// remaining border, arc 2 the right one's. The right square walks the shared edge backwards (`!0` = -1).
    const TWO_SQUARES: &str = r#"{
        "type": "Topology",
        "transform": {"scale": [0.5, 0.25], "translate": [10, -20]},
        "objects": {
            "squares": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "id": "L", "properties": {"name": "left"}, "arcs": [[0, 1]]},
                {"type": "Polygon", "id": "R", "arcs": [[2, -1]]},
                {"type": "Point", "coordinates": [4, 8]},
                {"type": null}
            ]},
            "edge": {"type": "LineString", "arcs": [0]}
        },
        "arcs": [
            [[2, 0], [0, 4]],
            [[2, 4], [-2, 0], [0, -4], [2, 0]],
            [[2, 0], [2, 0], [0, 4], [-2, 0]]
        ]
    }"#;

    #[test]
    fn packed_arcs_read_as_the_same_positions_as_arrays() {
        // The two squares again, each arc packed: 2,0 0,4 is "EAAI" (2 -> 4 -> E, 0 -> A, 4 -> 8 -> I), and so on.
        let packed = TWO_SQUARES
            .replace("[[2, 0], [0, 4]],", r#""EAAI","#)
            .replace("[[2, 4], [-2, 0], [0, -4], [2, 0]],", r#""EIDAAHEA","#)
            .replace("[[2, 0], [2, 0], [0, 4], [-2, 0]]", r#""EAEAAIDA""#);
        assert_ne!(packed, TWO_SQUARES);
        assert_eq!(decode_object(&packed, "squares").unwrap(), decode_object(TWO_SQUARES, "squares").unwrap());
        // Numbers of several groups, both signs.
        assert_eq!(unpack_arc("ggB__H").unwrap(), vec![RawPosition(512.0, -4096.0)]);
        for bad in ["EAA", "E*", "g", "______________A"] {
            assert_eq!(unpack_arc(bad), None, "{bad}");
        }
        let error = decode_object(r#"{"type":"Topology","objects":{},"arcs":["E*"]}"#, "o").unwrap_err();
        assert!(error.to_string().contains("packed arc"), "{error}");
    }

    #[test]
    fn any_json_value_reads_and_writes_as_itself() {
        let text = r#"{"a":[1,-2,2.5,null,true,"x",{}],"b":{"c":[]}}"#;
        let json: Json = serde_json::from_str(text).unwrap();
        let mut inner = BTreeMap::new();
        inner.insert("c".to_owned(), Json::Array(vec![]));
        let a = vec![
            Json::Number(1.0),
            Json::Number(-2.0),
            Json::Number(2.5),
            Json::Null,
            Json::Bool(true),
            Json::from("x"),
            Json::Object(BTreeMap::new()),
        ];
        let expected = Json::Object([("a".to_owned(), Json::Array(a)), ("b".to_owned(), Json::Object(inner))].into());
        assert_eq!(json, expected);
        assert_eq!(serde_json::to_string(&json).unwrap(), text.replace("1,-2", "1.0,-2.0"));
    }

    #[test]
    fn deltas_and_transform_are_undone() {
        let fc = decode_object(TWO_SQUARES, "edge").unwrap();
        assert_eq!(fc.features.len(), 1);
        // Arc 0: (2,0) then (2,4) in quantized units → x*0.5+10, y*0.25-20.
        assert_eq!(
            fc.features[0].geometry,
            Some(Geometry::LineString { coordinates: vec![[11.0, -20.0], [11.0, -19.0]] })
        );
    }

    #[test]
    fn rings_stitch_arcs_and_close() {
        let fc = decode_object(TWO_SQUARES, "squares").unwrap();
        let Some(Geometry::Polygon { coordinates }) = &fc.features[0].geometry else { panic!("not a polygon") };
        assert_eq!(coordinates[0], vec![[11.0, -20.0], [11.0, -19.0], [10.0, -19.0], [10.0, -20.0], [11.0, -20.0]]);
        assert_eq!(fc.features[0].properties.get("name"), Some(&Json::from("left")));
        assert_eq!(fc.features[0].id, Some(Json::from("L")));
    }

    #[test]
    fn negative_arc_index_walks_the_arc_backwards() {
        let fc = decode_object(TWO_SQUARES, "squares").unwrap();
        let Some(Geometry::Polygon { coordinates }) = &fc.features[1].geometry else { panic!("not a polygon") };
        let ring = &coordinates[0];
        assert_eq!(ring.first(), ring.last(), "ring is closed");
        assert_eq!(ring, &vec![[11.0, -20.0], [12.0, -20.0], [12.0, -19.0], [11.0, -19.0], [11.0, -20.0]]);
    }

    #[test]
    fn points_are_not_delta_encoded_and_null_geometry_is_kept() {
        let fc = decode_object(TWO_SQUARES, "squares").unwrap();
        assert_eq!(fc.features[2].geometry, Some(Geometry::Point { coordinates: [12.0, -18.0] }));
        assert_eq!(fc.features[3].geometry, None);
        let json = serde_json::to_value(&fc.features[3]).unwrap();
        assert_eq!(json["geometry"], serde_json::Value::Null);
        assert_eq!(json["type"], "Feature");
    }

    #[test]
    fn unquantized_topology_uses_positions_as_is() {
        let json = r#"{"type":"Topology","objects":{"o":{"type":"MultiLineString","arcs":[[0],[-1]]}},
            "arcs":[[[1.5,2.5],[3.5,4.5,99]]]}"#;
        let fc = decode_object(json, "o").unwrap();
        let expected = vec![vec![[1.5, 2.5], [3.5, 4.5]], vec![[3.5, 4.5], [1.5, 2.5]]];
        assert_eq!(fc.features[0].geometry, Some(Geometry::MultiLineString { coordinates: expected }));
    }

    #[test]
    fn geojson_output_has_the_standard_shape() {
        let fc = decode_object(TWO_SQUARES, "squares").unwrap();
        let json = serde_json::to_value(&fc).unwrap();
        assert_eq!(json["type"], "FeatureCollection");
        assert_eq!(json["features"][0]["geometry"]["type"], "Polygon");
        assert_eq!(json["features"][0]["geometry"]["coordinates"][0][0], serde_json::json!([11.0, -20.0]));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(decode_object("[1,2]", "x"), Err(TopoError::Json(_))));
        assert_eq!(decode_object(TWO_SQUARES, "rivers"), Err(TopoError::MissingObject("rivers".into())));
        let bad_arc = r#"{"type":"Topology","objects":{"o":{"type":"LineString","arcs":[7]}},"arcs":[]}"#;
        assert_eq!(decode_object(bad_arc, "o"), Err(TopoError::BadArc(7)));
        let bad_neg = r#"{"type":"Topology","objects":{"o":{"type":"LineString","arcs":[-3]}},"arcs":[]}"#;
        assert_eq!(decode_object(bad_neg, "o"), Err(TopoError::BadArc(-3)));
        let bad_shape = r#"{"type":"Topology","objects":{"o":{"type":"Polygon","arcs":[0]}},"arcs":[[[0,0]]]}"#;
        assert_eq!(decode_object(bad_shape, "o"), Err(TopoError::BadShape("Polygon".into())));
        let short = r#"{"type":"Topology","objects":{"o":{"type":"Point","coordinates":[1]}},"arcs":[]}"#;
        assert!(decode_object(short, "o").is_err());
    }

    #[test]
    fn degenerate_ring_is_padded_to_four_positions() {
        let json = r#"{"type":"Topology","objects":{"o":{"type":"Polygon","arcs":[[0]]}},"arcs":[[[1,1],[2,2]]]}"#;
        let fc = decode_object(json, "o").unwrap();
        let Some(Geometry::Polygon { coordinates }) = &fc.features[0].geometry else { panic!("not a polygon") };
        assert_eq!(coordinates[0].len(), 4);
    }

    /// Decodes a world-atlas countries file and checks every ring: closed, four points or more, on Earth.
    fn check_countries(text: &str) -> FeatureCollection {
        let fc = decode_object(text, "countries").unwrap();
        assert!(fc.features.len() > 150, "{} countries", fc.features.len());
        let mut rings = 0;
        for feature in &fc.features {
            let polygons = match &feature.geometry {
                Some(Geometry::Polygon { coordinates }) => vec![coordinates.clone()],
                Some(Geometry::MultiPolygon { coordinates }) => coordinates.clone(),
                other => panic!("unexpected geometry {other:?}"),
            };
            for ring in polygons.iter().flatten() {
                rings += 1;
                assert!(ring.len() >= 4);
                assert_eq!(ring.first(), ring.last());
                assert!(ring.iter().all(|p| (-180.0..=180.0).contains(&p[0]) && (-90.0..=90.0).contains(&p[1])));
            }
        }
        assert!(rings > 200);
        fc
    }

    /// The real basemap, when `npm ci` has run: every country decodes, rings close, and positions are on Earth.
    #[test]
    fn world_atlas_countries_decode() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/world-atlas/countries-110m.json");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is missing (run npm ci)");
            return;
        };
        let fc = check_countries(&text);
        let france = fc.features.iter().find(|f| f.properties.get("name") == Some(&Json::from("France"))).unwrap();
        assert_eq!(france.id, Some(Json::from("250")));
    }

    /// The slimmed basemap the page loads (scripts/slim-basemap.mjs, run by Trunk before each build): the same
    /// countries, every ring still whole, every vertex within half a grid step (0.036° of longitude) of the original's.
    #[test]
    fn the_slimmed_basemap_keeps_every_country() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let slim_path = format!("{dir}/target/basemap/countries-110m.json");
        let (Ok(slim), Ok(full)) = (
            std::fs::read_to_string(&slim_path),
            std::fs::read_to_string(format!("{dir}/node_modules/world-atlas/countries-110m.json")),
        ) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{slim_path} is missing: run scripts/build-frontend.sh"
            );
            eprintln!("SKIPPED: {slim_path} or the npm original is missing (scripts/build-frontend.sh writes both)");
            return;
        };
        assert!(slim.len() * 10 < full.len() * 8, "at least 20 % smaller: {} of {} bytes", slim.len(), full.len());
        let (slim, full) = (check_countries(&slim), check_countries(&full));
        assert_eq!(slim.features.len(), full.features.len());
        let mut vertices = 0;
        let first_ring = |g: &Option<Geometry>| match g {
            Some(Geometry::Polygon { coordinates }) => coordinates[0].clone(),
            Some(Geometry::MultiPolygon { coordinates }) => coordinates[0][0].clone(),
            other => panic!("unexpected geometry {other:?}"),
        };
        for (s, f) in slim.features.iter().zip(&full.features) {
            let (a, b) = (first_ring(&s.geometry), first_ring(&f.geometry));
            assert!((a[0][0] - b[0][0]).abs() < 0.04 && (a[0][1] - b[0][1]).abs() < 0.02, "{a:?} {b:?}");
            vertices += a.len();
        }
        assert!(vertices > 3000, "{vertices}");
    }
}
