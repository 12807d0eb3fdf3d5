//! Scenarios for the tracer, driven by a small discrete-event network: each hop answers (or not) after a set delay,
//! and the test clock jumps from event to event, so a 2-second timeout costs nothing.

use std::net::Ipv4Addr;

use super::*;
use crate::probe::ratelimit::{BURST, TokenBucket};
use crate::wire::extensions::MplsEntry;

pub(super) const DESTINATION: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 9, 2));
pub(super) const ID: u16 = 0xbeef;
/// Close to the wrap-around, so the tests also cover sequences wrapping past 65535.
const FIRST_SEQ: u16 = 65530;
const TIMEOUT: Duration = Duration::from_secs(2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn router(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, n, 1))
}

fn config(max_hops: u8) -> ProbeConfig {
    ProbeConfig { destination: DESTINATION, max_hops, timeout: TIMEOUT, ..ProbeConfig::default() }
}

fn tracer(max_hops: u8) -> Tracer {
    Tracer::new(&config(max_hops), ID, FIRST_SEQ, Pacing::default())
}

/// What answers a probe sent with a given TTL.
#[derive(Debug, Clone, Copy)]
enum Hop {
    /// A router that answers Time Exceeded after this many milliseconds.
    Router(u64),
    /// A router that sends nothing.
    Silent,
    /// The destination, answering after this many milliseconds.
    Destination(u64),
    /// A Linux router answering Time Exceeded after this many milliseconds, through its per-source ICMP rate
    /// limiter (a token a second, burst 6), of which another trace has just spent all but two and a half.
    LimitedRouter(u64),
    /// A Linux router with a reject route to the destination: every probe that reaches it (its TTL and all beyond)
    /// gets Destination Unreachable, code 13, charged twice to the limiter (once in the forwarding path, capped at
    /// 5 tokens, once when the ICMP is sent).
    Reject(u64),
}

/// Runs a whole trace over `hops` (index 0 is TTL 1; TTLs beyond the list reach the destination too) and returns
/// every outcome in order of report, every probe sent, and when the trace was done.
fn simulate(tracer: &mut Tracer, hops: &[Hop]) -> (Vec<ProbeOutcome>, Vec<(Duration, Probe)>, Duration) {
    let mut now = Duration::ZERO;
    let mut pending: Vec<(Duration, Reply)> = Vec::new();
    let mut sent = Vec::new();
    let mut outcomes = Vec::new();
    // A new peer starts with a full bucket (the kernel backdates its last refill by a minute).
    let mut buckets: Vec<TokenBucket> = hops
        .iter()
        .map(|hop| match hop {
            Hop::LimitedRouter(_) => TokenBucket::new(2.5, BURST, 1.0, Duration::ZERO),
            _ => TokenBucket::linux(Duration::ZERO),
        })
        .collect();
    loop {
        let action = tracer.poll(now);
        outcomes.extend(tracer.drain_outcomes());
        match action {
            Action::Send(probe) => {
                sent.push((now, probe));
                let at = (usize::from(probe.ttl) - 1).min(hops.len() - 1);
                // A reject route answers for every TTL that reaches it.
                let at = hops.iter().position(|hop| matches!(hop, Hop::Reject(_))).map_or(at, |reject| reject.min(at));
                let (from, delay, response) = match hops[at] {
                    Hop::Router(delay) => (router(probe.ttl), delay, Response::TimeExceeded),
                    Hop::Destination(delay) => (DESTINATION, delay, Response::EchoReply),
                    Hop::Silent => continue,
                    Hop::LimitedRouter(delay) => {
                        if !buckets[at].allow(now, BURST) {
                            continue;
                        }
                        (router(probe.ttl), delay, Response::TimeExceeded)
                    }
                    Hop::Reject(delay) => {
                        let bucket = &mut buckets[at];
                        if !(bucket.allow(now, BURST - 1.0) && bucket.allow(now, BURST)) {
                            continue;
                        }
                        (router(at as u8 + 1), delay, Response::Unreachable { code: 13, mtu: 0 })
                    }
                };
                pending.push((now + ms(delay), reply_to(probe, from, response)));
            }
            Action::Wait(until) => {
                assert!(until > now, "wait must move time forward");
                pending.sort_by_key(|(at, _)| *at);
                if pending.first().is_some_and(|(at, _)| *at <= until) {
                    let (at, reply) = pending.remove(0);
                    now = at;
                    tracer.on_reply(now, &reply);
                    outcomes.extend(tracer.drain_outcomes());
                } else {
                    now = until;
                }
            }
            Action::Done => return (outcomes, sent, now),
        }
        assert!(now < Duration::from_secs(600), "trace never ended");
    }
}

