//! The routers' ICMP rate limit, modelled once: Linux's per-source token bucket, and the model this process keeps
//! of how much of each responder's budget its own probes have spent.
//!
//! Linux sends an ICMP error (Time Exceeded, Destination Unreachable) to a source only when that source's bucket
//! holds a token: a burst of 6 (`XRLIM_BURST_FACTOR`), one token back per `net.ipv4.icmp_ratelimit` (1 s), and a
//! host-wide cap of `icmp_msgs_per_sec` (1000) with a burst of `icmp_msgs_burst` (50). Every other place that needs
//! the rule (the tracer's resend timing, the prober's shared budgets, the watch rounds' pacing, the test networks)
//! takes it from here. Time is a `Duration` since a caller's epoch, never read from a clock.

use std::time::Duration;

use tracemap_shared::ReplyKind;

/// Tokens a fresh source's bucket holds, and its cap: `XRLIM_BURST_FACTOR`.
pub const BURST: f64 = 6.0;
/// The time a router earns one token back in: `net.ipv4.icmp_ratelimit`, 1000 ms by default.
pub const REFILL: Duration = Duration::from_secs(1);
/// [`REFILL`] with a margin: Linux counts in jiffies (4 ms at HZ=250), and a probe exactly a second later can still
/// find the bucket one tick short.
pub const REFILL_WITH_MARGIN: Duration = Duration::from_millis(1050);
/// The host-wide burst (`net.ipv4.icmp_msgs_burst`): a router's budget towards us never exceeds it.
pub const HOST_BURST: f64 = 50.0;
/// The host-wide rate (`net.ipv4.icmp_msgs_per_sec`).
pub const HOST_RATE_PER_SEC: f64 = 1000.0;

/// Tokens an answer of `kind` costs a Linux router: a reject route's unreachable is charged twice (once where
/// forwarding fails, `ip_error`, once when the error is sent); everything else once. Echo replies are not rate
/// limited by default (`icmp_ratemask`), but a destination's port unreachable is, so it costs one like the rest.
pub fn cost(kind: ReplyKind) -> u32 {
    if kind == ReplyKind::Unreachable { 2 } else { 1 }
}

/// One source's token bucket as the kernel keeps it (`inet_peer_xrlim_allow`): tokens earned since the last
/// message, capped, and one spent per message sent. The test networks of the tracer play routers with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    burst: f64,
    /// Tokens earned per second.
    rate: f64,
    last: Duration,
}

impl TokenBucket {
    /// A Linux router's bucket for a source it has not heard from, at `now`: full (the kernel backdates a new
    /// peer's last refill by a minute).
    pub fn linux(now: Duration) -> TokenBucket {
        TokenBucket::new(BURST, BURST, 1.0 / REFILL.as_secs_f64(), now)
    }

    /// A bucket holding `tokens` of at most `burst`, earning `rate` a second, last refilled at `now`.
    pub fn new(tokens: f64, burst: f64, rate: f64, now: Duration) -> TokenBucket {
        TokenBucket { tokens: tokens.min(burst), burst, rate, last: now }
    }

    /// Tokens held at `now` (refilled up to the cap, not spent).
    pub fn tokens_at(&self, now: Duration) -> f64 {
        let earned = now.saturating_sub(self.last).as_secs_f64() * self.rate;
        (self.tokens + earned).min(self.burst)
    }

    /// Earns what time has brought up to `now`; a `now` before the last refill changes nothing.
    pub fn refill(&mut self, now: Duration) {
        self.tokens = self.tokens_at(now);
        self.last = self.last.max(now);
    }

