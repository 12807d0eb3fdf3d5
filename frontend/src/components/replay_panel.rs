//! The replay of a finished trace, for teaching: play, pause, step back and forward, speed. Each step selects one
//! hop (its row and its marker light up) and explains it in one sentence built from the data (`shared::words::replay`).
//!
//! The state machine is `crate::replay`; this component turns buttons, keys and a timer into its commands. Keys
//! anywhere on the page (outside text fields): `K` play or pause, `J` back, `L` forward, `Escape` leaves the replay;
//! inside the toolbar the arrow keys step too.

use crate::replay::{Command, Replay, SPEEDS, speed_label};
use crate::session::Session;
use crate::state::replay_steps;
use crate::ui::Focus;
use leptos::prelude::*;
use std::time::Duration;
use tracemap_shared::TraceStatus;
use tracemap_shared::words::replay::{explain, explain_silent_tail};
use wasm_bindgen::JsCast;

/// Whether a key press belongs to a text field rather than to the page's shortcuts. Buttons, selects (the Speed
/// menu), checkboxes and table rows leave J, K and L to the replay.
pub(crate) fn typing(event: &web_sys::KeyboardEvent) -> bool {
    let Some(element) = event.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return false };
    let text_input = || {
        let kind = element.get_attribute("type").unwrap_or_default().to_ascii_lowercase();
        !matches!(
            kind.as_str(),
            "button" | "submit" | "reset" | "checkbox" | "radio" | "range" | "color" | "file" | "image"
        )
    };
    match element.tag_name().as_str() {
        "TEXTAREA" => true,
        "INPUT" => text_input(),
        _ => element.closest("[contenteditable]").ok().flatten().is_some(),
    }
}

/// Puts keyboard focus on the replay's play button once it is drawn, so J, K and L (and Enter) act at once.
fn focus_play_button() {
    request_animation_frame(|| {
        if let Some(button) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("replay-play"))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = button.focus();
        }
    });
}

/// Keeps `--replay-h` on `<html>` equal to the replay bar's height, for the phone layout, where the bar sticks to
/// the top and the map sticks right under it.
fn track_height(section: &web_sys::HtmlElement) -> Option<HeightTracker> {
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(js_sys::Array)>::new(|entries: js_sys::Array| {
        let Some(target) = entries
            .get(0)
            .dyn_into::<web_sys::ResizeObserverEntry>()
            .ok()
            .and_then(|e| e.target().dyn_into::<web_sys::HtmlElement>().ok())
        else {
            return;
        };
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = root.style().set_property("--replay-h", &format!("{}px", target.offset_height()));
        }
    });
    let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    observer.observe(section);
    Some((observer, callback))
}

/// A resize observer and the callback it calls (which must live as long as it does).
type HeightTracker = (web_sys::ResizeObserver, wasm_bindgen::closure::Closure<dyn FnMut(js_sys::Array)>);

