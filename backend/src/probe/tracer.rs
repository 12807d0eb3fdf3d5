//! One trace's probing logic: which probe goes out next, when to wake, and what each reply means.
//!
//! Time is a `Duration` since the trace started, always given by the caller, so every scenario (timeouts, late and
//! duplicate replies, replies out of order, a destination answering at several TTLs, rate-limited hops) is a plain
//! unit test. Probes go out TTL by TTL within a small window of TTLs, several in flight at once, so each router sees
//! only the `tries` probes of its own TTL, within the ICMP error rate limit of Linux routers (burst 6, then 1/s).
//! Waits adapt to the round trips seen (a silent hop between answering hops costs a few of their RTTs, the timeout
//! is only the ceiling), and a probe lost while its siblings were answered is sent once more after the responder's
//! rate limiter has refilled, so a limiter never shows as a false `*`.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use tracemap_shared::{MplsLabel, ProbeReply, ReplyKind, TraceEvent};

use super::{ProbeConfig, ratelimit};
use crate::wire::extensions::MplsStack;

/// How probes are spread over time: how many at once, over how many TTLs, and how long to wait for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Most probes awaiting a reply at once.
    pub max_in_flight: usize,
    /// Probes are sent only for TTLs below the lowest open TTL plus this window, so a trace does not run far ahead
    /// of what it knows (probes beyond the destination are wasted, and for UDP they are rate-limited). The window
    /// opens to every TTL once the route has gone silent (see [`Tracer`]).
    pub ttl_window: u8,
    /// Floor of an adaptive wait: below it, scheduling noise on a busy host would turn answers into stars.
    pub min_wait: Duration,
    /// A probe is given up after this many times the slowest answer at its own TTL...
    pub here_factor: u32,
    /// ...or, when its TTL has no answer, this many times the slowest answer beyond it.
    pub near_factor: u32,
    /// Whether a probe lost while its siblings were answered is sent once more.
    pub resend_after_rate_limit: bool,
    /// How long a router's ICMP rate limiter takes to earn one token back (Linux: `icmp_ratelimit`, 1 s), with a
    /// margin.
    pub rate_limit_refill: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            // Six TTLs of three tries: a typical route's first answers all come back within one round trip. The
            // in-flight cap matters once the window opens over a silent stretch.
            max_in_flight: 96,
            ttl_window: 6,
            // Answers are matched by their kernel receive time, and everything received is read before a probe is
            // given up, so the floor only has to cover a router slower to answer than those beyond it.
            min_wait: Duration::from_millis(5),
            // traceroute's defaults (`-w 5,3,10`), proven on real routes.
            here_factor: 3,
            near_factor: 10,
            resend_after_rate_limit: true,
            rate_limit_refill: ratelimit::REFILL_WITH_MARGIN,
        }
    }
}

/// What becomes of a probe whose wait ran out; see [`ResendPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The hop answers other probes: send this one again once the responder's rate limiter can have refilled,
    /// at the given time (since the start of the trace) when the caller paces resends itself (it sees every
    /// trace's probes to that responder), else when this trace's own probes to the responder leave room. The kind
    /// is the hop's kind of answer.
    Resend(ReplyKind, Option<Duration>),
    /// The hop answers, but this process itself has spent its responder's ICMP budget: report the probe as
    /// rate-limited rather than as a silent star.
    RateLimited,
    /// No reply, nothing known against a silent hop: a star.
    Silent,
}

/// Decides what becomes of a probe given up at a TTL: gets the TTL, what a sibling try answered (kind and
/// address), if one did, and whether the probe may still be sent again. See [`Tracer::poll_with`].
pub type ResendPolicy<'a> = dyn FnMut(u8, Option<(ReplyKind, IpAddr)>, bool) -> GiveUp + 'a;

/// A probe the caller should send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// TTL to send it with.
    pub ttl: u8,
    /// Which try of this TTL (0-based).
    pub index: u8,
    /// Sequence number to put in the probe; replies are matched by it.
    pub sequence: u16,
    /// 0 for the first attempt, 1 for the resend of a probe a rate limiter probably dropped.
    pub attempt: u8,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this probe now, then ask again.
    Send(Probe),
    /// Nothing to send before this time (since the start of the trace), unless a reply arrives first.
    Wait(Duration),
    /// Every probe that matters is settled: the trace is over.
    Done,
}

