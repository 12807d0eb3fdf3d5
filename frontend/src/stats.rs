//! Numbers about one hop that the table, the map and the replay all show: its typical round-trip time, the spread
//! of its replies, its loss, and the colour that encodes the round-trip time on the map.
//!
//! Pure functions of a [`Hop`], tested natively; the live part (which probes are still in flight) is the trace
//! model's business and arrives here as [`Loss`].

use tracemap_shared::Hop;
use tracemap_shared::math::{ln, powf};
pub use tracemap_shared::words::{rtt_range, rtts};

/// The median round-trip time of the answered probes: one slow reply (a router busy generating ICMP) does not move
/// it, which is why the map colours by it.
pub fn median_rtt(hop: &Hop) -> Option<f64> {
    median_of(&rtts(hop))
}

/// The median of `values` (round-trip times in milliseconds), if there are any.
pub fn median_of(values: &[f64]) -> Option<f64> {
    let mut values = values.to_vec();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

/// Probes of one hop whose fate is known: answered or timed out (in-flight probes count in neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loss {
    /// Probes answered or given up on.
    pub settled: usize,
    /// Probes given up on.
    pub lost: usize,
    /// Of the lost probes, those lost to a router's ICMP rate limit that this server's own traces had spent.
    pub rate_limited: usize,
}

impl Loss {
    /// Probes answered.
    pub fn answered(self) -> usize {
        self.settled.saturating_sub(self.lost)
    }

    /// Whether every settled probe went unanswered: a router that does not answer probes, which is silence, not
    /// loss (the hops after it prove the path works).
    pub fn silent(self) -> bool {
        self.settled > 0 && self.answered() == 0
    }

    /// Share of the probes lost on the path, in percent, once any probe has settled. Probes lost to a rate limit
    /// this server caused are left out of both sides: they say nothing about the path.
    pub fn percent(self) -> Option<f64> {
        let counted = self.settled.saturating_sub(self.rate_limited);
        (counted > 0).then(|| self.lost.saturating_sub(self.rate_limited) as f64 * 100.0 / counted as f64)
    }

    /// Whether the hop answered some probes and lost others on the path: the only case the table marks as loss.
    pub fn is_loss(self) -> bool {
        self.answered() > 0 && self.lost > self.rate_limited
    }

    /// `0 %`, `33 %`; `no answer` for a silent hop; empty while nothing has settled.
    pub fn label(self) -> String {
        if self.silent() {
            return "no answer".to_owned();
        }
        self.percent().map(|p| format!("{p:.0} %")).unwrap_or_default()
    }

    /// `2 rl` when some losses were rate limiting, for the loss cell's small print.
    pub fn rate_limited_label(self) -> Option<String> {
        (self.rate_limited > 0).then(|| format!("{} rl", self.rate_limited))
    }

    /// The loss cell's tooltip: how many were lost, and how many of those were rate limiting rather than the path.
    pub fn title(self) -> String {
        if self.settled == 0 {
            return String::new();
        }
        let (lost, settled) = (self.lost, self.settled);
        let mut text = format!("{lost} of {settled} probes lost");
        match self.rate_limited {
            0 => {}
            n if n == lost => text.push_str(
                ": all to the router's ICMP rate limit, which this server's own traces had used up; \
                 not loss on the path",
            ),
            n => text.push_str(&format!(
                ", {n} of them to the router's ICMP rate limit, which this server's own traces had used up; \
                 those are not loss on the path"
            )),
        }
        text
    }
}

/// The colour scale: round-trip times (ms) and their colours, green (a LAN) through amber (a continent) to red
/// (the other side of the world). Chosen to stay apart from each other and readable under a white number.
const STOPS: [(f64, [u8; 3]); 5] = [
    (1.0, [0x2b, 0x8a, 0x3e]),
    (10.0, [0x5c, 0x94, 0x0d]),
    (50.0, [0xe6, 0x77, 0x00]),
    (150.0, [0xd9, 0x48, 0x0f]),
    (300.0, [0xc9, 0x2a, 0x2a]),
];
/// Colour of a hop without any answered probe.
pub const NO_RTT_COLOUR: &str = "rgb(134, 142, 150)";

/// Where `ms` lies on the scale, 0 (fast) to 1 (slow). Logarithmic: 1 → 10 ms matters as much as 30 → 300 ms,
/// which matches how people read latency (a LAN, a country, a continent, the world).
pub fn rtt_scale(ms: f64) -> f64 {
    let (fast, slow) = (STOPS[0].0, STOPS[STOPS.len() - 1].0);
    if !ms.is_finite() || ms <= fast {
        return 0.0;
    }
    (ln(ms / fast) / ln(slow / fast)).clamp(0.0, 1.0)
}

/// The marker colour for a hop whose median round-trip time is `ms`, interpolated between the scale's stops on the
/// logarithmic scale.
pub fn rtt_colour(ms: Option<f64>) -> String {
    let Some(ms) = ms.filter(|ms| ms.is_finite()) else { return NO_RTT_COLOUR.to_owned() };
    let t = rtt_scale(ms);
    let at = |i: usize| rtt_scale(STOPS[i].0);
    let upper = (1..STOPS.len()).find(|&i| t <= at(i)).unwrap_or(STOPS.len() - 1);
    let (lo, hi) = (STOPS[upper - 1].1, STOPS[upper].1);
    let f = ((t - at(upper - 1)) / (at(upper) - at(upper - 1))).clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    format!("rgb({}, {}, {})", mix(lo[0], hi[0]), mix(lo[1], hi[1]), mix(lo[2], hi[2]))
}

