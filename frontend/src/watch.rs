//! A watch on the page: what the model keeps beyond the shared fold (every event, for the timeline, and each hop's
//! latest round-trip times, for its sparkline), and the pure view models of the statistics columns.
//!
//! The figures themselves are the shared fold's ([`HopStats`], [`LossAt`], [`RouteChange`]): nothing here
//! recomputes them, it only words and draws them.

use std::collections::{BTreeMap, VecDeque};

use tracemap_shared::{Hop, HopStats, LossAt, TraceEvent, TraceReport};

use crate::state::{format_rtt, utc_time};

/// `10:04:12 UTC`: the time of day of `unix_ms`, to the second (a watch's events are seconds apart).
pub fn clock(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    format!("{:02}:{:02}:{:02} UTC", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

/// How many of a hop's latest round-trip times its sparkline draws.
pub const SPARK_ROUNDS: usize = 60;
/// The sparkline's size in CSS pixels.
pub const SPARK_SIZE: (f64, f64) = (60.0, 16.0);

/// What a watch's viewer keeps besides the folded report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchLog {
    /// Every event of the watch, in order (the timeline folds a prefix of them).
    pub events: Vec<TraceEvent>,
    /// Per TTL, the latest round-trip times (`None`: no answer), oldest first, at most [`SPARK_ROUNDS`].
    pub history: BTreeMap<u8, VecDeque<Option<f64>>>,
    /// Per TTL, how many losses were probably a router's ICMP rate limit, and the latest evidence (router, probes
    /// this server had sent it in the last seconds).
    pub rate_limits: BTreeMap<u8, (u32, String, u32)>,
    /// The round the timeline shows, when it is not the latest.
    pub shown_round: Option<u32>,
}

impl WatchLog {
    /// Keeps `event`.
    pub fn record(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::Probe { ttl, reply, .. } => {
                let history = self.history.entry(*ttl).or_default();
                if history.len() == SPARK_ROUNDS {
                    history.pop_front();
                }
                history.push_back(reply.as_ref().map(|reply| reply.rtt_ms).filter(|ms| ms.is_finite()));
            }
            TraceEvent::RateLimit { ttl, router, recent_probes, .. } => {
                let entry = self.rate_limits.entry(*ttl).or_insert((0, String::new(), 0));
                *entry = (entry.0 + 1, router.clone(), *recent_probes);
            }
            _ => {}
        }
        self.events.push(event.clone());
    }

    /// How many rounds the log holds.
    pub fn rounds(&self) -> u32 {
        self.events
            .iter()
            .filter_map(|e| if let TraceEvent::Round { round, .. } = e { Some(*round) } else { None })
            .max()
            .unwrap_or(0)
    }

    /// The events up to the end of round `round` (everything before round `round + 1` begins).
    pub fn until_round(&self, round: u32) -> &[TraceEvent] {
        let end = self
            .events
            .iter()
            .position(|e| matches!(e, TraceEvent::Round { round: r, .. } if *r > round))
            .unwrap_or(self.events.len());
        &self.events[..end]
    }
}

/// Whether `event` says the trace is a watch.
pub fn is_watch_event(event: &TraceEvent) -> bool {
    match event {
        TraceEvent::Started { options, .. } => options.watch.is_some(),
        TraceEvent::Round { .. } => true,
        _ => false,
    }
}

/// Whether `report` is a watch.
pub fn is_watch(report: &TraceReport) -> bool {
    report.options.watch.is_some() || report.rounds.is_some()
}

// The replay's sentence about a watched hop's loss is `shared::words`' (the offline copy says it too).
pub use tracemap_shared::words::replay::loss_sentence;

/// How a hop's loss over the rounds reads.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchLoss {
    /// Nothing sent yet, or nothing lost.
    None,
    /// Nothing ever answered: silence, not loss (the hops after it show the path works).
    Silent,
    /// Loss on the path, from `from_ttl` on.
    Path { from_ttl: u8 },
    /// The router answers less than it forwards: not loss of the path.
    HopOnly,
}

impl WatchLoss {
    /// The verdict for `hop`.
    pub fn of(hop: &Hop) -> WatchLoss {
        let Some(stats) = hop.stats.as_ref().filter(|s| s.sent > 0) else { return WatchLoss::None };
        if stats.received == 0 {
            return WatchLoss::Silent;
        }
        match hop.loss_at {
            Some(LossAt::Forwarding { from_ttl }) => WatchLoss::Path { from_ttl },
            Some(LossAt::HopOnly) => WatchLoss::HopOnly,
            None => WatchLoss::None,
        }
    }

