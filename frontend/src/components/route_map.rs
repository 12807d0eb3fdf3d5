//! The route map: a Leaflet map created once its element is mounted, with one child component per layer.
//!
//! The map and the located hops are provided to the layer components through [`MapContext`]; the map itself only
//! follows the route (fits the view as it grows) and is removed when the component unmounts.

use super::{BasemapLayer, HopMarkers, RouteLine};
use crate::map::leaflet::LeafletMap;
use crate::map::{MapView, view_bounds};
use crate::session::Session;
use crate::state::{RoutePoint, route_points};
use leptos::html::Div;
use leptos::prelude::*;

/// What the map's layer components draw on, and from.
#[derive(Debug, Clone, Copy)]
pub struct MapContext {
    /// The Leaflet map, once created.
    pub map: RwSignal<Option<LeafletMap>, LocalStorage>,
    /// The located hops in hop order.
    pub points: Memo<Vec<RoutePoint>>,
}

/// The map beside the table.
#[component]
pub fn RouteMap() -> impl IntoView {
    let session = expect_context::<Session>();
    let element = NodeRef::<Div>::new();
    let view = StoredValue::new_local(None::<MapView>);
    let map = RwSignal::new_local(None::<LeafletMap>);
    let failure = RwSignal::new(None::<String>);
    let points =
        Memo::new(move |_| session.model.with(|m| m.as_ref().map(|m| route_points(&m.report)).unwrap_or_default()));
    provide_context(MapContext { map, points });

    Effect::new(move |_| {
        let Some(div) = element.get() else { return };
        if view.with_value(Option::is_some) {
            return;
        }
        match MapView::new(&div) {
            Ok(created) => {
                map.set(Some(created.leaflet().clone()));
                view.set_value(Some(created));
            }
            Err(e) => failure.set(Some(e)),
        }
    });
    // The view follows the route as it grows.
    Effect::new(move |_| {
        let bounds = points.with(|p| view_bounds(&p.iter().map(|p| [p.lat, p.lon]).collect::<Vec<_>>()));
        if map.with(Option::is_some) {
            view.with_value(|v| v.as_ref().map(|v| v.fit(bounds)));
        }
    });
    on_cleanup(move || {
        view.update_value(|v| {
            if let Some(v) = v.take() {
                v.remove();
            }
        })
    });

    view! {
        <div class="route-map-frame">
            <div id="map" class="route-map" node_ref=element aria-label="Map of the located hops"></div>
            <BasemapLayer />
            <RouteLine />
            <HopMarkers />
            <Show when=move || failure.with(Option::is_some)>
                <p class="map-failure" role="alert">
                    {move || failure.get()}
                </p>
            </Show>
        </div>
    }
}
