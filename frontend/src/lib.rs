//! tracemap's page: type a host, watch the route fill a table and a map as probes come back.
//!
//! [`App`] wires the [`session::Session`] (the trace model and its live connection) to the views: the form, the
//! status line, the replay, the hop table and the route map, all reading the one model that events fold into. Pure
//! logic lives in `state`, `stats`, `places`, `route`, `replay` and `map` (the words, `shared::words`) and is tested natively with
//! `cargo test -p tracemap-frontend`.

pub mod api;
pub mod class;
pub mod compare;
pub mod components;
pub mod group;
pub mod json;
pub mod map;
pub mod mine;
pub mod options;
pub mod places;
pub mod replay;
pub mod route;
pub mod session;
pub mod state;
pub mod stats;
pub mod ui;
pub mod vantage;
pub mod watch;
pub mod ws;

use components::{
    ClassPanel, ComparePanel, HopTable, PresenterToggle, RecentTraces, ReplayPanel, RouteMap, RouteTabs, ShareBar,
    SiteFooter, StatusLine, TraceForm, VantagePicker, WatchTimeline, presenter_requested,
};
use leptos::prelude::*;
use session::Session;
use tracemap_shared::ServerInfo;
use ui::{Focus, Presenter, ServerConfig};

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let session = Session::new();
    provide_context(session);
    let focus = Focus::new();
    provide_context(focus);
    let config = ServerConfig(RwSignal::new(None));
    provide_context(config);
    let presenter = Presenter(RwSignal::new(presenter_requested()));
    provide_context(presenter);
    provide_context(vantage::Vantage::new());
    provide_context(ui::ReplayControl(RwSignal::new(replay::Replay::new(0))));
    let following = ui::Following(RwSignal::new(None));
    provide_context(following);
    // A student's page follows the teacher's traces: no form or vantage points of its own while the class lasts.
    let in_class = Memo::new(move |_| following.0.with(Option::is_some));
    // What the server says about itself (its location starts every route; an optional tile layer). Without an
    // answer the page still works: no start marker, the offline basemap.
    leptos::task::spawn_local(async move {
        let info = api::fetch_config().await.unwrap_or_else(|e| {
            web_sys::console::warn_1(&format!("tracemap: /api/config: {e}").into());
            ServerInfo::default()
        });
        config.0.set(Some(info));
    });
    // A new trace on show starts with nothing focused.
    Effect::new(move |_| {
        session.model.with(|m| m.as_ref().and_then(|m| m.report.id.clone()));
        focus.selected.set(None);
        focus.hovered.set(None);
    });

    // The address bar decides what is on show: a permalink opens its trace (among the other routes of its group,
    // `?routes=`), a compare page draws its two routes; back and forward follow history.
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    let comparing = compare::ids_from_path(&path);
    let follow_location = move || {
        let location = web_sys::window().map(|w| w.location());
        let path = location.as_ref().and_then(|l| l.pathname().ok()).unwrap_or_default();
        let search = location.as_ref().and_then(|l| l.search().ok()).unwrap_or_default();
        if let Some((a, b)) = compare::ids_from_path(&path) {
            session.group.show(vec![a, b]);
            return;
        }
        match route::trace_id_from_path(&path) {
            Some(id) => {
                let mut ids = route::routes_in(&search);
                if !ids.is_empty() && !ids.contains(&id) {
                    ids.insert(0, id.clone());
                }
                session.group.show(ids);
                if session.id.get_untracked().as_deref() != Some(id.as_str())
                    || session.model.with_untracked(Option::is_none)
                {
                    session.open(id);
                }
            }
            None => session.reset(),
        }
    };
    follow_location();
    let _ = window_event_listener(leptos::ev::popstate, move |_| follow_location());
    // Another page in the tab: the live sockets close, and open again if the page comes back from the cache.
    ui::on_hide_and_restore(move || session.suspend(), move || session.resume());

    // The tab says what it traces, so several open traces can be told apart.
    Effect::new(move |_| {
        let target = session.model.with(|m| m.as_ref().map(|m| m.report.target.clone()).filter(|t| !t.is_empty()));
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&target.map_or_else(|| "tracemap".to_owned(), |t| format!("{t} · tracemap")));
        }
    });

    // `/t/{id}?embed=1`: the compact view for an iframe (map and a slim table, a link to the full trace).
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    if let Some(id) = route::trace_id_from_path(&path).filter(|_| route::embed_in(&search)) {
        return embedded(&id).into_any();
    }

    view! {
        <div class="app">
            <div class="stage">
            <header class="app-header">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "tracemap"
                </a>
                {move || (!in_class.get()).then(|| view! { <TraceForm /> <VantagePicker /> })}
                <PresenterToggle />
            </header>
            {if comparing.is_some() {
                // A comparison shows its side-by-side table and both routes on the map, nothing else.
                view! {
                    <main class="layout">
                        <section class="table-pane" aria-label="Two routes compared">
                            <ComparePanel />
                        </section>
                        <section class="map-pane" aria-label="Both routes on the map">
                            <RouteMap />
                        </section>
                    </main>
                }
                    .into_any()
            } else {
                view! {
                    <StatusLine />
                    <ShareBar />
                    <ClassPanel />
                    <ReplayPanel />
                    <WatchTimeline />
                    <RouteTabs />
                    <main class="layout">
                        <section class="table-pane" aria-label="Hops">
                            <HopTable />
                        </section>
                        <section class="map-pane" aria-label="Route map">
                            <RouteMap />
                        </section>
                    </main>
                }
                    .into_any()
            }}
            </div>
            <RecentTraces />
            <SiteFooter />
        </div>
    }
    .into_any()
}

/// The compact view of trace `id` for an iframe in a course page or a slide: the map above a slim table (first
/// try, host, place, loss), the credits, and a link that opens the full trace in a new tab. No form, header,
/// replay or history.
fn embedded(id: &str) -> impl IntoView {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.class_list().add_1("embed");
    }
    let full = route::permalink(id);
    view! {
        <div class="app embed-view">
            <main class="layout">
                <section class="map-pane" aria-label="Route map">
                    <RouteMap />
                </section>
                <section class="table-pane" aria-label="Hops">
                    <HopTable />
                </section>
            </main>
            <p class="embed-link">
                <a id="embed-full" href=full target="_blank" rel="noopener">
                    "Open the full trace on tracemap ↗"
                </a>
            </p>
            <SiteFooter />
        </div>
    }
}
