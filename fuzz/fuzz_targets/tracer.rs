//! The tracer fed an arbitrary script, driven both ways the program drives it: `poll` (a lone trace) and
//! `poll_with` (the shared prober), whose resend policy is chosen here by the input (a resend at any turn and of any
//! kind, paced or not, a rate-limited or a silent verdict, for any TTL, whatever a sibling answered); replies with
//! any identifier, sequence, sender and meaning, in any order, early, late or repeated; send-time corrections; and
//! sends the system refuses (`not_sent`). It must never panic, never ask to wait for a time that has passed, report
//! each probe at most once, mark a probe rate-limited or not sent only when it has no answer, and end (`Done`)
//! within a bounded number of polls once time runs past every timeout.
#![no_main]

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tracemap::probe::{Action, GiveUp, Pacing, ProbeConfig, Reply, Response, Tracer};
use tracemap::wire::extensions::MplsStack;
use tracemap_shared::ReplyKind;

fn kind(byte: u8) -> ReplyKind {
    match byte % 3 {
        0 => ReplyKind::TimeExceeded,
        1 => ReplyKind::Destination,
        _ => ReplyKind::Unreachable,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, script)) = data.split_first_chunk::<6>() else { return };
    let destination = IpAddr::from([10, 0, 9, 2]);
    let config = ProbeConfig {
        destination,
        first_ttl: head[0] % 8 + 1,
        max_hops: head[1] % 16 + 1,
        tries: head[2] % 4 + 1,
        timeout: Duration::from_millis(u64::from(head[3]) * 8 + 1),
        ..ProbeConfig::default()
    };
    let identifier = u16::from(head[4]);
    let first_sequence = u16::from(head[5]).wrapping_mul(257);
    let mut tracer = Tracer::new(&config, identifier, first_sequence, Pacing::default());
    let mut now = Duration::ZERO;
    let mut sent = Vec::new();
    let mut reported = HashSet::new();
    let mut check = |tracer: &mut Tracer| {
        for outcome in tracer.drain_outcomes() {
            assert!(reported.insert((outcome.ttl, outcome.index)), "probe reported twice: {outcome:?}");
            if outcome.reply.is_some() {
                assert!(!outcome.rate_limited && outcome.send_error.is_none(), "{outcome:?}");
            }
        }
    };
    let mut policy_bytes = script.iter().rev().copied().cycle();
    for step in script.chunks(6) {
        let [op, a, b, c, d, e] = [0, 1, 2, 3, 4, 5].map(|i| step.get(i).copied().unwrap_or(0));
        now += Duration::from_micros(u64::from(a) * 997);
        match op % 5 {
            0 | 1 => {
                let action = if op % 5 == 0 {
                    tracer.poll(now)
                } else {
                    let mut policy = |_ttl: u8, _sibling: Option<(ReplyKind, IpAddr)>, _may: bool| {
                        let byte = policy_bytes.next().unwrap_or(0);
                        match byte % 4 {
                            0 => GiveUp::Silent,
                            1 => GiveUp::RateLimited,
                            2 => GiveUp::Resend(kind(byte >> 2), None),
                            _ => {
                                GiveUp::Resend(kind(byte >> 2), Some(now + Duration::from_millis(u64::from(byte) * 40)))
                            }
                        }
                    };
                    tracer.poll_with(now, &mut policy)
                };
                match action {
                    Action::Send(probe) => sent.push(probe),
                    Action::Wait(until) => assert!(until > now, "a wait must lie ahead"),
                    Action::Done => {}
                }
            }
            2 => {
                let sequence = match sent.get(usize::from(b)) {
                    Some(probe) if c % 2 == 0 => probe.sequence,
                    _ => u16::from_be_bytes([b, c]),
                };
                let response = match d % 5 {
                    0 => Response::EchoReply,
                    1 => Response::TimeExceeded,
                    2 => Response::Unreachable { code: e % 16, mtu: u16::from(e) * 8 },
                    3 => Response::TcpAnswer { open: e % 2 == 0 },
                    _ => Response::Unreachable { code: 3, mtu: 0 },
                };
                let from = if e % 3 == 0 { destination } else { IpAddr::from([10, 0, e, 1]) };
                // Now and then a reply to another trace's identifier, which must not count.
                let identifier = if d % 7 == 0 { identifier ^ 1 } else { identifier };
                let reply = Reply {
                    from,
                    response,
                    identifier,
                    sequence,
                    probe_destination: Some(destination),
                    mpls: MplsStack::default(),
                };
                let _ = tracer.on_reply(now, &reply);
            }
            3 => {
                if let Some(probe) = sent.get(usize::from(b)) {
                    tracer.not_sent(*probe, format!("refused {c}"));
                }
            }
            _ => {
                if let Some(probe) = sent.get(usize::from(b)) {
                    tracer.sent_at(*probe, now.saturating_sub(Duration::from_micros(u64::from(c))));
                }
            }
        }
        check(&mut tracer);
    }
    // Time runs on with nothing answering: the trace must end. Every probe has at most two attempts and each wait
    // is bounded by the timeout, and paced resends lie at most 255 * 40 ms ahead.
    for _ in 0..100_000 {
        let mut silent = |_: u8, _: Option<(ReplyKind, IpAddr)>, _: bool| GiveUp::Silent;
        match tracer.poll_with(now, &mut silent) {
            Action::Send(probe) => {
                if probe.ttl % 2 == 0 {
                    tracer.not_sent(probe, "refused".to_owned());
                }
            }
            Action::Wait(until) => {
                assert!(until > now, "a wait must lie ahead");
                now = until;
            }
            Action::Done => {
                check(&mut tracer);
                return;
            }
        }
        check(&mut tracer);
    }
    panic!("the trace never ended");
});
