//! The hop markers: one numbered marker per place (hops at the same place share one, and so do places that would
//! cover each other at the current zoom; a hop answered by several located routers has one per router), coloured by
//! round-trip time, hollow where the place cannot be true, the start of the route, and the accuracy circles. The marker of the focused hop is highlighted; during a replay,
//! markers of hops the replay has not reached yet are faded.

use super::route_map::MapContext;
use crate::map::crowd::crowds;
use crate::map::{accuracy_circle, layer_effect, origin_marker, place_marker, tag_marker};
use crate::ui::Focus;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Draws the markers; renders nothing itself.
#[component]
pub fn HopMarkers() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    let focus = expect_context::<Focus>();
    // Circles first, so markers stay on top and clickable.
    layer_effect(ctx.map, move |group| {
        ctx.layout.with(|layout| {
            ctx.points.with(|points| {
                for (point, position) in points.iter().zip(&layout.positions) {
                    if let Some(km) = point.accuracy_km.filter(|&km| km > 0) {
                        group.add_layer(&accuracy_circle(*position, km));
                    }
                }
            })
        })
    });
    let drawn = RwSignal::new(0u32);
    layer_effect(ctx.map, move |group| {
        ctx.layout.with(|layout| {
            if let Some(origin) = layout.origin {
                group.add_layer(&origin_marker(origin));
            }
            // Places whose markers would cover each other at this zoom share one (the zoom snaps to quarters).
            let zoom = ctx.zoom.get();
            ctx.points.with(|points| {
                for crowd in crowds(&layout.places, layout.origin, zoom) {
                    let Some(marker) = place_marker(&crowd, points) else { continue };
                    group.add_layer(&marker);
                    let mut ttls: Vec<u8> =
                        crowd.members.iter().filter_map(|&i| points.get(i).map(|p| p.ttl)).collect();
                    ttls.dedup();
                    let addresses: Vec<&str> =
                        crowd.members.iter().filter_map(|&i| points.get(i).map(|p| p.address.as_str())).collect();
                    tag_marker(&marker, &ttls, &addresses);
                }
            })
        });
        drawn.update(|n| *n = n.wrapping_add(1));
    });
    // The focused hop's marker stands out; markers are redrawn when the route changes, so re-apply after each draw.
    Effect::new(move |_| {
        drawn.track();
        let active = focus.active().map(|ttl| ttl.to_string());
        let step = focus.replay.get();
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Ok(markers) = document.query_selector_all("#map .hop-marker") else { return };
        for i in 0..markers.length() {
            let Some(element) = markers.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) else { continue };
            let ttls = element.get_attribute("data-ttls").unwrap_or_default();
            let on = active.as_ref().is_some_and(|ttl| ttls.split(' ').any(|t| t == ttl));
            let _ = element.class_list().toggle_with_force("highlighted", on);
            // A place is faded while every hop at it lies after the replay's step.
            let ahead = step.is_some_and(|step| ttls.split(' ').filter_map(|t| t.parse::<u8>().ok()).all(|t| t > step));
            let _ = element.class_list().toggle_with_force("ahead", ahead);
        }
    });
}
