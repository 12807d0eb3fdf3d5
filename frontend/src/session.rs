//! One trace session on the page: start or open a trace, follow it live, recover from a dropped connection.
//!
//! The session owns the page's three signals (the [`TraceModel`], the [`Phase`] and the error to show) and the live
//! socket. Every start or open bumps a generation number; answers that belong to an older generation are ignored,
//! so a slow response from a previous trace can never draw over the current one.

use crate::api::{self, StartFailure};
use crate::group::Group;
use crate::mine::{self, MyTrace};
use crate::options::Field;
use crate::route::group_link;
use crate::state::{Phase, TraceModel};
use crate::ws::LiveSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use tracemap_shared::{TraceCreated, TraceReport, TraceRequest, TraceStatus};

/// Longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The page's trace session; cheap to copy into closures, provided to components through context.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The trace on show, if any.
    pub model: RwSignal<Option<TraceModel>>,
    /// Where the conversation with the server stands.
    pub phase: RwSignal<Phase>,
    /// The last failure, worded for a person.
    pub error: RwSignal<Option<String>>,
    /// Id of the trace on show (its permalink is `/t/{id}`).
    pub id: RwSignal<Option<String>>,
    /// The form field the server found fault with (`invalid_field`), to mark it inline.
    pub error_field: RwSignal<Option<Field>>,
    /// Bumped each time a stored trace is opened (a permalink, a recent trace, back or forward), so the form can
    /// take over its settings.
    pub opened: RwSignal<u64>,
    /// The traces this browser started (kept in `localStorage`, see [`crate::mine`]).
    pub mine: RwSignal<Vec<MyTrace>>,
    /// The other routes on show with this one (several vantage points, a comparison).
    pub group: Group,
    socket: StoredValue<Option<LiveSocket>, LocalStorage>,
    generation: StoredValue<u64>,
    retries: StoredValue<u32>,
}

