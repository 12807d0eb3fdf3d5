//! The status line (announced to screen readers) and the error banner with the server's own message.

use crate::session::Session;
use crate::state::{Phase, mode_note, status_text};
use leptos::prelude::*;
use tracemap_shared::TraceStatus;

/// One sentence on where the trace stands, and any error in plain words.
#[component]
pub fn StatusLine() -> impl IntoView {
    let session = expect_context::<Session>();
    let text = move || session.model.with(|m| status_text(&session.phase.get(), m.as_ref()));
    let mode = move || session.model.with(|m| m.as_ref().and_then(|m| mode_note(&m.report)));
    let state = move || {
        let status = session.model.with(|m| m.as_ref().map(|m| m.report.status));
        match (session.phase.get(), status) {
            (Phase::Starting(_) | Phase::Loading(_) | Phase::Reconnecting, _) => "busy",
            (_, Some(TraceStatus::Running)) => "running",
            (_, Some(TraceStatus::Finished)) => "finished",
            (_, Some(TraceStatus::Failed | TraceStatus::Interrupted)) => "failed",
            _ => "idle",
        }
    };
    view! {
        <div class="status-bar">
            <p id="status" class="status" data-state=state role="status" aria-live="polite">
                <span class="status-dot" aria-hidden="true"></span>
                {text}
                {move || mode().map(|note| view! { <span id="probe-mode" class="status-mode">{note}</span> })}
            </p>
            <Show when=move || session.error.with(Option::is_some)>
                <p id="error" class="error" role="alert">
                    {move || session.error.get()}
                </p>
            </Show>
        </div>
    }
}
