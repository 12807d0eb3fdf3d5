//! Numbers about one hop that the table, the map and the replay all show: its typical round-trip time, the spread
//! of its replies, its loss, and the colour that encodes the round-trip time on the map.
//!
//! Pure functions of a [`Hop`], tested natively; the live part (which probes are still in flight) is the trace
//! model's business and arrives here as [`Loss`].

use tracemap_shared::Hop;

/// Round-trip times of the hop's answered probes, in probe order.
pub fn rtts(hop: &Hop) -> Vec<f64> {
    hop.probes.iter().flatten().map(|r| r.rtt_ms).filter(|ms| ms.is_finite()).collect()
}

/// The median round-trip time of the answered probes: one slow reply (a router busy generating ICMP) does not move
/// it, which is why the map colours by it.
pub fn median_rtt(hop: &Hop) -> Option<f64> {
    let mut values = rtts(hop);
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// Fastest and slowest answered probe.
pub fn rtt_range(hop: &Hop) -> Option<(f64, f64)> {
    let values = rtts(hop);
    let lo = values.iter().copied().reduce(f64::min)?;
    let hi = values.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// Probes of one hop whose fate is known: answered or timed out (in-flight probes count in neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loss {
    /// Probes answered or given up on.
    pub settled: usize,
    /// Probes given up on.
    pub lost: usize,
}

impl Loss {
    /// Lost share in percent, once any probe has settled.
    pub fn percent(self) -> Option<f64> {
        (self.settled > 0).then(|| self.lost as f64 * 100.0 / self.settled as f64)
    }

    /// `0 %`, `33 %`, `100 %`; empty while nothing has settled.
    pub fn label(self) -> String {
        self.percent().map(|p| format!("{p:.0} %")).unwrap_or_default()
    }
}

/// Round-trip times at and below this are the scale's fast end.
const FAST_MS: f64 = 1.0;
/// Round-trip times at and above this are the scale's slow end (a route half way round the world).
const SLOW_MS: f64 = 300.0;
/// Hue of the fast end (green) and the slow end (red).
const FAST_HUE: f64 = 140.0;
const SLOW_HUE: f64 = 0.0;
/// Colour of a hop without any answered probe.
pub const NO_RTT_COLOUR: &str = "hsl(210, 10%, 55%)";

/// Where `ms` lies on the scale, 0 (fast) to 1 (slow). Logarithmic: 1 → 10 ms matters as much as 30 → 300 ms,
/// which matches how people read latency (a LAN, a country, a continent, the world).
pub fn rtt_scale(ms: f64) -> f64 {
    if !ms.is_finite() || ms <= FAST_MS {
        return 0.0;
    }
    ((ms / FAST_MS).ln() / (SLOW_MS / FAST_MS).ln()).clamp(0.0, 1.0)
}

/// The marker colour for a hop whose median round-trip time is `ms`: green (fast) through yellow to red (slow).
/// Lightness stays dark enough for a white number on it in light and dark themes.
pub fn rtt_colour(ms: Option<f64>) -> String {
    match ms.filter(|ms| ms.is_finite()) {
        None => NO_RTT_COLOUR.to_owned(),
        Some(ms) => {
            let t = rtt_scale(ms);
            let hue = FAST_HUE + (SLOW_HUE - FAST_HUE) * t;
            // Yellow is light at equal HSL lightness: darken the middle of the scale a little.
            let lightness = 38.0 - 6.0 * (1.0 - (2.0 * t - 1.0).abs());
            format!("hsl({hue:.0}, 75%, {lightness:.0}%)")
        }
    }
}

/// The legend under the map: a few round-trip times and their colours.
pub fn rtt_legend() -> Vec<(&'static str, String)> {
    [("1 ms", 1.0), ("10", 10.0), ("50", 50.0), ("150", 150.0), ("300+", 300.0)]
        .into_iter()
        .map(|(label, ms)| (label, rtt_colour(Some(ms))))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracemap_shared::{ProbeReply, ReplyKind};

    fn hop(rtts: &[Option<f64>]) -> Hop {
        Hop {
            ttl: 1,
            probes: rtts
                .iter()
                .map(|r| {
                    r.map(|ms| ProbeReply {
                        from: "192.0.2.1".into(),
                        rtt_ms: ms,
                        kind: ReplyKind::TimeExceeded,
                        flag: None,
                    })
                })
                .collect(),
            address: None,
            hostname: None,
            geo: None,
        }
    }

    #[test]
    fn median_ignores_one_slow_reply() {
        assert_eq!(median_rtt(&hop(&[Some(10.0), Some(250.0), Some(12.0)])), Some(12.0));
        assert_eq!(median_rtt(&hop(&[Some(10.0), None, Some(12.0)])), Some(11.0));
        assert_eq!(median_rtt(&hop(&[None, None])), None);
        assert_eq!(rtt_range(&hop(&[Some(14.0), None, Some(12.0)])), Some((12.0, 14.0)));
        assert_eq!(rtt_range(&hop(&[None])), None);
    }

    #[test]
    fn loss_counts_only_settled_probes() {
        assert_eq!(Loss { settled: 3, lost: 1 }.label(), "33 %");
        assert_eq!(Loss { settled: 2, lost: 0 }.label(), "0 %");
        assert_eq!(Loss { settled: 3, lost: 3 }.percent(), Some(100.0));
        assert_eq!(Loss::default().label(), "", "nothing settled yet: no figure");
    }

    #[test]
    fn rtt_scale_is_logarithmic_and_clamped() {
        assert_eq!(rtt_scale(0.2), 0.0);
        assert_eq!(rtt_scale(1.0), 0.0);
        assert_eq!(rtt_scale(300.0), 1.0);
        assert_eq!(rtt_scale(5000.0), 1.0);
        assert_eq!(rtt_scale(f64::NAN), 0.0);
        // Each tenfold step moves the same distance along the scale.
        let step = rtt_scale(10.0);
        assert!((rtt_scale(100.0) - 2.0 * step).abs() < 1e-12);
        let mut last = -1.0;
        for ms in [0.5, 2.0, 8.0, 30.0, 90.0, 200.0, 299.0] {
            assert!(rtt_scale(ms) > last || ms < 1.0);
            last = rtt_scale(ms);
        }
    }

    #[test]
    fn colours_run_from_green_to_red() {
        assert_eq!(rtt_colour(Some(0.4)), "hsl(140, 75%, 38%)");
        assert_eq!(rtt_colour(Some(900.0)), "hsl(0, 75%, 38%)");
        assert_eq!(rtt_colour(None), NO_RTT_COLOUR);
        assert_eq!(rtt_colour(Some(f64::INFINITY)), NO_RTT_COLOUR);
        let hue = |ms: f64| -> f64 {
            let c = rtt_colour(Some(ms));
            c.trim_start_matches("hsl(").split(',').next().unwrap().parse().unwrap()
        };
        assert!(hue(5.0) > hue(50.0) && hue(50.0) > hue(200.0));
        assert_eq!(rtt_legend().len(), 5);
    }
}
