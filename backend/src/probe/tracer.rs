//! One trace's probing logic: which probe goes out next, when to wake, and what each reply means.
//!
//! Time is a `Duration` since the trace started, always given by the caller, so every scenario (timeouts, late and
//! duplicate replies, replies out of order, a destination answering at several TTLs) is a plain unit test.
//! Probes go out TTL by TTL within a small window of TTLs, several in flight at once; each router only ever sees the
//! `tries` probes of its own TTL, which stays under the ICMP error rate limit of Linux routers (burst 6, then 1/s).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use tracemap_shared::{ProbeReply, ReplyKind, TraceEvent};

use super::ProbeConfig;
use crate::wire::icmp::{IcmpMessage, Icmpv4Datagram, QuotedProbe};

/// How many probes may be in flight, and over how many TTLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Most probes awaiting a reply at once.
    pub max_in_flight: usize,
    /// Probes are sent only for TTLs below the lowest unsettled TTL plus this window, so a trace does not run far
    /// ahead of what it knows (probes beyond the destination are wasted, and for UDP they are rate-limited).
    pub ttl_window: u8,
}

impl Default for Pacing {
    fn default() -> Self {
        // Six TTLs of three tries: a typical route's first answers all come back within one round trip.
        Pacing { max_in_flight: 18, ttl_window: 6 }
    }
}

/// A probe the caller should send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// TTL to send it with.
    pub ttl: u8,
    /// Which try of this TTL (0-based).
    pub index: u8,
    /// Sequence number to put in the probe; replies are matched by it.
    pub sequence: u16,
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
    /// Destination of the quoted probe, for ICMP errors; `None` for an echo reply, whose sender is the destination.
    pub probe_destination: Option<IpAddr>,
}

impl Reply {
    /// Reads a reply to an ICMP echo probe out of a parsed datagram; `None` when it cannot be one (another ICMP
    /// type, an error about a datagram that was not an echo request).
    pub fn from_icmpv4(datagram: &Icmpv4Datagram) -> Option<Reply> {
        let from = IpAddr::V4(datagram.source());
        let (response, quoted) = match datagram.message {
            IcmpMessage::EchoReply { identifier, sequence } => {
                return Some(Reply {
                    from,
                    response: Response::EchoReply,
                    identifier,
                    sequence,
                    probe_destination: None,
                });
            }
            // Code 1 (fragment reassembly) is not about a TTL and cannot be one of our unfragmented probes.
            IcmpMessage::TimeExceeded { code: 0, quoted } => (Response::TimeExceeded, quoted),
            IcmpMessage::DestinationUnreachable { code, next_hop_mtu, quoted } => {
                (Response::Unreachable { code, mtu: next_hop_mtu }, quoted)
            }
            IcmpMessage::TimeExceeded { .. } | IcmpMessage::Other { .. } => return None,
        };
        let QuotedProbe::EchoRequest { identifier, sequence } = quoted.probe else { return None };
        Some(Reply {
            from,
            response,
            identifier,
            sequence,
            probe_destination: Some(IpAddr::V4(quoted.header.destination)),
        })
    }
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
}

impl From<ProbeOutcome> for TraceEvent {
    fn from(outcome: ProbeOutcome) -> TraceEvent {
        TraceEvent::Probe {
            ttl: outcome.ttl,
            index: outcome.index,
            reply: outcome.reply.map(|answer| ProbeReply {
                from: answer.from.to_string(),
                rtt_ms: answer.rtt.as_secs_f64() * 1000.0,
                kind: answer.kind,
                flag: answer.flag,
            }),
        }
    }
}

/// Where one probe stands.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Not sent yet.
    Unsent,
    /// Sent at this time, no answer yet.
    InFlight(Duration),
    /// Answered in time.
    Answered(Answer),
    /// No answer within the timeout.
    TimedOut,
    /// Never to be sent: the trace ended at a lower TTL.
    Skipped,
}

