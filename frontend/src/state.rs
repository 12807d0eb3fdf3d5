//! The trace model the page's events fold into, and the pure view models drawn from it.
//!
//! [`TraceModel`] wraps the shared [`TraceReport`] (so the fold is the one the server uses) and adds the one thing a
//! live viewer needs that a report cannot say: which probe slots have been heard from, so an unanswered probe still
//! in flight shows as pending rather than as `*`. The table and the map read the same model through the functions
//! here, which are plain Rust and tested natively.

use crate::stats::Loss;
use crate::watch::{WatchCells, WatchLog};
use std::collections::BTreeSet;
use tracemap_shared::{Hop, ProbeMode, TraceEvent, TraceReport, TraceStatus};

// The words (labels, the silent tail, the replay's steps) are `shared::words`'s, as the server's offline copy uses
// them too.
pub use tracemap_shared::words::replay::{SilentTail, replay_steps, silent_tail};
pub use tracemap_shared::words::{
    format_duration, format_rtt, geo_label, host_label, is_ipv6, location_label, mpls_labels, protocol_text,
    settings_text, ttl_word, utc_time,
};

/// One trace as the page knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceModel {
    /// The folded report, exactly as the server would fold the same events.
    pub report: TraceReport,
    /// `(ttl, index)` of every probe whose outcome (reply or timeout) has arrived.
    settled: BTreeSet<(u8, u8)>,
    /// A watch: every event and each hop's latest times (see [`WatchLog`]).
    pub watch: Option<WatchLog>,
}

impl TraceModel {
    /// A model that starts from a stored report (from `GET /api/traces/{id}`).
    pub fn from_report(report: TraceReport) -> Self {
        TraceModel { report, settled: BTreeSet::new(), watch: None }
    }

    /// Folds one event; repeated events (a replay after reconnecting) change nothing, except in a watch, whose
    /// statistics count every event: a watch's viewer folds its events once, from the start (see the session).
    pub fn apply(&mut self, event: &TraceEvent) {
        self.record(event);
        if let TraceEvent::Probe { ttl, index, .. } = event {
            self.settled.insert((*ttl, *index));
        }
        self.report.apply(event);
    }

    /// Keeps a watch's event for its timeline and sparklines without folding it (a stored watch, whose report is
    /// already the fold of them all).
    pub fn record(&mut self, event: &TraceEvent) {
        if self.watch.is_none() && crate::watch::is_watch_event(event) {
            self.watch = Some(WatchLog::default());
        }
        if let Some(log) = self.watch.as_mut() {
            log.record(event);
        }
    }

    /// The watch as it stood at the end of round `round` (the timeline), keeping every event so the timeline can
    /// move on; the latest round (or beyond) is the whole watch. A watch that is over stays over.
    pub fn at_round(&self, round: u32) -> TraceModel {
        let Some(log) = self.watch.as_ref() else { return self.clone() };
        let mut model = TraceModel::default();
        for event in log.until_round(round) {
            model.apply(event);
        }
        let latest = round >= log.rounds();
        if self.report.status != TraceStatus::Running {
            model.report.status = self.report.status;
            model.report.duration_ms = self.report.duration_ms;
        }
        model.report.id.clone_from(&self.report.id);
        if let Some(partial) = model.watch.as_mut() {
            partial.events.clone_from(&log.events);
            partial.shown_round = (!latest).then_some(round);
        }
        model
    }

    /// What to show for try `index` of `hop`.
    pub fn probe_cell(&self, hop: &Hop, index: usize) -> ProbeCell {
        match hop.probes.get(index) {
            Some(Some(reply)) => ProbeCell::Rtt(reply.rtt_ms),
            _ => {
                let try_index = u8::try_from(index).ok();
                if try_index.is_some_and(|i| hop.rate_limited.contains(&i)) {
                    return ProbeCell::RateLimited;
                }
                let settled = try_index.is_some_and(|i| self.settled.contains(&(hop.ttl, i)));
                if self.report.status == TraceStatus::Running && !settled {
                    ProbeCell::Pending
                } else {
                    ProbeCell::Lost
                }
            }
        }
    }

    /// How many of `hop`'s probes have settled and how many of those went unanswered. In a live trace a probe
    /// still in flight counts in neither; once the trace is over every unanswered probe is lost.
    pub fn loss(&self, hop: &Hop) -> Loss {
        let mut loss = Loss::default();
        for index in 0..hop.probes.len() {
            match self.probe_cell(hop, index) {
                ProbeCell::Pending => {}
                ProbeCell::Lost => {
                    loss.settled += 1;
                    loss.lost += 1;
                }
                ProbeCell::RateLimited => {
                    loss.settled += 1;
                    loss.lost += 1;
                    loss.rate_limited += 1;
                }
                ProbeCell::Rtt(_) => loss.settled += 1,
            }
        }
        loss
    }