/// The hop list as `(ttl, index, from)` in TTL order, `None` for timeouts.
fn table(outcomes: &[ProbeOutcome]) -> Vec<(u8, u8, Option<IpAddr>)> {
    let mut rows: Vec<_> = outcomes.iter().map(|o| (o.ttl, o.index, o.reply.as_ref().map(|a| a.from))).collect();
    rows.sort();
    rows
}

fn expected(hops: &[Option<IpAddr>]) -> Vec<(u8, u8, Option<IpAddr>)> {
    let mut rows = Vec::new();
    for (ttl, from) in (1..).zip(hops) {
        for index in 0..3 {
            rows.push((ttl, index, *from));
        }
    }
    rows
}

/// The reply `from` sends to `probe` (an ICMP error quotes the probe, sent to the destination).
pub(super) fn reply_to(probe: Probe, from: IpAddr, response: Response) -> Reply {
    let probe_destination = (response != Response::EchoReply).then_some(DESTINATION);
    Reply { from, response, identifier: ID, sequence: probe.sequence, probe_destination, mpls: MplsStack::default() }
}

fn send(tracer: &mut Tracer, now: Duration) -> Probe {
    match tracer.poll(now) {
        Action::Send(probe) => probe,
        other => panic!("expected a probe, got {other:?}"),
    }
}

#[test]
fn normal_route_is_traced_in_one_round_trip() {
    let mut tracer = tracer(30);
    let hops = [Hop::Router(1), Hop::Router(2), Hop::Router(3), Hop::Destination(4)];
    let (outcomes, sent, done) = simulate(&mut tracer, &hops);
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), Some(router(2)), Some(router(3)), Some(DESTINATION)]));
    assert!(tracer.destination_reached());
    assert!(done < ms(20), "no timeout should be waited for, done at {done:?}");
    let rtts: Vec<_> = outcomes.iter().filter(|o| o.ttl == 4).map(|o| o.reply.as_ref().map(|a| a.rtt)).collect();
    assert_eq!(rtts, [Some(ms(4)); 3]);
    // Probes beyond the destination may have left before it answered, but never beyond the TTL window past it.
    assert!(sent.iter().all(|(_, p)| p.ttl < 4 + Pacing::default().ttl_window), "{sent:?}");
}

#[test]
fn sequences_are_unique_and_carry_the_probe_position() {
    let mut tracer = tracer(30);
    let (_, sent, _) = simulate(&mut tracer, &[Hop::Silent; 30]);
    assert_eq!(sent.len(), 90);
    for (i, (_, probe)) in sent.iter().enumerate() {
        assert_eq!(probe.sequence, FIRST_SEQ.wrapping_add(i as u16));
        assert_eq!((probe.ttl, probe.index), (1 + (i / 3) as u8, (i % 3) as u8));
    }
}

#[test]
fn silent_hop_times_out_once_per_probe() {
    let mut tracer = tracer(30);
    let hops = [Hop::Router(1), Hop::Silent, Hop::Router(3), Hop::Destination(4)];
    let (outcomes, _, done) = simulate(&mut tracer, &hops);
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), None, Some(router(3)), Some(DESTINATION)]));
    assert_eq!(outcomes.len(), 12, "exactly one outcome per probe");
    // Not the 2 s timeout: ten times the slowest answer beyond it (the destination's 4 ms).
    assert!(done >= ms(40) && done < ms(45), "done at {done:?}");
    // The destination is reported only after the silent hop is settled, and last.
    let last = outcomes.iter().rposition(|o| o.ttl == 2).unwrap();
    let first_destination = outcomes.iter().position(|o| o.ttl == 4).unwrap();
    assert!(last < first_destination);
}

#[test]
fn silent_tail_probes_every_ttl_up_to_max_hops() {
    let mut tracer = tracer(8);
    let (outcomes, sent, _) = simulate(&mut tracer, &[Hop::Router(1), Hop::Silent]);
    // One extra probe at TTL 2, the silent tail's one retry (in case the destination is there, rate-limited).
    assert_eq!(sent.len(), 25);
    assert_eq!(table(&outcomes).len(), 24);
    assert!(!tracer.destination_reached());
    assert!(outcomes.iter().filter(|o| o.ttl > 1).all(|o| o.reply.is_none()));
}

