//! Statistics of a watched hop (or of one of its addresses) over many rounds, as mtr keeps them: what was sent and
//! received, the latest, mean, best and worst round-trip time, its standard deviation, the jitter (mean absolute
//! difference of consecutive round-trip times) and its maximum, and the 95th percentile.
//!
//! A pure accumulator: [`HopStats::record`] takes one probe's outcome and keeps every figure current, so the page,
//! the terminal and the JSON read the same numbers. The names are the JSON names (`hop.stats`).

use serde::{Deserialize, Serialize};

/// How many of the latest round-trip times the 95th percentile is taken over: a long watch keeps its memory
/// bounded (at one round a second, the last quarter hour or so).
pub const P95_WINDOW: usize = 1000;

/// Running statistics of one hop or address. Times are milliseconds; a figure with nothing to go by is `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HopStats {
    /// Probes sent (for an address: probes it answered, as a lost probe belongs to no address).
    pub sent: u32,
    /// Probes answered.
    pub received: u32,
    /// Share of the probes sent that went unanswered, in percent.
    pub loss_pct: f64,
    /// The latest round-trip time.
    pub last_ms: Option<f64>,
    /// Mean round-trip time.
    pub avg_ms: Option<f64>,
    /// Fastest round-trip time.
    pub best_ms: Option<f64>,
    /// Slowest round-trip time.
    pub worst_ms: Option<f64>,
    /// Standard deviation of the round-trip times (population).
    pub stddev_ms: Option<f64>,
    /// Mean absolute difference of consecutive round-trip times (RFC 3550's interarrival jitter without its
    /// smoothing, as mtr shows it).
    pub jitter_ms: Option<f64>,
    /// Largest absolute difference of consecutive round-trip times.
    pub jitter_max_ms: Option<f64>,
    /// 95th percentile of the round-trip times (nearest rank, over the last [`P95_WINDOW`]).
    pub p95_ms: Option<f64>,
    /// Running sums behind the figures; not part of the JSON.
    #[serde(skip)]
    acc: Accumulator,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Accumulator {
    /// Welford's running mean and sum of squared deviations.
    mean: f64,
    m2: f64,
    /// Sum of the absolute differences of consecutive round-trip times, and how many there were.
    jitter_sum: f64,
    jitter_count: u32,
    /// The latest round-trip times, oldest first, at most [`P95_WINDOW`].
    window: std::collections::VecDeque<f64>,
}

impl HopStats {
    /// Takes one probe's outcome: its round-trip time in milliseconds, or `None` when it went unanswered.
    pub fn record(&mut self, rtt_ms: Option<f64>) {
        self.sent = self.sent.saturating_add(1);
        if let Some(rtt) = rtt_ms.filter(|rtt| rtt.is_finite()) {
            self.received = self.received.saturating_add(1);
            let acc = &mut self.acc;
            let n = f64::from(self.received);
            let delta = rtt - acc.mean;
            acc.mean += delta / n;
            acc.m2 += delta * (rtt - acc.mean);
            if let Some(last) = self.last_ms {
                let jump = (rtt - last).abs();
                acc.jitter_sum += jump;
                acc.jitter_count += 1;
                self.jitter_ms = Some(acc.jitter_sum / f64::from(acc.jitter_count));
                self.jitter_max_ms = Some(self.jitter_max_ms.map_or(jump, |max| max.max(jump)));
            }
            if acc.window.len() == P95_WINDOW {
                acc.window.pop_front();
            }
            acc.window.push_back(rtt);
            self.last_ms = Some(rtt);
            self.avg_ms = Some(acc.mean);
            self.best_ms = Some(self.best_ms.map_or(rtt, |best| best.min(rtt)));
            self.worst_ms = Some(self.worst_ms.map_or(rtt, |worst| worst.max(rtt)));
            self.stddev_ms = Some((acc.m2 / n).max(0.0).sqrt());
            self.p95_ms = percentile(&acc.window, 95);
        }
        self.loss_pct = f64::from(self.sent - self.received) * 100.0 / f64::from(self.sent);
    }

    /// Probes that went unanswered.
    pub fn lost(&self) -> u32 {
        self.sent - self.received
    }
}

/// The `pct`th percentile of `values` by nearest rank (the smallest value with at least `pct` % at or below it).
fn percentile(values: &std::collections::VecDeque<f64>, pct: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn figures_follow_the_rounds() {
        let mut stats = HopStats::default();
        for rtt in [Some(10.0), Some(14.0), None, Some(12.0), Some(20.0)] {
            stats.record(rtt);
        }
        assert_eq!((stats.sent, stats.received, stats.lost()), (5, 4, 1));
        assert!((stats.loss_pct - 20.0).abs() < 1e-9);
        assert_eq!(stats.last_ms, Some(20.0));
        assert!(close(stats.avg_ms, 14.0));
        assert_eq!((stats.best_ms, stats.worst_ms), (Some(10.0), Some(20.0)));
        // Deviations -4, 0, -2, 6: variance (16 + 0 + 4 + 36) / 4 = 14.
        assert!(close(stats.stddev_ms, 14f64.sqrt()));
        // Consecutive answers 10→14→12→20 (a lost probe is skipped): |4|, |2|, |8|.
        assert!(close(stats.jitter_ms, 14.0 / 3.0));
        assert_eq!(stats.jitter_max_ms, Some(8.0));
        assert_eq!(stats.p95_ms, Some(20.0));
    }

    #[test]
    fn nothing_answered_is_all_loss_and_no_times() {
        let mut stats = HopStats::default();
        stats.record(None);
        stats.record(None);
        assert_eq!((stats.sent, stats.received), (2, 0));
        assert!((stats.loss_pct - 100.0).abs() < 1e-9);
        assert_eq!((stats.avg_ms, stats.stddev_ms, stats.jitter_ms, stats.p95_ms), (None, None, None, None));
        let one = {
            let mut one = HopStats::default();
            one.record(Some(3.0));
            one
        };
        assert_eq!((one.stddev_ms, one.jitter_ms, one.p95_ms), (Some(0.0), None, Some(3.0)));
        assert_eq!(one.loss_pct, 0.0);
    }

    #[test]
    fn p95_is_the_nearest_rank_over_the_latest_window() {
        let mut stats = HopStats::default();
        for rtt in 1..=100 {
            stats.record(Some(f64::from(rtt)));
        }
        assert_eq!(stats.p95_ms, Some(95.0));
        // A long watch forgets the oldest times for the percentile, not for the mean.
        for _ in 0..P95_WINDOW {
            stats.record(Some(1.0));
        }
        assert_eq!(stats.p95_ms, Some(1.0));
        assert_eq!(stats.worst_ms, Some(100.0));
        stats.record(Some(f64::NAN));
        assert_eq!(stats.received, 1100, "a time that is not a number counts as no answer");
    }

    #[test]
    fn json_has_exactly_the_documented_names() {
        let mut stats = HopStats::default();
        stats.record(Some(1.5));
        let json = serde_json::to_value(&stats).unwrap();
        let mut names: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "avg_ms",
                "best_ms",
                "jitter_max_ms",
                "jitter_ms",
                "last_ms",
                "loss_pct",
                "p95_ms",
                "received",
                "sent",
                "stddev_ms",
                "worst_ms"
            ]
        );
        let back: HopStats = serde_json::from_value(json).unwrap();
        assert_eq!((back.sent, back.avg_ms), (1, Some(1.5)));
    }
}