#[derive(Debug, Clone)]
struct Slot {
    state: State,
    /// Whether its outcome has been handed out; each probe yields exactly one outcome.
    reported: bool,
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
    /// Lowest TTL where the destination (or an unreachable) answered; nothing beyond it matters.
    end_ttl: Option<u8>,
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
        Tracer {
            destination: config.destination,
            first_ttl,
            tries,
            timeout: config.timeout,
            identifier,
            first_sequence,
            pacing: Pacing { max_in_flight: pacing.max_in_flight.max(1), ttl_window: pacing.ttl_window.max(1) },
            slots: vec![Slot { state: State::Unsent, reported: false }; ttls * usize::from(tries)],
            end_ttl: None,
            outcomes: VecDeque::new(),
            destination_reached: false,
        }
    }

    /// The identifier every probe of this trace carries.
    pub fn identifier(&self) -> u16 {
        self.identifier
    }

    /// Whether the destination has answered (as reported so far).
    pub fn destination_reached(&self) -> bool {
        self.destination_reached
    }

    /// Advances to `now`: expires overdue probes, then says what to do next. A `Send` marks the probe as sent at
    /// `now`, so call this right before sending.
    pub fn poll(&mut self, now: Duration) -> Action {
        for slot in &mut self.slots {
            if let State::InFlight(sent) = slot.state
                && now >= sent + self.timeout
            {
                slot.state = State::TimedOut;
            }
        }
        self.report();
        if self.is_done() {
            return Action::Done;
        }
        if let Some(i) = self.next_to_send() {
            self.slots[i].state = State::InFlight(now);
            let (ttl, index) = self.position(i);
            return Action::Send(Probe { ttl, index, sequence: self.sequence(i) });
        }
        // Probes beyond the end are not waited for: their replies would be ignored anyway.
        let deadline = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.matters(i))
            .filter_map(|(_, slot)| match slot.state {
                State::InFlight(sent) => Some(sent + self.timeout),
                _ => None,
            })
            .min();
        match deadline {
            Some(deadline) => Action::Wait(deadline),
            // Unreachable while slots remain unsettled, but a tracer must never leave its caller spinning.
            None => Action::Done,
        }
    }

    /// Takes in a reply received at `now` and says how it was taken.
    pub fn on_reply(&mut self, now: Duration, reply: &Reply) -> Match {
        if reply.identifier != self.identifier {
            return Match::Foreign;
        }
        let offset = usize::from(reply.sequence.wrapping_sub(self.first_sequence));
        if offset >= self.slots.len() {
            return Match::Foreign;
        }
        // An echo reply must come from the destination; an error must quote a probe that was sent to it.
        let about_destination = match reply.response {
            Response::EchoReply => reply.from == self.destination,
            Response::TimeExceeded | Response::Unreachable { .. } => reply.probe_destination == Some(self.destination),
        };
        if !about_destination {
            return Match::Foreign;
        }
        let sent = match self.slots[offset].state {
            State::InFlight(sent) => sent,
            State::Answered(_) => return Match::Duplicate,
            State::TimedOut => return Match::Late,
            // A sequence we never sent cannot be a reply to us.
            State::Unsent | State::Skipped => return Match::Foreign,
        };
        if now >= sent + self.timeout {
            // The wait ran out before this arrived: the timeout stands, whether or not poll has noticed yet.
            self.slots[offset].state = State::TimedOut;
            self.report();
            return Match::Late;
        }
        let (ttl, _) = self.position(offset);
        if self.end_ttl.is_some_and(|end| ttl > end) {
            self.slots[offset].state = State::Skipped;
            return Match::Beyond;
        }
        let answer = self.answer(reply, now.saturating_sub(sent));
        let ends_trace = answer.kind != ReplyKind::TimeExceeded;
        self.slots[offset].state = State::Answered(answer);
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
            Response::TimeExceeded => (ReplyKind::TimeExceeded, None),
            // Port unreachable from the destination is how it answers a UDP probe: it was reached.
            Response::Unreachable { code: 3, .. } if reply.from == self.destination => (ReplyKind::Destination, None),
            Response::Unreachable { code, mtu } => (ReplyKind::Unreachable, Some(unreachable_flag(code, mtu))),
        };
        Answer { from: reply.from, rtt, kind, flag }
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

    /// Moves newly decided outcomes to the queue. An answer from a router is reported at once; a timeout or an
    /// answer that ends the trace is reported only once every lower TTL is settled, because a lower TTL may still
    /// turn out to be the end, and the trace must never report a hop beyond its end.
    fn report(&mut self) {
        let mut lower_settled = true;
        let mut ttl_settled = true;
        let mut current_ttl = self.first_ttl;
        for i in 0..self.slots.len() {
            let (ttl, index) = self.position(i);
            if ttl != current_ttl {
                lower_settled &= ttl_settled;
                ttl_settled = true;
                current_ttl = ttl;
            }
            if self.end_ttl.is_some_and(|end| ttl > end) {
                break;
            }
            let slot = &mut self.slots[i];
            let reply = match &slot.state {
                State::Answered(answer) if answer.kind == ReplyKind::TimeExceeded => Some(answer),
                State::Answered(answer) if lower_settled => Some(answer),
                State::TimedOut if lower_settled => None,
                State::Answered(_) | State::TimedOut => continue,
                State::Unsent | State::InFlight(_) | State::Skipped => {
                    ttl_settled = false;
                    continue;
                }
            };
            if !slot.reported {
                slot.reported = true;
                if reply.is_some_and(|answer| answer.kind == ReplyKind::Destination) {
                    self.destination_reached = true;
                }
                self.outcomes.push_back(ProbeOutcome { ttl, index, reply: reply.cloned() });
            }
        }
    }

    /// Whether every probe up to the end has been reported.
    fn is_done(&self) -> bool {
        (0..self.slots.len()).filter(|&i| self.matters(i)).all(|i| self.slots[i].reported)
    }

    /// The next probe to send, if pacing allows one now.
    fn next_to_send(&self) -> Option<usize> {
        let in_flight = (0..self.slots.len())
            .filter(|&i| self.matters(i) && matches!(self.slots[i].state, State::InFlight(_)))
            .count();
        if in_flight >= self.pacing.max_in_flight {
            return None;
        }
        let lowest_open = (0..self.slots.len())
            .find(|&i| matches!(self.slots[i].state, State::Unsent | State::InFlight(_)))
            .map(|i| self.position(i).0)?;
        let window_end = u16::from(lowest_open) + u16::from(self.pacing.ttl_window);
        (0..self.slots.len())
            .find(|&i| self.slots[i].state == State::Unsent)
            .filter(|&i| u16::from(self.position(i).0) < window_end)
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

    /// Sequence number of slot `i` (at most 65025 slots, so sequences never collide within a trace).
    fn sequence(&self, i: usize) -> u16 {
        self.first_sequence.wrapping_add(u16::try_from(i).unwrap_or(u16::MAX))
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
mod tests;
