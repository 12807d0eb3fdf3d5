//! Several routes on one map: the traces one request started from several vantage points (or the two traces a
//! compare page shows), each followed live on its own, each with its colour. The trace whose table is shown is the
//! session's; the group keeps every member's model so the map can draw the others beside it.
//!
//! Colours come from the Okabe–Ito palette, whose hues stay apart for the common colour-vision deficiencies.

use crate::api;
use crate::mine::{self, MyTrace};
use crate::state::TraceModel;
use crate::ws::LiveSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::BTreeMap;
use tracemap_shared::{TraceReport, TraceStatus};

/// Okabe–Ito colours, in the order routes take them (the palette's black and yellow are left out: the one is the
/// map's text, the other vanishes on its light land).
pub const PALETTE: [&str; 6] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

/// The colour of the `index`-th route of a group.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// Where a trace ran from, in words: `agent sydney (Sydney)`, `this server (Amsterdam)`.
pub fn vantage_name(report: &TraceReport) -> String {
    let place = report.location.as_ref().and_then(|g| g.city.clone().or_else(|| g.country.clone()));
    match (&report.options.from, place) {
        (Some(agent), Some(place)) if !place.eq_ignore_ascii_case(agent) => format!("agent {agent} ({place})"),
        (Some(agent), _) => format!("agent {agent}"),
        (None, Some(place)) => format!("this server ({place})"),
        (None, None) => "this server".to_owned(),
    }
}

/// The routes on show together; cheap to copy, part of the [`crate::session::Session`].
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// The members' ids in order (a route's colour is its place here); empty or one: no group.
    pub ids: RwSignal<Vec<String>>,
    /// Each member's trace as loaded and followed so far.
    pub models: RwSignal<BTreeMap<String, TraceModel>>,
    sockets: StoredValue<BTreeMap<String, LiveSocket>, LocalStorage>,
    /// This browser's own traces (the session's list), told the settings a member really ran with.
    mine: RwSignal<Vec<MyTrace>>,
}

impl Group {
    /// No routes; `mine` is the session's list of this browser's traces.
    pub fn new(mine: RwSignal<Vec<MyTrace>>) -> Self {
        Group {
            ids: RwSignal::new(Vec::new()),
            models: RwSignal::new(BTreeMap::new()),
            sockets: StoredValue::new_local(BTreeMap::new()),
            mine,
        }
    }

    /// Shows the routes `ids` (fewer than two: none); members already followed stay followed.
    pub fn show(self, ids: Vec<String>) {
        let ids = if ids.len() < 2 { Vec::new() } else { ids };
        if self.ids.with_untracked(|old| *old == ids) {
            return;
        }
        self.sockets.update_value(|s| s.retain(|id, _| ids.contains(id)));
        self.models.update(|m| m.retain(|id, _| ids.contains(id)));
        let new: Vec<String> =
            ids.iter().filter(|id| self.models.with_untracked(|m| !m.contains_key(*id))).cloned().collect();
        self.ids.set(ids);
        for id in new {
            self.load(id);
        }
    }

    /// The page is hidden: the members' live sockets close (see [`crate::session::Session::suspend`]).
    pub fn suspend(self) {
        self.sockets.update_value(BTreeMap::clear);
    }

    /// The page is shown again from the back-forward cache: members that were running load and follow again.
    pub fn resume(self) {
        let running: Vec<String> = self.models.with_untracked(|models| {
            models.iter().filter(|(_, m)| m.report.status == TraceStatus::Running).map(|(id, _)| id.clone()).collect()
        });
        for id in running {
            self.load(id);
        }
    }

    /// Every member as (id, colour, where it runs from in words; `…` until it has loaded), in order.
    pub fn members(self) -> Vec<(String, &'static str, String)> {
        let ids = self.ids.get();
        self.models.with(|models| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    let name = models.get(id).map_or_else(|| "…".to_owned(), |m| vantage_name(&m.report));
                    (id.clone(), colour(i), name)
                })
                .collect()
        })
    }

    /// The colour of route `id`, when it belongs to a group.
    pub fn colour_of(self, id: &str) -> Option<&'static str> {
        self.ids.with(|ids| ids.iter().position(|i| i == id).map(colour))
    }

    fn member(self, id: &str) -> bool {
        self.ids.with_untracked(|ids| ids.iter().any(|i| i == id))
    }

    fn load(self, id: String) {
        spawn_local(async move {
            let Ok(report) = api::fetch_trace(&id).await else { return };
            if !self.member(&id) {
                return;
            }
            let running = report.status == TraceStatus::Running;
            if report.started_at_ms.is_some() {
                self.remember_settings(&id, &report.options);
            }
            self.models.update(|m| {
                m.insert(id.clone(), TraceModel::from_report(report));
            });
            if running {
                self.follow(id);
            }
        });
    }

    /// Your traces keeps what the server really ran member `id` with (its default port, the family the name
    /// resolved to), as the session does for the trace on show.
    fn remember_settings(self, id: &str, options: &tracemap_shared::TraceOptions) {
        if self.mine.with_untracked(|list| list.iter().any(|t| t.id == id)) {
            let list = mine::with_settings(self.mine.get_untracked(), id, options);
            mine::save(&list);
            self.mine.set(list);
        }
    }

    /// Follows a running member live; when its socket closes, loads it once more as stored.
    fn follow(self, id: String) {
        let event_id = id.clone();
        let on_event = move |event: tracemap_shared::TraceEvent| {
            let mut options = None;
            self.models.update(|m| {
                if let Some(model) = m.get_mut(&event_id) {
                    model.apply(&event);
                    options = Some(model.report.options.clone());
                }
            });
            if let (tracemap_shared::TraceEvent::Started { .. }, Some(options)) = (&event, options) {
                self.remember_settings(&event_id, &options);
            }
        };
        let closed_id = id.clone();
        let on_close = move || {
            if self.member(&closed_id) {
                self.load(closed_id.clone());
            }
        };
        if let Ok(socket) = LiveSocket::connect(&id, on_event, on_close) {
            self.sockets.update_value(|s| {
                s.insert(id, socket);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{Geo, Protocol};

    #[test]
    fn routes_are_named_by_where_they_start_and_coloured_apart() {
        let mut report = TraceReport::new("t", Protocol::Icmp);
        assert_eq!(vantage_name(&report), "this server");
        report.location = Some(Geo { city: Some("Sydney".into()), ..Geo::at(-33.87, 151.21) });
        assert_eq!(vantage_name(&report), "this server (Sydney)");
        report.options.from = Some("a".into());
        assert_eq!(vantage_name(&report), "agent a (Sydney)");
        report.options.from = Some("sydney".into());
        assert_eq!(vantage_name(&report), "agent sydney");
        let colours: std::collections::BTreeSet<&str> = (0..PALETTE.len()).map(colour).collect();
        assert_eq!(colours.len(), PALETTE.len());
        assert_eq!(colour(PALETTE.len()), colour(0), "a seventh route reuses the first colour");
    }
}