/// The replay bar under the status line; shown once a trace has finished.
#[component]
pub fn ReplayPanel() -> impl IntoView {
    let session = expect_context::<Session>();
    let focus = expect_context::<Focus>();
    let replay = expect_context::<crate::ui::ReplayControl>().0;
    let following = expect_context::<crate::ui::Following>();
    let section = NodeRef::<leptos::html::Section>::new();
    let observer = StoredValue::new_local(None::<HeightTracker>);
    Effect::new(move |_| {
        if let Some(element) = section.get() {
            observer.update_value(|o| {
                if let Some((old, _)) = o.take() {
                    old.disconnect();
                }
                *o = track_height(&element);
            });
        }
    });
    let run = move |command: Command| replay.update(|r| *r = r.apply(command));
    // A student's own command (a button, a key) leaves the teacher's pace; the timer's ticks do not.
    let act = move |command: Command| {
        following.detach();
        run(command);
    };

    // Steps of the trace on show, once it is over (a live trace is watched, not replayed): one per table row, a
    // silent tail being one step.
    let steps = Memo::new(move |_| {
        session.model.with(|m| {
            m.as_ref()
                .filter(|m| m.report.status != TraceStatus::Running)
                .map(|m| replay_steps(&m.report))
                .unwrap_or_default()
        })
    });
    let ttls = Memo::new(move |_| steps.with(|s| s.iter().map(|(ttl, _)| *ttl).collect::<Vec<u8>>()));
    // A trace that has just ended, or a permalink that has just opened, hands the keyboard to the replay: the next
    // K plays it instead of typing into the host field.
    Effect::new(move |previous: Option<(Option<String>, bool)>| {
        let now = (session.id.get(), ttls.with(|t| !t.is_empty()));
        if now.1 && previous.as_ref() != Some(&now) {
            focus_play_button();
        }
        now
    });
    // A new trace starts a new replay; more hops (a late event) keep the current step.
    Effect::new(move |previous: Option<Option<String>>| {
        let id = session.id.get();
        let steps = ttls.with(Vec::len);
        let fresh = previous.is_some_and(|p| p != id);
        replay.update(|r| *r = if fresh { Replay::new(steps) } else { r.resized(steps) });
        id
    });

    // The step on show selects its hop; leaving the replay clears the selection it made.
    let current = Memo::new(move |_| replay.with(|r| r.position).and_then(|p| ttls.with(|t| t.get(p).copied())));
    Effect::new(move |was: Option<Option<u8>>| {
        let ttl = current.get();
        focus.replay.set(ttl);
        match ttl {
            Some(ttl) => focus.selected.set(Some(ttl)),
            None if was.flatten().is_some() => focus.selected.set(None),
            None => {}
        }
        ttl
    });
    // Picking another hop (row, marker) during the replay moves the replay there.
    Effect::new(move |_| {
        let Some(selected) = focus.selected.get() else { return };
        let Some(index) = ttls.with(|t| t.iter().position(|&ttl| ttl == selected)) else { return };
        if replay.with_untracked(|r| r.position.is_some_and(|p| p != index)) {
            replay.update(|r| {
                r.position = Some(index);
                r.playing = false;
            });
        }
    });

    // The timer: one tick per interval while playing; any change re-arms it.
    let timer = StoredValue::new_local(None::<TimeoutHandle>);
    let disarm = move || {
        timer.update_value(|t| {
            if let Some(handle) = t.take() {
                handle.clear();
            }
        })
    };
    Effect::new(move |_| {
        let interval = replay.with(|r| r.interval_ms());
        disarm();
        if let Some(ms) = interval {
            let handle = set_timeout_with_handle(move || run(Command::Tick), Duration::from_millis(u64::from(ms))).ok();
            timer.set_value(handle);
        }
    });
    on_cleanup(disarm);
    on_cleanup(move || focus.replay.set(None));

    // Shortcuts anywhere on the page.
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ttls.with_untracked(Vec::is_empty) || ev.ctrl_key() || ev.meta_key() || ev.alt_key() || typing(&ev) {
            return;
        }
        let command = match ev.key().as_str() {
            "k" | "K" => Command::Toggle,
            "j" | "J" => Command::Previous,
            "l" | "L" => Command::Next,
            "Escape" if replay.with_untracked(|r| r.position.is_some()) => Command::Stop,
            _ => return,
        };
        ev.prevent_default();
        act(command);
    });
    on_cleanup(move || keys.remove());
    let on_toolbar_key = move |ev: leptos::ev::KeyboardEvent| {
        let command = match ev.key().as_str() {
            "ArrowLeft" => Command::Previous,
            "ArrowRight" => Command::Next,
            "Home" => Command::First,
            "End" => Command::Last,
            _ => return,
        };
        ev.prevent_default();
        act(command);
    };

    let sentence = Memo::new(move |_| {
        let position = replay.with(|r| r.position)?;
        let (ttl, through) = steps.with(|s| s.get(position).copied())?;
        session.model.with(|m| {
            let report = &m.as_ref()?.report;
            match through {
                Some(last) => Some(explain_silent_tail(report, ttl, last)),
                None => report.hops.iter().find(|h| h.ttl == ttl).map(|hop| explain(report, hop)),
            }
        })
    });
    let active = move || replay.with(|r| r.position.is_some());
    let playing = move || replay.with(|r| r.playing);
    let at_start = move || replay.with(|r| r.position == Some(0));
    let at_end = move || replay.with(|r| r.position.is_some_and(|p| p + 1 >= r.steps));

    view! {
        <Show when=move || ttls.with(|t| !t.is_empty())>
            <section
                node_ref=section
                id="replay"
                class="replay"
                class:active=active
                aria-label="Replay the trace hop by hop"
                data-ttl=move || current.get().map(|t| t.to_string())
            >
                <div class="replay-controls" role="toolbar" aria-label="Replay controls" on:keydown=on_toolbar_key>
                    <button
                        id="replay-play"
                        type="button"
                        class="primary"
                        aria-keyshortcuts="K"
                        on:click=move |_| act(Command::Toggle)
                    >
                        {move || if playing() { "❚❚ Pause" } else if active() { "▶ Play" } else { "▶ Replay" }}
                    </button>
                    <button
                        id="replay-prev"
                        type="button"
                        aria-keyshortcuts="J"
                        aria-label="Previous hop"
                        title="Previous hop (J)"
                        disabled=at_start
                        on:click=move |_| act(Command::Previous)
                    >
                        "‹ Back"
                    </button>
                    <button
                        id="replay-next"
                        type="button"
                        aria-keyshortcuts="L"
                        aria-label="Next hop"
                        title="Next hop (L)"
                        disabled=at_end
                        on:click=move |_| act(Command::Next)
                    >
                        "Next ›"
                    </button>
                    <label class="replay-speed">
                        "Speed "
                        <select
                            id="replay-speed"
                            prop:value=move || replay.with(|r| r.speed.to_string())
                            on:change=move |ev| {
                                let value = event_target_value(&ev);
                                if let Some(speed) = SPEEDS.into_iter().find(|s| s.to_string() == value) {
                                    act(Command::Speed(speed));
                                }
                            }
                        >
                            {SPEEDS
                                .iter()
                                .map(|&s| view! { <option value=s.to_string()>{speed_label(s)}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <span id="replay-progress" class="replay-progress">
                        {move || replay.with(|r| r.progress())}
                    </span>
                    <Show when=active>
                        <button
                            id="replay-stop"
                            type="button"
                            class="quiet"
                            aria-keyshortcuts="Escape"
                            title="Leave the replay (Escape)"
                            on:click=move |_| act(Command::Stop)
                        >
                            "Done"
                        </button>
                    </Show>
                </div>
                <p id="replay-sentence" class="replay-sentence" aria-live="polite">
                    {move || match sentence.get() {
                        Some(text) => text.into_any(),
                        None => {
                            view! {
                                "Replay the trace one hop at a time, with what each answer means."
                                <span class="key-hint">" Keys: K play or pause, J back, L forward."</span>
                            }
                                .into_any()
                        }
                    }}
                </p>
            </section>
        </Show>
    }
}
