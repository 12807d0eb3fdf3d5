//! The basemap under everything: the operator's tile layer when `/api/config` names one, otherwise the offline
//! Natural Earth countries from npm `world-atlas`, decoded in Rust.

use super::route_map::MapContext;
use crate::map::leaflet::Layer;
use crate::map::{basemap_layer, tile_basemap};
use crate::ui::ServerConfig;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Adds the basemap once the map exists and the server's configuration is known; renders nothing itself.
#[component]
pub fn BasemapLayer() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    let config = expect_context::<ServerConfig>();
    let layer = StoredValue::new_local(None::<Layer>);
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(map) = ctx.map.get() else { return };
        // Wait for `/api/config` (it answers at once; on failure the page falls back to the offline map).
        let Some(tiles) = config.0.with(|c| c.as_ref().map(|c| c.tiles.clone())) else { return };
        if started.get_value() {
            return;
        }
        started.set_value(true);
        if let Some(tiles) = tiles {
            let tiles = tile_basemap(&tiles);
            tiles.add_to(&map);
            layer.set_value(Some(tiles));
            if let Some(element) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("map"))
            {
                let _ = element.class_list().add_1("with-tiles");
            }
            return;
        }
        spawn_local(async move {
            match basemap_layer().await {
                Ok(countries) => {
                    countries.add_to(&map);
                    layer.set_value(Some(countries));
                }
                Err(e) => web_sys::console::warn_1(&format!("tracemap: basemap unavailable: {e}").into()),
            }
        });
    });
    on_cleanup(move || {
        layer.update_value(|l| {
            if let Some(l) = l.take() {
                let _ = l.try_remove();
            }
        })
    });
}