/// What a received ICMP message says about a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// The destination answered an echo request.
    EchoReply,
    /// A router's TTL ran out (ICMP Time Exceeded, code 0).
    TimeExceeded,
    /// ICMP Destination Unreachable with this code.
    Unreachable {
        /// ICMP code (0 network, 1 host, 2 protocol, 3 port, 4 fragmentation needed, 13 prohibited...).
        code: u8,
        /// Next-hop MTU for code 4.
        mtu: u16,
    },
    /// The destination answered a TCP SYN: SYN-ACK (`open`) or RST.
    TcpAnswer {
        /// Whether the port is open (SYN-ACK) rather than closed (RST).
        open: bool,
    },
}

/// A received reply, reduced to what matching needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The address that sent the reply.
    pub from: IpAddr,
    /// What it says.
    pub response: Response,
    /// Identifier of the probe it answers (echoed, or quoted in an ICMP error).
    pub identifier: u16,
    /// Sequence of the probe it answers.
    pub sequence: u16,
    /// Destination of the quoted probe, for ICMP errors; `None` for an answer of the destination itself (echo reply,
    /// SYN-ACK, RST), whose sender is the destination.
    pub probe_destination: Option<IpAddr>,
    /// The MPLS label stack an ICMP error reported (RFC 4950); empty for other replies.
    pub mpls: MplsStack,
}

/// How the tracer took a reply; the caller may count these, nothing else needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// It answered one of this trace's probes in time.
    Accepted,
    /// Another trace's probe, or not a probe of ours at all (identifier, sequence or destination differ).
    Foreign,
    /// It answered a probe whose wait had already run out; the probe stays a timeout.
    Late,
    /// Its probe was already answered.
    Duplicate,
    /// Its probe had a TTL beyond where the trace ended; ignored.
    Beyond,
}

/// An answered probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Who answered.
    pub from: IpAddr,
    /// Time from sending to receiving.
    pub rtt: Duration,
    /// What kind of answer it was.
    pub kind: ReplyKind,
    /// Traceroute's mark for an unreachable code (`!N`, `!H`, `!P`, `!X`, `!F-1500`...).
    pub flag: Option<String>,
    /// The MPLS label stack the responder reported.
    pub mpls: MplsStack,
}

/// The final word on one probe: answered, or `None` when its wait ran out.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// TTL of the probe.
    pub ttl: u8,
    /// Which try of the TTL.
    pub index: u8,
    /// The answer, if one came in time.
    pub reply: Option<Answer>,
    /// Without an answer: the hop answers other probes, and this process had spent its responder's ICMP budget
    /// (see [`GiveUp::RateLimited`]).
    pub rate_limited: bool,
    /// Without an answer: the probe never left, and why (see [`Tracer::not_sent`]).
    pub send_error: Option<String>,
}

impl From<ProbeOutcome> for TraceEvent {
    fn from(outcome: ProbeOutcome) -> TraceEvent {
        TraceEvent::Probe {
            ttl: outcome.ttl,
            index: outcome.index,
            rate_limited: outcome.rate_limited && outcome.reply.is_none(),
            reply: outcome.reply.map(|answer| ProbeReply {
                from: answer.from.to_string(),
                rtt_ms: answer.rtt.as_secs_f64() * 1000.0,
                kind: answer.kind,
                flag: answer.flag,
                mpls: answer
                    .mpls
                    .entries()
                    .iter()
                    .map(|entry| MplsLabel {
                        label: entry.label,
                        tc: entry.tc,
                        bottom_of_stack: entry.bottom,
                        ttl: entry.ttl,
                    })
                    .collect(),
            }),
            send_error: outcome.send_error,
        }
    }
}

/// How many tries one probe may take: the first, and one resend when a rate limiter probably ate the first.
const MAX_ATTEMPTS: usize = 2;

/// Where one probe stands.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Not sent yet, or waiting to be sent again (then `Slot::resend_for` says why).
    Unsent,
    /// The latest attempt is on its way, no answer yet.
    InFlight,
    /// Answered in time.
    Answered(Answer),
    /// No answer to any attempt within its wait.
    TimedOut,
    /// The system refused to send its latest attempt, for this reason; settled without an answer.
    NotSent(String),
    /// Never to be sent: the trace ended at a lower TTL.
    Skipped,
}