    /// Number of probe columns: the trace's tries, or the widest hop seen.
    pub fn columns(&self) -> usize {
        let widest = self.report.hops.iter().map(|h| h.probes.len()).max().unwrap_or(0);
        usize::from(self.report.tries).max(widest).max(1)
    }

    /// The table's rows, in TTL order; once the trace is over, a run of silent hops after the last answer is one
    /// row (see [`silent_tail`]).
    pub fn rows(&self) -> Vec<HopRow> {
        let columns = self.columns();
        let tail = silent_tail(&self.report);
        let shown = tail.map_or(self.report.hops.len(), |t| t.index + 1);
        let verdicts = crate::places::verdicts(&self.report);
        self.report.hops[..shown]
            .iter()
            .map(|hop| HopRow {
                through: tail.filter(|t| t.first == hop.ttl).map(|t| t.last),
                ttl: hop.ttl,
                cells: (0..columns).map(|i| self.probe_cell(hop, i)).collect(),
                titles: (0..columns).map(|i| cell_title(hop, i, self.probe_cell(hop, i))).collect(),
                host: host_label(hop),
                hostname: hop.hostname.clone().filter(|name| Some(name) != hop.address.as_ref()),
                address: hop.address.clone(),
                location: location_label(hop),
                asn: hop.asn.as_ref().map(|a| (a.number, a.org.clone().filter(|o| !o.is_empty()))),
                located: hop.geo.is_some(),
                kind: hop.kind.clone().filter(|k| k != "public"),
                loss: self.loss(hop),
                mpls: mpls_labels(hop),
                mpls_title: mpls_title(hop),
                place_note: hop.geo.as_ref().map(crate::places::source_note),
                doubt: hop
                    .address
                    .as_deref()
                    .and_then(|a| crate::places::verdict_for(&verdicts, hop.ttl, a))
                    .and_then(|v| v.reason.clone()),
                others: hop
                    .other_addresses()
                    .filter(|a| answered(a))
                    .map(|a| AddressRow {
                        address: a.address.clone(),
                        hostname: a.hostname.clone().filter(|name| *name != a.address),
                        location: a.geo.as_ref().map(geo_label).unwrap_or_default(),
                        place_note: a.geo.as_ref().map(crate::places::source_note),
                        doubt: crate::places::verdict_for(&verdicts, hop.ttl, &a.address)
                            .and_then(|v| v.reason.clone()),
                        asn: a.asn.as_ref().map(|a| (a.number, a.org.clone().filter(|o| !o.is_empty()))),
                        tries: a.probes.len(),
                        kind: a.kind.clone(),
                        answered_of: a.stats.as_ref().zip(hop.stats.as_ref()).map(|(a, h)| (a.received, h.sent)),
                    })
                    .collect(),
                watch: self.watch.as_ref().and_then(|log| crate::watch::cells(&self.report, log, hop)),
            })
            .collect()
    }
}

/// Another address that answered some tries of a hop (a load balancer's other router), with its own information.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressRow {
    /// The address.
    pub address: String,
    /// Its reverse DNS name, when it differs from the address.
    pub hostname: Option<String>,
    /// `City, Country`, or empty when it has no location.
    pub location: String,
    /// Who placed it and how precisely, when it is placed.
    pub place_note: Option<String>,
    /// Why its place cannot be true, when it cannot.
    pub doubt: Option<String>,
    /// Its autonomous system: number and organisation.
    pub asn: Option<(u32, Option<String>)>,
    /// How many tries it answered.
    pub tries: usize,
    /// Its address kind (`private`, `public`...).
    pub kind: Option<String>,
    /// A watch: how many probes it answered, of the hop's probes over the rounds.
    pub answered_of: Option<(u32, u32)>,
}

/// One probe's cell in the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProbeCell {
    /// Still waiting for a reply or a timeout.
    Pending,
    /// No reply within the timeout: traceroute's `*`.
    Lost,
    /// No reply because this server's own traces had spent the router's ICMP rate-limit budget: `*rl`.
    RateLimited,
    /// Round-trip time in milliseconds.
    Rtt(f64),
}

impl ProbeCell {
    /// The number alone (`0.412`, `*`, `…`), for layouts that put the unit in the header.
    pub fn value(self) -> String {
        let text = self.text();
        text.strip_suffix(" ms").map(str::to_owned).unwrap_or(text)
    }

    /// The cell's text, in traceroute's spirit.
    pub fn text(self) -> String {
        match self {
            ProbeCell::Pending => "…".to_owned(),
            ProbeCell::Lost => "*".to_owned(),
            ProbeCell::RateLimited => "*rl".to_owned(),
            ProbeCell::Rtt(ms) => format_rtt(ms),
        }
    }

