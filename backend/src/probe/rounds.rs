//! Watching a route: the same trace again and again, round after round, paced so that the routers' ICMP rate
//! limits never cause a loss of tracemap's own making.
//!
//! Each round is a fresh [`Tracer`](super::Tracer) over the TTLs that matter (up to the destination once a round
//! has found it). Between rounds, [`Rounds`] keeps a model of every hop's token bucket as this trace has spent it
//! (Linux: a burst of 6, then one a second, see [`ratelimit`](super::ratelimit)) and lets the next round begin at
//! the later of its turn (`interval` after the previous start, mtr's one probe per hop per second by default) and
//! the time every hop has earned back the tokens the round will cost. Pure: time is passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use tracemap_shared::{Protocol, ReplyKind};

use super::ProbeConfig;
use super::ratelimit::{self, BURST, REFILL_WITH_MARGIN, TokenBucket};

/// Blocks of sequence numbers a watch's rounds take turns with: a late answer to one round is never taken for an
/// answer in the next, and the probes of a TTL change flow (UDP ports, TCP source ports) from round to round over
/// eight rounds, so that a per-flow load balancer shows its other paths.
pub const ROUND_BLOCKS: usize = 8;

/// How a route is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// Rounds to run; 0 runs until stopped.
    pub rounds: u32,
    /// Least time between the starts of two rounds.
    pub interval: Duration,
}

impl Default for Watch {
    fn default() -> Self {
        Watch { rounds: 0, interval: Duration::from_secs(1) }
    }
}

/// The rounds of one watch: which round comes next, when it may begin, and what it probes.
#[derive(Debug, Clone)]
pub struct Rounds {
    watch: Watch,
    /// The probes' protocol: a destination's own answer costs a token only when it is an ICMP error (UDP's port
    /// unreachable); echo replies and TCP answers are not rate limited.
    protocol: Protocol,
    /// Rounds begun so far.
    begun: u32,
    last_start: Option<Duration>,
    /// Per TTL, the responder's bucket as this watch has spent it. A Linux router answers only while it holds
    /// more than one token, so the model holds one less than the kernel's and refills with a margin.
    buckets: BTreeMap<u8, TokenBucket>,
    /// Per TTL, the kind of answer last seen there (an unreachable costs two tokens).
    kinds: BTreeMap<u8, ReplyKind>,
    /// The lowest TTL where the destination (or an unreachable) answered: later rounds stop there.
    end_ttl: Option<u8>,
}

impl Rounds {
    /// A watch that has not begun, of probes of `protocol`.
    pub fn new(watch: Watch, protocol: Protocol) -> Rounds {
        Rounds {
            watch,
            protocol,
            begun: 0,
            last_start: None,
            buckets: BTreeMap::new(),
            kinds: BTreeMap::new(),
            end_ttl: None,
        }
    }

    /// Rounds begun so far.
    pub fn begun(&self) -> u32 {
        self.begun
    }

    /// The lowest TTL known to end the route.
    pub fn end_ttl(&self) -> Option<u8> {
        self.end_ttl
    }

    /// When the next round may begin, at the earliest (never before `now`), for a trace of `config`; `None` once
    /// every round asked for has begun.
    pub fn next_start(&self, now: Duration, config: &ProbeConfig) -> Option<Duration> {
        if self.watch.rounds != 0 && self.begun >= self.watch.rounds {
            return None;
        }
        let turn = self.last_start.map_or(now, |last| last.saturating_add(self.watch.interval)).max(now);
        let tries = f64::from(config.tries.max(1));
        let budget = self
            .ttls(config)
            .filter_map(|ttl| {
                let bucket = self.buckets.get(&ttl)?;
                Some(bucket.ready_at(now, tries * f64::from(self.cost(ttl))))
            })
            .max()
            .unwrap_or(now);
        Some(turn.max(budget))
    }

    /// Begins the next round at `now`: its number (from 1) and the configuration it probes (up to the end of the
    /// route once known).
    pub fn begin(&mut self, now: Duration, config: &ProbeConfig) -> (u32, ProbeConfig) {
        self.begun = self.begun.saturating_add(1);
        self.last_start = Some(now);
        let mut round = config.clone();
        if let Some(end) = self.end_ttl {
            round.max_hops = end.max(round.first_ttl);
        }
        (self.begun, round)
    }

