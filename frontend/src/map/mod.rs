//! Everything map: the Leaflet bridge, the offline Natural Earth basemap, and the pure geometry behind them.
//!
//! `leaflet` holds the raw `#[wasm_bindgen]` bindings (only the calls tracemap makes); `view` owns one Leaflet map
//! and makes the layers the map components draw; `topojson` turns the world-atlas topology into GeoJSON and
//! `antimeridian` makes it drawable on a flat map; `geodesy` (great circles, the short way round) and `layout` (arcs,
//! dashed bridges, hops grouped by place) place the route; `crowd` groups the markers that would cover each other at
//! the current zoom and keeps tooltips inside the map. Everything but `leaflet` and `view` is pure Rust, tested
//! natively.

pub mod antimeridian;
pub mod crowd;
pub mod geodesy;
pub mod layout;
pub mod leaflet;
pub use tracemap_shared::topojson;
mod view;

pub use view::{
    MapView, accuracy_circle, basemap_layer, layer_effect, origin_marker, paint_route, place_marker, route_lines,
    tag_marker, tile_basemap, vantage_marker, view_bounds,
};
