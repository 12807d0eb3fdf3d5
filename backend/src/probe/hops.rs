//! What the traces of one process learn about the hops they share, so that one trace's answers explain another
//! trace's silence, and their resends to one rate-limited router are spaced instead of colliding.
//!
//! Pure: time is a `Duration` since the book's epoch, given by the caller (the prober holds the book and the
//! clock). Each responder's budget is a [`Budget`] of the one rate-limit model in [`ratelimit`](super::ratelimit).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tracemap_shared::ReplyKind;

use super::GiveUp;
use super::ratelimit::{self, Budget, MEMORY};

/// Past this many entries in any table the book forgets what is older than [`MEMORY`], so a long-running server
/// keeps it small.
const PRUNE_AT: usize = 4096;

/// A probe given up at a TTL, as [`HopBook::give_up`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct GivenUp<'a> {
    /// Where the trace goes.
    pub destination: IpAddr,
    /// The probe's TTL.
    pub ttl: u8,
    /// Where the route starts (our source address): the hop before TTL 1.
    pub source: IpAddr,
    /// The trace's own responders per TTL so far.
    pub path: &'a HashMap<u8, IpAddr>,
    /// What a sibling try of the trace answered at this TTL, if one did.
    pub sibling: Option<(ReplyKind, IpAddr)>,
    /// Whether the probe may go once more.
    pub may_resend: bool,
}

/// Why a probe is probably a victim of its responder's rate limit: the responder, and how many probes of this
/// process reached it in the last seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// The router whose budget this process spent.
    pub router: IpAddr,
    /// Probes of this process that reached it within [`MEMORY`].
    pub recent_probes: u32,
}

/// What becomes of a probe given up (see [`HopBook::give_up`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Resend, rate-limited or silent.
    pub give_up: GiveUp,
    /// When the resend may go (the time of the verdict for the others).
    pub at: Duration,
    /// For a rate-limited verdict, why.
    pub evidence: Option<Evidence>,
}

/// The book: latest answers per destination and TTL, who follows whom, and each responder's budget.
#[derive(Debug, Default)]
pub struct HopBook {
    /// The latest answer per destination and TTL: who answered, how, and when.
    answers: HashMap<(IpAddr, u8), (IpAddr, ReplyKind, Duration)>,
    /// The latest router seen at a TTL right after a given hop (the previous TTL's responder, or our own source
    /// address for TTL 1), whatever the destination: routes to different destinations mostly share their first
    /// hops, so a trace to a new destination knows who sits behind a hop it has seen. Only Time Exceeded answers.
    successors: HashMap<(IpAddr, u8), (IpAddr, Duration)>,
    /// Per responder, its ICMP budget as this process has spent it.
    budgets: HashMap<IpAddr, Budget>,
}

impl HopBook {
    /// Records that `responder` answered a probe to `destination` at `ttl` with `kind`, at `now` (`refill`: the
    /// time a default Linux limiter takes to earn a token). `previous` is the trace's responder at `ttl - 1` (our
    /// source address at TTL 1), when known.
    #[allow(clippy::too_many_arguments)]
    pub fn note_answer(
        &mut self,
        now: Duration,
        destination: IpAddr,
        ttl: u8,
        previous: Option<IpAddr>,
        responder: IpAddr,
        kind: ReplyKind,
        refill: Duration,
    ) {
        self.answers.insert((destination, ttl), (responder, kind, now));
        if let (Some(previous), ReplyKind::TimeExceeded) = (previous, kind) {
            self.successors.insert((previous, ttl), (responder, now));
        }
        self.budgets.entry(responder).or_insert_with(|| Budget::new(now, refill)).answered(now, ratelimit::cost(kind));
        if self.answers.len() > PRUNE_AT || self.budgets.len() > PRUNE_AT || self.successors.len() > PRUNE_AT {
            self.answers.retain(|_, (_, _, at)| now.saturating_sub(*at) < MEMORY);
            self.successors.retain(|_, (_, at)| now.saturating_sub(*at) < MEMORY);
            self.budgets.retain(|_, budget| budget.is_fresh(now));
        }
    }

    /// What becomes of a probe given up at `now`. A hop known to answer (a sibling try answered; another trace to
    /// the destination saw it recently; or another trace saw a router at this TTL right after the trace's hop at
    /// `ttl - 1`) had the probe lost at its responder, which is charged for it: the probe is sent again at the next
    /// free turn of the responder's modelled rate limiter, unless that turn is beyond [`MEMORY`]. When it may not
    /// be sent again, or its turn is too far, it is rate-limited if this process's own probes had spent the
    /// responder's budget (with the evidence), else a star. An unknown hop is silent.
    pub fn give_up(&mut self, now: Duration, probe: GivenUp<'_>, refill: Duration) -> Verdict {
        let recent = |at: Duration| now.saturating_sub(at) < MEMORY;
        let mut previous = Some(probe.source);
        for hop in 1..probe.ttl {
            let seen = previous.and_then(|p| self.successors.get(&(p, hop))).filter(|(_, at)| recent(*at));
            previous = probe.path.get(&hop).copied().or(seen.map(|(responder, _)| *responder));
        }
        let known = probe
            .sibling
            .or_else(|| {
                let (responder, kind, at) = *self.answers.get(&(probe.destination, probe.ttl))?;
                recent(at).then_some((kind, responder))
            })
            .or_else(|| {
                let (responder, at) = *self.successors.get(&(previous?, probe.ttl))?;
                recent(at).then_some((ReplyKind::TimeExceeded, responder))
            });
        let silent = Verdict { give_up: GiveUp::Silent, at: now, evidence: None };
        let Some((kind, responder)) = known else { return silent };
        let budget = self.budgets.entry(responder).or_insert_with(|| Budget::new(now, refill));
        let cost = ratelimit::cost(kind);
        let spent = budget.lost(now, cost);
        let evidence = Evidence { router: responder, recent_probes: budget.recent_probes(now) };
        let limited = Verdict { give_up: GiveUp::RateLimited, at: now, evidence: Some(evidence) };
        if !probe.may_resend {
            return if spent { limited } else { silent };
        }
        match budget.reserve_resend(now, cost) {
            Some(turn) => Verdict { give_up: GiveUp::Resend(kind, None), at: turn, evidence: None },
            None => limited,
        }
    }

    /// How many probes of this process reached `responder` in the last seconds, at `now`: the evidence behind a
    /// probable rate limit (0 for a responder the book does not know).
    pub fn recent_probes(&self, now: Duration, responder: IpAddr) -> u32 {
        self.budgets.get(&responder).map_or(0, |budget| budget.recent_probes(now))
    }
}

#[cfg(test)]
#[path = "hops/scenarios.rs"]
mod scenarios;