    /// A probe with `ttl` left at `now`: the hop it reaches (the end of the route, for a TTL beyond it) is charged.
    /// A probe the model says the hop cannot afford still goes (a round asked to start early); the bucket is
    /// simply emptied.
    pub fn sent(&mut self, now: Duration, ttl: u8) {
        let ttl = self.end_ttl.map_or(ttl, |end| ttl.min(end));
        let cost = f64::from(self.cost(ttl));
        self.buckets.entry(ttl).or_insert_with(|| model(now)).spend(now, cost);
    }

    /// What a probe of the current round at `ttl` received (`None`: nothing). A probe beyond the end of the route
    /// reached the end: its cost is the end's.
    pub fn answered(&mut self, ttl: u8, kind: Option<ReplyKind>) {
        let Some(kind) = kind else { return };
        self.kinds.insert(ttl, kind);
        if kind != ReplyKind::TimeExceeded && self.end_ttl.is_none_or(|end| ttl < end) {
            self.end_ttl = Some(ttl);
            // Probes sent beyond the end all reached the end: its bucket is charged with every one of them.
            let beyond: Vec<TokenBucket> = self.buckets.range(ttl + 1..).map(|(_, bucket)| *bucket).collect();
            if let Some(end) = self.buckets.get_mut(&ttl) {
                for other in &beyond {
                    end.absorb(other);
                }
            }
            self.buckets.retain(|&at, _| at <= ttl);
        }
    }

    fn cost(&self, ttl: u8) -> u32 {
        match self.kinds.get(&ttl) {
            Some(ReplyKind::Destination) if self.protocol != Protocol::Udp => 0,
            Some(kind) => ratelimit::cost(*kind),
            None => 1,
        }
    }

    fn ttls(&self, config: &ProbeConfig) -> impl Iterator<Item = u8> + use<> {
        let last = self.end_ttl.map_or(config.max_hops, |end| end.min(config.max_hops));
        config.first_ttl.max(1)..=last
    }
}

