//! The timeline of a watch that is over: a slider through its rounds. Moving it shows the table and the map as they
//! stood at the end of that round (the events up to it, folded again); the far right is the whole watch.

use crate::session::Session;
use crate::watch::round_label;
use leptos::prelude::*;
use tracemap_shared::TraceStatus;

/// The slider under the replay bar; shown for a watch once it is over.
#[component]
pub fn WatchTimeline() -> impl IntoView {
    let session = expect_context::<Session>();
    // (rounds, the round shown, its label) of the watch on show, once it is over.
    let timeline = Memo::new(move |_| {
        session.model.with(|m| {
            let m = m.as_ref().filter(|m| m.report.status != TraceStatus::Running)?;
            let log = m.watch.as_ref()?;
            let rounds = log.rounds();
            (rounds > 1).then(|| {
                let shown = log.shown_round.unwrap_or(rounds);
                (rounds, shown, round_label(&m.report, log, shown))
            })
        })
    });
    // The slider's value, once per change (input while dragging, change when let go: the same round twice is
    // folded once).
    let go = move |ev: &leptos::ev::Event| {
        let Ok(round) = event_target_value(ev).parse::<u32>() else { return };
        if timeline.with_untracked(|t| t.as_ref().is_some_and(|t| t.1 == round)) {
            return;
        }
        session.model.update(|m| {
            if let Some(m) = m.as_mut() {
                *m = m.at_round(round);
            }
        });
    };
    view! {
        // Always in the page, hidden when there is no timeline: the slider keeps its focus while it is used.
        <section class="watch-timeline" aria-label="Rounds of the watch" hidden=move || timeline.with(Option::is_none)>
                <label for="watch-round">"Round"</label>
                <input
                    id="watch-round"
                    type="range"
                    min="1"
                    max=move || timeline.with(|t| t.as_ref().map_or(1, |t| t.0)).to_string()
                    prop:value=move || timeline.with(|t| t.as_ref().map_or(1, |t| t.1)).to_string()
                    on:input=move |ev| go(&ev)
                    on:change=move |ev| go(&ev)
                />
                <output for="watch-round" id="watch-round-label">
                    {move || timeline.with(|t| t.as_ref().map(|t| t.2.clone()).unwrap_or_default())}
                </output>
        </section>
    }
}
