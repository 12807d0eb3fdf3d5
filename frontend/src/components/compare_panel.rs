//! `/compare/{a}/{b}`: two stored traces side by side in one table, each hop beside its counterpart, the routers
//! they share marked, and where they split and meet again (see [`crate::compare`]).

use crate::api;
use crate::compare::{Row, align, ids_from_path, summary};
use crate::group::vantage_name as vantage;
use crate::route::permalink;
use leptos::prelude::*;
use tracemap_shared::TraceReport;

fn cell(hop: &Option<(u8, Option<String>)>) -> (String, String) {
    match hop {
        Some((ttl, address)) => (ttl.to_string(), address.clone().unwrap_or_else(|| "*".to_owned())),
        None => (String::new(), String::new()),
    }
}

fn state(row: &Row) -> &'static str {
    match (row.shared, row.splits, row.meets) {
        (true, _, true) => "meet again",
        (true, _, false) => "shared",
        (false, true, _) => "split",
        _ => "",
    }
}

/// Shown only on a compare path; renders nothing elsewhere.
#[component]
pub fn ComparePanel() -> impl IntoView {
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    let Some((a, b)) = ids_from_path(&path) else { return ().into_any() };
    let loaded = RwSignal::new(None::<Result<(TraceReport, TraceReport), String>>);
    let (id_a, id_b) = (a.clone(), b.clone());
    leptos::task::spawn_local(async move {
        let both = match (api::fetch_trace(&id_a).await, api::fetch_trace(&id_b).await) {
            (Ok(x), Ok(y)) => Ok((x, y)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        loaded.set(Some(both));
    });
    view! {
        <section id="compare" class="compare" aria-label="Two routes compared">
            {move || match loaded.get() {
                None => view! { <p class="compare-summary">"Loading both traces…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="compare-summary" role="alert">{e}</p> }.into_any(),
                Some(Ok((ra, rb))) => {
                    let rows = align(&ra, &rb);
                    let sentence = summary(&rows);
                    let (head_a, head_b) = (vantage(&ra), vantage(&rb));
                    view! {
                        <h2 class="compare-title">
                            <a href=permalink(&a)>{format!("{} from {head_a}", ra.target)}</a>
                            " and "
                            <a href=permalink(&b)>{format!("{} from {head_b}", rb.target)}</a>
                        </h2>
                        <p id="compare-summary" class="compare-summary">{sentence}</p>
                        <table id="compare-table" class="compare-table">
                            <thead>
                                <tr>
                                    <th scope="col">"TTL"</th>
                                    <th scope="col">{head_a}</th>
                                    <th scope="col">""</th>
                                    <th scope="col">{head_b}</th>
                                    <th scope="col">"TTL"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .iter()
                                    .map(|row| {
                                        let ((ttl_a, addr_a), (ttl_b, addr_b)) = (cell(&row.a), cell(&row.b));
                                        let class = if row.shared { "shared" } else { "apart" };
                                        view! {
                                            <tr class=class>
                                                <td class="num">{ttl_a}</td>
                                                <td class="mono">{addr_a}</td>
                                                <td class="compare-state">{state(row)}</td>
                                                <td class="mono">{addr_b}</td>
                                                <td class="num">{ttl_b}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }}
        </section>
    }
    .into_any()
}