    /// The cell's tooltip (and accessible name), for the cells whose text needs explaining.
    pub fn title(self) -> Option<&'static str> {
        match self {
            ProbeCell::RateLimited => Some(RATE_LIMITED_TITLE),
            ProbeCell::Lost => Some("No answer in time"),
            ProbeCell::Pending | ProbeCell::Rtt(_) => None,
        }
    }
}

/// A cell's tooltip: why a try was never sent (the system's reason, as the terminal's `!send`) when it was not,
/// else what the cell's text means.
pub fn cell_title(hop: &Hop, index: usize, cell: ProbeCell) -> Option<String> {
    let not_sent = hop.not_sent.iter().find(|n| usize::from(n.index) == index);
    match not_sent {
        Some(n) if matches!(cell, ProbeCell::Lost) => Some(format!("Not sent: {}", n.reason)),
        _ => cell.title().map(str::to_owned),
    }
}

/// What `*rl` means, for its tooltip and screen readers.
pub const RATE_LIMITED_TITLE: &str = "No answer: lost to the router's ICMP rate limit, which this server's own \
                                      traces had used up; not a sign of loss on the path";

/// `MPLS 24001` (or `MPLS 24001/16`): the hop's badge text, if its replies carried labels.
pub fn mpls_badge(labels: &[u32]) -> Option<String> {
    (!labels.is_empty()).then(|| format!("MPLS {}", labels.iter().map(u32::to_string).collect::<Vec<_>>().join("/")))
}

/// The badge's tooltip: every distinct label stack the hop's replies quoted, one per line.
pub fn mpls_title(hop: &Hop) -> String {
    let mut stacks: Vec<String> = Vec::new();
    for reply in hop.probes.iter().flatten().filter(|r| !r.mpls.is_empty()) {
        let stack = reply.mpls.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        if !stacks.contains(&stack) {
            stacks.push(stack);
        }
    }
    format!("Inside an MPLS tunnel; label stack the router quoted (RFC 4950):\n{}", stacks.join("\n"))
}

/// How the server sent the probes, in a few words: `raw sockets`, `unprivileged UDP (error queue)`...
pub fn mode_label(mode: ProbeMode) -> &'static str {
    match mode {
        ProbeMode::Raw => "raw sockets",
        ProbeMode::UdpErrorQueue => "unprivileged UDP (error queue)",
        ProbeMode::IcmpDatagram => "unprivileged ICMP (datagram socket)",
    }
}

/// The status line's note on how the server probed, when the trace says.
pub fn mode_note(report: &TraceReport) -> Option<String> {
    report.mode.map(|mode| format!("Probed with {}", mode_label(mode)))
}

/// The status line's second part: the settings and, once known, when the trace ran.
pub fn settings_note(report: &TraceReport) -> Option<String> {
    if report.address.is_none() && report.started_at_ms.is_none() {
        return None;
    }
    let when = report.started_at_ms.map(|ms| format!(" · started {}", utc_time(ms))).unwrap_or_default();
    Some(format!("{}{when}", settings_text(report)))
}

/// For a trace that joined an identical probe run of the server's (`--share-window`): "joined a trace started
/// N s ago", N counted from that run's start to the join.
pub fn joined_note(report: &TraceReport) -> Option<String> {
    let ms = report.joined_after_ms?;
    let secs = (ms as f64 / 1000.0).round() as u64;
    Some(if secs == 0 {
        "joined a trace started just now: same probes, no new ones".to_owned()
    } else {
        format!("joined a trace started {secs} s ago: same probes, no new ones")
    })
}

/// One row of the hop table.
#[derive(Debug, Clone, PartialEq)]
pub struct HopRow {
    /// The hop's TTL.
    pub ttl: u8,
    /// For a folded silent run, the TTL of its last hop.
    pub through: Option<u8>,
    /// One cell per try.
    pub cells: Vec<ProbeCell>,
    /// Each cell's tooltip (see [`cell_title`]).
    pub titles: Vec<Option<String>>,
    /// `hostname (ip)`, the bare ip, or `*` when nothing answered.
    pub host: String,
    /// Reverse DNS name, when it differs from the address.
    pub hostname: Option<String>,
    /// The address that answered most probes.
    pub address: Option<String>,
    /// `City, Country`, or empty when the hop has no location.
    pub location: String,
    /// The autonomous system announcing the address: its number and organisation.
    pub asn: Option<(u32, Option<String>)>,
    /// Whether the hop has a marker on the map.
    pub located: bool,
    /// The address's kind when it is a special range (`private`, `shared`, `loopback`...) that no database places
    /// or assigns to an AS: said in the otherwise empty cells.
    pub kind: Option<String>,
    /// Probes lost so far.
    pub loss: Loss,
    /// MPLS labels the hop's replies carried, outermost first.
    pub mpls: Vec<u32>,
    /// The full label stacks, for the badge's tooltip.
    pub mpls_title: String,
    /// Who placed the shown address and how precisely (`DB-IP · within 20 km`), when it is placed.
    pub place_note: Option<String>,
    /// Why the shown address's place cannot be true, when it cannot.
    pub doubt: Option<String>,
    /// The other addresses that answered this TTL, each with its own information.
    pub others: Vec<AddressRow>,
    /// A watch: the statistics cells, sparkline and route changes.
    pub watch: Option<WatchCells>,
}

