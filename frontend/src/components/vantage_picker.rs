//! The "From" choice beside the form: this server and its online agents, each with its place, as boxes to tick: one
//! or several (each a route of its own, drawn together on the map). Shown only when the server has agents
//! (`serve --nats`); the list is asked for at start and whenever the choice gets focus.

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

/// `<fieldset id="from">`: where the next trace runs from.
#[component]
pub fn VantagePicker() -> impl IntoView {
    let vantage = expect_context::<Vantage>();
    refresh(vantage);
    let choices = Memo::new(move |_| vantage.agents.with(|a| offered(a)));
    // A chosen agent that went offline is no longer offered: drop it rather than send a dead name.
    Effect::new(move |_| {
        let gone: Vec<String> = vantage
            .chosen
            .get()
            .into_iter()
            .filter(|name| choices.with(|c| !c.iter().any(|a| a.name == *name)))
            .collect();
        if !gone.is_empty() {
            vantage.chosen.update(|c| c.retain(|name| !gone.contains(name)));
        }
    });
    let toggle = move |name: String, on: bool| {
        vantage.chosen.update(|c| {
            c.retain(|n| *n != name);
            if on {
                c.push(name);
            }
        })
    };
    view! {
        <fieldset
            id="from"
            class="vantage"
            hidden=move || choices.with(Vec::is_empty)
            title="Where the trace runs from: this server, one of its agents elsewhere, or several (one route each)"
            on:focusin=move |_| refresh(vantage)
        >
            <legend class="vantage-label">"From"</legend>
            <label class="vantage-choice">
                <input
                    type="checkbox"
                    value=""
                    prop:checked=move || vantage.here.get() || vantage.chosen.with(Vec::is_empty)
                    on:change=move |ev| vantage.here.set(event_target_checked(&ev))
                />
                "this server"
            </label>
            {move || {
                choices
                    .get()
                    .into_iter()
                    .map(|agent| {
                        let text = label(&agent);
                        let (name, ticked) = (agent.name.clone(), agent.name.clone());
                        view! {
                            <label class="vantage-choice">
                                <input
                                    type="checkbox"
                                    value=agent.name
                                    prop:checked=move || vantage.chosen.with(|c| c.contains(&ticked))
                                    on:change=move |ev| toggle(name.clone(), event_target_checked(&ev))
                                />
                                {text}
                            </label>
                        }
                    })
                    .collect_view()
            }}
        </fieldset>
    }
}