#[test]
fn nothing_is_sent_or_reported_beyond_the_destination() {
    // A one-probe window: once the destination answers at TTL 2, TTL 3 is never sent.
    let pacing = Pacing { max_in_flight: 1, ttl_window: 1, ..Pacing::default() };
    let mut tracer = Tracer::new(&config(30), ID, FIRST_SEQ, pacing);
    let (outcomes, sent, _) = simulate(&mut tracer, &[Hop::Router(1), Hop::Destination(1)]);
    assert_eq!(sent.len(), 6);
    assert!(sent.iter().all(|(_, p)| p.ttl <= 2));
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), Some(DESTINATION)]));
}

#[test]
fn probes_in_flight_beyond_the_destination_are_ignored() {
    let mut tracer = tracer(30);
    let first = send(&mut tracer, ms(0));
    let beyond: Vec<Probe> = (0..5).map(|_| send(&mut tracer, ms(0))).collect();
    assert_eq!((first.ttl, beyond[4].ttl), (1, 2));
    // TTL 2 answers from the destination: it is the end; TTL 1 is still open.
    assert_eq!(tracer.on_reply(ms(1), &reply_to(beyond[2], DESTINATION, Response::EchoReply)), Match::Accepted);
    assert_eq!(tracer.drain_outcomes().count(), 0, "held until TTL 1 is settled");
    for probe in [first, beyond[0], beyond[1]] {
        tracer.on_reply(ms(2), &reply_to(probe, router(1), Response::TimeExceeded));
    }
    for probe in &beyond[3..] {
        tracer.on_reply(ms(2), &reply_to(*probe, DESTINATION, Response::EchoReply));
    }
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), Some(DESTINATION)]));
    assert_eq!(tracer.poll(ms(3)), Action::Done);
}

#[test]
fn destination_answering_at_a_lower_ttl_out_of_order_wins() {
    let mut tracer = tracer(30);
    let probes: Vec<Probe> = (0..9).map(|_| send(&mut tracer, ms(0))).collect();
    // TTL 3 answers first, then TTL 2 turns out to be the destination too (its reply was slower).
    for probe in &probes[6..9] {
        assert_eq!(tracer.on_reply(ms(1), &reply_to(*probe, DESTINATION, Response::EchoReply)), Match::Accepted);
    }
    for probe in &probes[3..6] {
        tracer.on_reply(ms(2), &reply_to(*probe, DESTINATION, Response::EchoReply));
    }
    for probe in &probes[0..3] {
        tracer.on_reply(ms(3), &reply_to(*probe, router(1), Response::TimeExceeded));
    }
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), Some(DESTINATION)]));
    assert_eq!(tracer.poll(ms(4)), Action::Done);
    assert!(tracer.destination_reached());
}

#[test]
fn late_reply_is_ignored_and_not_double_counted() {
    let mut tracer = tracer(1);
    let probe = send(&mut tracer, ms(0));
    let _ = send(&mut tracer, ms(0));
    let _ = send(&mut tracer, ms(0));
    assert_eq!(tracer.poll(ms(10)), Action::Wait(TIMEOUT));
    // The wait has run out when the reply arrives, even though poll has not run since.
    let late = reply_to(probe, router(1), Response::TimeExceeded);
    assert_eq!(tracer.on_reply(TIMEOUT + ms(1), &late), Match::Late);
    assert_eq!(tracer.on_reply(TIMEOUT + ms(2), &late), Match::Late);
    assert_eq!(tracer.poll(TIMEOUT + ms(3)), Action::Done);
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|o| o.reply.is_none()));
}

#[test]
fn duplicate_reply_is_counted_once() {
    let mut tracer = tracer(1);
    let probe = send(&mut tracer, ms(0));
    let reply = reply_to(probe, router(1), Response::TimeExceeded);
    assert_eq!(tracer.on_reply(ms(5), &reply), Match::Accepted);
    assert_eq!(tracer.on_reply(ms(6), &reply), Match::Duplicate);
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].reply.as_ref().map(|a| a.rtt), Some(ms(5)), "the first copy's RTT stands");
}

