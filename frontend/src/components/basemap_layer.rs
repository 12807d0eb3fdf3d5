//! The offline basemap layer: Natural Earth countries from npm `world-atlas`, decoded in Rust, under everything.

use super::route_map::MapContext;
use crate::map::basemap_layer;
use crate::map::leaflet::Layer;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Loads the countries once the map exists; renders nothing itself.
#[component]
pub fn BasemapLayer() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    let layer = StoredValue::new_local(None::<Layer>);
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(map) = ctx.map.get() else { return };
        if started.get_value() {
            return;
        }
        started.set_value(true);
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
