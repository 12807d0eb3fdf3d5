//! The live hop table: one row per TTL, one cell per probe, filled in as events arrive. Rows are keyboard stops:
//! arrow keys (and Home, End) move between them, Enter or Space selects one, and a focused or hovered row lights up
//! its marker on the map. A hop answered by several addresses (a load balancer's routers) has a `+1` button that
//! shows each other address on a line of its own, with its own name, place, AS and how many tries it answered. A
//! watch shows each hop's statistics and sparkline instead of its tries, its loss where it happens, and its route
//! changes (`crate::watch`).

use crate::session::Session;
use crate::state::{AddressRow, ProbeCell, kind_note, mpls_badge};
use crate::ui::Focus;
use crate::watch::{WatchCells, ms};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The place, then where it came from (`DB-IP · within 20 km`), and a flag with the reason when it cannot be true.
fn location_cell(location: String, note: Option<String>, doubt: Option<String>) -> impl IntoView {
    let located = !location.is_empty();
    view! {
        {location}
        {note.filter(|_| located).map(|note| view! { <span class="place-source">{note}</span> })}
        {doubt
            .map(|why| {
                view! {
                    " "
                    <span class="place-doubt" title=why.clone() aria-label=format!("Doubtful place: {why}")>
                        "doubtful"
                    </span>
                }
            })}
    }
}

/// The line of one other address of a hop, beneath the hop's row when it is expanded.
/// `sent` is the number of tries, one column each.
fn address_line(ttl: u8, sent: usize, other: AddressRow) -> impl IntoView {
    let kind = other.kind.clone().filter(|k| k != "public" && other.location.is_empty());
    let tries = match other.answered_of {
        Some((answered, of)) => format!("answered {answered} of {of} probes over the rounds"),
        None => format!("answered {} of {sent} {}", other.tries, if sent == 1 { "try" } else { "tries" }),
    };
    let (address, doubtful) = (other.address.clone(), other.doubt.is_some());
    view! {
        <tr class="address-row" data-ttl=ttl.to_string() data-address=address>
            <td class="ttl"></td>
            <td class="address-tries" colspan=sent.to_string()>
                {tries}
            </td>
            <td class="host">{host_cell(other.hostname, Some(other.address))}</td>
            <td class="location" class:doubtful=doubtful>
                {location_cell(other.location, other.place_note, other.doubt)}
                {kind.map(|kind| format!("{kind} address"))}
            </td>
            <td class="asn">{asn_cell(other.asn)}</td>
            <td class="loss"></td>
        </tr>
    }
}

/// `hostname (ip)` with the parts styled apart (its text stays `hostname (ip)`), the ip alone, or `*`.
fn host_cell(hostname: Option<String>, address: Option<String>) -> impl IntoView {
    match (hostname, address) {
        (Some(name), Some(ip)) => view! {
            <span class="hostname">{name}</span>
            " "
            <span class="ip">{format!("({ip})")}</span>
        }
        .into_any(),
        (Some(name), None) => view! { <span class="hostname">{name}</span> }.into_any(),
        (None, Some(ip)) => view! { <span class="ip">{ip}</span> }.into_any(),
        (None, None) => view! { <span class="no-reply">"*"</span> }.into_any(),
    }
}

/// The AS number and, beneath it, the organisation that announces the address.
fn asn_cell(asn: Option<(u32, Option<String>)>) -> impl IntoView {
    asn.map(|(number, org)| {
        view! {
            <span class="as-number">{format!("AS{number}")}</span>
            {org.map(|org| view! { <span class="as-org">{org}</span> })}
        }
    })
}

/// A key on a hop row: Enter or Space selects (or unselects) its hop; arrows, Home and End move between rows.
fn row_key(focus: Focus, ttl: u8, ev: &leptos::ev::KeyboardEvent) {
    let key = ev.key();
    if matches!(key.as_str(), "Enter" | " ") {
        ev.prevent_default();
        focus.toggle(ttl);
    } else if focus_row(ev, &key) {
        ev.prevent_default();
    }
}