impl Session {
    /// A session with nothing on show.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let mine = RwSignal::new(mine::load());
        Session {
            model: RwSignal::new(None),
            phase: RwSignal::new(Phase::Idle),
            error: RwSignal::new(None),
            error_field: RwSignal::new(None),
            opened: RwSignal::new(0),
            id: RwSignal::new(None),
            mine,
            group: Group::new(mine),
            socket: StoredValue::new_local(None),
            generation: StoredValue::new(0),
            retries: StoredValue::new(0),
        }
    }

    /// Starts the trace `request` asks for and, once the server accepts it, moves the address bar to its permalink.
    /// Until then the trace on show stays, and stays when the server refuses: the error is shown beside it. With
    /// several vantage points (`request.from` names agents, and `also_here` adds the server itself) every route
    /// started joins the [`Group`], the first one's table is shown, and the address bar gets the group's link.
    pub fn start(self, request: TraceRequest, also_here: bool) {
        let (target, protocol) = (request.target.clone(), request.protocol);
        let (port, family) = (request.port, Some(request.family).filter(|f| *f != tracemap_shared::Family::Auto));
        let generation = self.begin();
        self.phase.set(Phase::Starting(target.clone()));
        spawn_local(async move {
            let (started, failure) = create_all(request, also_here).await;
            if !self.is_current(generation) {
                return;
            }
            let Some((_, first)) = started.first().cloned() else {
                let Some(failure) = failure else { return };
                // The trace on show (if any) stays, with its address, link and exports.
                if failure.code.as_deref() == Some("invalid_field") {
                    self.error_field.set(Field::from_server_message(&failure.message));
                } else if failure.code.as_deref() == Some("invalid_target") {
                    self.error_field.set(Some(Field::Target));
                }
                self.error.set(Some(failure.sentence()));
                let shown = self.model.with_untracked(Option::is_some);
                self.phase.set(if shown { Phase::Settled } else { Phase::Idle });
                return;
            };
            self.model.set(None);
            let ids: Vec<String> = started.iter().map(|(_, c)| c.id.clone()).collect();
            self.group.show(ids.clone());
            push_history(&group_link(&first.id, &ids));
            self.id.set(Some(first.id.clone()));
            let mut report = TraceReport::new(target.clone(), protocol);
            report.joined_after_ms = first.joined_after_ms;
            self.model.set(Some(TraceModel::from_report(report)));
            self.connect(generation, first.id.clone());
            if let Some(failure) = failure {
                self.error.set(Some(failure.sentence()));
            }
            // After the live socket is on its way: the list can wait, the first replies cannot.
            let created_ms = js_sys::Date::now();
            self.remember(|mut list| {
                for (from, created) in started.into_iter().rev() {
                    let trace = MyTrace {
                        id: created.id,
                        target: target.clone(),
                        protocol,
                        created_ms,
                        port,
                        family,
                        delete_token: created.delete_token,
                        from,
                    };
                    list = mine::with_added(list, trace);
                }
                list
            });
        });
    }

    /// Shows trace `id` (a permalink): the stored report, then live events while it is still running.
    pub fn open(self, id: String) {
        let generation = self.begin();
        self.model.set(None);
        self.phase.set(Phase::Loading(id.clone()));
        self.id.set(Some(id.clone()));
        self.load(generation, id);
    }

    /// Stops the running trace on show, then shows it as the server stored it (`stopped`, with the hops so far).
    pub fn stop(self) {
        let Some(id) = self.id.get_untracked() else { return };
        let Some(token) = self.delete_token(&id) else { return };
        let generation = self.generation.get_value();
        // The live socket goes first: the server closes it as the trace stops, often before it answers the stop,
        // and a close while the trace still reads `running` would schedule a reconnection that loads the trace a
        // second time over the stored one.
        self.socket.set_value(None);
        spawn_local(async move {
            let stopped = api::stop_trace(&id, &token).await;
            if !self.is_current(generation) {
                return;
            }
            if let Err(message) = stopped {
                self.error.set(Some(message));
            } else {
                self.model.set(None);
            }
            // Stopped: the stored trace; refused (it had ended, say): whatever it is now, live again if it runs.
            self.load(generation, id);
        });
    }

    /// The page is hidden (another page in its tab; the browser may keep this one in its back-forward cache): the
    /// live sockets (this trace's and its group's) close, so the server does not count a viewer that is gone (a watch stops 10 s after its last).
    pub fn suspend(self) {
        self.socket.set_value(None);
        self.group.suspend();
    }

    /// The page is shown again from the back-forward cache: a trace that was running is followed again (the
    /// server replays its events; the fold ignores repeats), or shown as it ended meanwhile.
    pub fn resume(self) {
        self.group.resume();
        let Some(id) = self.id.get_untracked() else { return };
        if self.shows_running() && self.socket.with_value(Option::is_none) {
            self.phase.set(Phase::Reconnecting);
            self.load(self.generation.get_value(), id);
        }
    }

    /// Whether the trace on show is running, as far as the page has folded it.
    fn shows_running(self) -> bool {
        self.model.with_untracked(|m| m.as_ref().is_some_and(|m| m.report.status == TraceStatus::Running))
    }

    /// The delete token of trace `id` if this browser started it: it may stop and delete it.
    pub fn delete_token(self, id: &str) -> Option<String> {
        self.mine.with_untracked(|list| list.iter().find(|t| t.id == id).and_then(|t| t.delete_token.clone()))
    }

    /// Changes the list of this browser's traces, and keeps it.
    pub fn remember(self, change: impl FnOnce(Vec<MyTrace>) -> Vec<MyTrace>) {
        let list = change(self.mine.get_untracked());
        mine::save(&list);
        self.mine.set(list);
    }

    /// Back to an empty page.
    pub fn reset(self) {
        self.begin();
        self.group.show(Vec::new());
        self.id.set(None);
        self.model.set(None);
        self.phase.set(Phase::Idle);
    }

    /// Starts a new generation: drops the old socket and error.
    fn begin(self) -> u64 {
        self.socket.set_value(None);
        self.retries.set_value(0);
        self.error.set(None);
        self.error_field.set(None);
        self.generation.update_value(|g| *g += 1);
        self.generation.get_value()
    }

    fn is_current(self, generation: u64) -> bool {
        self.generation.get_value() == generation
    }

    fn load(self, generation: u64, id: String) {
        spawn_local(async move {
            let report = api::fetch_trace(&id).await;
            if !self.is_current(generation) {
                return;
            }
            match report {
                Ok(report) if crate::watch::is_watch(&report) => {
                    // A watch's statistics count every event, so its events are folded once, from the start: the
                    // socket replays them all. A stored watch's report is already their fold; its events are only
                    // kept, for the sparklines and the timeline.
                    let running = report.status == TraceStatus::Running;
                    let resuming = running && self.phase.get_untracked() == Phase::Reconnecting;
                    let mut model = TraceModel::from_report(report.clone());
                    if running {
                        model = TraceModel::from_report(TraceReport::new(report.target.clone(), report.protocol));
                        model.report.id = report.id.clone();
                    }
                    self.model.set(Some(model));
                    if !resuming {
                        // The form takes the settings of the report as stored.
                        self.model.update(|m| {
                            if let Some(m) = m.as_mut() {
                                m.report.options = report.options.clone();
                            }
                        });
                        self.opened.update(|n| *n += 1);
                    }
                    self.connect_with(generation, id, running);
                }
                Ok(report) => {
                    let running = report.status == TraceStatus::Running;
                    let resuming = running && self.phase.get_untracked() == Phase::Reconnecting;
                    // While resuming, keep what is drawn: the socket replays every event and the fold ignores repeats.
                    if !resuming || self.model.with_untracked(Option::is_none) {
                        self.model.set(Some(TraceModel::from_report(report)));
                    }
                    if !resuming {
                        self.opened.update(|n| *n += 1);
                    }
                    if running {
                        self.connect(generation, id);
                    } else {
                        self.phase.set(Phase::Settled);
                    }
                }
                Err(message) if self.phase.get_untracked() == Phase::Reconnecting => {
                    self.error.set(Some(message));
                    self.retry_later(generation, id);
                }
                Err(message) => {
                    self.error.set(Some(message));
                    self.phase.set(Phase::Idle);
                }
            }
        });
    }

    fn connect(self, generation: u64, id: String) {
        self.connect_with(generation, id, true);
    }

    /// Follows trace `id`'s events: folded into the model when `fold`, else only kept (a stored watch).
    fn connect_with(self, generation: u64, id: String, fold: bool) {
        let on_event = move |event: tracemap_shared::TraceEvent| {
            if !self.is_current(generation) {
                return;
            }
            self.model.update(|m| {
                let model = m.get_or_insert_with(TraceModel::default);
                if fold { model.apply(&event) } else { model.record(&event) }
            });
            if !fold {
                return;
            }
            self.retries.set_value(0);
            if let tracemap_shared::TraceEvent::Started { .. } = &event {
                // The list keeps what the server really ran (its default port, the family the name resolved to).
                let shown = self.id.get_untracked();
                let options = self.model.with_untracked(|m| m.as_ref().map(|m| m.report.options.clone()));
                if let (Some(shown), Some(options)) = (shown, options)
                    && self.mine.with_untracked(|list| list.iter().any(|t| t.id == shown))
                {
                    self.remember(|list| mine::with_settings(list, &shown, &options));
                }
            }
            if event.is_terminal() {
                self.phase.set(Phase::Settled);
            } else if self.phase.get_untracked() != Phase::Live {
                self.phase.set(Phase::Live);
                self.error.set(None);
            }
        };
        let closed_id = id.clone();
        let on_close = move || {
            if !self.is_current(generation) {
                return;
            }
            if self.shows_running() {
                self.phase.set(Phase::Reconnecting);
                self.retry_later(generation, closed_id.clone());
            } else {
                self.phase.set(Phase::Settled);
            }
        };
        match LiveSocket::connect(&id, on_event, on_close) {
            Ok(socket) => {
                self.socket.set_value(Some(socket));
                if !fold {
                    self.phase.set(Phase::Settled);
                } else if self.phase.get_untracked() != Phase::Reconnecting {
                    self.phase.set(Phase::Live);
                }
            }
            Err(message) => {
                self.error.set(Some(format!("Could not follow the trace live ({message}).")));
                self.phase.set(Phase::Settled);
            }
        }
    }

    /// Reloads the trace after an exponential backoff; the server replays past events, the fold ignores repeats.
    fn retry_later(self, generation: u64, id: String) {
        let attempt = self.retries.get_value();
        self.retries.set_value(attempt.saturating_add(1));
        let delay = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(8))).min(MAX_BACKOFF);
        set_timeout(
            move || {
                if self.is_current(generation) {
                    // The old socket is closed; dropping it here, outside its own callback, is safe.
                    self.socket.set_value(None);
                    self.load(generation, id);
                }
            },
            delay,
        );
    }
}

