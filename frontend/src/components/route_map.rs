//! The route map: a Leaflet map created once its element is mounted, redrawn whenever the located hops change.

use crate::map::RouteMapView;
use crate::session::Session;
use crate::state::route_points;
use leptos::html::Div;
use leptos::prelude::*;

/// The map beside the table.
#[component]
pub fn RouteMap() -> impl IntoView {
    let session = expect_context::<Session>();
    let element = NodeRef::<Div>::new();
    let view_state = StoredValue::new_local(None::<RouteMapView>);
    let failure = RwSignal::new(None::<String>);
    let points =
        Memo::new(move |_| session.model.with(|m| m.as_ref().map(|m| route_points(&m.report)).unwrap_or_default()));

    // One effect so the map always exists before the route is drawn on it.
    Effect::new(move |_| {
        let Some(div) = element.get() else { return };
        if view_state.with_value(Option::is_none) {
            match RouteMapView::new(&div) {
                Ok(map) => view_state.set_value(Some(map)),
                Err(e) => failure.set(Some(e)),
            }
        }
        points.with(|points| view_state.with_value(|map| map.as_ref().map(|map| map.draw_route(points))));
    });
    on_cleanup(move || {
        view_state.update_value(|map| {
            if let Some(map) = map.take() {
                map.remove();
            }
        })
    });

    view! {
        <div class="route-map-frame">
            <div id="map" class="route-map" node_ref=element aria-label="Map of the located hops"></div>
            <Show when=move || failure.with(Option::is_some)>
                <p class="map-failure" role="alert">
                    {move || failure.get()}
                </p>
            </Show>
        </div>
    }
}
