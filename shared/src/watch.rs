//! What a watch's rounds say about the route beyond each hop's figures: where loss happens, and how the path moves.
//!
//! - **Loss where it happens.** Loss at a hop that the hops after it share is loss on the path, from the first hop
//!   that shows it on ("loss from hop 5 on"). Loss at a hop that the hops after it do not share is that router
//!   answering less than it forwards (it deprioritises its own ICMP): "loss at this hop only", not a problem of the
//!   path.
//! - **Route changes.** A hop answered from an address it never answered from before is a route change, with its
//!   round and time. A hop whose answers come back to an address it answered from before, round after round, is
//!   load balancing (several next hops), not a change: its changes are withdrawn and the hop is marked.
//!
//! Both are folded in by [`TraceReport::apply`](crate::TraceReport::apply), the same for the terminal, the JSON and
//! the page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Hop, TraceReport};

/// Where a hop's loss happens. JSON: `{"kind": "forwarding", "from_ttl": 5}` or `{"kind": "hop_only"}`, read by a
/// visitor of its own (keys in any order) rather than serde's internally tagged derive, which buffers the object
/// first and costs the page 5 kB gzip (BENCHMARKS.md, "WASM bundle size").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LossAt {
    /// The hops after it lose as much: loss on the path, beginning at `from_ttl`.
    Forwarding {
        /// The first hop of the route that shows this loss.
        from_ttl: u8,
    },
    /// The hops after it lose much less: the router answers less than it forwards.
    HopOnly,
}

impl LossAt {
    /// The verdict in words, for the table and the replay.
    pub fn describe(&self) -> String {
        match self {
            LossAt::Forwarding { from_ttl } => format!("loss from hop {from_ttl} on"),
            LossAt::HopOnly => "loss at this hop only (it answers less than it forwards)".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for LossAt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, Visitor};
        struct LossAtVisitor;
        impl<'de> Visitor<'de> for LossAtVisitor {
            type Value = LossAt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object with a \"kind\" of forwarding or hop_only")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LossAt, A::Error> {
                let (mut kind, mut from_ttl) = (None::<String>, None::<u8>);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "kind" => kind = Some(map.next_value()?),
                        "from_ttl" => from_ttl = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match kind.as_deref() {
                    Some("forwarding") => Ok(LossAt::Forwarding {
                        from_ttl: from_ttl.ok_or_else(|| de::Error::missing_field("from_ttl"))?,
                    }),
                    Some("hop_only") => Ok(LossAt::HopOnly),
                    Some(other) => Err(de::Error::unknown_variant(other, &["forwarding", "hop_only"])),
                    None => Err(de::Error::missing_field("kind")),
                }
            }
        }
        deserializer.deserialize_map(LossAtVisitor)
    }
}

/// A hop answered from an address it had not answered from before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteChange {
    /// The hop.
    pub ttl: u8,
    /// The round it was first seen in.
    pub round: u32,
    /// When that round began, in milliseconds since the trace started.
    pub at_ms: u64,
    /// The address the hop answered from before.
    pub from: String,
    /// The new address.
    pub to: String,
}

/// What the fold keeps between events of a watch; not part of the JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WatchState {
    /// When the current round began.
    pub(crate) at_ms: u64,
    /// Per TTL, the address of its latest answer.
    last: BTreeMap<u8, String>,
}

impl TraceReport {
    /// A round's probe at `ttl` was answered from `from`: compares it with the hop's latest answer. Call before
    /// the answer is counted in the hop's statistics.
    pub(crate) fn observe_answer(&mut self, ttl: u8, from: &str) {
        let previous = self.watch_state.last.insert(ttl, from.to_owned());
        let Some(previous) = previous.filter(|previous| previous != from) else { return };
        let (round, at_ms) = (self.rounds.unwrap_or(0), self.watch_state.at_ms);
        let Some(hop) = self.hops.iter_mut().find(|hop| hop.ttl == ttl) else { return };
        let answered_before = hop
            .addresses
            .iter()
            .any(|entry| entry.address == from && entry.stats.as_ref().is_some_and(|stats| stats.received > 0));
        if answered_before {
            // Back to an address it answered from before: several next hops, not a change.
            hop.load_balanced = true;
            let balanced: Vec<&str> = hop.addresses.iter().map(|entry| entry.address.as_str()).collect();
            self.route_changes.retain(|change| {
                change.ttl != ttl
                    || !(balanced.contains(&change.from.as_str()) && balanced.contains(&change.to.as_str()))
            });
        } else {
            self.route_changes.push(RouteChange { ttl, round, at_ms, from: previous, to: from.to_owned() });
        }
    }

    /// Judges every watched hop's loss anew (see [`LossAt`]).
    pub(crate) fn judge_loss(&mut self) {
        let verdicts = loss_verdicts(&self.hops);
        for hop in &mut self.hops {
            hop.loss_at = verdicts.get(&hop.ttl).copied();
        }
    }
}

