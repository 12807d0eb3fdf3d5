//! The Leaflet map itself and the drawing helpers its layer components use.
//!
//! [`MapView`] owns one Leaflet map: it creates it, keeps it the right size, and fits the view to what it is told
//! (the route as it grows). Layers are not its business: each layer component (basemap, route line, hop markers)
//! owns a [`LayerGroup`] on the map through [`layer_effect`] and redraws it from its own signal.

use super::geodesy::LatLon;
use super::leaflet::{self, Layer, LayerGroup, LeafletMap, options};
use super::{antimeridian, topojson};
use crate::state::RoutePoint;
use leptos::prelude::*;
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The Natural Earth countries, copied from npm `world-atlas` into the bundle by Trunk.
const COUNTRIES_URL: &str = "/countries-110m.json";
/// The view before any hop is located: the inhabited world.
pub const WORLD: [[f64; 2]; 2] = [[-50.0, -165.0], [72.0, 175.0]];
/// Closest zoom when fitting the route (110m borders get coarse beyond it).
const MAX_FIT_ZOOM: u8 = 6;
/// How far beyond the view vectors are drawn, as a fraction of its size: animated fits never show unpainted edges.
const RENDER_PADDING: f64 = 0.6;
/// Smallest span, in degrees, the view is fitted to: one hop, or hops in one city, still show their region.
const MIN_SPAN_DEG: f64 = 12.0;

/// A live Leaflet map in one element.
#[derive(Debug)]
pub struct MapView {
    map: LeafletMap,
    /// What the view was last fitted to, so a resize can fit it again.
    fitted: Rc<Cell<[[f64; 2]; 2]>>,
    /// Tells Leaflet when its element changes size (the layout moves when an error banner appears, or on rotate).
    resize: Option<(web_sys::ResizeObserver, Closure<dyn FnMut()>)>,
}

impl MapView {
    /// Creates the map in `element`, showing the world.
    pub fn new(element: &web_sys::HtmlElement) -> Result<Self, String> {
        let map_options = options(&json!({
            "zoomSnap": 0.25,
            "minZoom": 1,
            "maxZoom": 10,
            "worldCopyJump": true,
            "attributionControl": true,
        }));
        if let Ok(renderer) = leaflet::try_svg_renderer(&options(&json!({"padding": RENDER_PADDING}))) {
            let _ = js_sys::Reflect::set(&map_options, &"renderer".into(), &renderer);
        }
        let map = leaflet::new_map(element, &map_options)
            .map_err(|e| format!("The map could not start: {}", crate::api::describe(&e)))?;
        map.create_pane("basemap");
        map.fit_bounds(&options(&json!(WORLD)), &fit_options(false));
        let fitted = Rc::new(Cell::new(WORLD));
        let (resize_map, resize_fitted) = (map.clone(), fitted.clone());
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            resize_map.invalidate_size();
            resize_map.fit_bounds(&options(&json!(resize_fitted.get())), &fit_options(false));
        });
        let resize = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok().map(|observer| {
            observer.observe(element);
            (observer, on_resize)
        });
        Ok(MapView { map, fitted, resize })
    }

    /// The Leaflet map, for layers to be added to.
    pub fn leaflet(&self) -> &LeafletMap {
        &self.map
    }

    /// Fits the view to `[[south, west], [north, east]]` (animated) and remembers it for resizes.
    pub fn fit(&self, bounds: [[f64; 2]; 2]) {
        self.fitted.set(bounds);
        self.map.fit_bounds(&options(&json!(bounds)), &fit_options(true));
    }

    /// Destroys the Leaflet map (on unmount).
    pub fn remove(self) {
        if let Some((observer, _)) = &self.resize {
            observer.disconnect();
        }
        self.map.remove();
    }
}

fn fit_options(animate: bool) -> JsValue {
    options(&json!({"padding": [40, 40], "maxZoom": MAX_FIT_ZOOM, "animate": animate}))
}

/// Keeps one layer group on the map held by `map` and redraws it with `draw` whenever the signals `draw` reads
/// change (and once the map exists); the group leaves the map when the calling component unmounts.
pub fn layer_effect(map: RwSignal<Option<LeafletMap>, LocalStorage>, draw: impl Fn(&LayerGroup) + 'static) {
    let group = StoredValue::new_local(None::<LayerGroup>);
    Effect::new(move |_| {
        let Some(map) = map.get() else { return };
        group.update_value(|group| {
            let group = group.get_or_insert_with(|| {
                let group = leaflet::layer_group();
                group.unchecked_ref::<Layer>().add_to(&map);
                group
            });
            group.clear_layers();
            draw(group);
        });
    });
    on_cleanup(move || {
        group.update_value(|group| {
            if let Some(group) = group.take() {
                let _ = group.unchecked_ref::<Layer>().try_remove();
            }
        })
    });
}