/// Starts the traces of one request: from the server itself when `also_here` or no agent is named, and from every
/// agent in `request.from`. Every trace started, each with the agent it runs on, and the first refusal.
async fn create_all(
    request: TraceRequest,
    also_here: bool,
) -> (Vec<(Option<String>, TraceCreated)>, Option<StartFailure>) {
    let mut started = Vec::new();
    if also_here && !request.from.is_empty() {
        let here = TraceRequest { from: Vec::new(), ..request.clone() };
        match api::create_trace(&here).await {
            Ok(created) => started.push((None, created)),
            Err(failure) => return (started, Some(failure)),
        }
    }
    match api::create_trace(&request).await {
        Ok(created) if created.traces.is_empty() => started.push((request.from.first().cloned(), created)),
        Ok(created) => started.extend(created.traces.into_iter().map(|t| {
            let one = TraceCreated { id: t.id, delete_token: t.delete_token, ..TraceCreated::default() };
            (Some(t.from), one)
        })),
        Err(failure) => return (started, Some(failure)),
    }
    (started, None)
}

/// Moves the address bar to `path` (a new history entry; it may carry a query such as a group's `?routes=`),
/// keeping presenter mode's `?present=1` when it is on.
pub fn push_history(path: &str) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let here = format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
    let presenter = crate::route::presenter_in(&location.search().unwrap_or_default());
    let next = crate::route::with_presenter(path, presenter);
    if here == next {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&next));
    }
}