    /// The kernel's decision for one message at `now`, with the bucket capped at `cap` for this call (the
    /// forwarding path's `ip_error` caps at 5): sends, and spends a token, only while it holds more than one.
    pub fn allow(&mut self, now: Duration, cap: f64) -> bool {
        let earned = now.saturating_sub(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(cap);
        self.last = self.last.max(now);
        if self.tokens > 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Spends `cost` tokens at `now` if the bucket holds them; `false` (and the bucket emptied) when it does not.
    pub fn spend(&mut self, now: Duration, cost: f64) -> bool {
        self.refill(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            self.tokens = 0.0;
            false
        }
    }

    /// The earliest time from `now` on when the bucket holds `cost` tokens (never, for more than its cap: then
    /// the time it is full).
    pub fn ready_at(&self, now: Duration, cost: f64) -> Duration {
        let missing = cost.min(self.burst) - self.tokens_at(now);
        if missing <= 0.0 { now } else { now + Duration::from_secs_f64(missing / self.rate) }
    }

    /// Takes on what `other`, a bucket of the same responder modelled apart, has spent below its cap (refilled to
    /// the later of both); never below empty.
    pub fn absorb(&mut self, other: &TokenBucket) {
        let at = self.last.max(other.last);
        self.refill(at);
        let spent = other.burst - other.tokens_at(at);
        self.tokens = (self.tokens - spent.max(0.0)).max(0.0);
    }

    /// Earns tokens `factor` times as fast and holds `factor` times as many, up to the host-wide limits.
    pub fn grow(&mut self, factor: f64) {
        self.burst = (self.burst * factor).min(HOST_BURST);
        self.rate = (self.rate * factor).min(HOST_RATE_PER_SEC);
    }

    /// Tokens earned per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When it was last refilled or spent from.
    pub fn last(&self) -> Duration {
        self.last
    }
}

/// How long an answer seen by one trace counts as evidence for the others, and how far ahead resends to one
/// responder may be queued: a little longer than a rate limiter takes to refill its burst.
pub const MEMORY: Duration = Duration::from_secs(10);

/// A model of one responder's ICMP rate limiter towards this host, fed with every probe of every trace of this
/// process that reached it (answered, or lost there). It starts as Linux's default per-source bucket (earning a
/// token per `refill`); each answer the model says the router had no token for proves a larger budget, and
/// doubles the modelled burst and refill rate (up to Linux's host-wide limit). The resends to the responder are
/// paced by it.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    bucket: TokenBucket,
    /// Earliest time the next resend to it may go.
    next_resend: Duration,
    /// When this process's probes last found the budget empty.
    emptied: Option<Duration>,
    /// Probes of this process that reached the responder (answered or lost there) within [`MEMORY`] before
    /// `recent_since`, and since then: the evidence behind a rate-limit verdict.
    recent: u32,
    recent_since: Duration,
}

impl Budget {
    /// A responder first met at `now`, with Linux's default budget earning a token per `refill`.
    pub fn new(now: Duration, refill: Duration) -> Budget {
        let rate = 1.0 / refill.as_secs_f64().max(1e-3);
        Budget {
            bucket: TokenBucket::new(BURST, BURST, rate, now),
            next_resend: now,
            emptied: None,
            recent: 0,
            recent_since: now,
        }
    }

    fn count(&mut self, now: Duration) {
        if now.saturating_sub(self.recent_since) >= MEMORY {
            self.recent = 0;
            self.recent_since = now;
        }
        self.recent = self.recent.saturating_add(1);
    }

    /// An answer that cost `cost` tokens arrived at `now`; one the model had no tokens for proves a larger budget.
    pub fn answered(&mut self, now: Duration, cost: u32) {
        self.count(now);
        if !self.bucket.spend(now, f64::from(cost)) {
            self.emptied = Some(now);
            self.bucket.grow(2.0);
        }
    }

    /// A probe was lost at the responder at `now`: whether this process's own probes had spent its budget (the
    /// model has no token for it, or had none moments ago: other traces keep draining a router whose model
    /// refills between their answers). A probe lost while the budget was never short was lost for another reason.
    pub fn lost(&mut self, now: Duration, cost: u32) -> bool {
        self.count(now);
        self.bucket.refill(now);
        if self.bucket.tokens_at(now) < f64::from(cost) {
            self.emptied = Some(now);
        }
        self.emptied.is_some_and(|at| now.saturating_sub(at) < MEMORY)
    }

    /// The time one answer costing `cost` takes to earn back.
    pub fn spacing(&self, cost: u32) -> Duration {
        Duration::from_secs_f64(f64::from(cost) / self.bucket.rate())
    }

    /// The next turn for a resend costing `cost` at `now`, reserved; `None` when it would be beyond [`MEMORY`]
    /// from now (the responder's budget is committed to this process's own probes).
    pub fn reserve_resend(&mut self, now: Duration, cost: u32) -> Option<Duration> {
        let spacing = self.spacing(cost);
        let turn = self.next_resend.max(now + spacing);
        if turn > now + MEMORY {
            return None;
        }
        self.next_resend = turn + spacing;
        Some(turn)
    }

    /// How many probes of this process reached the responder in the last [`MEMORY`] or so, at `now`: the
    /// evidence for a probable rate limit.
    pub fn recent_probes(&self, now: Duration) -> u32 {
        if now.saturating_sub(self.recent_since) >= MEMORY { 0 } else { self.recent }
    }