#[derive(Debug, Clone)]
struct Slot {
    state: State,
    /// Whether its outcome has been handed out; each probe yields exactly one outcome.
    reported: bool,
    /// When each attempt left; a reply to any attempt is accepted within that attempt's timeout.
    sends: [Option<Duration>; MAX_ATTEMPTS],
    /// Set while a resend is pending: what the probe's siblings at the same TTL answered, which tells how long the
    /// responder's rate limiter needs to refill.
    resend_for: Option<ReplyKind>,
    /// Time of a pending resend, when the caller's [`ResendPolicy`] scheduled it.
    paced: Option<Duration>,
    /// Timed out while its responder's budget was spent by this process ([`GiveUp::RateLimited`]).
    rate_limited: bool,
    /// Sent again while its first attempt was still awaited, as the probe of a silent tail (see
    /// [`Tracer::tail_retry`]); its first attempt's deadline stays its deadline.
    tail_retry: bool,
}

impl Slot {
    fn attempts(&self) -> usize {
        self.sends.iter().flatten().count()
    }

    fn last_send(&self) -> Option<Duration> {
        self.sends.iter().flatten().last().copied()
    }

    /// The send its deadline counts from: the latest attempt's, or the first's for a tail retry.
    fn deadline_send(&self) -> Option<Duration> {
        if self.tail_retry { self.sends[0] } else { self.last_send() }
    }
}

/// What the answers so far say about round-trip times, per TTL: the inputs of the adaptive waits.
struct Rtts {
    /// Slowest answer at each TTL (index `ttl - first_ttl`).
    here: Vec<Option<Duration>>,
    /// Slowest answer at any higher TTL.
    near: Vec<Option<Duration>>,
    /// Slowest answer anywhere.
    slowest: Option<Duration>,
}

/// The state machine of one trace. See the module documentation.
#[derive(Debug)]
pub struct Tracer {
    destination: IpAddr,
    first_ttl: u8,
    tries: u8,
    timeout: Duration,
    identifier: u16,
    first_sequence: u16,
    pacing: Pacing,
    /// One per probe, TTL-major: slot `i` is TTL `first_ttl + i / tries`, try `i % tries`.
    slots: Vec<Slot>,
    /// Whether the sequence space leaves room for resends (it does for every route the command line can ask for).
    resends: bool,
    /// Lowest TTL where the destination (or an unreachable) answered; nothing beyond it matters.
    end_ttl: Option<u8>,
    /// Set once the lowest open TTLs stayed silent long enough: every remaining TTL may then be probed at once.
    window_open: bool,
    /// Whether the silent tail's one extra probe has gone (see [`Tracer::tail_retry`]).
    tail_retried: bool,
    outcomes: VecDeque<ProbeOutcome>,
    destination_reached: bool,
}

impl Tracer {
    /// A tracer for `config`, naming its probes with `identifier` and sequences from `first_sequence` on. Both
    /// should be random so that concurrent traces (and stale replies to earlier ones) cannot be confused.
    pub fn new(config: &ProbeConfig, identifier: u16, first_sequence: u16, pacing: Pacing) -> Tracer {
        let first_ttl = config.first_ttl.max(1);
        let tries = config.tries.max(1);
        let ttls = usize::from(config.max_hops.saturating_sub(first_ttl)) + 1;
        let ttls = if config.max_hops < first_ttl { 0 } else { ttls };
        let count = ttls * usize::from(tries);
        Tracer {
            destination: config.destination,
            first_ttl,
            tries,
            timeout: config.timeout,
            identifier,
            first_sequence,
            pacing: Pacing {
                max_in_flight: pacing.max_in_flight.max(1),
                ttl_window: pacing.ttl_window.max(1),
                ..pacing
            },
            slots: vec![
                Slot {
                    state: State::Unsent,
                    reported: false,
                    sends: [None; MAX_ATTEMPTS],
                    resend_for: None,
                    paced: None,
                    rate_limited: false,
                    tail_retry: false,
                };
                count
            ],
            resends: pacing.resend_after_rate_limit && count * MAX_ATTEMPTS <= 1 << 16,
            end_ttl: None,
            window_open: false,
            tail_retried: false,
            outcomes: VecDeque::new(),
            destination_reached: false,
        }
    }

