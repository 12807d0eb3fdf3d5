//! The route map: a Leaflet map created once its element is mounted, with one child component per layer.
//!
//! The map, the located hops and their layout (arcs, places, the start at the server's location) are provided to
//! the layer components through [`MapContext`]. The map itself follows the route (fits the view as it grows),
//! turns pointer and keyboard events on markers into the page's [`Focus`], and is removed when it unmounts. When
//! several routes are on show (a [`crate::group::Group`]), the others are drawn beside the session's in their own
//! colours, each from a marker naming its vantage point, and the legend names them all.

use super::{BasemapLayer, HopMarkers, RouteLine};
use crate::group::vantage_name;
use crate::map::layout::RouteLayout;
use crate::map::leaflet::LeafletMap;
use crate::map::{MapView, layer_effect, paint_route, route_lines, vantage_marker, view_bounds};
use crate::session::Session;
use crate::state::{RoutePoint, route_points};
use crate::stats::rtt_legend;
use crate::ui::{Focus, ServerConfig};
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// What the map's layer components draw on, and from.
#[derive(Debug, Clone, Copy)]
pub struct MapContext {
    /// The Leaflet map, once created.
    pub map: RwSignal<Option<LeafletMap>, LocalStorage>,
    /// The located hops in hop order.
    pub points: Memo<Vec<RoutePoint>>,
    /// Where the start, the hops and the arcs go.
    pub layout: Memo<RouteLayout>,
    /// The map's zoom level (markers that would overlap at it are grouped).
    pub zoom: RwSignal<f64>,
}

/// The TTL of the hop marker an event happened on, if any.
fn marker_ttl(event: &web_sys::Event) -> Option<u8> {
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(".hop-marker").ok()??.get_attribute("data-ttl")?.parse().ok()
}