    /// Whether the model is worth keeping at `now`: it was used within [`MEMORY`].
    pub fn is_fresh(&self, now: Duration) -> bool {
        self.bucket.last().max(self.next_resend) + MEMORY > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn a_linux_router_answers_a_burst_of_six_then_one_a_second() {
        let mut bucket = TokenBucket::linux(Duration::ZERO);
        // Strictly more than one token is needed: a full bucket of 6 lets 5 go at once...
        let at_once = (0..20).filter(|_| bucket.allow(Duration::ZERO, BURST)).count();
        assert_eq!(at_once, 5);
        // ...then one per second, as tokens come back: a probe every quarter second gets one answer a second.
        let answered: Vec<f64> =
            (1..=16).map(|i| 0.25 * f64::from(i)).filter(|&at| bucket.allow(s(at), BURST)).collect();
        assert_eq!(answered, [0.25, 1.25, 2.25, 3.25]);
        // Ten quiet seconds refill it to the cap, not beyond.
        assert_eq!(bucket.tokens_at(s(100.0)), BURST);
    }

    #[test]
    fn probes_one_second_apart_never_run_it_dry() {
        let mut bucket = TokenBucket::linux(Duration::ZERO);
        for round in 0..600 {
            let at = REFILL_WITH_MARGIN.mul_f64(f64::from(round));
            assert!(bucket.allow(at, BURST), "round {round}");
        }
    }

    #[test]
    fn ready_at_says_when_tokens_come_back() {
        let mut bucket = TokenBucket::linux(Duration::ZERO);
        assert!(bucket.spend(Duration::ZERO, 6.0));
        assert_eq!(bucket.ready_at(Duration::ZERO, 1.0), s(1.0));
        assert_eq!(bucket.ready_at(Duration::ZERO, 2.0), s(2.0));
        assert_eq!(bucket.ready_at(s(3.0), 2.0), s(3.0), "already there");
        // More than the cap: when it is full.
        assert_eq!(bucket.ready_at(Duration::ZERO, 9.0), s(6.0));
        assert!(!bucket.spend(s(0.5), 1.0), "half a token is not one");
    }

    #[test]
    fn unreachables_cost_two_tokens_everything_else_one() {
        assert_eq!(cost(ReplyKind::Unreachable), 2);
        assert_eq!(cost(ReplyKind::TimeExceeded), 1);
        assert_eq!(cost(ReplyKind::Destination), 1);
    }

    #[test]
    fn a_budget_grows_when_the_router_answers_beyond_it_up_to_the_host_limit() {
        let mut budget = Budget::new(Duration::ZERO, REFILL);
        for _ in 0..6 {
            budget.answered(Duration::ZERO, 1);
        }
        assert_eq!(budget.spacing(1), s(1.0));
        // A seventh answer at once: the router's budget is larger than Linux's default.
        budget.answered(Duration::ZERO, 1);
        assert_eq!(budget.spacing(1), s(0.5));
        for _ in 0..100 {
            budget.answered(Duration::ZERO, 1);
        }
        assert_eq!(budget.spacing(1), Duration::from_secs_f64(1.0 / HOST_RATE_PER_SEC));
        assert_eq!(budget.recent_probes(Duration::ZERO), 107);
        assert_eq!(budget.recent_probes(MEMORY), 0, "evidence is forgotten");
    }

    #[test]
    fn a_probe_lost_with_tokens_left_is_not_the_limiter() {
        let mut budget = Budget::new(Duration::ZERO, REFILL);
        budget.answered(Duration::ZERO, 1);
        assert!(!budget.lost(s(0.1), 1), "5 tokens left: lost for another reason");
        for _ in 0..5 {
            budget.answered(s(0.1), 1);
        }
        assert!(budget.lost(s(0.2), 1), "spent by our own probes");
        // A refilled budget still remembers it was emptied moments ago...
        assert!(budget.lost(s(5.0), 1));
        // ...but not forever.
        assert!(!budget.lost(s(20.0), 1));
    }

    #[test]
    fn resends_to_one_responder_take_turns_within_the_horizon() {
        let mut budget = Budget::new(Duration::ZERO, REFILL);
        let turns: Vec<_> = (0..12).map(|_| budget.reserve_resend(Duration::ZERO, 1)).collect();
        assert_eq!(turns[0], Some(s(1.0)));
        assert_eq!(turns[1], Some(s(2.0)));
        assert_eq!(turns[9], Some(s(10.0)));
        assert_eq!(turns[10], None, "beyond the horizon");
        assert_eq!(budget.reserve_resend(Duration::ZERO, 2), None);
        let mut fresh = Budget::new(Duration::ZERO, REFILL);
        assert_eq!(fresh.reserve_resend(Duration::ZERO, 2), Some(s(2.0)), "an unreachable needs two tokens");
        assert!(fresh.is_fresh(s(11.0)) && !fresh.is_fresh(s(15.0)));
    }
}