/// Moves keyboard focus from the row `event` happened in to another row: the next or previous one, or the first or
/// last of the table.
fn focus_row(event: &leptos::ev::KeyboardEvent, key: &str) -> bool {
    use wasm_bindgen::JsCast;
    let Some(row) = event.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return false };
    // The lines of a hop's other addresses are not stops: step over them.
    let is_hop = |row: &web_sys::Element| row.class_list().contains("hop-row");
    let step = |mut row: Option<web_sys::Element>, next: bool| {
        while let Some(r) = row.as_ref().filter(|r| !is_hop(r)) {
            row = if next { r.next_element_sibling() } else { r.previous_element_sibling() };
        }
        row
    };
    let target = match key {
        "ArrowDown" => step(row.next_element_sibling(), true),
        "ArrowUp" => step(row.previous_element_sibling(), false),
        "Home" => step(row.parent_element().and_then(|body| body.first_element_child()), true),
        "End" => step(row.parent_element().and_then(|body| body.last_element_child()), false),
        _ => None,
    };
    match target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        Some(target) => target.focus().is_ok(),
        None => false,
    }
}

/// One row for a silent run at the end of a finished trace: `hops 7–30: no answer`.
fn silent_run_row(ttl: u8, last: u8, span: usize, focus: Focus) -> impl IntoView {
    let highlighted = move || focus.active() == Some(ttl);
    let selected = move || focus.selected.get() == Some(ttl);
    view! {
        <tr
            class="hop-row silent-run"
            class:highlighted=highlighted
            class:ahead=move || focus.ahead_of_replay(ttl)
            data-ttl=ttl.to_string()
            data-through=last.to_string()
            tabindex="0"
            aria-current=move || if selected() { "true" } else { "false" }
            on:click=move |_| focus.toggle(ttl)
            on:keydown=move |ev| row_key(focus, ttl, &ev)
        >
            <td class="ttl">{format!("{ttl}–{last}")}</td>
            <td class="silent-run-text" colspan=span.to_string()>
                {format!("hops {ttl}–{last}: no answer")}
            </td>
        </tr>
    }
}

/// The statistics columns of a watch, in order: their header and tooltip.
const WATCH_COLUMNS: [(&str, &str); 8] = [
    ("Sent", "Probes sent over the rounds"),
    ("Last", "The latest round trip, ms"),
    ("Avg", "Mean round trip, ms"),
    ("Best", "Fastest round trip, ms"),
    ("Worst", "Slowest round trip, ms"),
    ("StDev", "Standard deviation of the round trips, ms"),
    ("Jitter", "Mean difference between consecutive round trips, ms"),
    ("RTT", "The latest 60 rounds: round trip (line) and lost probes (ticks)"),
];

/// The statistics cells of a watched hop (see [`WATCH_COLUMNS`]), sparkline last.
fn watch_cells(cells: &WatchCells) -> impl IntoView {
    let stats = &cells.stats;
    let figures = [
        stats.sent.to_string(),
        ms(stats.last_ms),
        ms(stats.avg_ms),
        ms(stats.best_ms),
        ms(stats.worst_ms),
        ms(stats.stddev_ms),
        ms(stats.jitter_ms),
    ];
    view! {
        {figures.into_iter().map(|figure| view! { <td class="stat">{figure}</td> }).collect_view()}
        // Markup of numbers only (see `watch::sparkline_svg`): one string, not a tree of SVG views.
        <td class="spark" inner_html=cells.spark.clone()></td>
    }
}

