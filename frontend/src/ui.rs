//! Page-wide view state that is not part of any trace: which hop the user points at, what the server told us about
//! itself, and how the page is presented. Provided once by [`crate::App`] and read by the table, the map and the
//! replay, so pointing at a row lights up its marker and the other way round.

use leptos::prelude::*;
use tracemap_shared::ServerInfo;

/// Runs `hide` when the page is hidden (another page in its tab, or the tab closing) and `restore` when the
/// browser shows it again from its back-forward cache, until the calling component is dropped. A page kept in
/// that cache keeps its WebSockets open unless it closes them: the server would go on counting a viewer, or a
/// teacher, who has gone.
pub fn on_hide_and_restore(hide: impl Fn() + 'static, restore: impl Fn() + 'static) {
    let hidden = window_event_listener(leptos::ev::pagehide, move |_| hide());
    let shown = window_event_listener(leptos::ev::pageshow, move |ev| {
        if ev.persisted() {
            restore();
        }
    });
    on_cleanup(move || {
        hidden.remove();
        shown.remove();
    });
}

/// The hop the user is looking at: hovered (pointer over a row or marker) or selected (clicked, Enter, replay).
#[derive(Debug, Clone, Copy)]
pub struct Focus {
    /// TTL under the pointer.
    pub hovered: RwSignal<Option<u8>>,
    /// TTL chosen by click, keyboard or the replay.
    pub selected: RwSignal<Option<u8>>,
    /// The replay's step, while one is on show: hops after it are drawn faded, so the route grows step by step.
    pub replay: RwSignal<Option<u8>>,
}

impl Focus {
    /// Nothing pointed at.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Focus { hovered: RwSignal::new(None), selected: RwSignal::new(None), replay: RwSignal::new(None) }
    }

    /// The hop to highlight: the one under the pointer, else the selected one.
    pub fn active(self) -> Option<u8> {
        self.hovered.get().or_else(|| self.selected.get())
    }

    /// Whether hop `ttl` lies after the replay's step (faded until the replay reaches it).
    pub fn ahead_of_replay(self, ttl: u8) -> bool {
        self.replay.get().is_some_and(|step| ttl > step)
    }

    /// Selects `ttl`, or clears the selection when it is already selected.
    pub fn toggle(self, ttl: u8) {
        self.selected.update(|s| *s = if *s == Some(ttl) { None } else { Some(ttl) });
    }
}

/// `GET /api/config`, once it has answered.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig(pub RwSignal<Option<ServerInfo>>);

/// Presenter mode: large type and high contrast for a room with a projector.
#[derive(Debug, Clone, Copy)]
pub struct Presenter(pub RwSignal<bool>);

/// The replay's state, shared so a class can drive it: the teacher's page publishes its step, a student's page
/// follows it (see [`crate::components::ClassPanel`]).
#[derive(Debug, Clone, Copy)]
pub struct ReplayControl(pub RwSignal<crate::replay::Replay>);

/// On a student's page of a class: whether it follows the teacher (`Some(true)`), or the student steps on their
/// own (`Some(false)`: any replay command of theirs sets it). `None` outside a class.
#[derive(Debug, Clone, Copy)]
pub struct Following(pub RwSignal<Option<bool>>);

impl Following {
    /// The student took the replay into their own hands.
    pub fn detach(self) {
        if self.0.get_untracked() == Some(true) {
            self.0.set(Some(false));
        }
    }
}