/// What an empty place or AS cell says for an address of `kind`: `private address`, `link-local address`...
pub fn kind_note(kind: &str) -> String {
    format!("{} address", kind.replace('-', " ").replace("unique local", "unique-local"))
}

/// A located address of a hop, as the map draws it: every hop has one per located address that answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePoint {
    /// The hop's TTL (the marker's number).
    pub ttl: u8,
    /// The address placed here.
    pub address: String,
    /// Whether the place can be true (see [`crate::places`]): `Some(false)` is drawn hollow, reached by a dashed line.
    pub plausible: Option<bool>,
    /// Why it cannot be true, for the tooltip.
    pub doubt: Option<String>,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Tooltip text: host and location.
    pub label: String,
    /// Median round-trip time of the hop's answers (the marker's colour).
    pub rtt_ms: Option<f64>,
    /// Radius within which the database places the address.
    pub accuracy_km: Option<u32>,
}

/// When the trace started (Unix ms), 0 when unknown.
fn start_of(report: &TraceReport) -> u64 {
    report.started_at_ms.unwrap_or(0)
}

/// Whether `address` answered any probe: in the latest tries, or (a watch) in any round.
fn answered(address: &tracemap_shared::HopAddress) -> bool {
    !address.probes.is_empty() || address.stats.as_ref().is_some_and(|stats| stats.received > 0)
}

/// Every located address in TTL order (the hop's shown address first, then the others that answered it): the
/// markers, and the vertices of the route line, which forks where a hop has several.
pub fn route_points(report: &TraceReport) -> Vec<RoutePoint> {
    let verdicts = crate::places::verdicts(report);
    let mut points = Vec::new();
    for hop in &report.hops {
        let shown = hop.address.as_deref().map(|a| (a, hop.hostname.as_deref(), hop.geo.as_ref()));
        let others = hop
            .other_addresses()
            .filter(|a| answered(a))
            .map(|a| (a.address.as_str(), a.hostname.as_deref(), a.geo.as_ref()));
        // A hop whose address has no entry yet (built without one) still shows its own place.
        for (address, hostname, geo) in shown.into_iter().chain(others) {
            let Some(geo) = geo else { continue };
            if !(geo.lat.is_finite() && geo.lon.is_finite())
                || points.iter().any(|p: &RoutePoint| p.ttl == hop.ttl && p.address == address)
            {
                continue;
            }
            let location = geo_label(geo);
            let host = match hostname {
                Some(name) if name != address => format!("{name} ({address})"),
                _ => address.to_owned(),
            };
            let mut label = if location.is_empty() { host } else { format!("{host} · {location}") };
            if let Some(change) = report.route_changes.iter().rev().find(|c| c.ttl == hop.ttl && c.to == address) {
                label.push_str(&format!(
                    " · new route since {} (round {})",
                    crate::watch::clock(start_of(report) + change.at_ms),
                    change.round
                ));
            }
            let verdict = crate::places::verdict_for(&verdicts, hop.ttl, address);
            let rtts: Vec<f64> = hop.probes.iter().flatten().filter(|r| r.from == address).map(|r| r.rtt_ms).collect();
            points.push(RoutePoint {
                ttl: hop.ttl,
                address: address.to_owned(),
                plausible: verdict.and_then(|v| v.plausible),
                doubt: verdict.and_then(|v| v.reason.clone()),
                lat: geo.lat,
                lon: geo.lon,
                label,
                rtt_ms: crate::stats::median_of(&rtts),
                accuracy_km: geo.accuracy_km,
            });
        }
    }
    points
}

/// Where the page is in its conversation with the server.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Phase {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// `POST /api/traces` is in flight.
    Starting(String),
    /// Loading a stored trace for a permalink.
    Loading(String),
    /// The WebSocket is open and events are arriving.
    Live,
    /// The WebSocket closed before the trace ended; trying again.
    Reconnecting,
    /// The trace has ended, or the page shows a stored one.
    Settled,
}

/// The rounds a watch ran: all of them, also while the timeline shows an earlier one.
fn watched_rounds(model: &TraceModel) -> u32 {
    let folded = model.report.rounds.unwrap_or(0);
    model.watch.as_ref().map_or(folded, |log| log.rounds().max(folded))
}