#[test]
fn foreign_replies_are_ignored() {
    let mut tracer = tracer(3);
    let probe = send(&mut tracer, ms(0));
    let mine = reply_to(probe, router(1), Response::TimeExceeded);
    let other_trace = Reply { identifier: ID ^ 1, ..mine };
    let other_destination = Reply { probe_destination: Some(router(7)), ..mine };
    let echo_from_elsewhere = Reply { from: router(1), response: Response::EchoReply, probe_destination: None, ..mine };
    let unknown_sequence = Reply { sequence: FIRST_SEQ.wrapping_sub(1), ..mine };
    let never_sent = Reply { sequence: FIRST_SEQ.wrapping_add(8), ..mine };
    for reply in [other_trace, other_destination, echo_from_elsewhere, unknown_sequence, never_sent] {
        assert_eq!(tracer.on_reply(ms(1), &reply), Match::Foreign, "{reply:?}");
    }
    assert_eq!(tracer.drain_outcomes().count(), 0);
    assert_eq!(tracer.on_reply(ms(2), &mine), Match::Accepted);
}

#[test]
fn unreachable_ends_the_trace_with_its_flag() {
    let mut tracer = tracer(30);
    let probes: Vec<Probe> = (0..6).map(|_| send(&mut tracer, ms(0))).collect();
    for probe in &probes[..3] {
        tracer.on_reply(ms(1), &reply_to(*probe, router(1), Response::TimeExceeded));
    }
    for probe in &probes[3..] {
        let response = Response::Unreachable { code: 13, mtu: 0 };
        tracer.on_reply(ms(1), &reply_to(*probe, router(2), response));
    }
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    let flags: Vec<_> =
        outcomes.iter().filter(|o| o.ttl == 2).map(|o| o.reply.as_ref().unwrap().flag.clone()).collect();
    assert_eq!(flags, vec![Some("!X".to_owned()); 3]);
    assert_eq!(tracer.poll(ms(2)), Action::Done);
    assert!(!tracer.destination_reached());
}

#[test]
fn a_tcp_answer_says_which_segment_came_back() {
    let mut tracer = tracer(30);
    let probes: Vec<Probe> = (0..2).map(|_| send(&mut tracer, ms(0))).collect();
    tracer.on_reply(ms(1), &reply_to(probes[0], DESTINATION, Response::TcpAnswer { open: true }));
    tracer.on_reply(ms(1), &reply_to(probes[1], DESTINATION, Response::TcpAnswer { open: false }));
    let flags: Vec<_> = tracer.drain_outcomes().filter_map(|o| o.reply).map(|r| (r.kind, r.flag)).collect();
    assert_eq!(
        flags,
        [(ReplyKind::Destination, Some("SYN-ACK".to_owned())), (ReplyKind::Destination, Some("RST".to_owned()))]
    );
}

#[test]
fn in_flight_probes_are_bounded() {
    let pacing = Pacing { max_in_flight: 4, ttl_window: 10, ..Pacing::default() };
    let mut tracer = Tracer::new(&config(30), ID, FIRST_SEQ, pacing);
    for _ in 0..4 {
        send(&mut tracer, ms(0));
    }
    // Nothing answered yet: the tracer wakes when it would open the window (half the timeout), or at the timeout.
    assert_eq!(tracer.poll(ms(0)), Action::Wait(TIMEOUT / 2));
    assert_eq!(tracer.poll(TIMEOUT / 2), Action::Wait(TIMEOUT));
}

#[test]
fn each_router_sees_only_its_own_tries() {
    // With the default pacing no router is asked for more Time Exceeded messages than the ICMP rate limiter's
    // burst (6) allows: each TTL is probed `tries` times, once.
    let mut tracer = tracer(30);
    let hops = [Hop::Router(1), Hop::Silent, Hop::Router(1), Hop::Router(1), Hop::Destination(1)];
    let (_, sent, _) = simulate(&mut tracer, &hops);
    for ttl in 1..=5 {
        assert_eq!(sent.iter().filter(|(_, p)| p.ttl == ttl).count(), 3);
    }
}

#[test]
fn reply_is_read_from_a_parsed_datagram() {
    use crate::wire::icmp::Icmpv4Datagram;
    use crate::wire::test_hex::hex;
    let datagram = Icmpv4Datagram::parse(&hex("4500 0038 0000 0000 4001 65c3 0a000102 0a000001  0b00 b9c6 00000000 \
         4500 0020 0000 4000 0101 62db 0a000001 0a000302 0800 2104 1234 0001"))
    .unwrap();
    let reply = crate::probe::Method::IcmpEcho.reply_from_icmpv4(&datagram).unwrap();
    assert_eq!(reply.from, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)));
    assert_eq!(reply.response, Response::TimeExceeded);
    assert_eq!((reply.identifier, reply.sequence), (0x1234, 1));
    assert_eq!(reply.probe_destination, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 2))));
}

