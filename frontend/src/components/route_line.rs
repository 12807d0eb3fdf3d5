//! The route: great-circle arcs between consecutive located stops, dashed where hops without a location lie between.
//! During a replay only the arcs up to its step are drawn. Among several routes it takes its own colour.

use super::route_map::MapContext;
use crate::map::{layer_effect, paint_route, route_lines};
use crate::ui::Focus;
use leptos::prelude::*;

/// Draws the arcs from the route layout; renders nothing itself.
#[component]
pub fn RouteLine() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    let focus = expect_context::<Focus>();
    let session = expect_context::<crate::session::Session>();
    layer_effect(ctx.map, move |group| {
        let step = focus.replay.get();
        let colour = session.id.with(|id| id.as_deref().and_then(|id| session.group.colour_of(id)));
        ctx.layout.with(|layout| {
            for line in route_lines(layout, step, colour) {
                group.add_layer(&line);
                if let Some(colour) = colour {
                    paint_route(&line, colour);
                }
            }
        })
    });
}
