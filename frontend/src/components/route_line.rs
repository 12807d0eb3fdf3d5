//! The route line: located hops joined in hop order.

use super::route_map::MapContext;
use crate::map::{layer_effect, route_line};
use leptos::prelude::*;

/// Draws the line from the located hops; renders nothing itself.
#[component]
pub fn RouteLine() -> impl IntoView {
    let ctx = expect_context::<MapContext>();
    layer_effect(ctx.map, move |group| {
        if let Some(line) = ctx.points.with(|points| route_line(points)) {
            group.add_layer(&line);
        }
    });
}