#[test]
fn outcome_becomes_a_probe_event() {
    let outcome = ProbeOutcome {
        ttl: 3,
        index: 1,
        reply: Some(Answer {
            from: router(3),
            rtt: Duration::from_micros(1500),
            kind: ReplyKind::Unreachable,
            flag: Some("!H".into()),
            mpls: MplsStack::from_entries(&[MplsEntry { label: 24001, tc: 0, bottom: true, ttl: 1 }]),
        }),
        rate_limited: false,
        send_error: None,
    };
    let event = TraceEvent::from(outcome);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "probe");
    assert_eq!(json["reply"]["from"], "10.0.3.1");
    assert_eq!(json["reply"]["rtt_ms"], 1.5);
    assert_eq!(json["reply"]["flag"], "!H");
    assert_eq!(
        json["reply"]["mpls"],
        serde_json::json!([{"label": 24001, "tc": 0, "bottom_of_stack": true, "ttl": 1}])
    );
    assert!(json.get("rate_limited").is_none(), "absent when false: {json}");
}

#[test]
fn empty_range_is_done_at_once() {
    let config = ProbeConfig { first_ttl: 5, max_hops: 4, ..config(4) };
    let mut tracer = Tracer::new(&config, ID, FIRST_SEQ, Pacing::default());
    assert_eq!(tracer.poll(ms(0)), Action::Done);
}

#[test]
fn send_time_can_be_corrected_and_rtt_follows() {
    let mut tracer = tracer(1);
    let probe = send(&mut tracer, ms(0));
    tracer.sent_at(probe, ms(3));
    assert_eq!(tracer.on_reply(ms(5), &reply_to(probe, router(1), Response::TimeExceeded)), Match::Accepted);
    // Once answered, a correction changes nothing.
    tracer.sent_at(probe, ms(4));
    let outcome = tracer.drain_outcomes().next().unwrap();
    assert_eq!(outcome.reply.unwrap().rtt, ms(2));
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let config = ProbeConfig { timeout: Duration::MAX, ..config(2) };
    let mut tracer = Tracer::new(&config, ID, FIRST_SEQ, Pacing::default());
    let probe = send(&mut tracer, Duration::MAX - ms(1));
    assert!(matches!(tracer.poll(Duration::MAX), Action::Send(_)));
    tracer.on_reply(Duration::MAX, &reply_to(probe, router(1), Response::TimeExceeded));
}

#[test]
fn reject_route_answers_every_try_once_its_limiter_refills() {
    // Linux answers only two of three back-to-back probes here (`!X !X *` in traceroute); the third is sent again
    // once two tokens have come back.
    let mut tracer = tracer(30);
    let hops = [Hop::Router(1), Hop::Router(1), Hop::Reject(1)];
    let (outcomes, sent, done) = simulate(&mut tracer, &hops);
    let flags: Vec<_> = outcomes
        .iter()
        .filter(|o| o.ttl == 3)
        .map(|o| o.reply.as_ref().map(|a| (a.from, a.flag.clone().unwrap_or_default())))
        .collect();
    assert_eq!(flags, vec![Some((router(3), "!X".to_owned())); 3], "{outcomes:?}");
    assert_eq!(table(&outcomes).len(), 9, "nothing reported beyond the reject: {outcomes:?}");
    let resends: Vec<_> = sent.iter().filter(|(_, p)| p.attempt == 1).collect();
    assert_eq!(resends.len(), 1, "only the dropped probe is sent again: {sent:?}");
    let refill = Pacing::default().rate_limit_refill;
    assert!(resends[0].0 >= refill * 2, "after two tokens refilled: {resends:?}");
    assert!(done < refill * 2 + ms(20), "done at {done:?}");
    assert!(!tracer.destination_reached());
}

