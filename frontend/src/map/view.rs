//! The Leaflet map itself and the drawing helpers its layer components use.
//!
//! [`MapView`] owns one Leaflet map: it creates it, keeps it the right size, and fits the view to what it is told
//! (the route as it grows). Layers are not its business: each layer component (basemap, route line, hop markers)
//! owns a [`LayerGroup`] on the map through [`layer_effect`] and redraws it from its own signal.

use super::crowd::{BESIDE_START_PX, Crowd, crowd_label, nudge};
use super::geodesy::LatLon;
use super::layout::{RouteLayout, ttl_label};
use super::leaflet::{self, Layer, LayerGroup, LeafletMap, to_js};
use super::{antimeridian, topojson};
use crate::js_object;
use crate::state::RoutePoint;
use crate::stats::{rtt_colour, text_colour_on};
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use tracemap_shared::TileLayer;
// Leaflet's tooltips and labels are HTML, and reverse DNS names are untrusted input.
use tracemap_shared::words::escape_html;
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
    /// When the last animated fit ends (`Date.now()` ms), and whether a fit waits for it.
    animating_until: Rc<Cell<f64>>,
    queued: Rc<Cell<bool>>,
    /// Tells Leaflet when its element changes size (the layout moves when an error banner appears, or on rotate).
    resize: Option<(web_sys::ResizeObserver, Closure<dyn FnMut()>)>,
    /// The `zoomend` and `tooltipopen` listeners, kept alive as long as the map.
    listeners: Vec<Listener>,
}

/// A Leaflet event name and the listener registered for it.
type Listener = (&'static str, Closure<dyn FnMut(JsValue)>);

impl MapView {
    /// Creates the map in `element`, showing the world; `on_zoom` hears every new zoom level.
    pub fn new(element: &web_sys::HtmlElement, on_zoom: impl Fn(f64) + 'static) -> Result<Self, String> {
        let map_options = js_object!({
            "zoomSnap": 0.25,
            "minZoom": 1,
            "maxZoom": 10,
            "worldCopyJump": true,
            "attributionControl": true,
        });
        if let Ok(renderer) = leaflet::try_svg_renderer(&js_object!({"padding": RENDER_PADDING})) {
            let _ = js_sys::Reflect::set(&map_options, &"renderer".into(), &renderer);
        }
        let map = leaflet::new_map(element, &map_options)
            .map_err(|e| format!("The map could not start: {}", crate::api::describe(&e)))?;
        map.create_pane("basemap");
        map.fit_bounds(&to_js(&WORLD), &fit_options(false));
        let fitted = Rc::new(Cell::new(WORLD));
        let (resize_map, resize_fitted) = (map.clone(), fitted.clone());
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            resize_map.invalidate_size();
            resize_map.fit_bounds(&to_js(&resize_fitted.get()), &fit_options(false));
        });
        let resize = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok().map(|observer| {
            observer.observe(element);
            (observer, on_resize)
        });
        let zoom_map = map.clone();
        on_zoom(map.get_zoom());
        let listeners: Vec<Listener> = vec![
            ("zoomend", Closure::new(move |_: JsValue| on_zoom(zoom_map.get_zoom()))),
            ("tooltipopen", Closure::new(keep_tooltip_inside)),
        ];
        for (kind, listener) in &listeners {
            map.on(kind, listener.as_ref().unchecked_ref());
        }
        Ok(MapView { map, fitted, resize, listeners, animating_until: Rc::default(), queued: Rc::default() })
    }

    /// The Leaflet map, for layers to be added to.
    pub fn leaflet(&self) -> &LeafletMap {
        &self.map
    }

    /// Fits the view to `[[south, west], [north, east]]` (animated) and remembers it for resizes; the same bounds
    /// again leave the view alone.
    ///
    /// Leaflet ignores a new zoom while a zoom animation runs, so when the route grows in a burst (a permalink, a
    /// late viewer's backlog, a fast network) a fit during an animation is held and the latest bounds are applied
    /// once it ends; otherwise the view would stay on the first hops.
    pub fn fit(&self, bounds: [[f64; 2]; 2]) {
        // Most events (a try's time, a name arriving) leave the located places as they were: the view stays put.
        if self.fitted.get() == bounds {
            return;
        }
        self.fitted.set(bounds);
        if self.queued.get() {
            return;
        }
        let wait = self.animating_until.get() - js_sys::Date::now();
        if wait <= 0.0 {
            apply_fit(&self.map, &self.fitted, &self.animating_until);
            return;
        }
        self.queued.set(true);
        let (map, fitted, until, queued) =
            (self.map.clone(), self.fitted.clone(), self.animating_until.clone(), self.queued.clone());
        set_timeout(
            move || {
                queued.set(false);
                apply_fit(&map, &fitted, &until);
            },
            std::time::Duration::from_millis(wait.ceil() as u64),
        );
    }

    /// Destroys the Leaflet map (on unmount).
    pub fn remove(self) {
        if let Some((observer, _)) = &self.resize {
            observer.disconnect();
        }
        for (kind, listener) in &self.listeners {
            self.map.off(kind, listener.as_ref().unchecked_ref());
        }
        self.map.remove();
    }
}

