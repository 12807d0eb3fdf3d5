//! Sharing a trace: a button that copies its permalink (a group's link when several routes are on show), download
//! links for the server's exports and its offline HTML copy, and the list of the traces this browser started (the
//! server lists every trace only to its operator), any two of which can be picked and compared.

use crate::route::permalink;
use crate::session::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// How many of this browser's traces the list shows.
const RECENT: usize = 8;

/// The permalink of `id` among the routes `group` as a full URL on this server, keeping presenter mode when it is on.
fn full_link(id: &str, group: &[String], presenter: bool) -> String {
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    format!("{origin}{}", crate::route::with_presenter(&crate::route::group_link(id, group), presenter))
}

/// Copy link and exports for the trace on show.
#[component]
pub fn ShareBar() -> impl IntoView {
    let presenter = expect_context::<crate::ui::Presenter>();
    let session = expect_context::<Session>();
    let copied = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let Some(id) = session.id.get_untracked() else { return };
        let link = full_link(&id, &session.group.ids.get_untracked(), presenter.0.get_untracked());
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
                    " · "
                    <a
                        id="export-html"
                        href=export("html")
                        download
                        title="One HTML file with the map, the table and the replay, to open without a server"
                    >
                        "Download HTML"
                    </a>
                </span>
                <span id="copy-status" class="copy-status" aria-live="polite">
                    {move || copied.get()}
                </span>
            </div>
        </Show>
    }
}

/// The traces this browser started, newest first (kept in the browser, see [`crate::mine`]): each opens its
/// permalink, one with a delete token can be deleted from the server for good, and ticking two offers their
/// comparison (`/compare/{a}/{b}`).
#[component]
pub fn RecentTraces() -> impl IntoView {
    let session = expect_context::<Session>();
    let status = RwSignal::new(None::<String>);
    // The traces ticked for comparing, oldest tick first; a third tick lets go of the first.
    let picked = RwSignal::new(Vec::<String>::new());
    let pick = move |id: String, on: bool| {
        picked.update(|p| {
            p.retain(|i| *i != id);
            if on {
                p.push(id);
                if p.len() > 2 {
                    p.remove(0);
                }
            }
        })
    };
    let compare_link = move || match picked.get().as_slice() {
        [a, b] => Some(format!("/compare/{a}/{b}")),
        _ => None,
    };
    let delete = move |id: String, target: String, token: String| {
        let asked = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(&format!("Delete the trace to {target} from the server for good?")).ok()
            })
            .unwrap_or(false);
        if !asked {
            return;
        }
        spawn_local(async move {
            match crate::api::delete_trace(&id, &token).await {
                Ok(()) => {
                    session.remember(|list| crate::mine::without(list, &id));
                    if session.id.get_untracked().as_deref() == Some(id.as_str()) {
                        crate::session::push_history("/");
                        session.reset();
                    }
                    status.set(Some(format!("Deleted the trace to {target}.")));
                }
                Err(message) => status.set(Some(format!("Could not delete the trace to {target}: {message}"))),
            }
        });
    };
    view! {
        <Show when=move || session.mine.with(|t| !t.is_empty()) || status.with(Option::is_some)>
            <nav class="recent" aria-label="Your traces">
                <h2 class="recent-title">"Your traces"</h2>
                <ul id="recent-traces">
                    {move || {
                        session
                            .mine
                            .get()
                            .into_iter()
                            .take(RECENT)
                            .map(|t| {
                                let id = t.id.clone();
                                let open = move |ev: leptos::ev::MouseEvent| {
                                    ev.prevent_default();
                                    crate::session::push_history(&permalink(&id));
                                    session.group.show(Vec::new());
                                    session.open(id.clone());
                                };
                                let pick_id = t.id.clone();
                                let ticked_id = t.id.clone();
                                let pick_label = format!("Pick the trace to {} for comparing", t.target);
                                let remove = t.delete_token.clone().map(|token| {
                                    let (id, target) = (t.id.clone(), t.target.clone());
                                    let label = format!("Delete the trace to {}", t.target);
                                    view! {
                                        <button
                                            type="button"
                                            class="recent-delete"
                                            aria-label=label.clone()
                                            title=label
                                            on:click=move |_| delete(id.clone(), target.clone(), token.clone())
                                        >
                                            "delete"
                                        </button>
                                    }
                                });
                                view! {
                                    <li>
                                        <input
                                            type="checkbox"
                                            class="recent-pick"
                                            aria-label=pick_label.clone()
                                            title=pick_label
                                            prop:checked=move || picked.with(|p| p.contains(&ticked_id))
                                            on:change=move |ev| pick(pick_id.clone(), event_target_checked(&ev))
                                        />
                                        <a href=permalink(&t.id) on:click=open>
                                            {t.target.clone()}
                                        </a>
                                        <span class="recent-meta">{format!(" {} ", crate::mine::describe(&t))}</span>
                                        {remove}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
                <p class="recent-meta">
                    <a id="compare-picked" hidden=move || compare_link().is_none() href=compare_link>
                        "Compare the two ticked traces"
                    </a>
                    <span hidden=move || compare_link().is_some()>"Tick two traces to compare them."</span>
                </p>
                <p id="recent-status" class="recent-meta" aria-live="polite">
                    {move || status.get()}
                </p>
            </nav>
        </Show>
    }
}