    /// The loss cell's class.
    pub fn class(&self) -> &'static str {
        match self {
            WatchLoss::None => "loss",
            WatchLoss::Silent => "loss silent",
            WatchLoss::Path { .. } => "loss lossy path-loss",
            WatchLoss::HopOnly => "loss hop-only",
        }
    }
}

/// The statistics cells of one hop of a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchCells {
    /// The hop's figures, from the shared fold.
    pub stats: HopStats,
    /// Where its loss happens.
    pub loss: WatchLoss,
    /// The loss cell's small print: `at this hop only`, `from hop 5 on`, `no answer`.
    pub loss_note: Option<String>,
    /// The loss cell's tooltip, with the evidence of probable rate limits.
    pub loss_title: String,
    /// The sparkline, as SVG markup (see [`sparkline_svg`]).
    pub spark: String,
    /// The route changes at this hop, in words.
    pub changes: Vec<String>,
}

/// `12.3` (milliseconds, no unit: the header has it), or empty.
pub fn ms(value: Option<f64>) -> String {
    value.map(|ms| format_rtt(ms).trim_end_matches(" ms").to_owned()).unwrap_or_default()
}

/// The cells of `hop` in `report`, with `log`'s history and evidence.
pub fn cells(report: &TraceReport, log: &WatchLog, hop: &Hop) -> Option<WatchCells> {
    let stats = hop.stats.clone()?;
    let loss = WatchLoss::of(hop);
    let loss_note = match &loss {
        WatchLoss::None => None,
        WatchLoss::Silent => Some("no answer".to_owned()),
        WatchLoss::Path { from_ttl } if *from_ttl == hop.ttl => Some("loss from here on".to_owned()),
        WatchLoss::Path { from_ttl } => Some(format!("from hop {from_ttl} on")),
        WatchLoss::HopOnly => Some("at this hop only".to_owned()),
    };
    let mut loss_title = format!("{} of {} probes lost", stats.lost(), stats.sent);
    match &loss {
        WatchLoss::Silent => {
            loss_title.push_str(": this router never answers probes; the hops after it show the path works")
        }
        WatchLoss::Path { .. } | WatchLoss::HopOnly => {
            if let Some(verdict) = hop.loss_at {
                loss_title.push_str(&format!(": {}", verdict.describe()));
            }
        }
        WatchLoss::None => {}
    }
    if let Some((count, router, recent)) = log.rate_limits.get(&hop.ttl) {
        loss_title.push_str(&format!(
            "; {count} of them probably to the router's ICMP rate limit (this server had sent {router} {recent} \
             probes in the last 10 s)"
        ));
    }
    let history: Vec<Option<f64>> = log.history.get(&hop.ttl).map(|h| h.iter().copied().collect()).unwrap_or_default();
    let changes = report
        .route_changes
        .iter()
        .filter(|change| change.ttl == hop.ttl)
        .map(|change| {
            let when = report.started_at_ms.map(|start| clock(start + change.at_ms)).unwrap_or_default();
            format!("route changed {when} (round {}): {} → {}", change.round, change.from, change.to)
        })
        .collect();
    let spark = sparkline_svg(&history, stats.sent);
    Some(WatchCells { stats, loss, loss_note, loss_title, spark, changes })
}

/// The sparkline of `values` (oldest first) in a box of `size`: an SVG path through the answered ones, scaled from
/// 0 to the slowest, broken where a probe was lost, and the x of every lost one.
pub fn sparkline(values: &[Option<f64>], size: (f64, f64)) -> (String, Vec<f64>) {
    let (width, height) = size;
    let top = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    // The latest round at the right edge; until there are 60, the rounds so far spread over the width.
    let step = width / (values.len().clamp(2, SPARK_ROUNDS) - 1) as f64;
    let offset = width - step * (values.len().max(1) - 1) as f64;
    let mut path = String::new();
    let mut lost = Vec::new();
    let mut pen_down = false;
    for (i, value) in values.iter().enumerate() {
        let x = offset + step * i as f64;
        match value {
            Some(ms) => {
                let y = if top > 0.0 { height - 1.0 - (ms / top) * (height - 2.0) } else { height - 1.0 };
                path.push_str(&format!("{}{x:.1} {y:.1}", if pen_down { " L" } else { " M" }));
                pen_down = true;
            }
            None => {
                lost.push(x);
                pen_down = false;
            }
        }
    }
    (path.trim_start().to_owned(), lost)
}

