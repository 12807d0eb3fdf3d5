//! The status line (announced to screen readers) and the error banner with the server's own message.

use crate::session::Session;
use crate::state::{Phase, joined_note, mode_note, settings_note, status_text};
use leptos::prelude::*;
use tracemap_shared::TraceStatus;

/// One sentence on where the trace stands, and any error in plain words.
#[component]
pub fn StatusLine() -> impl IntoView {
    let session = expect_context::<Session>();
    // With an error on show the line says so too, rather than inviting the user to type as if nothing happened.
    let text = move || {
        let phase = session.phase.get();
        let problem = session.error.with(Option::is_some) || session.error_field.with(Option::is_some);
        let refused = problem && matches!(phase, Phase::Idle | Phase::Settled);
        session.model.with(|m| match (refused, m) {
            (true, None) => "The trace did not start: see the message under the form.".to_owned(),
            (true, Some(m)) => {
                format!("The new trace did not start (see below); still showing: {}", status_text(&phase, Some(m)))
            }
            (false, m) => status_text(&phase, m.as_ref()),
        })
    };
    let settings = move || session.model.with(|m| m.as_ref().and_then(|m| settings_note(&m.report)));
    let mode = move || session.model.with(|m| m.as_ref().and_then(|m| mode_note(&m.report)));
    let joined = move || session.model.with(|m| m.as_ref().and_then(|m| joined_note(&m.report)));
    let state = move || {
        let status = session.model.with(|m| m.as_ref().map(|m| m.report.status));
        match (session.phase.get(), status) {
            (Phase::Starting(_) | Phase::Loading(_) | Phase::Reconnecting, _) => "busy",
            (_, Some(TraceStatus::Running)) => "running",
            (_, Some(TraceStatus::Finished)) => "finished",
            (_, Some(TraceStatus::Failed | TraceStatus::Interrupted | TraceStatus::Stopped)) => "failed",
            _ => "idle",
        }
    };
    view! {
        <div class="status-bar">
            <p id="status" class="status" data-state=state role="status" aria-live="polite">
                <span class="status-dot" aria-hidden="true"></span>
                {text}
                {move || mode().map(|note| view! { <span id="probe-mode" class="status-mode">{note}</span> })}
                {move || settings().map(|note| view! { <span id="trace-settings" class="status-mode">{note}</span> })}
                {move || joined().map(|note| view! { <span id="trace-joined" class="status-mode">{note}</span> })}
            </p>
            <Show when=move || {
                // A joined trace shares its probe run with others: it ends by itself. Only the browser that started
                // a trace holds the token that stops it.
                state() == "running"
                    && session.phase.get() == Phase::Live
                    && joined().is_none()
                    && session.id.get().is_some_and(|id| session.mine.with(|list| list.iter().any(|t| t.id == id && t.delete_token.is_some())))
            }>
                <button id="stop-trace" type="button" class="secondary stop-trace" on:click=move |_| session.stop()>
                    "Stop"
                </button>
            </Show>
            // A problem the server found with an option is shown once, beside that option.
            <Show when=move || {
                session.error.with(Option::is_some)
                    && !session.error_field.get().is_some_and(|f| f != crate::options::Field::Target)
            }>
                <p id="error" class="error" role="alert">
                    {move || session.error.get()}
                </p>
            </Show>
        </div>
    }
}