/// Moves an opened tooltip (Leaflet's `tooltipopen` event) so it lies inside the map, by its margins (Leaflet
/// places it with a transform, so the margins are free; they are recomputed from the style sheet at each opening).
fn keep_tooltip_inside(event: JsValue) {
    let get = |object: &JsValue, key: &str| js_sys::Reflect::get(object, &key.into()).ok();
    let Some(tooltip) = get(&event, "tooltip") else { return };
    let (Some(tip), Some(map)) = (get(&tooltip, "_container"), get(&tooltip, "_map")) else { return };
    let (Ok(tip), Ok(map)) = (tip.dyn_into::<web_sys::HtmlElement>(), map.dyn_into::<LeafletMap>()) else { return };
    let style = tip.style();
    let _ = style.remove_property("margin-left");
    let _ = style.remove_property("margin-top");
    let (Some(tip_box), Some(map_box)) = (client_rect(&tip), client_rect(&map.get_container())) else { return };
    let (dx, dy) = nudge(tip_box, map_box, 4.0);
    if dx == 0.0 && dy == 0.0 {
        return;
    }
    let computed = web_sys::window().and_then(|w| w.get_computed_style(&tip).ok().flatten());
    let margin = |name: &str| {
        // JS's parseFloat reads `6px` as 6 (and keeps Rust's float parser out of the page).
        let value = computed.as_ref().and_then(|c| c.get_property_value(name).ok()).unwrap_or_default();
        Some(js_sys::parse_float(&value)).filter(|v| v.is_finite()).unwrap_or(0.0)
    };
    let _ = style.set_property("margin-left", &format!("{}px", margin("margin-left") + dx));
    let _ = style.set_property("margin-top", &format!("{}px", margin("margin-top") + dy));
}

/// `element.getBoundingClientRect()` as `[left, top, right, bottom]` (through JS: no extra `web-sys` feature).
fn client_rect(element: &web_sys::HtmlElement) -> Option<[f64; 4]> {
    let method = js_sys::Reflect::get(element, &"getBoundingClientRect".into()).ok()?;
    let rect = method.dyn_into::<js_sys::Function>().ok()?.call0(element).ok()?;
    let side = |key: &str| js_sys::Reflect::get(&rect, &key.into()).ok().and_then(|v| v.as_f64());
    Some([side("left")?, side("top")?, side("right")?, side("bottom")?])
}

/// How long Leaflet's animated fit takes (its zoom and pan animations last 0.25 s), with a margin.
const FIT_ANIMATION_MS: f64 = 350.0;

fn apply_fit(map: &LeafletMap, fitted: &Cell<[[f64; 2]; 2]>, animating_until: &Cell<f64>) {
    animating_until.set(js_sys::Date::now() + FIT_ANIMATION_MS);
    map.fit_bounds(&to_js(&fitted.get()), &fit_options(true));
}

