//! The route: great-circle arcs between consecutive located stops, dashed where hops without a location lie between.

use super::route_map::MapContext;
use crate::map::{layer_effect, route_lines};
use leptos::prelude::*;

/// Draws the arcs from the route layout; renders nothing itself.
#[component]
pub fn RouteLine() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    layer_effect(ctx.map, move |group| {
        ctx.layout.with(|layout| {
            for line in route_lines(layout) {
                group.add_layer(&line);
            }
        })
    });
}