#[test]
fn routers_over_their_burst_are_asked_again_not_starred() {
    // Other traces spent 4 of each router's 6 tokens: each answers 2 of its 3 probes at once, the third a second
    // later.
    let mut tracer = tracer(30);
    let hops = [Hop::LimitedRouter(1), Hop::LimitedRouter(2), Hop::Destination(3)];
    let (outcomes, sent, done) = simulate(&mut tracer, &hops);
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), Some(router(2)), Some(DESTINATION)]));
    assert_eq!(sent.iter().filter(|(_, p)| p.attempt == 1).count(), 2, "one resend per limited router");
    let refill = Pacing::default().rate_limit_refill;
    assert!(done >= refill && done < refill + ms(10), "done at {done:?}");
}

#[test]
fn resend_goes_out_only_after_the_limiter_refilled() {
    let mut tracer = tracer(1);
    let probes: Vec<Probe> = (0..3).map(|_| send(&mut tracer, ms(0))).collect();
    for probe in &probes[..2] {
        tracer.on_reply(ms(1), &reply_to(*probe, router(1), Response::TimeExceeded));
    }
    // The third try is given up after the floor of the adaptive wait (3 x 1 ms < 10 ms)...
    let Action::Wait(at) = tracer.poll(ms(10)) else { panic!("waits") };
    let refill = Pacing::default().rate_limit_refill;
    assert_eq!(at, refill, "...and its resend waits for a token: {at:?}");
    match tracer.poll(refill) {
        Action::Send(probe) => {
            assert_eq!((probe.ttl, probe.index, probe.attempt), (1, 2, 1));
            assert_ne!(probe.sequence, probes[2].sequence, "a resend has its own sequence");
            let reply = reply_to(probe, router(1), Response::TimeExceeded);
            assert_eq!(tracer.on_reply(refill + ms(1), &reply), Match::Accepted);
        }
        other => panic!("expected the resend, got {other:?}"),
    }
    let ttl1: Vec<_> = tracer.drain_outcomes().filter(|o| o.ttl == 1).collect();
    assert_eq!(ttl1.len(), 3);
    assert!(ttl1.iter().all(|o| o.reply.as_ref().is_some_and(|a| a.rtt <= ms(1))), "{ttl1:?}");
}

#[test]
fn slow_first_attempt_still_counts_while_its_resend_is_pending() {
    let mut tracer = tracer(1);
    let probes: Vec<Probe> = (0..3).map(|_| send(&mut tracer, ms(0))).collect();
    for probe in &probes[..2] {
        tracer.on_reply(ms(1), &reply_to(*probe, router(1), Response::TimeExceeded));
    }
    assert!(matches!(tracer.poll(ms(20)), Action::Wait(_)), "given up, resend pending");
    assert_eq!(tracer.on_reply(ms(50), &reply_to(probes[2], router(1), Response::TimeExceeded)), Match::Accepted);
    let outcomes: Vec<_> = tracer.drain_outcomes().collect();
    assert_eq!(outcomes.last().and_then(|o| o.reply.as_ref()).map(|a| a.rtt), Some(ms(50)));
    assert_eq!(tracer.poll(ms(51)), Action::Done, "no resend once answered");
}

#[test]
fn silent_tail_costs_about_one_timeout() {
    // Three routers, then nothing: the window opens once the fourth TTL has been silent for ten round trips, and
    // every remaining TTL waits out one timeout together instead of one per window of six TTLs.
    let mut tracer = tracer(30);
    let (outcomes, sent, done) = simulate(&mut tracer, &[Hop::Router(1), Hop::Router(1), Hop::Router(1), Hop::Silent]);
    assert_eq!(outcomes.len(), 90);
    assert_eq!(sent.len(), 91, "no resends at silent hops, only the tail's one retry");
    assert!(done >= TIMEOUT && done < TIMEOUT + ms(20), "done at {done:?}");
}

#[test]
fn silent_hop_never_waits_beyond_the_timeout() {
    // Answers beyond are slow (a second), so ten of them would exceed the timeout: the timeout is the ceiling.
    let mut tracer = tracer(30);
    let (outcomes, _, done) = simulate(&mut tracer, &[Hop::Router(1), Hop::Silent, Hop::Destination(1000)]);
    assert_eq!(table(&outcomes), expected(&[Some(router(1)), None, Some(DESTINATION)]));
    assert!(done <= TIMEOUT + ms(1), "done at {done:?}");
}