/// The sentence the status line shows (and screen readers announce).
pub fn status_text(phase: &Phase, model: Option<&TraceModel>) -> String {
    match (phase, model) {
        (Phase::Starting(target), _) => format!("Starting a trace to {target}…"),
        (Phase::Loading(id), _) => format!("Loading trace {id}…"),
        (Phase::Idle, None) => "Type a host name or IP address and press Enter.".to_owned(),
        (_, None) => String::new(),
        (phase, Some(model)) => {
            let r = &model.report;
            let to = match &r.address {
                Some(addr) if *addr != r.target => format!("{} ({addr})", r.target),
                _ => r.target.clone(),
            };
            let hops = r.hops.len();
            let hops_word = if hops == 1 { "hop" } else { "hops" };
            match r.status {
                TraceStatus::Running if *phase == Phase::Reconnecting => {
                    format!("Connection lost while tracing {to}; reconnecting…")
                }
                TraceStatus::Running if r.address.is_none() => format!("Resolving {to}…"),
                TraceStatus::Running if r.rounds.is_some() => {
                    let rounds = r.rounds.unwrap_or(0);
                    let of = r.options.watch.map(|w| format!(" of at most {}", w.rounds)).unwrap_or_default();
                    format!("Watching {to} over {}: round {rounds}{of}, {hops} {hops_word}…", protocol_text(r))
                }
                TraceStatus::Finished if r.rounds.is_some() => {
                    let secs = r.duration_ms.map(|ms| format!(" in {}", format_duration(ms))).unwrap_or_default();
                    let changes = match r.route_changes.len() {
                        0 => "no route change".to_owned(),
                        1 => "1 route change".to_owned(),
                        n => format!("{n} route changes"),
                    };
                    format!("Watched {to}: {} rounds{secs}, {hops} {hops_word}, {changes}.", watched_rounds(model))
                }
                TraceStatus::Stopped if r.rounds.is_some() => {
                    format!("Stopped: the watch of {to} ended after {} rounds.", watched_rounds(model))
                }
                TraceStatus::Running => format!("Tracing {to} over {}: {hops} {hops_word} so far…", protocol_text(r)),
                TraceStatus::Finished => {
                    let secs = r.duration_ms.map(|ms| format!(" in {}", format_duration(ms))).unwrap_or_default();
                    if r.destination_reached {
                        format!("Done{secs}: reached {to} in {hops} {hops_word}.")
                    } else {
                        format!("Done{secs}: {to} did not answer within {hops} {hops_word}.")
                    }
                }
                TraceStatus::Failed => {
                    format!("Trace to {to} failed: {}", r.error.as_deref().unwrap_or("no reason given"))
                }
                TraceStatus::Interrupted => format!("The server stopped before the trace to {to} finished."),
                TraceStatus::Stopped => format!("Stopped: the trace to {to} was ended after {hops} {hops_word}."),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracemap_shared::{EVENT_VERSION, Geo, ProbeReply, Protocol, ReplyKind};

    fn started() -> TraceEvent {
        started_with(None)
    }

    fn started_with(mode: Option<ProbeMode>) -> TraceEvent {
        TraceEvent::Started {
            version: EVENT_VERSION,
            target: "example.test".into(),
            address: "192.0.2.9".into(),
            protocol: Protocol::Icmp,
            first_ttl: 1,
            max_hops: 30,
            tries: 3,
            started_at_ms: 0,
            mode,
            options: Default::default(),
            location: None,
        }
    }

    fn probe(ttl: u8, index: u8, from: Option<&str>, rtt: f64) -> TraceEvent {
        let reply = from.map(|f| ProbeReply::new(f, rtt, ReplyKind::TimeExceeded));
        TraceEvent::Probe { ttl, index, reply, rate_limited: false, send_error: None }
    }

    fn geo(city: &str, lat: f64, lon: f64) -> Option<Geo> {
        Some(Geo { city: Some(city.into()), country: Some("Testland".into()), ..Geo::at(lat, lon) })
    }

    #[test]
    fn unsettled_probes_are_pending_until_their_event_arrives() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 0.4125));
        model.apply(&probe(1, 1, None, 0.0));
        let rows = model.rows();
        assert_eq!(rows[0].cells, vec![ProbeCell::Rtt(0.4125), ProbeCell::Lost, ProbeCell::Pending]);
        assert_eq!(rows[0].cells.iter().map(|c| c.text()).collect::<Vec<_>>(), ["0.412 ms", "*", "…"]);
        assert_eq!(rows[0].cells.iter().map(|c| c.value()).collect::<Vec<_>>(), ["0.412", "*", "…"]);
        model.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 900 });
        assert_eq!(model.rows()[0].cells[2], ProbeCell::Lost, "a finished trace has nothing pending");
    }

    #[test]
    fn loss_counts_settled_probes_only() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        model.apply(&probe(1, 1, None, 0.0));
        assert_eq!(model.rows()[0].loss, Loss { settled: 2, lost: 1, rate_limited: 0 }, "the third probe is in flight");
        assert_eq!(model.rows()[0].loss.label(), "50 %");
        model.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 900 });
        assert_eq!(model.rows()[0].loss, Loss { settled: 3, lost: 2, rate_limited: 0 });
    }

    #[test]
    fn stored_report_shows_lost_probes() {
        let mut live = TraceModel::default();
        live.apply(&started());
        live.apply(&probe(1, 0, None, 0.0));
        live.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 1 });
        let stored = TraceModel::from_report(live.report.clone());
        assert_eq!(stored.rows()[0].cells, vec![ProbeCell::Lost; 3]);
    }

    #[test]
    fn replayed_events_do_not_add_rows() {
        let mut model = TraceModel::default();
        let events = [started(), probe(1, 0, Some("192.0.2.1"), 1.0), probe(2, 0, Some("192.0.2.2"), 2.0)];
        for e in events.iter().chain(events.iter()) {
            model.apply(e);
        }
        assert_eq!(model.rows().len(), 2);
    }

    #[test]
    fn host_and_location_labels() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        model.apply(&probe(2, 0, None, 0.0));
        model.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "192.0.2.1".into(),
            hostname: Some("r1.example.test".into()),
            geo: geo("Paris", 48.85, 2.35),
            asn: Some(tracemap_shared::Asn { number: 64500, org: Some("Example Net".into()), source: None }),
            kind: None,
        });
        let rows = model.rows();
        assert_eq!(rows[0].asn, Some((64500, Some("Example Net".to_owned()))));
        assert_eq!(rows[1].asn, None);
        assert_eq!(rows[0].host, "r1.example.test (192.0.2.1)");
        assert_eq!(rows[0].location, "Paris, Testland");
        assert!(rows[0].located);
        assert_eq!(rows[1].host, "*");
        assert_eq!(rows[1].location, "");
    }

    #[test]
    fn route_points_follow_hop_order_and_skip_unlocated_hops() {
        let mut model = TraceModel::default();
        model.apply(&started());
        for (ttl, ip) in [(3, "192.0.2.3"), (1, "192.0.2.1"), (2, "192.0.2.2")] {
            model.apply(&probe(ttl, 0, Some(ip), 1.0));
        }
        model.apply(&TraceEvent::HopInfo {
            ttl: 3,
            address: "192.0.2.3".into(),
            hostname: None,
            geo: geo("C", 3.0, 30.0),
            asn: None,
            kind: None,
        });
        model.apply(&TraceEvent::HopInfo {
            ttl: 1,
            address: "192.0.2.1".into(),
            hostname: None,
            geo: geo("A", 1.0, 10.0),
            asn: None,
            kind: None,
        });
        let points = route_points(&model.report);
        assert_eq!(points.iter().map(|p| p.ttl).collect::<Vec<_>>(), [1, 3]);
        assert_eq!((points[1].lat, points[1].lon), (3.0, 30.0));
        assert_eq!(points[0].label, "192.0.2.1 · A, Testland");
    }

    #[test]
    fn status_line_follows_the_trace() {
        assert!(status_text(&Phase::Idle, None).contains("press Enter"));
        assert_eq!(status_text(&Phase::Starting("x.test".into()), None), "Starting a trace to x.test…");
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        assert_eq!(
            status_text(&Phase::Live, Some(&model)),
            "Tracing example.test (192.0.2.9) over ICMP: 1 hop so far…"
        );
        assert!(status_text(&Phase::Reconnecting, Some(&model)).contains("reconnecting"));
        model.apply(&TraceEvent::Finished { destination_reached: true, duration_ms: 2500 });
        assert_eq!(
            status_text(&Phase::Settled, Some(&model)),
            "Done in 2.50 s: reached example.test (192.0.2.9) in 1 hop."
        );
        model.apply(&TraceEvent::Failed { reason: "no privilege".into() });
        assert!(status_text(&Phase::Settled, Some(&model)).ends_with("failed: no privilege"));
    }

    #[test]
    fn rate_limited_tries_show_as_rl_and_count_apart_in_the_loss() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        model.apply(&TraceEvent::Probe { ttl: 1, index: 1, reply: None, rate_limited: true, send_error: None });
        let row = &model.rows()[0];
        assert_eq!(row.cells, vec![ProbeCell::Rtt(1.0), ProbeCell::RateLimited, ProbeCell::Pending]);
        assert_eq!(ProbeCell::RateLimited.text(), "*rl");
        assert_eq!(ProbeCell::RateLimited.value(), "*rl");
        assert!(ProbeCell::RateLimited.title().unwrap().contains("ICMP rate limit"));
        assert!(ProbeCell::RateLimited.title().unwrap().contains("not a sign of loss on the path"));
        assert_eq!(ProbeCell::Rtt(1.0).title(), None);
        assert_eq!(row.loss, Loss { settled: 2, lost: 1, rate_limited: 1 });
        model.apply(&TraceEvent::Probe { ttl: 1, index: 2, reply: None, rate_limited: false, send_error: None });
        let loss = model.rows()[0].loss;
        assert_eq!(loss, Loss { settled: 3, lost: 2, rate_limited: 1 });
        assert_eq!(loss.label(), "50 %", "the rate-limited try counts on neither side");
        assert_eq!(loss.rate_limited_label().as_deref(), Some("1 rl"));
        assert!(loss.title().starts_with("2 of 3 probes lost, 1 of them to the router's ICMP rate limit"));
        // A stored report keeps the distinction.
        model.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 900 });
        let stored = TraceModel::from_report(model.report.clone());
        assert_eq!(stored.rows()[0].cells[1], ProbeCell::RateLimited);
        assert_eq!(stored.rows()[0].cells[2], ProbeCell::Lost);
    }

    #[test]
    fn a_try_never_sent_says_why_in_its_tooltip() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        let reason = "Operation not permitted (os error 1)";
        model.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 1,
            reply: None,
            rate_limited: false,
            send_error: Some(reason.into()),
        });
        model.apply(&TraceEvent::Probe { ttl: 1, index: 2, reply: None, rate_limited: false, send_error: None });
        let row = &model.rows()[0];
        assert_eq!(row.cells, [ProbeCell::Rtt(1.0), ProbeCell::Lost, ProbeCell::Lost]);
        assert_eq!(row.titles[0], None);
        assert_eq!(row.titles[1].as_deref(), Some("Not sent: Operation not permitted (os error 1)"));
        assert_eq!(row.titles[2].as_deref(), Some("No answer in time"), "a plain timeout keeps its own title");
        // A stored report keeps the reason.
        model.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 900 });
        let stored = TraceModel::from_report(model.report.clone());
        assert_eq!(stored.rows()[0].titles[1].as_deref(), Some("Not sent: Operation not permitted (os error 1)"));
    }

    #[test]
    fn mpls_labels_become_a_badge_with_the_stack_in_its_title() {
        use tracemap_shared::MplsLabel;
        let mut model = TraceModel::default();
        model.apply(&started());
        let stack = vec![
            MplsLabel { label: 24001, tc: 0, bottom_of_stack: false, ttl: 1 },
            MplsLabel { label: 16, tc: 5, bottom_of_stack: true, ttl: 1 },
        ];
        for index in 0..2 {
            let reply =
                ProbeReply { mpls: stack.clone(), ..ProbeReply::new("192.0.2.1", 5.0, ReplyKind::TimeExceeded) };
            model.apply(&TraceEvent::Probe {
                ttl: 1,
                index,
                reply: Some(reply),
                rate_limited: false,
                send_error: None,
            });
        }
        model.apply(&probe(2, 0, Some("192.0.2.2"), 6.0));
        let rows = model.rows();
        assert_eq!(rows[0].mpls, [24001, 16]);
        assert_eq!(mpls_badge(&rows[0].mpls).as_deref(), Some("MPLS 24001/16"));
        assert_eq!(
            rows[0].mpls_title,
            "Inside an MPLS tunnel; label stack the router quoted (RFC 4950):\n\
             MPLS L=24001 TC=0 S=0 TTL=1, MPLS L=16 TC=5 S=1 TTL=1"
        );
        assert!(rows[1].mpls.is_empty());
        assert_eq!(mpls_badge(&rows[1].mpls), None);
        assert_eq!(mpls_badge(&[24001]).as_deref(), Some("MPLS 24001"));
    }

    #[test]
    fn the_probe_mode_is_named_for_people() {
        let mut model = TraceModel::default();
        model.apply(&started());
        assert_eq!(mode_note(&model.report), None, "older servers and stored traces do not say");
        for (mode, note) in [
            (ProbeMode::Raw, "Probed with raw sockets"),
            (ProbeMode::UdpErrorQueue, "Probed with unprivileged UDP (error queue)"),
            (ProbeMode::IcmpDatagram, "Probed with unprivileged ICMP (datagram socket)"),
        ] {
            let mut report = model.report.clone();
            report.apply(&started_with(Some(mode)));
            assert_eq!(mode_note(&report).as_deref(), Some(note));
            // A permalink loads the stored report, which carries the mode too.
            let json = serde_json::to_string(&report).unwrap();
            let stored: TraceReport = serde_json::from_str(&json).unwrap();
            assert_eq!(mode_note(&stored).as_deref(), Some(note));
        }
    }

    #[test]
    fn a_silent_tail_folds_into_one_row_and_one_step() {
        let mut model = TraceModel::default();
        model.apply(&started());
        model.apply(&probe(1, 0, Some("192.0.2.1"), 1.0));
        model.apply(&probe(2, 0, Some("192.0.2.2"), 2.0));
        for ttl in 3..=30 {
            model.apply(&probe(ttl, 0, None, 0.0));
        }
        assert_eq!(model.rows().len(), 30, "a live trace folds nothing");
        model.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 5 });
        let rows = model.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[2].ttl, rows[2].through), (3, Some(30)));
        assert_eq!(rows[1].through, None);
        assert_eq!(replay_steps(&model.report), [(1, None), (2, None), (3, Some(30))]);

        // One silent hop at the end stays a row of its own; a silent hop before an answer is never folded.
        let mut short = TraceModel::default();
        short.apply(&started());
        short.apply(&probe(1, 0, None, 0.0));
        short.apply(&probe(2, 0, Some("192.0.2.2"), 2.0));
        short.apply(&probe(3, 0, None, 0.0));
        short.apply(&TraceEvent::Finished { destination_reached: false, duration_ms: 5 });
        assert_eq!(silent_tail(&short.report), None);
        assert_eq!(short.rows().len(), 3);
    }

    #[test]
    fn durations_settings_and_start_time_read_as_people_write_them() {
        assert_eq!(format_duration(5), "5 ms");
        assert_eq!(format_duration(840), "0.84 s");
        assert_eq!(format_duration(2500), "2.50 s");
        assert_eq!(format_duration(12_340), "12.3 s");
        assert_eq!(format_duration(125_000), "2 min 5 s");
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_795_734_000_000 + 61_000), "2026-11-26 23:01 UTC");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00 UTC");
        let mut report = TraceReport::new("example.test", Protocol::Tcp);
        report.apply(&started());
        report.protocol = Protocol::Tcp;
        report.options = tracemap_shared::TraceOptions {
            port: Some(8080),
            family: Some(tracemap_shared::Family::Ipv4),
            timeout_ms: Some(800),
            ..Default::default()
        };
        assert_eq!(settings_text(&report), "TCP port 8080, IPv4, 3 probes per hop, timeout 0.80 s, TTL 1–30");
        report.options.family = Some(tracemap_shared::Family::Ipv6);
        assert!(settings_text(&report).ends_with("hop limit 1–30"));
        report.options.from = Some("sydney".into());
        assert!(settings_text(&report).ends_with("hop limit 1–30, from agent sydney"));
        report.options.from = None;
        assert_eq!(
            settings_note(&report).unwrap(),
            format!("{} · started 1970-01-01 00:00 UTC", settings_text(&report))
        );
    }

    #[test]
    fn rtt_precision_suits_magnitude() {
        assert_eq!(format_rtt(0.0412), "0.041 ms");
        assert_eq!(format_rtt(4.071), "4.07 ms");
        assert_eq!(format_rtt(38.14), "38.1 ms");
    }

    #[test]
    fn a_joined_trace_says_how_long_after_its_run_started() {
        let mut report = TraceReport::new("t", tracemap_shared::Protocol::Icmp);
        assert_eq!(joined_note(&report), None);
        report.joined_after_ms = Some(3_400);
        assert_eq!(joined_note(&report).as_deref(), Some("joined a trace started 3 s ago: same probes, no new ones"));
        report.joined_after_ms = Some(120);
        assert!(joined_note(&report).is_some_and(|n| n.starts_with("joined a trace started just now")));
    }

    #[test]
    fn a_stored_watch_keeps_its_events_and_the_timeline_folds_them_up_to_a_round() {
        let mut live = TraceModel::default();
        let mut started = started();
        if let TraceEvent::Started { tries, options, .. } = &mut started {
            *tries = 1;
            options.watch = Some(tracemap_shared::WatchSettings { rounds: 5, interval_ms: 1000 });
        }
        let mut events = vec![started];
        for round in 1..=5 {
            events.push(TraceEvent::Round { round, at_ms: u64::from(round) * 1000 });
            events.push(probe(1, 0, Some("192.0.2.1"), f64::from(round)));
        }
        for event in &events {
            live.apply(event);
        }
        let mut stored = TraceModel::from_report(TraceReport { status: TraceStatus::Stopped, ..live.report.clone() });
        for event in &events {
            stored.record(event);
        }
        assert_eq!(stored.report.hops[0].stats.as_ref().map(|s| s.sent), Some(5), "recording folds nothing");
        let at_two = stored.at_round(2);
        assert_eq!(at_two.report.hops[0].stats.as_ref().map(|s| s.sent), Some(2));
        assert_eq!(at_two.report.status, TraceStatus::Stopped);
        let log = at_two.watch.as_ref().expect("the log");
        assert_eq!((log.shown_round, log.rounds()), (Some(2), 5));
        assert_eq!(at_two.at_round(5).watch.and_then(|log| log.shown_round), None, "the far right is the whole watch");
    }
}