/// The verdict for every hop that answered some of its probes and lost others. Loss at a hop "continues" when
/// every answering hop after it loses at least half as much; the loss of the last answering hop has nothing after
/// it and counts as continuing. A continuing loss is forwarding loss from the first hop of the run of continuing
/// losses that ends at it; any other loss is the hop's own.
pub fn loss_verdicts(hops: &[Hop]) -> BTreeMap<u8, LossAt> {
    let answering: Vec<(u8, f64)> = hops
        .iter()
        .filter_map(|hop| hop.stats.as_ref().filter(|stats| stats.received > 0).map(|stats| (hop.ttl, stats.loss_pct)))
        .collect();
    let continues = |i: usize| {
        let loss = answering[i].1;
        answering[i + 1..].iter().all(|&(_, later)| later >= loss * 0.5)
    };
    let mut verdicts = BTreeMap::new();
    let mut run_start: Option<u8> = None;
    for (i, &(ttl, loss)) in answering.iter().enumerate() {
        if loss <= 0.0 {
            run_start = None;
            continue;
        }
        if continues(i) {
            let from_ttl = *run_start.get_or_insert(ttl);
            verdicts.insert(ttl, LossAt::Forwarding { from_ttl });
        } else {
            verdicts.insert(ttl, LossAt::HopOnly);
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProbeReply, ReplyKind, TraceEvent};

    fn probe(ttl: u8, from: Option<&str>) -> TraceEvent {
        let reply = from.map(|from| ProbeReply::new(from, 1.0, ReplyKind::TimeExceeded));
        TraceEvent::Probe { ttl, index: 0, reply, rate_limited: false, send_error: None }
    }

    /// Folds `rounds`, each a list of answers per TTL from 1 (`None`: lost).
    fn watch(rounds: &[&[Option<&str>]]) -> TraceReport {
        let mut report = TraceReport::default();
        for (round, answers) in (1..).zip(rounds) {
            report.apply(&TraceEvent::Round { round, at_ms: u64::from(round) * 1000 });
            for (ttl, from) in (1..).zip(answers.iter()) {
                report.apply(&probe(ttl, *from));
            }
        }
        report
    }

    #[test]
    fn loss_at_reads_back_what_it_writes_with_its_keys_in_any_order() {
        for loss in [LossAt::Forwarding { from_ttl: 5 }, LossAt::HopOnly] {
            let text = serde_json::to_string(&loss).expect("json");
            assert_eq!(serde_json::from_str::<LossAt>(&text).expect("back"), loss, "{text}");
        }
        assert_eq!(
            serde_json::to_string(&LossAt::Forwarding { from_ttl: 5 }).expect("json"),
            r#"{"kind":"forwarding","from_ttl":5}"#
        );
        let reordered = r#"{"from_ttl": 7, "note": [1], "kind": "forwarding"}"#;
        assert_eq!(serde_json::from_str::<LossAt>(reordered).expect("any order"), LossAt::Forwarding { from_ttl: 7 });
        for (bad, says) in [
            (r#"{"kind": "forwarding"}"#, "from_ttl"),
            (r#"{"kind": "elsewhere"}"#, "elsewhere"),
            (r#"{"from_ttl": 3}"#, "kind"),
        ] {
            let error = serde_json::from_str::<LossAt>(bad).expect_err(bad).to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn loss_the_later_hops_share_is_forwarding_loss_from_where_it_starts() {
        let (a, b, c) = (Some("10.0.1.1"), Some("10.0.2.1"), Some("10.0.3.1"));
        let report = watch(&[&[a, b, c], &[a, None, None], &[a, b, c], &[a, None, None]]);
        assert_eq!(report.hops[0].loss_at, None);
        assert_eq!(report.hops[1].loss_at, Some(LossAt::Forwarding { from_ttl: 2 }));
        assert_eq!(report.hops[2].loss_at, Some(LossAt::Forwarding { from_ttl: 2 }));
        assert_eq!(report.hops[2].loss_at.unwrap().describe(), "loss from hop 2 on");
    }

    #[test]
    fn loss_the_later_hops_do_not_share_is_the_hops_own() {
        let (a, b, c) = (Some("10.0.1.1"), Some("10.0.2.1"), Some("10.0.3.1"));
        let report = watch(&[&[a, b, c], &[a, None, c], &[a, None, c], &[a, b, c]]);
        assert_eq!(report.hops[1].loss_at, Some(LossAt::HopOnly));
        assert_eq!(report.hops[2].loss_at, None);
        // A silent hop answers nothing: no verdict, its 100 % is silence, not loss.
        let silent = watch(&[&[a, None, c], &[a, None, c]]);
        assert_eq!(silent.hops[1].loss_at, None);
        let json = serde_json::to_value(&report.hops[1]).unwrap();
        assert_eq!(json["loss_at"], serde_json::json!({"kind": "hop_only"}));
    }

    #[test]
    fn a_new_address_is_a_route_change_with_its_round_and_time() {
        let (a, b, b2, c) = (Some("10.0.1.1"), Some("10.0.2.1"), Some("10.9.2.1"), Some("10.0.3.1"));
        let report = watch(&[&[a, b, c], &[a, None, c], &[a, b2, c], &[a, b2, c]]);
        assert_eq!(
            report.route_changes,
            [RouteChange { ttl: 2, round: 3, at_ms: 3000, from: "10.0.2.1".into(), to: "10.9.2.1".into() }]
        );
        assert!(!report.hops[1].load_balanced);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["route_changes"][0]["round"], 3);
    }

    #[test]
    fn answers_coming_back_to_an_earlier_address_are_load_balancing() {
        let (a, b, b2) = (Some("10.0.1.1"), Some("10.0.2.1"), Some("10.9.2.1"));
        let report = watch(&[&[a, b], &[a, b2], &[a, b], &[a, b2], &[a, b2]]);
        assert!(report.hops[1].load_balanced);
        assert!(report.route_changes.is_empty(), "{:?}", report.route_changes);
        assert!(!report.hops[0].load_balanced);
        // A single trace knows nothing of rounds: no statistics, no verdicts.
        let mut single = TraceReport::default();
        single.apply(&probe(1, a));
        assert!(single.hops[0].stats.is_none() && single.hops[0].loss_at.is_none());
    }
}