/// The colour (`#ffffff` or `#000000`) that reads best on the `rgb(r, g, b)` background `colour`: whichever has the
/// higher WCAG contrast, which is never below 4.58:1 for any background.
pub fn text_colour_on(colour: &str) -> &'static str {
    // Channels are whole numbers: parsing them as `u8` keeps the float parser's tables (20 KB) out of the page.
    let channels: Vec<f64> = colour
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|c| c.trim().parse::<u8>().ok().map(f64::from))
        .collect();
    let [r, g, b] = channels[..] else { return "#ffffff" };
    let linear = |v: f64| {
        let v = v / 255.0;
        if v <= 0.039_28 { v / 12.92 } else { powf((v + 0.055) / 1.055, 2.4) }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    let on_white = 1.05 / (luminance + 0.05);
    let on_black = (luminance + 0.05) / 0.05;
    if on_white >= on_black { "#ffffff" } else { "#000000" }
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
            probes: rtts
                .iter()
                .map(|r| r.map(|ms| ProbeReply::new("192.0.2.1", ms, ReplyKind::TimeExceeded)))
                .collect(),
            ..Hop::new(1, 0)
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
        assert_eq!(Loss { settled: 3, lost: 1, rate_limited: 0 }.label(), "33 %");
        assert_eq!(Loss { settled: 2, lost: 0, rate_limited: 0 }.label(), "0 %");
        assert_eq!(Loss { settled: 3, lost: 3, rate_limited: 0 }.percent(), Some(100.0));
        assert_eq!(Loss { settled: 3, lost: 1, rate_limited: 0 }.title(), "1 of 3 probes lost");
        assert_eq!(Loss { settled: 3, lost: 1, rate_limited: 0 }.rate_limited_label(), None);
        assert_eq!(
            Loss { settled: 3, lost: 2, rate_limited: 2 }.title(),
            "2 of 3 probes lost: all to the router's ICMP rate limit, which this server's own traces had used up; \
             not loss on the path"
        );
        assert_eq!(Loss { settled: 3, lost: 2, rate_limited: 2 }.rate_limited_label().as_deref(), Some("2 rl"));
        assert_eq!(Loss::default().title(), "");
        assert_eq!(Loss::default().label(), "", "nothing settled yet: no figure");
    }

    #[test]
    fn silence_and_rate_limits_are_not_loss() {
        let silent = Loss { settled: 3, lost: 3, rate_limited: 0 };
        assert_eq!(silent.label(), "no answer");
        assert!(silent.silent() && !silent.is_loss());
        let limited = Loss { settled: 3, lost: 1, rate_limited: 1 };
        assert_eq!(limited.label(), "0 %", "a try lost to our own rate limit is not path loss");
        assert!(!limited.is_loss());
        let lossy = Loss { settled: 3, lost: 1, rate_limited: 0 };
        assert!(lossy.is_loss());
        assert_eq!(Loss { settled: 4, lost: 2, rate_limited: 1 }.label(), "33 %");
    }

    #[test]
    fn marker_numbers_keep_4_5_to_1_on_every_colour_of_the_scale() {
        let contrast = |background: &str, text: &str| {
            let lum = |c: &str| {
                let v: Vec<f64> = if let Some(hex) = c.strip_prefix('#') {
                    (0..3).map(|i| f64::from(u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())).collect()
                } else {
                    c.trim_start_matches("rgb(").trim_end_matches(')').split(", ").map(|v| v.parse().unwrap()).collect()
                };
                let l = |v: f64| {
                    let v = v / 255.0;
                    if v <= 0.039_28 { v / 12.92 } else { powf((v + 0.055) / 1.055, 2.4) }
                };
                0.2126 * l(v[0]) + 0.7152 * l(v[1]) + 0.0722 * l(v[2])
            };
            let (a, b) = (lum(background), lum(text));
            (a.max(b) + 0.05) / (a.min(b) + 0.05)
        };
        for ms in [0.1, 1.0, 3.0, 10.0, 25.0, 50.0, 90.0, 150.0, 220.0, 300.0, 1000.0] {
            let colour = rtt_colour(Some(ms));
            let ratio = contrast(&colour, text_colour_on(&colour));
            assert!(ratio >= 4.5, "{ms} ms: {colour} {ratio:.2}");
        }
        assert!(contrast(NO_RTT_COLOUR, text_colour_on(NO_RTT_COLOUR)) >= 4.5);
        assert_eq!(text_colour_on("rgb(201, 42, 42)"), "#ffffff");
        assert_eq!(text_colour_on("rgb(230, 119, 0)"), "#000000");
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
        assert_eq!(rtt_colour(Some(0.4)), "rgb(43, 138, 62)");
        assert_eq!(rtt_colour(Some(1.0)), "rgb(43, 138, 62)");
        assert_eq!(rtt_colour(Some(50.0)), "rgb(230, 119, 0)", "a stop exactly");
        assert_eq!(rtt_colour(Some(900.0)), "rgb(201, 42, 42)");
        assert_eq!(rtt_colour(None), NO_RTT_COLOUR);
        assert_eq!(rtt_colour(Some(f64::INFINITY)), NO_RTT_COLOUR);
        let channels = |ms: f64| -> Vec<u8> {
            let c = rtt_colour(Some(ms));
            c.trim_start_matches("rgb(").trim_end_matches(')').split(", ").map(|v| v.parse().unwrap()).collect()
        };
        // Between stops the colour lies between theirs.
        let mid = channels(25.0);
        assert!((0x5c..=0xe6).contains(&mid[0]) && (0x77..=0x94).contains(&mid[1]), "{mid:?}");
        // Red grows and green shrinks as the time grows.
        assert!(channels(5.0)[0] < channels(50.0)[0]);
        assert!(channels(50.0)[1] > channels(200.0)[1]);
        assert_eq!(rtt_legend().len(), 5);
    }
}