/// The sparkline of `history` as an inline SVG element: a line through the answered round trips and a red tick
/// for each lost probe. Built from numbers alone, so it is safe as markup.
pub fn sparkline_svg(history: &[Option<f64>], sent: u32) -> String {
    let (width, height) = SPARK_SIZE;
    let (path, lost) = sparkline(history, SPARK_SIZE);
    let mut svg = format!(
        "<svg class=\"sparkline\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"round trips of the latest {} rounds\"><path d=\"{path}\"/>",
        sent.min(SPARK_ROUNDS as u32)
    );
    for x in lost {
        svg.push_str(&format!("<line class=\"spark-lost\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"0\" y2=\"{height}\"/>"));
    }
    svg.push_str("</svg>");
    svg
}

/// The timeline's label for round `round` of `report`: `round 7 of 20 · 10:04:12 UTC`.
pub fn round_label(report: &TraceReport, log: &WatchLog, round: u32) -> String {
    let at = log.events.iter().find_map(|e| match e {
        TraceEvent::Round { round: r, at_ms } if *r == round => Some(*at_ms),
        _ => None,
    });
    let when = match (report.started_at_ms, at) {
        (Some(start), Some(at)) => {
            format!(" · {} {}", utc_time(start + at).get(..10).unwrap_or_default(), clock(start + at))
        }
        _ => String::new(),
    };
    format!("round {round} of {}{when}", log.rounds())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{ProbeReply, ReplyKind};

    fn probe(ttl: u8, from: Option<&str>, rtt: f64) -> TraceEvent {
        let reply = from.map(|from| ProbeReply::new(from, rtt, ReplyKind::TimeExceeded));
        TraceEvent::Probe { ttl, index: 0, reply, rate_limited: false, send_error: None }
    }

    #[test]
    fn the_log_keeps_the_latest_sixty_times_per_hop_and_cuts_the_timeline_at_a_round() {
        let mut log = WatchLog::default();
        for round in 1..=70 {
            log.record(&TraceEvent::Round { round, at_ms: u64::from(round) * 1000 });
            log.record(&probe(1, Some("10.0.0.1"), f64::from(round)));
            log.record(&probe(2, None, 0.0));
        }
        assert_eq!(log.history[&1].len(), SPARK_ROUNDS);
        assert_eq!(log.history[&1].back(), Some(&Some(70.0)));
        assert_eq!(log.history[&2].back(), Some(&None));
        assert_eq!(log.rounds(), 70);
        let prefix = log.until_round(3);
        assert_eq!(prefix.len(), 9);
        assert!(matches!(prefix.last(), Some(TraceEvent::Probe { ttl: 2, .. })));
    }

    #[test]
    fn a_sparkline_is_broken_where_probes_were_lost_and_ends_at_the_right_edge() {
        let (path, lost) = sparkline(&[Some(1.0), Some(2.0), None, Some(2.0)], (60.0, 16.0));
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert_eq!(lost.len(), 1);
        assert!(path.ends_with("60.0 1.0"), "the slowest at the top, the latest at the right: {path}");
        assert_eq!(sparkline(&[], (60.0, 16.0)), (String::new(), Vec::new()));
        let svg = sparkline_svg(&[Some(1.0), None, Some(2.0)], 3);
        assert!(svg.starts_with("<svg class=\"sparkline\"") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<line class=\"spark-lost\"").count(), 1, "{svg}");
    }

    #[test]
    fn loss_is_worded_where_it_happens() {
        let mut report = TraceReport::default();
        let (a, b, c) = (Some("10.0.1.1"), Some("10.0.2.1"), Some("10.0.3.1"));
        // Hop 2 loses half its answers, hop 3 none: hop 2 answers less than it forwards.
        for (round, answers) in (1..).zip([[a, b, c], [a, None, c], [a, b, c], [a, None, c]]) {
            report.apply(&TraceEvent::Round { round, at_ms: 0 });
            for (ttl, from) in (1..).zip(answers) {
                report.apply(&probe(ttl, from, 1.0));
            }
        }
        let log = WatchLog::default();
        let hop = cells(&report, &log, &report.hops[1]).expect("a watched hop");
        assert_eq!(hop.loss, WatchLoss::HopOnly);
        assert_eq!(hop.loss.class(), "loss hop-only", "not coloured as path loss");
        assert_eq!(hop.loss_note.as_deref(), Some("at this hop only"));
        let sentence = loss_sentence(&report.hops[1]).expect("a sentence");
        assert!(sentence.contains("hop 2 answers less than it forwards"), "{sentence}");
        assert!(loss_sentence(&report.hops[0]).is_none());
        assert_eq!(ms(Some(0.0123)), "0.012");
        assert_eq!(clock(1_796_013_772_691), "04:42:52 UTC");
    }
}
