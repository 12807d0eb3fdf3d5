//! One tab per route when several are on show (a request from several vantage points): each names where its route
//! starts, in the route's colour on the map; choosing one shows its table, its replay and its markers, and moves
//! the address bar to that route within the group's link.

use crate::route::group_link;
use crate::session::{Session, push_history};
use leptos::prelude::*;

/// The tab list above the table; renders nothing for a single trace.
#[component]
pub fn RouteTabs() -> impl IntoView {
    let session = expect_context::<Session>();
    let group = session.group;
    let tabs = Memo::new(move |_| group.members());
    let choose = move |id: String| {
        if session.id.get_untracked().as_deref() == Some(id.as_str()) {
            return;
        }
        push_history(&group_link(&id, &group.ids.get_untracked()));
        session.open(id);
    };
    view! {
        <div
            id="route-tabs"
            class="route-tabs"
            role="tablist"
            aria-label="Routes from each vantage point"
            hidden=move || tabs.with(Vec::is_empty)
        >
                {move || {
                    tabs.get()
                        .into_iter()
                        .map(|(id, colour, name)| {
                            let selected_id = id.clone();
                            let selected = move || session.id.with(|s| s.as_deref() == Some(selected_id.as_str()));
                            view! {
                                <button
                                    type="button"
                                    role="tab"
                                    class="route-tab"
                                    data-id=id.clone()
                                    aria-controls="hops"
                                    aria-selected=move || if selected() { "true" } else { "false" }
                                    on:click=move |_| choose(id.clone())
                                >
                                    <span class="legend-line" style=format!("border-color:{colour}") aria-hidden="true"></span>
                                    {format!("from {name}")}
                                </button>
                            }
                        })
                        .collect_view()
                }}
        </div>
    }
}
