//! The tracer fed an arbitrary script of polls, replies and send-time corrections at arbitrary times: replies with
//! any identifier, sequence, sender and meaning, in any order, early, late or repeated. It must never panic, never
//! ask to wait for a time that has passed, and report each probe at most once.
#![no_main]

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tracemap::probe::{Action, Pacing, ProbeConfig, Reply, Response, Tracer};
use tracemap::wire::extensions::MplsStack;

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
    for step in script.chunks(6) {
        let [op, a, b, c, d, e] = [0, 1, 2, 3, 4, 5].map(|i| step.get(i).copied().unwrap_or(0));
        now += Duration::from_micros(u64::from(a) * 997);
        match op % 4 {
            0 | 1 => match tracer.poll(now) {
                Action::Send(probe) => sent.push(probe),
                Action::Wait(until) => assert!(until > now, "a wait must lie ahead"),
                Action::Done => {}
            },
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
            _ => {
                if let Some(probe) = sent.get(usize::from(b)) {
                    tracer.sent_at(*probe, now.saturating_sub(Duration::from_micros(u64::from(c))));
                }
            }
        }
        for outcome in tracer.drain_outcomes() {
            assert!(reported.insert((outcome.ttl, outcome.index)), "probe reported twice: {outcome:?}");
        }
    }
});
