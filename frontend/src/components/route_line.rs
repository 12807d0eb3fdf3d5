//! The route: great-circle arcs between consecutive located stops, dashed where hops without a location lie between.
//! During a replay only the arcs up to its step are drawn.

use super::route_map::MapContext;
use crate::map::{layer_effect, route_lines};
use crate::ui::Focus;
use leptos::prelude::*;

/// Draws the arcs from the route layout; renders nothing itself.
#[component]
pub fn RouteLine() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    let focus = expect_context::<Focus>();
    layer_effect(ctx.map, move |group| {
        let step = focus.replay.get();
        ctx.layout.with(|layout| {
            for line in route_lines(layout, step) {
                group.add_layer(&line);
            }
        })
    });
}
