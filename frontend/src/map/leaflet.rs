//! Hand-written bindings to the few Leaflet 1.9 calls tracemap makes (the global `L` from `leaflet.js`, which holds
//! only what `scripts/leaflet-entry.mjs` imports: a new binding needs its class or factory there too).
//!
//! Options are passed as plain JS objects built from JSON (see [`options`]), which keeps each binding one line and
//! mirrors Leaflet's own documentation. Calls that can fail when Leaflet did not load are marked `catch`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `L.Map`.
    #[derive(Debug, Clone)]
    #[wasm_bindgen(js_namespace = L, js_name = Map)]
    pub type LeafletMap;

    /// `L.map(element, options)`; fails when Leaflet is missing.
    #[wasm_bindgen(catch, js_namespace = L, js_name = map)]
    pub fn new_map(element: &web_sys::HtmlElement, options: &JsValue) -> Result<LeafletMap, JsValue>;

    /// `map.fitBounds([[south, west], [north, east]], options)`.
    #[wasm_bindgen(method, js_name = fitBounds)]
    pub fn fit_bounds(this: &LeafletMap, bounds: &JsValue, options: &JsValue);

    /// `map.createPane(name)`: a layer pane whose stacking order CSS can set.
    #[wasm_bindgen(method, js_name = createPane)]
    pub fn create_pane(this: &LeafletMap, name: &str) -> web_sys::HtmlElement;

    /// `map.invalidateSize()`: re-reads the element's size after the layout changed.
    #[wasm_bindgen(method, js_name = invalidateSize)]
    pub fn invalidate_size(this: &LeafletMap);

    /// `map.remove()`: destroys the map and its listeners.
    #[wasm_bindgen(method)]
    pub fn remove(this: &LeafletMap);

    /// `map.getZoom()`.
    #[wasm_bindgen(method, js_name = getZoom)]
    pub fn get_zoom(this: &LeafletMap) -> f64;

    /// `map.getContainer()`: the map's element.
    #[wasm_bindgen(method, js_name = getContainer)]
    pub fn get_container(this: &LeafletMap) -> web_sys::HtmlElement;

    /// `map.on(type, listener)`.
    #[wasm_bindgen(method, js_name = on)]
    pub fn on(this: &LeafletMap, kind: &str, listener: &js_sys::Function);

    /// `map.off(type, listener)`.
    #[wasm_bindgen(method, js_name = off)]
    pub fn off(this: &LeafletMap, kind: &str, listener: &js_sys::Function);

    /// `L.Layer`: the base of everything drawn on the map.
    #[derive(Debug, Clone)]
    #[wasm_bindgen(js_namespace = L, js_name = Layer)]
    pub type Layer;

    /// `layer.addTo(map)`.
    #[wasm_bindgen(method, js_name = addTo)]
    pub fn add_to(this: &Layer, map: &LeafletMap);

    /// `layer.remove()`: takes the layer off its map; fails when the map is already gone.
    #[wasm_bindgen(catch, method, js_name = remove)]
    pub fn try_remove(this: &Layer) -> Result<(), JsValue>;

    /// `layer.bindTooltip(html, options)`; the content is HTML, so callers escape text.
    #[wasm_bindgen(method, js_name = bindTooltip)]
    pub fn bind_tooltip(this: &Layer, html: &str, options: &JsValue);

    /// `layer.getElement()`: the marker's icon or the path's SVG element, once on a map.
    #[wasm_bindgen(method, js_name = getElement)]
    pub fn get_element(this: &Layer) -> Option<web_sys::Element>;

    /// `L.LayerGroup`: a set of layers added and cleared together.
    #[derive(Debug, Clone)]
    #[wasm_bindgen(js_namespace = L, js_name = LayerGroup, extends = Layer)]
    pub type LayerGroup;

    /// `L.layerGroup()`.
    #[wasm_bindgen(js_namespace = L, js_name = layerGroup)]
    pub fn layer_group() -> LayerGroup;

    /// `group.addLayer(layer)`.
    #[wasm_bindgen(method, js_name = addLayer)]
    pub fn add_layer(this: &LayerGroup, layer: &Layer);

    /// `group.clearLayers()`.
    #[wasm_bindgen(method, js_name = clearLayers)]
    pub fn clear_layers(this: &LayerGroup);

    /// `L.geoJSON(data, options)`.
    #[wasm_bindgen(js_namespace = L, js_name = geoJSON)]
    pub fn geo_json(data: &JsValue, options: &JsValue) -> Layer;

    /// `L.polyline([[lat, lon], ...], options)`.
    #[wasm_bindgen(js_namespace = L, js_name = polyline)]
    pub fn polyline(latlngs: &JsValue, options: &JsValue) -> Layer;

    /// `L.marker([lat, lon], options)`.
    #[wasm_bindgen(js_namespace = L, js_name = marker)]
    pub fn marker(latlng: &JsValue, options: &JsValue) -> Layer;

    /// `L.circle([lat, lon], options)`: a circle with a radius in metres (`options.radius`).
    #[wasm_bindgen(js_namespace = L, js_name = circle)]
    pub fn circle(latlng: &JsValue, options: &JsValue) -> Layer;

    /// `L.tileLayer(urlTemplate, options)`: a raster tile basemap.
    #[wasm_bindgen(js_namespace = L, js_name = tileLayer)]
    pub fn tile_layer(url: &str, options: &JsValue) -> Layer;

    /// `L.svg(options)`: the SVG renderer for vector layers; fails when Leaflet is missing.
    #[wasm_bindgen(catch, js_namespace = L, js_name = svg)]
    pub fn try_svg_renderer(options: &JsValue) -> Result<JsValue, JsValue>;

    /// `L.divIcon(options)`: a marker icon made of HTML, styled by CSS.
    #[wasm_bindgen(js_namespace = L, js_name = divIcon)]
    pub fn div_icon(options: &JsValue) -> JsValue;
}