    /// How many sequence numbers a trace of `config` may use from its first one: the caller must leave that many
    /// free (the UDP checksum of a Paris probe, for instance, cannot take every value).
    pub fn sequence_span(config: &ProbeConfig) -> usize {
        let ttls = usize::from(config.max_hops.saturating_sub(config.first_ttl.max(1))) + 1;
        (ttls * usize::from(config.tries.max(1)) * MAX_ATTEMPTS).min(1 << 16)
    }

    /// The identifier every probe of this trace carries.
    pub fn identifier(&self) -> u16 {
        self.identifier
    }

    /// Whether the destination has answered (as reported so far).
    pub fn destination_reached(&self) -> bool {
        self.destination_reached
    }

    /// Advances to `now`: gives up on probes whose wait ran out (or schedules their resend), then says what to do
    /// next. A `Send` marks the probe as sent at `now`, so call this right before sending.
    pub fn poll(&mut self, now: Duration) -> Action {
        self.poll_with(now, &mut |_, sibling, may_resend| match sibling {
            Some((kind, _)) if may_resend => GiveUp::Resend(kind, None),
            _ => GiveUp::Silent,
        })
    }

    /// [`poll`](Self::poll) for a trace that shares the routers with others. When a probe is given up, `resend`
    /// is asked what becomes of it: it gets the TTL, what a sibling try of this trace answered (kind and address),
    /// if one did, and whether the probe may be sent again; it answers with a resend (the kind of answer the hop
    /// gives, which its own knowledge from other traces may supply when no sibling answered, and the earliest time,
    /// so that resends of several traces to one rate-limited router do not collide), a rate-limited verdict, or a
    /// plain timeout. A resend asked for a probe that may not be sent again counts as a timeout.
    pub fn poll_with(&mut self, now: Duration, resend: &mut ResendPolicy<'_>) -> Action {
        let rtts = self.rtts();
        for i in 0..self.slots.len() {
            if self.slots[i].state != State::InFlight || !self.matters(i) {
                continue;
            }
            let Some(sent) = self.slots[i].deadline_send() else { continue };
            if now >= self.give_up_at(i, sent, &rtts) {
                let may_resend = self.resends && self.slots[i].attempts() < MAX_ATTEMPTS;
                let decision = resend(self.position(i).0, self.sibling_answer(i), may_resend);
                let slot = &mut self.slots[i];
                match decision {
                    // The hop answers, just not this probe: most likely its ICMP rate limiter. Ask again once it
                    // has refilled instead of reporting a star that is not there.
                    GiveUp::Resend(kind, paced) if may_resend => {
                        slot.state = State::Unsent;
                        slot.resend_for = Some(kind);
                        slot.paced = paced;
                    }
                    GiveUp::RateLimited => {
                        slot.state = State::TimedOut;
                        slot.rate_limited = true;
                    }
                    GiveUp::Resend(..) | GiveUp::Silent => slot.state = State::TimedOut,
                }
            }
        }
        self.report();
        if self.is_done() {
            return Action::Done;
        }
        self.open_window_if_stalled(now, &rtts);
        let tail = self.tail_retry().filter(|&(_, at)| now >= at).map(|(i, _)| i);
        if let Some(i) = tail.or_else(|| self.next_to_send(now)) {
            if tail.is_some() {
                self.tail_retried = true;
                self.slots[i].tail_retry = true;
            }
            let slot = &mut self.slots[i];
            let attempt = slot.attempts();
            slot.sends[attempt] = Some(now);
            slot.state = State::InFlight;
            let (ttl, index) = self.position(i);
            return Action::Send(Probe { ttl, index, sequence: self.sequence(i, attempt), attempt: attempt as u8 });
        }
        let mut wake: Option<Duration> = None;
        let mut consider = |at: Duration| {
            if at > now && wake.is_none_or(|w| at < w) {
                wake = Some(at);
            }
        };
        for i in (0..self.slots.len()).filter(|&i| self.matters(i)) {
            let slot = &self.slots[i];
            match slot.state {
                State::InFlight => {
                    if let Some(sent) = slot.deadline_send() {
                        consider(self.give_up_at(i, sent, &rtts));
                    }
                    // A reply to the first attempt still counts while the second is pending; nothing to wake for.
                }
                State::Unsent => {
                    if let Some(kind) = slot.resend_for {
                        consider(self.resend_time(i, kind));
                    }
                }
                _ => {}
            }
        }
        if let Some(at) = self.window_opens_at(&rtts) {
            consider(at);
        }
        if let Some((_, at)) = self.tail_retry() {
            consider(at);
        }
        match wake {
            Some(at) => Action::Wait(at),
            // Unreachable while slots remain unsettled, but a tracer must never leave its caller spinning.
            None => Action::Done,
        }
    }