/// The line joining located hops in hop order, or `None` below two hops.
pub fn route_line(points: &[RoutePoint]) -> Option<Layer> {
    if points.len() < 2 {
        return None;
    }
    let latlngs: Vec<[f64; 2]> = points.iter().map(|p| [p.lat, p.lon]).collect();
    Some(leaflet::polyline(
        &options(&json!(latlngs)),
        &options(&json!({
            "className": "route-line",
            "color": "#e8590c",
            "weight": 3,
            "opacity": 0.9,
            "interactive": false,
        })),
    ))
}

/// A numbered marker for one located hop, with its host and location as title and tooltip.
pub fn hop_marker(point: &RoutePoint) -> Layer {
    let icon = leaflet::div_icon(&options(&json!({
        "className": "hop-marker",
        "html": format!("<span>{}</span>", point.ttl),
        "iconSize": [26, 26],
        "iconAnchor": [13, 13],
    })));
    let marker_options = options(&json!({ "title": point.label, "alt": format!("Hop {}", point.ttl) }));
    let _ = js_sys::Reflect::set(&marker_options, &"icon".into(), &icon);
    let marker = leaflet::marker(&options(&json!([point.lat, point.lon])), &marker_options);
    marker.bind_tooltip(&escape_html(&format!("{} · {}", point.ttl, point.label)), &options(&json!({})));
    marker
}

/// Fetches the world-atlas topology, decodes it in Rust and returns it as a layer for the basemap pane.
pub async fn basemap_layer() -> Result<Layer, String> {
    let text = crate::api::fetch_text(COUNTRIES_URL).await?;
    let countries = topojson::decode_object(&text, "countries").map_err(|e| e.to_string())?;
    let countries = antimeridian::planar_features(countries);
    let layer_options = options(&json!({
        "pane": "basemap",
        "interactive": false,
        "attribution": "<a href=\"https://www.naturalearthdata.com\">Natural Earth</a>",
        "style": {
            "className": "country",
            "color": "#b4bcc6",
            "weight": 0.7,
            "fillColor": "#f7f5f0",
            "fillOpacity": 1,
        },
    }));
    // The basemap pane gets its own renderer; give it the same generous padding as the route's.
    if let Ok(renderer) = leaflet::try_svg_renderer(&options(&json!({"pane": "basemap", "padding": RENDER_PADDING}))) {
        let _ = js_sys::Reflect::set(&layer_options, &"renderer".into(), &renderer);
    }
    Ok(leaflet::geo_json(&leaflet::to_js(&countries)?, &layer_options))
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// `[[south, west], [north, east]]` around the route, widened to at least [`MIN_SPAN_DEG`] each way; the world when
/// nothing is located.
pub fn view_bounds(points: &[LatLon]) -> [[f64; 2]; 2] {
    if points.is_empty() {
        return WORLD;
    }
    let widen = |(lo, hi): (f64, f64), limit: f64| {
        let centre = (lo + hi) / 2.0;
        let half = ((hi - lo) / 2.0).max(MIN_SPAN_DEG / 2.0);
        ((centre - half).max(-limit), (centre + half).min(limit))
    };
    let (south, north) = widen(min_max(points.iter().map(|p| p[0])), 85.0);
    let (west, east) = widen(min_max(points.iter().map(|p| p[1])), 540.0);
    [[south, west], [north, east]]
}

/// Text made safe for Leaflet's HTML tooltips (reverse DNS names are untrusted input).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> LatLon {
        [lat, lon]
    }

    #[test]
    fn tooltip_text_is_escaped() {
        assert_eq!(
            escape_html("<img src=x onerror=alert(1)> & 'q'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39;"
        );
    }

    #[test]
    fn bounds_of_points() {
        assert_eq!(min_max([3.0, -1.0, 2.0].into_iter()), (-1.0, 3.0));
        assert_eq!(view_bounds(&[at(10.0, 20.0), at(40.0, -100.0)]), [[10.0, -100.0], [40.0, 20.0]]);
        assert_eq!(view_bounds(&[]), WORLD);
    }

    #[test]
    fn one_point_gets_a_regional_view() {
        assert_eq!(view_bounds(&[at(50.0, 8.0)]), [[44.0, 2.0], [56.0, 14.0]]);
        assert_eq!(view_bounds(&[at(84.0, 0.0)])[1][0], 85.0, "clamped near the pole");
    }
}
