//! The "From" choice beside the form: the server itself or one of its online agents, each with its place. Shown
//! only when the server has agents (`serve --nats`); the list is asked for at start and whenever it gets focus.

use crate::api;
use crate::vantage::{Vantage, label, offered};
use leptos::prelude::*;
use tracemap_shared::AgentList;

fn refresh(vantage: Vantage) {
    leptos::task::spawn_local(async move {
        match api::fetch_text("/api/agents").await.and_then(|t| crate::json::from_str::<AgentList>(&t)) {
            Ok(list) => vantage.agents.set(list.agents),
            Err(e) => web_sys::console::warn_1(&format!("tracemap: /api/agents: {e}").into()),
        }
    });
}

/// `<select id="from">`: where the next trace runs from.
#[component]
pub fn VantagePicker() -> impl IntoView {
    let vantage = expect_context::<Vantage>();
    refresh(vantage);
    let choices = Memo::new(move |_| vantage.agents.with(|a| offered(a)));
    // A chosen agent that went offline is no longer offered: fall back to the server rather than send a dead name.
    Effect::new(move |_| {
        let chosen = vantage.chosen.get();
        if chosen.is_some_and(|name| choices.with(|c| !c.iter().any(|a| a.name == name))) {
            vantage.chosen.set(None);
        }
    });
    view! {
        <label class="vantage" hidden=move || choices.with(Vec::is_empty)>
            <span class="vantage-label">"From"</span>
            <select
                id="from"
                title="Where the trace runs from: this server, or one of its agents elsewhere"
                on:focus=move |_| refresh(vantage)
                on:change=move |ev| {
                    let name = event_target_value(&ev);
                    vantage.chosen.set((!name.is_empty()).then_some(name));
                }
                prop:value=move || vantage.chosen.get().unwrap_or_default()
            >
                <option value="">"this server"</option>
                {move || {
                    choices
                        .get()
                        .into_iter()
                        .map(|agent| {
                            let text = label(&agent);
                            view! { <option value=agent.name>{text}</option> }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}