fn fit_options(animate: bool) -> JsValue {
    // More room at the top left, where the zoom buttons are; at the bottom right, room for a marker standing beside
    // the start (18 px off it) at presenter mode's highlighted size.
    js_object!({
        "paddingTopLeft": [64, 56],
        "paddingBottomRight": [56, 56],
        "maxZoom": MAX_FIT_ZOOM,
        "animate": animate,
    })
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

/// The route's arcs as at most three layers: `route-line` (solid, one SVG path for all solid arcs), `route-gap`
/// (dashed, across hops without a location) and `route-doubt` (finely dashed, to places that cannot be true).
/// During a replay only the arcs up to its step (`step`) are drawn. `colour` is the route's own among several (a
/// group's palette), else the page's route blue.
pub fn route_lines(layout: &RouteLayout, step: Option<u8>, colour: Option<&str>) -> Vec<Layer> {
    let (solid, bridged) = layout.solid_and_bridged_until(step);
    let doubtful = layout.doubtful_until(step);
    let mut layers = Vec::new();
    for (paths, class, dash) in
        [(solid, "route-line", None), (bridged, "route-gap", Some("6 8")), (doubtful, "route-doubt", Some("2 6"))]
    {
        if paths.is_empty() {
            continue;
        }
        layers.push(leaflet::polyline(
            &to_js(&paths),
            &js_object!({
                "className": class,
                "color": colour.unwrap_or("#3b5bdb"),
                "weight": 3,
                "opacity": 0.9,
                "dashArray": dash,
                "interactive": false,
            }),
        ));
    }
    layers
}

/// The marker of one crowd (the places that share a spot at the current zoom): the numbers of its hops, coloured by
/// the first hop's round-trip time, with every hop listed in its tooltip; one that covers several places counts its
/// hops in a badge, and one on top of the start stands beside it. A place that cannot be true (every address at it
/// judged implausible) is drawn hollow, and its tooltip says why.
pub fn place_marker(crowd: &Crowd, points: &[RoutePoint]) -> Option<Layer> {
    let members: Vec<&RoutePoint> = crowd.members.iter().filter_map(|&i| points.get(i)).collect();
    let first = members.first()?;
    let mut ttls: Vec<u8> = members.iter().map(|p| p.ttl).collect();
    ttls.dedup();
    let label = crowd_label(&ttls);
    let count = if crowd.places > 1 { format!("<i class=\"crowd-count\">{}</i>", ttls.len()) } else { String::new() };
    let width = 26.max(12 + 8 * label.chars().count() as i32);
    let implausible = members.iter().all(|p| p.plausible == Some(false));
    let mut class = if members.len() > 1 { "hop-marker grouped".to_owned() } else { "hop-marker".to_owned() };
    if implausible {
        class.push_str(" implausible");
    }
    if crowd.places > 1 {
        class.push_str(" crowd");
    }
    if crowd.on_start {
        class.push_str(" beside-start");
    }
    let shift = if crowd.on_start { BESIDE_START_PX } else { 0 };
    // Hollow: the RTT colour only rings the number.
    let style = if implausible {
        // The number in the text colour: the RTT colour alone on the hollow face would fall below 4.5:1.
        format!("border-color:{};color:var(--text)", rtt_colour(first.rtt_ms))
    } else {
        let colour = rtt_colour(first.rtt_ms);
        format!("background:{colour};color:{}", text_colour_on(&colour))
    };
    let icon = leaflet::div_icon(&js_object!({
        "className": class,
        "html": format!("<span style=\"{style}\">{}</span>{count}", escape_html(&label)),
        "iconSize": [width, 26],
        "iconAnchor": [width / 2 - shift, 13 - shift],
    }));
    let title = members
        .iter()
        .map(|p| match &p.doubt {
            Some(doubt) => format!("{} · {} (doubtful: {doubt})", p.ttl, p.label),
            None => format!("{} · {}", p.ttl, p.label),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let alt = if ttls.len() > 1 { format!("Hops {}", ttl_label(&ttls)) } else { format!("Hop {label}") };
    let marker_options = js_object!({ "title": title, "alt": alt, "riseOnHover": true });
    let _ = js_sys::Reflect::set(&marker_options, &"icon".into(), &icon);
    let marker = leaflet::marker(&to_js(&crowd.position), &marker_options);
    let tooltip = members
        .iter()
        .map(|p| {
            let rtt = p.rtt_ms.map(|ms| format!(" · {}", crate::state::format_rtt(ms))).unwrap_or_default();
            let doubt = p
                .doubt
                .as_ref()
                .map(|d| format!("<br><span class=\"doubt\">{}</span>", escape_html(d)))
                .unwrap_or_default();
            format!("<b>{}</b> {}{}{doubt}", p.ttl, escape_html(&p.label), escape_html(&rtt))
        })
        .collect::<Vec<_>>()
        .join("<br>");
    // `auto` puts the tooltip on the side of the marker that faces the map's middle, so it stays inside the map.
    marker.bind_tooltip(&tooltip, &js_object!({"direction": "auto", "offset": [0, 0]}));
    Some(marker)
}

/// Sets `data-ttl` (the first hop), `data-ttls` (all, space-separated) and `data-addresses` on a marker's element
/// once it is on the map: the hooks the highlight, the tests and the styles use.
pub fn tag_marker(marker: &Layer, ttls: &[u8], addresses: &[&str]) {
    if let Some(element) = marker.get_element() {
        let _ = element.set_attribute("data-addresses", &addresses.join(" "));
        if let Some(first) = ttls.first() {
            let _ = element.set_attribute("data-ttl", &first.to_string());
        }
        let all = ttls.iter().map(u8::to_string).collect::<Vec<_>>().join(" ");
        let _ = element.set_attribute("data-ttls", &all);
    }
}

/// The start of the route: where the server (the prober) stands.
pub fn origin_marker(position: LatLon) -> Layer {
    let icon = leaflet::div_icon(&js_object!({
        "className": "origin-marker",
        "html": "<span></span><b class=\"origin-label\">Start</b>",
        "iconSize": [18, 18],
        "iconAnchor": [9, 9],
    }));
    let marker_options = js_object!({
        "title": "This tracemap server (the start)",
        "alt": "Start",
        "keyboard": false,
        // Above the hop markers: the first hop is often in the same city, and the route needs a visible start.
        "zIndexOffset": 1000,
    });
    let _ = js_sys::Reflect::set(&marker_options, &"icon".into(), &icon);
    let marker = leaflet::marker(&to_js(&position), &marker_options);
    marker.bind_tooltip("Start: this tracemap server", &js_object!({"direction": "auto"}));
    marker
}

/// Gives a route's line, once on the map, its colour among several: set on the element's own style, which beats the
/// stylesheet's theme colour (`path.route-line`), so the palette has one home, [`crate::group::PALETTE`].
pub fn paint_route(line: &Layer, colour: &str) {
    if let Some(element) = line.get_element() {
        let _ = element.set_attribute("style", &format!("stroke:{colour}"));
    }
}

/// The start of another route on show (a group's): a dot in the route's colour, labelled with where it runs from.
pub fn vantage_marker(position: LatLon, name: &str, colour: &str) -> Layer {
    let name = escape_html(name);
    let icon = leaflet::div_icon(&js_object!({
        "className": "vantage-marker",
        "html": format!("<span style=\"background:{colour}\"></span><b class=\"vantage-marker-label\">{name}</b>"),
        "iconSize": [14, 14],
        "iconAnchor": [7, 7],
    }));
    let options =
        js_object!({"title": format!("Start of the route from {name}"), "keyboard": false, "interactive": false});
    let _ = js_sys::Reflect::set(&options, &"icon".into(), &icon);
    leaflet::marker(&to_js(&position), &options)
}

/// The area within which the database places a hop (`accuracy_km`), as a faint circle.
pub fn accuracy_circle(position: LatLon, km: u32) -> Layer {
    leaflet::circle(
        &to_js(&position),
        &js_object!({
            "radius": f64::from(km) * 1000.0,
            "className": "accuracy",
            "color": "#1c7ed6",
            "weight": 1,
            "opacity": 0.5,
            "fillOpacity": 0.08,
            "interactive": false,
        }),
    )
}

/// The operator's tile layer (`--tiles`), credited with its attribution as plain text.
pub fn tile_basemap(tiles: &TileLayer) -> Layer {
    leaflet::tile_layer(
        &tiles.url,
        &js_object!({
            "attribution": escape_html(&tiles.attribution),
            "maxZoom": 19,
            "className": "tile-basemap",
        }),
    )
}

/// Fetches the world-atlas topology, decodes it in Rust and returns it as a layer for the basemap pane.
pub async fn basemap_layer() -> Result<Layer, String> {
    let text = crate::api::fetch_text(COUNTRIES_URL).await?;
    // Parsed by the browser (`crate::json`), not by `decode_object`: that would link serde_json into the page.
    let topology: topojson::Topology = crate::json::from_str(&text)?;
    let countries = topology.decode("countries").map_err(|e| e.to_string())?;
    let countries = antimeridian::world_copies(antimeridian::planar_features(countries), &[-360.0, 360.0]);
    let layer_options = js_object!({
        "pane": "basemap",
        "interactive": false,
        "attribution": "<a href=\"https://www.naturalearthdata.com\">Natural Earth</a>",
        "style": js_object!({
            "className": "country",
            "color": "#b4bcc6",
            "weight": 0.7,
            "fillColor": "#f7f5f0",
            "fillOpacity": 1,
        }),
    });
    // The basemap pane gets its own renderer; give it the same generous padding as the route's.
    if let Ok(renderer) = leaflet::try_svg_renderer(&js_object!({"pane": "basemap", "padding": RENDER_PADDING})) {
        let _ = js_sys::Reflect::set(&layer_options, &"renderer".into(), &renderer);
    }
    Ok(leaflet::geo_json(&to_js(&countries), &layer_options))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> LatLon {
        [lat, lon]
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
