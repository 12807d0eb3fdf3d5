//! Sharing a trace: a button that copies its permalink, download links for the server's exports, and the list of
//! recent traces on this server (refreshed whenever a trace ends).

use crate::route::{permalink, presenter_query};
use crate::session::Session;
use crate::state::Phase;
use crate::state::{format_duration, settings_text, utc_time};
use crate::ui::Presenter;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tracemap_shared::{TraceReport, TraceStatus, TraceSummary};

/// How many recent traces the list shows.
const RECENT: usize = 8;

/// The permalink as a full URL on this server, keeping presenter mode when it is on.
fn full_link(id: &str, presenter: bool) -> String {
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    format!("{origin}{}{}", permalink(id), presenter_query(presenter))
}

/// Copy link and exports for the trace on show.
#[component]
pub fn ShareBar() -> impl IntoView {
    let session = expect_context::<Session>();
    let presenter = expect_context::<Presenter>();
    let copied = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let Some(id) = session.id.get_untracked() else { return };
        let link = full_link(&id, presenter.0.get_untracked());
        let Some(window) = web_sys::window() else { return };
        let promise = window.navigator().clipboard().write_text(&link);
        spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            copied.set(Some(if done { "Link copied." } else { "Could not copy; the link is in the address bar." }));
        });
    };
    let export = move |ext: &'static str| move || session.id.get().map(|id| format!("/api/traces/{id}.{ext}"));
    view! {
        <Show when=move || session.id.with(Option::is_some)>
            <div class="share-bar" role="group" aria-label="Share this trace">
                <button id="copy-link" type="button" class="secondary" on:click=copy>
                    "Copy link"
                </button>
                <span class="share-exports">
                    "Export: "
                    <a id="export-json" href=export("json") download>"JSON"</a>
                    " · "
                    <a id="export-csv" href=export("csv") download>"CSV"</a>
                    " · "
                    <a id="export-geojson" href=export("geojson") download>"GeoJSON"</a>
                </span>
                <span id="copy-status" class="copy-status" aria-live="polite">
                    {move || copied.get()}
                </span>
            </div>
        </Show>
    }
}

/// A summary's settings, as the status line words them.
fn summary_settings(summary: &TraceSummary) -> String {
    let mut report = TraceReport::new(summary.target.clone(), summary.protocol);
    report.address.clone_from(&summary.address);
    report.tries = summary.tries;
    report.max_hops = summary.max_hops;
    report.options = summary.options;
    settings_text(&report)
}

/// Recent traces on this server, newest first; each opens its permalink.
#[component]
pub fn RecentTraces() -> impl IntoView {
    let session = expect_context::<Session>();
    let traces = RwSignal::new(Vec::new());
    // Reload when the page starts and whenever the trace on show settles.
    let settled = Memo::new(move |_| {
        session.phase.get() == Phase::Settled
            && session.model.with(|m| m.as_ref().is_some_and(|m| m.report.status != TraceStatus::Running))
    });
    Effect::new(move |_| {
        settled.track();
        spawn_local(async move {
            if let Ok(list) = crate::api::fetch_recent(RECENT).await {
                traces.set(list.traces);
            }
        });
    });
    view! {
        <Show when=move || traces.with(|t| !t.is_empty())>
            <nav class="recent" aria-label="Recent traces">
                <h2 class="recent-title">"Recent traces"</h2>
                <ul id="recent-traces">
                    {move || {
                        traces
                            .get()
                            .into_iter()
                            .map(|t| {
                                let id = t.id.clone();
                                let open = move |ev: leptos::ev::MouseEvent| {
                                    ev.prevent_default();
                                    crate::session::push_history(&permalink(&id));
                                    session.open(id.clone());
                                };
                                let status = match t.status {
                                    TraceStatus::Running => "running".to_owned(),
                                    TraceStatus::Finished if t.destination_reached => format!("{} hops", t.hops),
                                    TraceStatus::Finished => format!("{} hops, no answer", t.hops),
                                    TraceStatus::Failed => "failed".to_owned(),
                                    TraceStatus::Interrupted => "interrupted".to_owned(),
                                    TraceStatus::Stopped => format!("stopped after {} hops", t.hops),
                                };
                                let settings = summary_settings(&t);
                                let took = t.duration_ms.map(|ms| format!(" in {}", format_duration(ms))).unwrap_or_default();
                                let when = utc_time(t.created_ms);
                                view! {
                                    <li>
                                        <a href=permalink(&t.id) on:click=open>
                                            {t.target.clone()}
                                        </a>
                                        <span class="recent-meta">
                                            {format!(" {settings} · {status}{took} · ")}
                                            <span class="recent-when">{when}</span>
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </nav>
        </Show>
    }
}