/// The table of hops; rows are re-rendered from the model (a route has at most a few dozen hops).
#[component]
pub fn HopTable() -> impl IntoView {
    let session = expect_context::<Session>();
    let focus = expect_context::<Focus>();
    // A hop picked on the map (or by the replay) scrolls its row into view.
    Effect::new(move |_| {
        let Some(ttl) = focus.selected.get() else { return };
        let selector = format!("#hops tr.hop-row[data-ttl=\"{ttl}\"]");
        if let Some(row) =
            web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector(&selector).ok().flatten())
        {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            row.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
    let rows = Memo::new(move |_| session.model.with(|m| m.as_ref().map(|m| m.rows()).unwrap_or_default()));
    let columns = Memo::new(move |_| session.model.with(|m| m.as_ref().map_or(3, |m| m.columns())));
    let watching = Memo::new(move |_| session.model.with(|m| m.as_ref().is_some_and(|m| m.watch.is_some())));
    // The columns between the hop and its host: the tries of a trace, the statistics of a watch.
    let middle = move || if watching.get() { WATCH_COLUMNS.len() } else { columns.get() };
    // Hops whose other addresses are shown.
    let expanded = RwSignal::new(BTreeSet::<u8>::new());

    view! {
        <div class="table-scroll">
            // More than three tries: narrower try columns, numbered under one "RTT ms" (see the style sheet).
            <table
                id="hops"
                class=move || match (watching.get(), columns.get() > 3) {
                    (true, _) => "hop-table watching",
                    (false, true) => "hop-table many-tries",
                    (false, false) => "hop-table",
                }
            >
                <thead>
                    <tr>
                        <th scope="col" class="ttl">
                            "Hop"
                        </th>
                        {move || {
                            watching
                                .get()
                                .then(|| {
                                    WATCH_COLUMNS
                                        .iter()
                                        .map(|(name, title)| {
                                            view! {
                                                <th scope="col" class="stat" title=*title>
                                                    {*name}
                                                </th>
                                            }
                                        })
                                        .collect_view()
                                })
                        }}
                        {move || {
                            (1..=columns.get())
                                .filter(|_| !watching.get())
                                .map(|i| {
                                    view! {
                                        <th scope="col" class="rtt">
                                            <span class="rtt-label">"RTT "</span>
                                            {i}
                                            <span class="rtt-unit">" ms"</span>
                                        </th>
                                    }
                                })
                                .collect_view()
                        }}
                        <th scope="col" class="host">
                            "Host"
                        </th>
                        <th scope="col" class="location">
                            "Location"
                        </th>
                        <th scope="col" class="asn">
                            <abbr title="Autonomous system">"AS"</abbr>
                        </th>
                        <th scope="col" class="loss">
                            "Loss"
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows.get()
                            .into_iter()
                            .map(|row| {
                                let cells = row
                                    .cells
                                    .iter()
                                    .zip(row.titles.clone())
                                    .map(|(&cell, title)| {
                                        let class = match cell {
                                            ProbeCell::Pending => "rtt pending",
                                            ProbeCell::Lost => "rtt lost",
                                            ProbeCell::RateLimited => "rtt lost rate-limited",
                                            ProbeCell::Rtt(_) => "rtt",
                                        };
                                        let unit = matches!(cell, ProbeCell::Rtt(_)).then_some(" ms");
                                        let label = matches!(cell, ProbeCell::RateLimited).then(|| title.clone()).flatten();
                                        view! {
                                            <td class=class title=title aria-label=label>
                                                {cell.value()}
                                                <span class="unit">{unit}</span>
                                            </td>
                                        }
                                    })
                                    .collect_view();
                                let ttl = row.ttl;
                                if let Some(last) = row.through {
                                    return silent_run_row(ttl, last, middle() + 4, focus).into_any();
                                }
                                let watch = row.watch.clone();
                                let cells = match &watch {
                                    Some(watch) => watch_cells(watch).into_any(),
                                    None if watching.get_untracked() => {
                                        view! { <td class="stat" colspan=WATCH_COLUMNS.len().to_string()></td> }.into_any()
                                    }
                                    None => cells.into_any(),
                                };
                                let changes = watch.as_ref().map(|w| w.changes.clone()).unwrap_or_default();
                                let kind_note = row.kind.as_deref().map(kind_note);
                                let place_note = kind_note.clone().filter(|_| row.location.is_empty());
                                let as_note = kind_note.filter(|_| row.asn.is_none());
                                let doubtful = row.doubt.is_some();
                                let sent = if watching.get_untracked() { WATCH_COLUMNS.len() } else { row.cells.len() };
                                let others = row.others.clone();
                                let more = (!others.is_empty())
                                    .then(|| {
                                        let count = others.len();
                                        let open = move || expanded.with(|e| e.contains(&ttl));
                                        let label = move || {
                                            let verb = if open() { "Hide" } else { "Show" };
                                            let what = if count == 1 { "the other address" } else { "the other addresses" };
                                            format!("{verb} {what} that answered hop {ttl}")
                                        };
                                        view! {
                                            " "
                                            <button
                                                type="button"
                                                class="more-addresses"
                                                aria-expanded=move || open().to_string()
                                                aria-label=label
                                                title=label
                                                on:click=move |ev| {
                                                    ev.stop_propagation();
                                                    expanded
                                                        .update(|e| {
                                                            if !e.remove(&ttl) {
                                                                e.insert(ttl);
                                                            }
                                                        });
                                                }
                                                on:keydown=move |ev: leptos::ev::KeyboardEvent| ev.stop_propagation()
                                            >
                                                {format!("+{count}")}
                                            </button>
                                        }
                                    });
                                let lines = move || {
                                    expanded
                                        .with(|e| e.contains(&ttl))
                                        .then(|| {
                                            others
                                                .clone()
                                                .into_iter()
                                                .map(|other| address_line(ttl, sent, other))
                                                .collect_view()
                                        })
                                };
                                let highlighted = move || focus.active() == Some(ttl);
                                let selected = move || focus.selected.get() == Some(ttl);
                                view! {
                                    <tr
                                        class="hop-row"
                                        class:located=row.located
                                        class:highlighted=highlighted
                                        class:ahead=move || focus.ahead_of_replay(ttl)
                                        data-ttl=row.ttl.to_string()
                                        tabindex="0"
                                        aria-current=move || if selected() { "true" } else { "false" }
                                        on:mouseenter=move |_| focus.hovered.set(Some(ttl))
                                        on:mouseleave=move |_| focus.hovered.set(None)
                                        on:focus=move |_| focus.hovered.set(Some(ttl))
                                        on:blur=move |_| focus.hovered.set(None)
                                        on:click=move |_| focus.toggle(ttl)
                                        on:keydown=move |ev| row_key(focus, ttl, &ev)
                                    >
                                        <td class="ttl">{row.ttl}</td>
                                        {cells}
                                        <td class="host" title=row.host.clone()>
                                            {host_cell(row.hostname, row.address)}
                                            {more}
                                            {changes
                                                .into_iter()
                                                .map(|change| {
                                                    view! {
                                                        " "
                                                        <span class="route-change" title=change.clone() aria-label=change.clone()>
                                                            {change.split(" (").next().unwrap_or_default().to_owned()}
                                                        </span>
                                                    }
                                                })
                                                .collect_view()}
                                            {mpls_badge(&row.mpls)
                                                .map(|badge| {
                                                    view! {
                                                        " "
                                                        <span
                                                            class="mpls-badge"
                                                            title=row.mpls_title.clone()
                                                            aria-label=row.mpls_title.clone()
                                                        >
                                                            {badge}
                                                        </span>
                                                    }
                                                })}
                                        </td>
                                        <td class="location" class:doubtful=doubtful>
                                            {location_cell(row.location, row.place_note, row.doubt)}
                                            {place_note.map(|n| view! { <span class="kind-note">{n}</span> })}
                                        </td>
                                        <td class="asn">
                                            {asn_cell(row.asn)}
                                            {as_note.map(|n| view! { <span class="kind-note">{n}</span> })}
                                        </td>
                                        {match watch {
                                            Some(watch) => {
                                                let pct = if watch.stats.sent > 0 {
                                                    format!("{:.0} %", watch.stats.loss_pct)
                                                } else {
                                                    String::new()
                                                };
                                                view! {
                                                    <td class=watch.loss.class() title=watch.loss_title>
                                                        {pct}
                                                        {watch.loss_note.map(|note| view! { <span class="loss-where">{note}</span> })}
                                                    </td>
                                                }
                                                    .into_any()
                                            }
                                            None => {
                                                view! {
                                                    <td
                                                        class="loss"
                                                        class:lossy={row.loss.is_loss()}
                                                        class:silent={row.loss.silent()}
                                                        class:rate-limited={row.loss.rate_limited > 0}
                                                        title=row.loss.title()
                                                    >
                                                        {row.loss.label()}
                                                        {row.loss
                                                            .rate_limited_label()
                                                            .map(|rl| view! { <span class="loss-rl">{rl}</span> })}
                                                    </td>
                                                }
                                                    .into_any()
                                            }
                                        }}
                                    </tr>
                                    {lines}
                                }
                                    .into_any()
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
            <Show when=move || rows.with(Vec::is_empty)>
                <p class="table-empty">"Hops appear here as routers answer."</p>
            </Show>
        </div>
    }
}