    /// Corrects the send time of `probe`, which `poll` took as the time it was asked: the caller knows better
    /// when the datagram actually left. Ignored unless the probe is still in flight.
    pub fn sent_at(&mut self, probe: Probe, at: Duration) {
        let Some((i, attempt)) = self.locate(probe.sequence) else { return };
        let slot = &mut self.slots[i];
        if slot.state == State::InFlight && slot.attempts() == attempt + 1 {
            slot.sends[attempt] = Some(at);
        }
    }

    /// Settles `probe` as never sent: the system refused it (the caller has already tried again), for `reason`.
    /// It is reported without an answer and with the reason, and the trace goes on without it. A reply to an
    /// earlier attempt of the same probe that is still awaited no longer counts. Ignored unless it is the probe's
    /// latest attempt and still in flight.
    pub fn not_sent(&mut self, probe: Probe, reason: String) {
        let Some((i, attempt)) = self.locate(probe.sequence) else { return };
        let slot = &mut self.slots[i];
        if slot.state == State::InFlight && slot.attempts() == attempt + 1 {
            slot.state = State::NotSent(reason);
            slot.resend_for = None;
            self.report();
        }
    }

    /// Takes in a reply received at `now` and says how it was taken.
    pub fn on_reply(&mut self, now: Duration, reply: &Reply) -> Match {
        if reply.identifier != self.identifier {
            return Match::Foreign;
        }
        let Some((i, attempt)) = self.locate(reply.sequence) else { return Match::Foreign };
        // An echo reply must come from the destination; an error must quote a probe that was sent to it.
        let about_destination = match reply.response {
            Response::EchoReply | Response::TcpAnswer { .. } => reply.from == self.destination,
            Response::TimeExceeded | Response::Unreachable { .. } => reply.probe_destination == Some(self.destination),
        };
        if !about_destination {
            return Match::Foreign;
        }
        // A sequence we never sent cannot be a reply to us.
        let Some(sent) = self.slots[i].sends[attempt] else { return Match::Foreign };
        match self.slots[i].state {
            State::Answered(_) => return Match::Duplicate,
            State::TimedOut | State::NotSent(_) => return Match::Late,
            State::Skipped => return Match::Beyond,
            State::Unsent | State::InFlight => {}
        }
        if now >= sent.saturating_add(self.timeout) {
            // The ceiling ran out before this arrived: the wait stands, whether or not poll has noticed yet.
            return Match::Late;
        }
        let (ttl, _) = self.position(i);
        if self.end_ttl.is_some_and(|end| ttl > end) {
            self.slots[i].state = State::Skipped;
            return Match::Beyond;
        }
        let answer = self.answer(reply, now.saturating_sub(sent));
        let ends_trace = answer.kind != ReplyKind::TimeExceeded;
        let slot = &mut self.slots[i];
        slot.state = State::Answered(answer);
        slot.resend_for = None;
        if ends_trace && self.end_ttl.is_none_or(|end| ttl < end) {
            self.end_at(ttl);
        }
        self.report();
        Match::Accepted
    }

