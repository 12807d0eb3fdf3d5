//! The hop markers: one numbered marker per located hop, tagged with its TTL for styling and tests.

use super::route_map::MapContext;
use crate::map::{hop_marker, layer_effect};
use leptos::prelude::*;

/// Draws a marker per located hop; renders nothing itself.
#[component]
pub fn HopMarkers() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    layer_effect(ctx.map, move |group| {
        ctx.points.with(|points| {
            for point in points {
                let marker = hop_marker(point);
                group.add_layer(&marker);
                if let Some(element) = marker.get_element() {
                    let _ = element.set_attribute("data-ttl", &point.ttl.to_string());
                }
            }
        })
    });
}