#[test]
fn another_traces_evidence_schedules_a_resend_at_the_given_turn() {
    let mut tracer = tracer(1);
    let probes: Vec<Probe> = (0..3).map(|_| send(&mut tracer, ms(0))).collect();
    let asked = std::cell::RefCell::new(Vec::new());
    let mut policy = |ttl: u8, sibling: Option<(ReplyKind, IpAddr)>, may_resend: bool| {
        asked.borrow_mut().push((ttl, sibling));
        if may_resend {
            GiveUp::Resend(ReplyKind::TimeExceeded, Some(Duration::from_secs(3)))
        } else {
            GiveUp::RateLimited
        }
    };
    // No sibling answered: without the policy these would be stars at the timeout.
    assert_eq!(tracer.poll_with(TIMEOUT, &mut policy), Action::Wait(Duration::from_secs(3)));
    assert_eq!(*asked.borrow(), vec![(1, None); 3]);
    let Action::Send(resend) = tracer.poll_with(Duration::from_secs(3), &mut policy) else { panic!("resend") };
    assert_eq!((resend.ttl, resend.index, resend.attempt), (1, 0, 1));
    assert_ne!(resend.sequence, probes[0].sequence);
    // The resends are lost too; the policy knows the router's budget went to this process: rate-limited, not silent.
    let mut now = Duration::from_secs(3);
    while let Action::Send(_) | Action::Wait(_) = tracer.poll_with(now, &mut policy) {
        now += ms(100);
        assert!(now < Duration::from_secs(10), "the trace ends");
    }
    let outcomes: Vec<(u8, bool, bool)> =
        tracer.drain_outcomes().map(|o| (o.index, o.reply.is_none(), o.rate_limited)).collect();
    assert_eq!(outcomes, [(0, true, true), (1, true, true), (2, true, true)]);
    let event = TraceEvent::from(ProbeOutcome { ttl: 1, index: 0, reply: None, rate_limited: true, send_error: None });
    assert_eq!(event, TraceEvent::Probe { ttl: 1, index: 0, reply: None, rate_limited: true, send_error: None });
}

#[test]
fn a_probe_the_system_refused_is_reported_with_the_reason_and_the_trace_goes_on() {
    // TTL 2's probes are refused by the host (a local firewall); the rest of the route answers.
    let mut tracer = tracer(4);
    let mut now = Duration::ZERO;
    let mut outcomes = Vec::new();
    let mut pending: Vec<(Duration, Reply)> = Vec::new();
    for _ in 0..10_000 {
        let action = tracer.poll(now);
        outcomes.extend(tracer.drain_outcomes());
        match action {
            Action::Send(probe) if probe.ttl == 2 => {
                tracer.not_sent(probe, "Operation not permitted (os error 1)".to_owned());
                // A reply to a probe that never left cannot count.
                let forged = reply_to(probe, router(2), Response::TimeExceeded);
                assert_eq!(tracer.on_reply(now, &forged), Match::Late);
            }
            Action::Send(probe) => {
                let (from, response) = if probe.ttl >= 3 {
                    (DESTINATION, Response::EchoReply)
                } else {
                    (router(1), Response::TimeExceeded)
                };
                pending.push((now + ms(1), reply_to(probe, from, response)));
            }
            Action::Wait(until) => {
                pending.sort_by_key(|(at, _)| *at);
                if pending.first().is_some_and(|(at, _)| *at <= until) {
                    let (at, reply) = pending.remove(0);
                    now = at;
                    tracer.on_reply(now, &reply);
                } else {
                    now = until;
                }
            }
            Action::Done => break,
        }
    }
    outcomes.extend(tracer.drain_outcomes());
    assert!(tracer.destination_reached(), "{outcomes:?}");
    let at = |ttl: u8| outcomes.iter().filter(|o| o.ttl == ttl).collect::<Vec<_>>();
    assert_eq!(at(2).len(), 3, "each refused try reported once: {outcomes:?}");
    for outcome in at(2) {
        assert!(outcome.reply.is_none() && !outcome.rate_limited);
        assert_eq!(outcome.send_error.as_deref(), Some("Operation not permitted (os error 1)"));
    }
    assert!(at(1).iter().chain(at(3).iter()).all(|o| o.reply.is_some() && o.send_error.is_none()), "{outcomes:?}");
    assert!(at(4).is_empty(), "nothing beyond the destination");
    // On the wire: the reason travels with the probe event.
    let event = TraceEvent::from(at(2)[0].clone());
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["send_error"], "Operation not permitted (os error 1)");
    assert!(json["reply"].is_null());
}