    /// Takes the outcomes decided so far, in the order they were decided.
    pub fn drain_outcomes(&mut self) -> impl Iterator<Item = ProbeOutcome> + '_ {
        self.outcomes.drain(..)
    }

    /// What a reply means for the trace, with traceroute's flag for unreachable codes.
    fn answer(&self, reply: &Reply, rtt: Duration) -> Answer {
        let (kind, flag) = match reply.response {
            Response::EchoReply => (ReplyKind::Destination, None),
            // Which segment came back says whether the port is open; the page and the exports name it.
            Response::TcpAnswer { open } => {
                (ReplyKind::Destination, Some(if open { "SYN-ACK" } else { "RST" }.to_owned()))
            }
            Response::TimeExceeded => (ReplyKind::TimeExceeded, None),
            // Port unreachable from the destination is how it answers a UDP probe: it was reached.
            Response::Unreachable { code: 3, .. } if reply.from == self.destination => (ReplyKind::Destination, None),
            Response::Unreachable { code, mtu } => (ReplyKind::Unreachable, Some(unreachable_flag(code, mtu))),
        };
        Answer { from: reply.from, rtt, kind, flag, mpls: reply.mpls }
    }

    /// The trace ends at `ttl`: nothing beyond is sent, and nothing beyond will be reported.
    fn end_at(&mut self, ttl: u8) {
        self.end_ttl = Some(ttl);
        for i in 0..self.slots.len() {
            if self.position(i).0 > ttl && self.slots[i].state == State::Unsent {
                self.slots[i].state = State::Skipped;
            }
        }
    }

    /// When the latest attempt of slot `i`, sent at `sent`, is given up. Like traceroute's `-w MAX,HERE,NEAR`: a
    /// small multiple of the slowest answer at the same TTL, else a larger multiple of the slowest answer beyond it,
    /// never below `min_wait`, and never beyond the timeout, which stays the ceiling of every wait.
    fn give_up_at(&self, i: usize, sent: Duration, rtts: &Rtts) -> Duration {
        let at = i / usize::from(self.tries);
        let adaptive = match (rtts.here[at], rtts.near[at]) {
            (Some(here), _) => Some(here.saturating_mul(self.pacing.here_factor)),
            (None, Some(near)) => Some(near.saturating_mul(self.pacing.near_factor)),
            (None, None) => None,
        };
        let wait = adaptive.map_or(self.timeout, |wait| wait.max(self.pacing.min_wait).min(self.timeout));
        sent.saturating_add(wait)
    }

    /// The kind of answer another try of slot `i`'s TTL received, if any did.
    fn sibling_answer(&self, i: usize) -> Option<(ReplyKind, IpAddr)> {
        let tries = usize::from(self.tries);
        let start = i - i % tries;
        self.slots[start..start + tries].iter().find_map(|slot| match &slot.state {
            State::Answered(answer) => Some((answer.kind, answer.from)),
            _ => None,
        })
    }

    /// When slot `i` may be sent again. Linux refills an ICMP error token per second (burst 6) for each source,
    /// and charges an unreachable for a route that refuses to forward twice (once where forwarding fails, once when
    /// the error is sent). The responder of a Time Exceeded sees only its own TTL; one that ends the trace (the
    /// destination, or a router refusing to forward) also sees every probe sent beyond it. The resend waits until
    /// the tokens it needs have come back since the last probe that reached that responder.
    fn resend_at(&self, i: usize, kind: ReplyKind) -> Duration {
        let tries = usize::from(self.tries);
        let start = i - i % tries;
        let reaching = if kind == ReplyKind::TimeExceeded { start..start + tries } else { start..self.slots.len() };
        let last = self.slots[reaching].iter().filter_map(Slot::last_send).max().unwrap_or_default();
        last.saturating_add(self.pacing.rate_limit_refill.saturating_mul(ratelimit::cost(kind)))
    }

    /// When slot `i`'s pending resend may go: at the caller's turn when it paces resends, else by
    /// [`resend_at`](Self::resend_at). For an answer that ends the trace the latter is a floor either way: the
    /// caller cannot see this trace's probes beyond the end, which reached the same responder.
    fn resend_time(&self, i: usize, kind: ReplyKind) -> Duration {
        match self.slots[i].paced {
            Some(at) if kind == ReplyKind::TimeExceeded => at,
            Some(at) => at.max(self.resend_at(i, kind)),
            None => self.resend_at(i, kind),
        }
    }

    /// Round-trip times answered so far, per TTL, for the adaptive waits.
    fn rtts(&self) -> Rtts {
        let tries = usize::from(self.tries);
        let ttls = self.slots.len() / tries;
        let mut here: Vec<Option<Duration>> = vec![None; ttls];
        for (i, slot) in self.slots.iter().enumerate() {
            if let State::Answered(answer) = &slot.state
                && self.matters(i)
            {
                let at = &mut here[i / tries];
                *at = Some(at.map_or(answer.rtt, |rtt| rtt.max(answer.rtt)));
            }
        }
        let mut near = vec![None; ttls];
        let mut beyond: Option<Duration> = None;
        for at in (0..ttls).rev() {
            near[at] = beyond;
            beyond = beyond.max(here[at]);
        }
        Rtts { here, near, slowest: beyond }
    }

    /// Lowest TTL with a probe not sent yet or awaiting its first answer; pending resends do not hold the window
    /// back (they wait for a rate limiter, not for the route).
    fn lowest_open(&self) -> Option<u8> {
        (0..self.slots.len())
            .find(|&i| match self.slots[i].state {
                State::InFlight => true,
                State::Unsent => self.slots[i].resend_for.is_none(),
                _ => false,
            })
            .map(|i| self.position(i).0)
    }

    /// When the TTL window opens to every remaining TTL: once the lowest open TTL has waited, with no answer from
    /// it or beyond, longer than any answer so far could explain (the route goes silent, and a silent tail would
    /// otherwise cost one timeout per window of TTLs). `None` when already open or nothing is waiting.
    fn window_opens_at(&self, rtts: &Rtts) -> Option<Duration> {
        if self.window_open {
            return None;
        }
        let lowest = self.lowest_open()?;
        let tries = usize::from(self.tries);
        let start = usize::from(lowest - self.first_ttl) * tries;
        let answered_beyond = self.slots[start..].iter().any(|slot| matches!(slot.state, State::Answered(_)));
        let unsent_beyond =
            self.slots[start..].iter().any(|slot| slot.state == State::Unsent && slot.resend_for.is_none());
        if answered_beyond || !unsent_beyond {
            return None;
        }
        let first_sent = self.slots[start..start + tries].iter().filter_map(|slot| slot.sends[0]).min()?;
        // Before anything answered there is no round trip to go by: give the route half the timeout.
        let grace = rtts.slowest.map_or(self.timeout / 2, |rtt| {
            rtt.saturating_mul(self.pacing.near_factor).max(self.pacing.min_wait).min(self.timeout)
        });
        Some(first_sent.saturating_add(grace))
    }

    fn open_window_if_stalled(&mut self, now: Duration, rtts: &Rtts) {
        if self.window_opens_at(rtts).is_some_and(|at| now >= at) {
            self.window_open = true;
        }
    }

    /// Moves newly decided outcomes to the queue. An answer from a router is reported at once; a timeout or an
    /// answer that ends the trace is reported only once every lower TTL is settled or known to be a router, because
    /// a lower TTL nothing was heard from may still turn out to be the end, and the trace must never report a hop
    /// beyond its end.
    fn report(&mut self) {
        // Whether every TTL below the current one is settled or known to be a router (one of its probes expired
        // there): either way the destination is not below, so what this TTL learnt can be told at once. Waiting
        // for a lower TTL's last try instead would hold the destination's answer for as long as that try's
        // resend waits on a router's rate limiter (a second or more).
        let mut lower_known = true;
        let mut ttl_settled = true;
        let mut ttl_router = false;
        let mut current_ttl = self.first_ttl;
        for i in 0..self.slots.len() {
            let (ttl, index) = self.position(i);
            if ttl != current_ttl {
                lower_known &= ttl_settled || ttl_router;
                ttl_settled = true;
                ttl_router = false;
                current_ttl = ttl;
            }
            if self.end_ttl.is_some_and(|end| ttl > end) {
                break;
            }
            let slot = &mut self.slots[i];
            ttl_router |= matches!(&slot.state, State::Answered(answer) if answer.kind == ReplyKind::TimeExceeded);
            let reply = match &slot.state {
                State::Answered(answer) if answer.kind == ReplyKind::TimeExceeded => Some(answer),
                State::Answered(answer) if lower_known => Some(answer),
                State::TimedOut | State::NotSent(_) if lower_known => None,
                State::Answered(_) | State::TimedOut | State::NotSent(_) => continue,
                State::Unsent | State::InFlight | State::Skipped => {
                    ttl_settled = false;
                    continue;
                }
            };
            if !slot.reported {
                slot.reported = true;
                if reply.is_some_and(|answer| answer.kind == ReplyKind::Destination) {
                    self.destination_reached = true;
                }
                let rate_limited = reply.is_none() && slot.rate_limited;
                let send_error = match &slot.state {
                    State::NotSent(reason) => Some(reason.clone()),
                    _ => None,
                };
                self.outcomes.push_back(ProbeOutcome { ttl, index, reply: reply.cloned(), rate_limited, send_error });
            }
        }
    }

    /// Whether every probe up to the end has been reported.
    fn is_done(&self) -> bool {
        (0..self.slots.len()).filter(|&i| self.matters(i)).all(|i| self.slots[i].reported)
    }

    /// The next probe to send at `now`, if pacing allows one: a first attempt within the TTL window, or a resend
    /// whose responder has had time to refill its rate limiter.
    fn next_to_send(&self, now: Duration) -> Option<usize> {
        let in_flight =
            (0..self.slots.len()).filter(|&i| self.matters(i) && self.slots[i].state == State::InFlight).count();
        if in_flight >= self.pacing.max_in_flight {
            return None;
        }
        let lowest_open = self.lowest_open();
        let window_end = match (self.window_open, lowest_open) {
            (true, _) | (false, None) => u16::MAX,
            (false, Some(lowest)) => u16::from(lowest) + u16::from(self.pacing.ttl_window),
        };
        (0..self.slots.len()).find(|&i| {
            let slot = &self.slots[i];
            slot.state == State::Unsent
                && self.matters(i)
                && match slot.resend_for {
                    Some(kind) => now >= self.resend_time(i, kind),
                    None => u16::from(self.position(i).0) < window_end,
                }
        })
    }

    /// The silent tail's one extra probe, and when it may go: try 0 of the TTL right after the last answer, while
    /// nothing at or beyond it has answered and its first attempt is still awaited, sent again once a rate limiter
    /// would have earned a token since that attempt. The destination may be that TTL with its limiter spent (a UDP
    /// trace run right after another spends the destination's port-unreachable burst), and then this probe is the
    /// one that finds it. It keeps its first attempt's deadline, so `-t` stays the ceiling: with a timeout shorter
    /// than the refill there is no such probe.
    fn tail_retry(&self) -> Option<(usize, Duration)> {
        if self.tail_retried || !self.resends || self.end_ttl.is_some() {
            return None;
        }
        let tries = usize::from(self.tries);
        let last_answered = (0..self.slots.len()).rev().find(|&i| matches!(self.slots[i].state, State::Answered(_)))?;
        let i = (last_answered / tries + 1) * tries;
        let slot = self.slots.get(i)?;
        let first = slot.sends[0]?;
        let at = first.saturating_add(self.pacing.rate_limit_refill);
        let fits = at.saturating_add(self.pacing.min_wait) < first.saturating_add(self.timeout);
        (slot.state == State::InFlight && slot.attempts() == 1 && fits).then_some((i, at))
    }

    /// Whether slot `i` is within the trace (at or below its end, when known).
    fn matters(&self, i: usize) -> bool {
        self.end_ttl.is_none_or(|end| self.position(i).0 <= end)
    }

    /// TTL and try index of slot `i`.
    fn position(&self, i: usize) -> (u8, u8) {
        let tries = usize::from(self.tries);
        // Slots are never more than 255 TTLs of at most 255 tries, so both fit in u8.
        let ttl = usize::from(self.first_ttl) + i / tries;
        (u8::try_from(ttl).unwrap_or(u8::MAX), u8::try_from(i % tries).unwrap_or(u8::MAX))
    }

    /// Sequence number of attempt `attempt` of slot `i`: the first attempts take one block of sequences, resends
    /// the next, so a sequence alone says which probe and which attempt a reply answers.
    fn sequence(&self, i: usize, attempt: usize) -> u16 {
        let offset = attempt * self.slots.len() + i;
        self.first_sequence.wrapping_add(offset as u16)
    }

    /// Slot and attempt a sequence number names, if it names one of ours.
    fn locate(&self, sequence: u16) -> Option<(usize, usize)> {
        let offset = usize::from(sequence.wrapping_sub(self.first_sequence));
        let count = self.slots.len();
        if count == 0 {
            return None;
        }
        let attempts = if self.resends { MAX_ATTEMPTS } else { 1 };
        (offset < count * attempts).then_some((offset % count, offset / count))
    }
}

/// Traceroute's mark for an ICMP Destination Unreachable code.
fn unreachable_flag(code: u8, mtu: u16) -> String {
    match code {
        0 | 6 | 8 | 11 => "!N".to_owned(),
        1 | 7 | 12 => "!H".to_owned(),
        2 => "!P".to_owned(),
        4 => format!("!F-{mtu}"),
        5 => "!S".to_owned(),
        9 | 10 | 13 => "!X".to_owned(),
        14 => "!V".to_owned(),
        15 => "!C".to_owned(),
        _ => format!("!<{code}>"),
    }
}

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;