/// The map beside the table.
#[component]
pub fn RouteMap() -> impl IntoView {
    let session = expect_context::<Session>();
    let focus = expect_context::<Focus>();
    let config = expect_context::<ServerConfig>();
    let element = NodeRef::<Div>::new();
    let view = StoredValue::new_local(None::<MapView>);
    let map = RwSignal::new_local(None::<LeafletMap>);
    let failure = RwSignal::new(None::<String>);
    let points =
        Memo::new(move |_| session.model.with(|m| m.as_ref().map(|m| route_points(&m.report)).unwrap_or_default()));
    // A route starts where its prober stood, as its `started` event says (an agent's place for a trace from an
    // agent); the server's own place for traces stored before the event carried one. Nothing before `started`, so
    // the view never flies to the server first and then to the agent.
    let origin = Memo::new(move |_| {
        let (started, own) = session.model.with(|m| {
            m.as_ref().map_or((false, None), |m| {
                (m.report.started_at_ms.is_some(), m.report.location.as_ref().map(|g| [g.lat, g.lon]))
            })
        });
        if !started {
            return None;
        }
        own.or_else(|| config.0.with(|c| c.as_ref().and_then(|c| c.location.as_ref().map(|g| [g.lat, g.lon]))))
    });
    let first_ttl = Memo::new(move |_| {
        session.model.with(|m| m.as_ref().and_then(|m| m.report.hops.first().map(|h| h.ttl)).unwrap_or(1))
    });
    let layout = Memo::new(move |_| {
        let has_trace = session.model.with(Option::is_some);
        // The start alone is no route: show it only once there is a trace to start.
        let origin = origin.get().filter(|_| has_trace);
        points.with(|p| RouteLayout::new(origin, first_ttl.get(), p))
    });
    let zoom = RwSignal::new(1.0);
    provide_context(MapContext { map, points, layout, zoom });
    // The group's other routes: colour, where each starts from (in words) and its layout.
    let others = Memo::new(move |_| {
        let shown = session.id.get();
        let own = config.0.with(|c| c.as_ref().and_then(|c| c.location.as_ref().map(|g| [g.lat, g.lon])));
        let ids = session.group.ids.get();
        session.group.models.with(|models| {
            ids.iter()
                .enumerate()
                .filter(|(_, id)| shown.as_ref() != Some(*id))
                .filter_map(|(i, id)| {
                    let report = &models.get(id)?.report;
                    let points = route_points(report);
                    let origin = report.started_at_ms.and(
                        report.location.as_ref().map(|g| [g.lat, g.lon]).or(if report.options.from.is_none() {
                            own
                        } else {
                            None
                        }),
                    );
                    let first_ttl = report.hops.first().map_or(1, |h| h.ttl);
                    Some((crate::group::colour(i), vantage_name(report), RouteLayout::new(origin, first_ttl, &points)))
                })
                .collect::<Vec<_>>()
        })
    });
    layer_effect(map, move |group| {
        others.with(|others| {
            for (colour, name, layout) in others {
                for line in route_lines(layout, None, Some(colour)) {
                    group.add_layer(&line);
                    paint_route(&line, colour);
                }
                if let Some(origin) = layout.origin {
                    group.add_layer(&vantage_marker(origin, name, colour));
                }
            }
        })
    });
    // The legend's routes: every member's colour and where it runs from, in the group's order.
    let legend_routes = Memo::new(move |_| session.group.members());

    Effect::new(move |_| {
        let Some(div) = element.get() else { return };
        if view.with_value(Option::is_some) {
            return;
        }
        match MapView::new(&div, move |z| zoom.set(z)) {
            Ok(created) => {
                map.set(Some(created.leaflet().clone()));
                view.set_value(Some(created));
            }
            Err(e) => failure.set(Some(e)),
        }
    });
    // The view follows the route as it grows.
    Effect::new(move |_| {
        let mut all: Vec<_> = layout.with(|l| l.all_points().collect());
        others.with(|o| all.extend(o.iter().flat_map(|(_, _, l)| l.all_points())));
        let bounds = view_bounds(&all);
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

    let on_over = move |ev: leptos::ev::MouseEvent| {
        if let Some(ttl) = marker_ttl(&ev) {
            focus.hovered.set(Some(ttl));
        }
    };
    let on_out = move |ev: leptos::ev::MouseEvent| {
        if marker_ttl(&ev).is_some() {
            focus.hovered.set(None);
        }
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(ttl) = marker_ttl(&ev) {
            focus.toggle(ttl);
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if matches!(ev.key().as_str(), "Enter" | " ")
            && let Some(ttl) = marker_ttl(&ev)
        {
            ev.prevent_default();
            focus.toggle(ttl);
        }
    };
    let on_focus_in = move |ev: leptos::ev::FocusEvent| {
        if let Some(ttl) = marker_ttl(&ev) {
            focus.hovered.set(Some(ttl));
        }
    };
    let on_focus_out = move |_: leptos::ev::FocusEvent| focus.hovered.set(None);

    view! {
        <div class="route-map-frame">
            <div
                id="map"
                class="route-map"
                node_ref=element
                aria-label="Map of the located hops"
                on:mouseover=on_over
                on:mouseout=on_out
                on:click=on_click
                on:keydown=on_key
                on:focusin=on_focus_in
                on:focusout=on_focus_out
            ></div>
            <BasemapLayer />
            <RouteLine />
            <HopMarkers />
            <Show when=move || failure.with(Option::is_some)>
                <p class="map-failure" role="alert">
                    {move || failure.get()}
                </p>
            </Show>
            <div class="map-legend" aria-label="Map legend">
                <span class="legend-group" hidden=move || legend_routes.with(Vec::is_empty)>
                    <span class="legend-title">"Routes"</span>
                    {move || {
                        legend_routes
                            .get()
                            .into_iter()
                            .map(|(_, colour, name)| {
                                view! {
                                    <span class="legend-item legend-route">
                                        <span class="legend-line" style=format!("border-color:{colour}")></span>
                                        {format!("from {name}")}
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                </span>
                // Hop markers (coloured by RTT) belong to the route whose table is shown; a comparison has none.
                <span
                    class="legend-group"
                    hidden=move || session.model.with(Option::is_none) && session.group.ids.with(|ids| !ids.is_empty())
                >
                    <span class="legend-title">"Median RTT"</span>
                    {rtt_legend()
                        .into_iter()
                        .map(|(label, colour)| {
                            view! {
                                <span class="legend-item">
                                    <span class="legend-swatch" style=format!("background:{colour}")></span>
                                    {label}
                                </span>
                            }
                        })
                        .collect_view()}
                    <span class="legend-item">
                        <span class="legend-dash" aria-hidden="true"></span>
                        "hops without a location"
                    </span>
                </span>
            </div>
        </div>
    }
}