/// A fresh hop's bucket as the watch models it: Linux's, one token short (the kernel answers only while it holds
/// more than one), refilled with a margin.
fn model(now: Duration) -> TokenBucket {
    TokenBucket::new(BURST - 1.0, BURST - 1.0, 1.0 / REFILL_WITH_MARGIN.as_secs_f64(), now)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn config(max_hops: u8, tries: u8) -> ProbeConfig {
        ProbeConfig { destination: IpAddr::from([10, 0, 9, 2]), max_hops, tries, ..ProbeConfig::default() }
    }

    /// Runs `count` rounds as fast as the pacing allows (each round takes `length`), feeding each hop's answers
    /// to a Linux router's bucket; returns the start times and the probes the routers refused.
    fn run(watch: Watch, config: &ProbeConfig, hops: u8, length: Duration, count: u32) -> (Vec<Duration>, u32) {
        let mut rounds = Rounds::new(watch, config.protocol);
        let mut routers: Vec<TokenBucket> = (0..hops).map(|_| TokenBucket::linux(Duration::ZERO)).collect();
        let mut now = Duration::ZERO;
        let mut starts = Vec::new();
        let mut refused = 0;
        for _ in 0..count {
            let Some(start) = rounds.next_start(now, config) else { break };
            let (_, round) = rounds.begin(start, config);
            starts.push(start);
            for ttl in round.first_ttl..=round.max_hops.min(hops) {
                for _ in 0..round.tries {
                    rounds.sent(start, ttl);
                    let router = &mut routers[usize::from(ttl - 1)];
                    // The destination's echo replies are not rate limited; the routers' Time Exceeded are.
                    if ttl == hops || router.allow(start, BURST) {
                        let kind = if ttl == hops { ReplyKind::Destination } else { ReplyKind::TimeExceeded };
                        rounds.answered(ttl, Some(kind));
                    } else {
                        refused += 1;
                        rounds.answered(ttl, None);
                    }
                }
            }
            now = start + length;
        }
        (starts, refused)
    }

    fn secs(starts: &[Duration]) -> Vec<f64> {
        starts.iter().map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0).collect()
    }

    #[test]
    fn one_probe_per_hop_per_second_never_drains_a_router() {
        let watch = Watch { rounds: 120, interval: Duration::from_secs(1) };
        let (starts, refused) = run(watch, &config(30, 1), 8, Duration::from_millis(30), 200);
        assert_eq!(starts.len(), 120, "the rounds asked for, and no more");
        assert_eq!(refused, 0);
        // The burst lets the margin be taken late: the rounds keep their one-second turns for a long while.
        assert_eq!(secs(&starts[..3]), [0.0, 1.0, 2.0]);
        let last = starts[119].as_secs_f64();
        assert!((119.0..=119.0 * 1.05 + 0.1).contains(&last), "{last}");
    }

    #[test]
    fn a_short_interval_spends_the_burst_then_waits_for_tokens() {
        let watch = Watch { rounds: 10, interval: Duration::from_millis(100) };
        let (starts, refused) = run(watch, &config(30, 1), 3, Duration::from_millis(10), 10);
        assert_eq!(refused, 0, "{:?}", secs(&starts));
        // Five rounds in the burst, then one per refill.
        assert_eq!(secs(&starts[..5]), [0.0, 0.1, 0.2, 0.3, 0.4]);
        assert!(starts[5] >= Duration::from_millis(1050), "{:?}", secs(&starts));
        assert!(starts[9] <= Duration::from_secs(6), "{:?}", secs(&starts));
    }

    #[test]
    fn three_tries_per_round_are_paced_three_times_slower() {
        let watch = Watch { rounds: 12, interval: Duration::from_millis(10) };
        let (starts, refused) = run(watch, &config(30, 3), 2, Duration::from_millis(5), 12);
        assert_eq!(refused, 0, "{:?}", secs(&starts));
        let gaps: Vec<_> = starts.windows(2).skip(4).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        assert!(gaps.iter().all(|gap| (3.0..3.3).contains(gap)), "{gaps:?}");
    }

    #[test]
    fn later_rounds_stop_at_the_destination() {
        let mut rounds = Rounds::new(Watch { rounds: 0, interval: Duration::from_secs(1) }, Protocol::Udp);
        let config = config(30, 1);
        let (number, first) = rounds.begin(Duration::ZERO, &config);
        assert_eq!((number, first.max_hops), (1, 30));
        // The first round probed TTLs 1..=8 before the destination at 4 answered.
        for ttl in 1..=8 {
            rounds.sent(Duration::ZERO, ttl);
        }
        rounds.answered(2, Some(ReplyKind::TimeExceeded));
        rounds.answered(4, Some(ReplyKind::Destination));
        assert_eq!(rounds.end_ttl(), Some(4));
        rounds.answered(6, Some(ReplyKind::Destination));
        assert_eq!(rounds.end_ttl(), Some(4), "a higher TTL does not move the end");
        // The destination received five probes (TTLs 4 to 8): its model is empty, the next round waits for a
        // token.
        let start = rounds.next_start(Duration::from_millis(50), &config).unwrap();
        assert!((start.as_secs_f64() - REFILL_WITH_MARGIN.as_secs_f64()).abs() < 1e-6, "{start:?}");
        let (number, second) = rounds.begin(start, &config);
        assert_eq!((number, second.max_hops), (2, 4));
        // Round 0 never ends by count.
        assert!(rounds.next_start(Duration::from_secs(9), &config).is_some());
    }

    #[test]
    fn echo_replies_cost_the_destination_nothing_port_unreachables_do() {
        for (protocol, waits) in [(Protocol::Icmp, false), (Protocol::Udp, true)] {
            let mut rounds = Rounds::new(Watch { rounds: 0, interval: Duration::from_millis(1) }, protocol);
            let config = ProbeConfig { protocol, ..config(30, 1) };
            let mut now = Duration::ZERO;
            for _ in 0..8 {
                now = rounds.next_start(now, &config).unwrap();
                rounds.begin(now, &config);
                rounds.sent(now, 1);
                rounds.answered(1, Some(ReplyKind::Destination));
            }
            assert_eq!(now > Duration::from_secs(1), waits, "{protocol:?}: round 8 at {now:?}");
        }
    }

    #[test]
    fn a_reject_route_costs_two_tokens_a_round() {
        let mut rounds = Rounds::new(Watch { rounds: 0, interval: Duration::from_millis(1) }, Protocol::Icmp);
        let config = config(3, 1);
        let mut now = Duration::ZERO;
        let mut starts = Vec::new();
        for _ in 0..6 {
            now = rounds.next_start(now, &config).unwrap();
            let (_, round) = rounds.begin(now, &config);
            for ttl in 1..=round.max_hops {
                rounds.sent(now, ttl);
            }
            rounds.answered(2, Some(ReplyKind::Unreachable));
            starts.push(now);
        }
        // Round 1 charged 1 (the kind was unknown), the next ones 2: 5 tokens last two rounds and a half.
        let gap = (starts[5] - starts[4]).as_secs_f64();
        assert!((2.0..2.2).contains(&gap), "{:?}", secs(&starts));
    }
}