/// A value as it goes into a Leaflet option bag (see [`js_object!`](crate::js_object)).
pub trait ToJs {
    /// The JS value.
    fn to_js(&self) -> JsValue;
}

macro_rules! to_js_number {
    ($($t:ty),*) => {$(
        impl ToJs for $t {
            fn to_js(&self) -> JsValue {
                JsValue::from_f64(f64::from(*self))
            }
        }
    )*};
}
to_js_number!(f64, f32, i32, u32, u16, u8);

impl ToJs for bool {
    fn to_js(&self) -> JsValue {
        JsValue::from_bool(*self)
    }
}
impl ToJs for str {
    fn to_js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}
impl ToJs for String {
    fn to_js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}
impl ToJs for JsValue {
    fn to_js(&self) -> JsValue {
        self.clone()
    }
}
impl<T: ToJs + ?Sized> ToJs for &T {
    fn to_js(&self) -> JsValue {
        (**self).to_js()
    }
}
impl<T: ToJs> ToJs for Option<T> {
    fn to_js(&self) -> JsValue {
        self.as_ref().map_or(JsValue::NULL, ToJs::to_js)
    }
}
impl<T: ToJs, const N: usize> ToJs for [T; N] {
    fn to_js(&self) -> JsValue {
        self.iter().map(ToJs::to_js).collect::<js_sys::Array>().into()
    }
}

/// A JS object for Leaflet's option bags, written like JSON: `js_object!({"weight": 3, "className": class})`.
///
/// Built field by field with `Reflect.set` rather than printed and parsed as JSON text: the page carries no JSON
/// printer (see `crate::json`). A nested object is another `js_object!`.
#[macro_export]
macro_rules! js_object {
    ({ $($key:literal : $value:expr),* $(,)? }) => {{
        let object = js_sys::Object::new();
        $( let _ = js_sys::Reflect::set(&object, &wasm_bindgen::JsValue::from_str($key),
            &$crate::map::leaflet::ToJs::to_js(&$value)); )*
        wasm_bindgen::JsValue::from(object)
    }};
}

/// A JS value shaped like `value`'s JSON (positions, bounds, the basemap's GeoJSON); `null` if it cannot be one.
pub fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> JsValue {
    crate::json::to_js(value).unwrap_or(JsValue::NULL)
}
