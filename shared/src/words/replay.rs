//! The replay of a finished trace, in words: its steps (one per hop, a silent tail folded into one) and one plain
//! sentence per step, built from the data alone: what the probes with this TTL met and what that means. A teacher
//! steps through a finished trace and reads these aloud; the offline copy lists them all.
//!
//! The sentences say only what the data shows; where the data is silent (`*`), they say why silence is normal
//! rather than guess at a cause.

use super::{asn_label, format_rtt, geo_label, host_label, location_label, rtt_range, ttl_word};
use crate::{Hop, HopAddress, Protocol, ReplyKind, TraceReport};

/// A run of hops after the last answer of a finished trace where nothing answered: shown as one row and one replay
/// step ("hops 7–30: no answer") rather than a screenful of identical `* * *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilentTail {
    /// Index in the report's hops of the run's first hop.
    pub index: usize,
    /// TTL of its first hop.
    pub first: u8,
    /// TTL of its last hop.
    pub last: u8,
}

/// The silent run at the end of a trace that is over, when it has at least two hops.
pub fn silent_tail(report: &TraceReport) -> Option<SilentTail> {
    if report.status == crate::TraceStatus::Running {
        return None;
    }
    let index = report.hops.iter().rposition(|h| h.answered() > 0).map_or(0, |i| i + 1);
    let run = report.hops.get(index..).filter(|run| run.len() >= 2)?;
    Some(SilentTail { index, first: run[0].ttl, last: run[run.len() - 1].ttl })
}

/// The replay's steps: one per row, as `(ttl, last ttl of a folded silent run)`.
pub fn replay_steps(report: &TraceReport) -> Vec<(u8, Option<u8>)> {
    let tail = silent_tail(report);
    let shown = tail.map_or(report.hops.len(), |t| t.index + 1);
    report.hops[..shown].iter().map(|h| (h.ttl, tail.filter(|t| t.first == h.ttl).map(|t| t.last))).collect()
}

/// One replay step in words: the TTL it shows (through `last` for a folded silent tail) and its sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// TTL of the step's hop (the first of a folded silent tail).
    pub ttl: u8,
    /// The last TTL of a folded silent tail.
    pub through: Option<u8>,
    /// What happened there.
    pub sentence: String,
}

/// Every step of the replay of `report` with its sentence, in order.
pub fn steps(report: &TraceReport) -> Vec<Step> {
    replay_steps(report)
        .into_iter()
        .filter_map(|(ttl, through)| {
            let sentence = match through {
                Some(last) => explain_silent_tail(report, ttl, last),
                None => explain(report, report.hops.iter().find(|h| h.ttl == ttl)?),
            };
            Some(Step { ttl, through, sentence })
        })
        .collect()
}

/// The sentence for `hop` of `report`.
pub fn explain(report: &TraceReport, hop: &Hop) -> String {
    let sent = hop.probes.len().max(usize::from(report.tries)).max(1);
    let answered = hop.answered();
    if answered == 0 {
        let mut sentence = explain_silence(report, hop, sent);
        sentence.push_str(&rate_limit_sentence(hop, sent));
        return sentence;
    }
    let ttl = hop.ttl;
    let word = lead_word(report);
    let who = describe_responder(hop);
    let kind = main_kind(hop);
    let tally = tally(hop, sent);
    let mut sentence = match kind {
        ReplyKind::TimeExceeded => {
            format!("{word} {ttl} expired at {who}, which answered Time Exceeded; {tally}.")
        }
        ReplyKind::Destination => {
            format!(
                "{word} {ttl} reached the destination, {who}, which answered {}; {tally}.",
                destination_answer(report, hop)
            )
        }
        ReplyKind::Unreachable => {
            let flag = hop.probes.iter().flatten().find_map(|r| r.flag.as_deref());
            let why = flag.map(unreachable_meaning).map(|m| format!(" ({m})")).unwrap_or_default();
            format!(
                "{word} {ttl}: {who} answered Destination Unreachable{why}: it has no way on to the destination, \
                 so the route ends here; {tally}."
            )
        }
    };
    let rate_limited = hop.rate_limited.len().min(sent);
    if rate_limited > 0 {
        sentence.push_str(&rate_limit_sentence(hop, sent));
    }
    if hop.stats.is_some() {
        // A watch knows where its loss happens: say that rather than guess.
        if let Some(loss) = loss_sentence(hop) {
            sentence.push(' ');
            sentence.push_str(&loss);
        }
    } else if answered + rate_limited < sent {
        sentence.push_str(
            " The missing answers are usually the router limiting how many replies it sends, not lost traffic.",
        );
    }
    sentence.push_str(&mpls_sentence(hop));
    sentence.push_str(&load_balancer_sentence(hop, sent));
    sentence.push_str(&doubt_sentence(report, hop));
    sentence
}

/// The replay's sentence about a watched hop's loss, when it lost any: where it happens, honestly (from the fold's
/// `stats` and `loss_at`; nothing for a hop that never answered, which is silence, not loss).
pub fn loss_sentence(hop: &Hop) -> Option<String> {
    let stats = hop.stats.as_ref().filter(|s| s.sent > 0 && s.received > 0)?;
    match hop.loss_at? {
        crate::LossAt::Forwarding { from_ttl } => Some(format!(
            "Over {} rounds it lost {:.0} % of its probes, and every hop after it loses as much: loss from hop \
             {from_ttl} on, on the path itself.",
            stats.sent, stats.loss_pct
        )),
        crate::LossAt::HopOnly => Some(format!(
            "Over {} rounds it lost {:.0} % of its probes, but the hops after it do not: hop {} answers less than it \
             forwards (a router putting its own replies last), not loss on the path.",
            stats.sent, stats.loss_pct, hop.ttl
        )),
    }
}

/// ` Two routers answer at this hop (A and B): a load balancer splits flows between them...`, each router with its
/// own name, place and AS; nothing when one address answered every try.
fn load_balancer_sentence(hop: &Hop, sent: usize) -> String {
    let answering: Vec<&HopAddress> = hop.addresses.iter().filter(|a| !a.probes.is_empty()).collect();
    if answering.len() < 2 {
        return String::new();
    }
    // The shown address first, then the others in the order they first answered.
    let mut ordered: Vec<&HopAddress> =
        answering.iter().copied().filter(|a| Some(&a.address) == hop.address.as_ref()).collect();
    ordered.extend(answering.iter().copied().filter(|a| Some(&a.address) != hop.address.as_ref()));
    let described: Vec<String> = ordered
        .iter()
        .map(|a| {
            let mut details = Vec::new();
            if let Some(name) = a.hostname.as_deref().filter(|n| *n != a.address) {
                details.push(name.to_owned());
            }
            if let Some(geo) = &a.geo {
                details.push(geo_label(geo));
            }
            if let Some(asn) = &a.asn {
                details.push(asn_label(asn.number, asn.org.as_deref()));
            }
            details.push(format!("{} of {sent} {}", a.probes.len(), plural(sent, "try", "tries")));
            format!("{} ({})", a.address, details.join(", "))
        })
        .collect();
    let count = match described.len() {
        2 => "Two".to_owned(),
        3 => "Three".to_owned(),
        n => n.to_string(),
    };
    let list = match described.split_last() {
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    format!(
        " {count} routers answer at this hop ({list}): a load balancer splits flows between them, so probes that \
         differ only in their ports can take different paths."
    )
}

/// ` Its place is doubtful: DB-IP puts this router in Mumbai, but...`, for each address of the hop whose place
/// cannot be true.
fn doubt_sentence(report: &TraceReport, hop: &Hop) -> String {
    let verdicts = super::verdict::verdicts(report);
    let doubts: Vec<&super::verdict::Verdict> =
        verdicts.iter().filter(|v| v.ttl == hop.ttl && v.plausible == Some(false)).collect();
    let several = hop.addresses.iter().filter(|a| !a.probes.is_empty()).count() > 1;
    doubts
        .iter()
        .filter_map(|v| {
            let reason = v.reason.as_deref()?;
            Some(if several {
                format!(" The place of {} is doubtful: {reason}", v.address)
            } else {
                format!(" Its place on the map is doubtful: {reason}")
            })
        })
        .collect()
}

/// A hop where every probe went unanswered.
fn explain_silence(report: &TraceReport, hop: &Hop, sent: usize) -> String {
    let ttl = hop.ttl;
    let word = lead_word(report);
    let probes = plural(sent, "probe", "probes");
    let later_answered = report.hops.iter().any(|h| h.ttl > hop.ttl && h.answered() > 0);
    if later_answered {
        format!(
            "{word} {ttl}: no answer to any of the {sent} {probes} (*). Silence does not mean the network is down: \
             later hops answered, so this router forwarded the packets; it just does not send Time Exceeded \
             messages, or rate-limits them."
        )
    } else {
        format!(
            "{word} {ttl}: no answer to any of the {sent} {probes} (*). Silence does not mean the network is down: \
             routers may be set not to answer, or to rate-limit their answers, and firewalls near the destination \
             often drop probes like these."
        )
    }
}

/// ` 2 of 3 probes were lost to the router's ICMP rate limit: ...`, or nothing when none was.
fn rate_limit_sentence(hop: &Hop, sent: usize) -> String {
    let n = hop.rate_limited.len().min(sent);
    if n == 0 {
        return String::new();
    }
    let verb = if n == 1 { "was" } else { "were" };
    format!(
        " {n} of {sent} {} {verb} lost to the router's ICMP rate limit: it answers each sender about once a second, \
         and this server's traces had used its budget; the router itself is fine.",
        plural(sent, "probe", "probes")
    )
}

/// ` The router is inside an MPLS tunnel: ...`, or nothing when its replies carried no labels.
fn mpls_sentence(hop: &Hop) -> String {
    let labels = super::mpls_labels(hop);
    if labels.is_empty() {
        return String::new();
    }
    let names = labels.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let (word, these) = if labels.len() == 1 { ("label", "it") } else { ("labels", "them") };
    format!(
        " The router is inside an MPLS tunnel: the probe reached it carrying {word} {names}, and the router quoted \
         {these} in its answer (RFC 4950). Inside the tunnel packets are switched by label, not by address, so \
         the routers in it may not look like separate hops."
    )
}

/// `10.0.4.1 (router.example, Sydney, Australia, AS64500 Example Net)`; private addresses say so.
fn describe_responder(hop: &Hop) -> String {
    let address = hop.address.clone().unwrap_or_else(|| host_label(hop));
    let mut details = Vec::new();
    if let Some(name) = hop.hostname.as_deref().filter(|n| Some(*n) != hop.address.as_deref()) {
        details.push(name.to_owned());
    }
    let location = location_label(hop);
    if !location.is_empty() {
        details.push(location);
    } else if let Some(kind) = hop.kind.as_deref().filter(|k| *k != "public") {
        details.push(format!("a {kind} address no database can place"));
    }
    if let Some(asn) = &hop.asn {
        details.push(asn_label(asn.number, asn.org.as_deref()));
    }
    if details.is_empty() { address } else { format!("{address} ({})", details.join(", ")) }
}

/// The kind of answer most of the hop's replies were (the destination's wins a tie: it ends the trace).
fn main_kind(hop: &Hop) -> ReplyKind {
    let count = |kind| hop.probes.iter().flatten().filter(|r| r.kind == kind).count();
    [ReplyKind::Destination, ReplyKind::Unreachable, ReplyKind::TimeExceeded]
        .into_iter()
        .max_by_key(|&k| (count(k), k == ReplyKind::Destination))
        .unwrap_or(ReplyKind::TimeExceeded)
}

/// What the destination sent back: for TCP, which segment (the server records it in the reply's flag).
fn destination_answer(report: &TraceReport, hop: &Hop) -> String {
    let port = report.options.port.map(|p| format!(" {p}")).unwrap_or_default();
    match report.protocol {
        Protocol::Icmp => "with an echo reply".to_owned(),
        Protocol::Udp => {
            "port unreachable (nothing listens on the probed port, which is what the probe wants)".to_owned()
        }
        Protocol::Tcp => {
            let flags = |f: &str| hop.probes.iter().flatten().any(|r| r.flag.as_deref() == Some(f));
            match (flags("SYN-ACK"), flags("RST")) {
                (true, false) => format!("the connection attempt with SYN-ACK: port{port} is open"),
                (false, true) => format!("the connection attempt with RST: port{port} is closed"),
                (true, true) => {
                    format!("the connection attempt with SYN-ACK and RST: port{port} was open to some probes")
                }
                (false, false) => {
                    "the connection attempt (SYN-ACK when the port is open, RST when it is closed)".to_owned()
                }
            }
        }
    }
}

/// `TTL`, or `Hop limit` for IPv6, to start a sentence with.
fn lead_word(report: &TraceReport) -> &'static str {
    if ttl_word(report) == "TTL" { "TTL" } else { "Hop limit" }
}

/// The sentence for a run of silent hops at the end of a finished trace (the table shows it as one row).
pub fn explain_silent_tail(report: &TraceReport, first: u8, last: u8) -> String {
    let word = lead_word(report);
    let reached = if report.destination_reached { "" } else { " and the destination never answered" };
    format!(
        "{word}s {first}–{last}: no answer to any probe{reached}. Silence does not mean the network is down: \
         the destination or a firewall near it may drop probes like these, and routers may be set not to answer."
    )
}

/// traceroute's unreachable flags, in words.
fn unreachable_meaning(flag: &str) -> &'static str {
    match flag {
        "!N" => "network unreachable",
        "!H" => "host unreachable",
        "!P" => "protocol unreachable",
        "!X" => "communication administratively prohibited: a filter",
        "!F" => "fragmentation needed",
        "!S" => "source route failed",
        _ => "see the code",
    }
}

/// `3 probes sent, 2 answered in 12–14 ms`.
fn tally(hop: &Hop, sent: usize) -> String {
    let answered = hop.answered();
    let times = match rtt_range(hop) {
        Some((lo, hi)) if format_rtt(lo) == format_rtt(hi) => format!(" in {}", format_rtt(lo)),
        // Both ends with the precision that suits the larger: `9.8–10.2 ms`, not `9.80–10.2 ms`.
        Some((lo, hi)) => {
            let digits = if hi < 1.0 {
                3
            } else if hi < 10.0 {
                2
            } else {
                1
            };
            format!(" in {lo:.digits$}–{hi:.digits$} ms")
        }
        None => String::new(),
    };
    format!("{sent} {} sent, {answered} answered{times}", plural(sent, "probe", "probes"))
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Asn, EVENT_VERSION, Geo, MplsLabel, ProbeReply, TraceEvent};

    fn report(protocol: Protocol, events: &[TraceEvent]) -> TraceReport {
        let mut report = TraceReport::new("example.test", protocol);
        report.apply(&TraceEvent::Started {
            version: EVENT_VERSION,
            target: "example.test".into(),
            address: "192.0.2.9".into(),
            protocol,
            first_ttl: 1,
            max_hops: 30,
            tries: 3,
            started_at_ms: 0,
            mode: None,
            options: Default::default(),
            location: None,
        });
        for e in events {
            report.apply(e);
        }
        report
    }

    fn probe(ttl: u8, index: u8, from: &str, rtt: f64, kind: ReplyKind) -> TraceEvent {
        TraceEvent::Probe {
            ttl,
            index,
            reply: Some(ProbeReply::new(from, rtt, kind)),
            rate_limited: false,
            send_error: None,
        }
    }

    fn lost(ttl: u8, index: u8) -> TraceEvent {
        TraceEvent::Probe { ttl, index, reply: None, rate_limited: false, send_error: None }
    }

    fn rate_limited(ttl: u8, index: u8) -> TraceEvent {
        TraceEvent::Probe { ttl, index, reply: None, rate_limited: true, send_error: None }
    }

    fn labelled(ttl: u8, index: u8, from: &str, labels: &[u32]) -> TraceEvent {
        let mpls = labels
            .iter()
            .enumerate()
            .map(|(i, &label)| MplsLabel { label, tc: 0, bottom_of_stack: i + 1 == labels.len(), ttl: 1 })
            .collect();
        let reply = ProbeReply { mpls, ..ProbeReply::new(from, 8.0, ReplyKind::TimeExceeded) };
        TraceEvent::Probe { ttl, index, reply: Some(reply), rate_limited: false, send_error: None }
    }

    fn sydney() -> TraceEvent {
        TraceEvent::HopInfo {
            ttl: 5,
            address: "10.0.4.1".into(),
            hostname: Some("router.example".into()),
            geo: Some(Geo {
                city: Some("Sydney".into()),
                country: Some("Australia".into()),
                country_code: Some("AU".into()),
                ..Geo::at(-33.87, 151.21)
            }),
            asn: Some(Asn { number: 64500, org: Some("Example Net".into()), source: None }),
            kind: Some("private".into()),
        }
    }

    #[test]
    fn a_router_that_answered_most_probes() {
        let r = report(
            Protocol::Icmp,
            &[
                probe(5, 0, "10.0.4.1", 12.3, ReplyKind::TimeExceeded),
                lost(5, 1),
                probe(5, 2, "10.0.4.1", 14.04, ReplyKind::TimeExceeded),
                sydney(),
            ],
        );
        assert_eq!(
            explain(&r, &r.hops[0]),
            "TTL 5 expired at 10.0.4.1 (router.example, Sydney, Australia, AS64500 Example Net), which answered \
             Time Exceeded; 3 probes sent, 2 answered in 12.3–14.0 ms. The missing answers are usually the router \
             limiting how many replies it sends, not lost traffic."
        );
    }

    #[test]
    fn a_private_router_without_a_name() {
        let info = TraceEvent::HopInfo {
            ttl: 1,
            address: "10.0.0.1".into(),
            hostname: None,
            geo: None,
            asn: None,
            kind: Some("private".into()),
        };
        let r = report(
            Protocol::Icmp,
            &[
                probe(1, 0, "10.0.0.1", 0.41, ReplyKind::TimeExceeded),
                probe(1, 1, "10.0.0.1", 0.41, ReplyKind::TimeExceeded),
                probe(1, 2, "10.0.0.1", 0.412, ReplyKind::TimeExceeded),
                info,
            ],
        );
        assert_eq!(
            explain(&r, &r.hops[0]),
            "TTL 1 expired at 10.0.0.1 (a private address no database can place), which answered Time Exceeded; \
             3 probes sent, 3 answered in 0.410–0.412 ms."
        );
    }

    #[test]
    fn the_destination_says_how_it_answered_per_protocol() {
        for (protocol, answer) in
            [(Protocol::Icmp, "echo reply"), (Protocol::Udp, "port unreachable"), (Protocol::Tcp, "SYN-ACK")]
        {
            let r = report(protocol, &[probe(2, 0, "192.0.2.9", 20.0, ReplyKind::Destination), lost(2, 1), lost(2, 2)]);
            let text = explain(&r, &r.hops[0]);
            assert!(text.starts_with("TTL 2 reached the destination, 192.0.2.9, which answered"), "{text}");
            assert!(text.contains(answer), "{protocol}: {text}");
            assert!(text.contains("3 probes sent, 1 answered in 20.0 ms"), "{text}");
        }
    }

    #[test]
    fn tcp_says_which_segment_came_back_and_ipv6_says_hop_limit() {
        let answer = |flag: &str| {
            let mut reply = ProbeReply::new("192.0.2.9", 20.0, ReplyKind::Destination);
            reply.flag = Some(flag.to_owned());
            TraceEvent::Probe { ttl: 2, index: 0, reply: Some(reply), rate_limited: false, send_error: None }
        };
        let mut r = report(Protocol::Tcp, &[answer("SYN-ACK")]);
        r.options.port = Some(8080);
        let text = explain(&r, &r.hops[0]);
        assert!(text.contains("with SYN-ACK: port 8080 is open"), "{text}");
        assert!(!text.contains("when the port is open"), "no hedging once the answer is known: {text}");
        let r = report(Protocol::Tcp, &[answer("RST")]);
        assert!(
            explain(&r, &r.hops[0]).contains("with RST: port is closed") || explain(&r, &r.hops[0]).contains("RST")
        );

        let mut r = report(Protocol::Icmp, &[probe(1, 0, "2001:db8::1", 1.0, ReplyKind::TimeExceeded)]);
        r.address = Some("2001:db8::9".into());
        let text = explain(&r, &r.hops[0]);
        assert!(text.starts_with("Hop limit 1 expired at 2001:db8::1"), "{text}");
        r.status = crate::TraceStatus::Finished;
        let tail = explain_silent_tail(&r, 7, 30);
        assert!(
            tail.starts_with("Hop limits 7–30: no answer to any probe and the destination never answered"),
            "{tail}"
        );
    }

    #[test]
    fn silence_is_explained_not_blamed() {
        let r = report(
            Protocol::Icmp,
            &[lost(1, 0), lost(1, 1), lost(1, 2), probe(2, 0, "192.0.2.9", 3.0, ReplyKind::Destination)],
        );
        let middle = explain(&r, &r.hops[0]);
        assert!(middle.starts_with("TTL 1: no answer to any of the 3 probes (*)."), "{middle}");
        assert!(middle.contains("does not mean the network is down"), "{middle}");
        assert!(middle.contains("forwarded the packets"), "{middle}");
        let tail = report(Protocol::Icmp, &[lost(7, 0)]);
        let text = explain(&tail, &tail.hops[0]);
        assert!(text.contains("does not mean the network is down") && text.contains("firewalls"), "{text}");
        assert!(!text.contains("later hops answered"), "{text}");
    }

    #[test]
    fn unreachable_and_load_balancing() {
        let mut r = report(Protocol::Udp, &[]);
        r.apply(&TraceEvent::Probe {
            ttl: 3,
            index: 0,
            reply: Some(ProbeReply {
                flag: Some("!H".into()),
                ..ProbeReply::new("10.0.2.1", 2.0, ReplyKind::Unreachable)
            }),
            rate_limited: false,
            send_error: None,
        });
        let text = explain(&r, &r.hops[0]);
        assert!(text.starts_with("TTL 3: 10.0.2.1 answered Destination Unreachable (host unreachable)"), "{text}");
        let split = report(
            Protocol::Icmp,
            &[
                probe(4, 0, "10.0.3.1", 5.0, ReplyKind::TimeExceeded),
                probe(4, 1, "10.0.3.1", 5.0, ReplyKind::TimeExceeded),
                probe(4, 2, "10.0.9.1", 6.0, ReplyKind::TimeExceeded),
            ],
        );
        let text = explain(&split, &split.hops[0]);
        assert!(
            text.ends_with(
                "Two routers answer at this hop (10.0.3.1 (2 of 3 tries) and 10.0.9.1 (1 of 3 tries)): a load \
                 balancer splits flows between them, so probes that differ only in their ports can take different \
                 paths."
            ),
            "{text}"
        );
        assert!(text.contains("3 answered in 5.00–6.00 ms"), "{text}");
        let wide = report(
            Protocol::Icmp,
            &[
                probe(6, 0, "10.0.5.1", 9.8, ReplyKind::TimeExceeded),
                probe(6, 1, "10.0.5.1", 10.24, ReplyKind::TimeExceeded),
            ],
        );
        assert!(explain(&wide, &wide.hops[0]).contains("2 answered in 9.8–10.2 ms"));
    }

    #[test]
    fn each_router_of_a_load_balanced_hop_is_named_with_its_own_place_and_as() {
        let info = |address: &str, city: &str, lat: f64, number: u32| TraceEvent::HopInfo {
            ttl: 2,
            address: address.into(),
            hostname: None,
            geo: Some(Geo {
                country: Some("NZ".into()),
                ..crate::words::verdict::tests::geo(city, lat, 174.0, "geofeed")
            }),
            asn: Some(Asn { number, org: None, source: None }),
            kind: Some("private".into()),
        };
        let r = report(
            Protocol::Udp,
            &[
                probe(2, 0, "10.0.1.2", 0.05, ReplyKind::TimeExceeded),
                info("10.0.1.2", "Wellington", -41.29, 64512),
                probe(2, 1, "10.200.1.2", 0.06, ReplyKind::TimeExceeded),
                info("10.200.1.2", "Auckland", -36.85, 64513),
                probe(2, 2, "10.200.1.2", 0.07, ReplyKind::TimeExceeded),
            ],
        );
        let text = explain(&r, &r.hops[0]);
        assert!(
            text.starts_with("TTL 2 expired at 10.200.1.2 (Auckland, NZ, AS64513)"),
            "B shows with its own: {text}"
        );
        assert!(
            text.contains(
                " Two routers answer at this hop (10.200.1.2 (Auckland, NZ, AS64513, 2 of 3 tries) and 10.0.1.2 \
                 (Wellington, NZ, AS64512, 1 of 3 tries)): a load balancer splits flows between them"
            ),
            "{text}"
        );
        // Wellington and Auckland are 490 km apart: replies within 0.07 ms cannot both be true.
        assert!(
            text.contains(" The place of 10.200.1.2 is doubtful: the geofeed puts this router in Auckland, 4"),
            "{text}"
        );
        assert!(
            text.contains(" The place of 10.0.1.2 is doubtful: the geofeed puts this router in Wellington"),
            "{text}"
        );
    }

    #[test]
    fn a_place_the_speed_of_light_rules_out_is_said_in_the_sentence() {
        let mut r = report(Protocol::Icmp, &[probe(5, 0, "10.0.4.1", 0.05, ReplyKind::TimeExceeded), sydney()]);
        r.location = Some(crate::words::verdict::tests::geo("Lab", 19.08, 72.88, "--location"));
        let text = explain(&r, &r.hops[0]);
        assert!(
            text.ends_with(
                " Its place on the map is doubtful: the database puts this router in Sydney, but a 0.050 ms reply \
                 cannot have come from further than 5 km from this server."
            ),
            "{text}"
        );
    }

    #[test]
    fn asn_labels() {
        assert_eq!(asn_label(13335, Some("Cloudflare, Inc.")), "AS13335 Cloudflare, Inc.");
        assert_eq!(asn_label(64500, None), "AS64500");
        assert_eq!(asn_label(64500, Some("")), "AS64500");
    }

    #[test]
    fn rate_limited_tries_are_explained_as_the_routers_budget() {
        let r = report(
            Protocol::Icmp,
            &[probe(2, 0, "10.0.1.1", 3.0, ReplyKind::TimeExceeded), rate_limited(2, 1), rate_limited(2, 2)],
        );
        let text = explain(&r, &r.hops[0]);
        assert!(
            text.ends_with(
                "3 probes sent, 1 answered in 3.00 ms. 2 of 3 probes were lost to the router's ICMP rate limit: it \
                 answers each sender about once a second, and this server's traces had used its budget; the router \
                 itself is fine."
            ),
            "{text}"
        );
        assert!(!text.contains("usually the router limiting"), "every missing answer is already explained: {text}");
        let mixed = report(
            Protocol::Icmp,
            &[probe(2, 0, "10.0.1.1", 3.0, ReplyKind::TimeExceeded), rate_limited(2, 1), lost(2, 2)],
        );
        let text = explain(&mixed, &mixed.hops[0]);
        assert!(text.contains(" 1 of 3 probes was lost to the router's ICMP rate limit"), "{text}");
        assert!(text.contains("usually the router limiting"), "one loss is still unexplained: {text}");
        let silent = report(
            Protocol::Icmp,
            &[
                rate_limited(1, 0),
                rate_limited(1, 1),
                rate_limited(1, 2),
                probe(2, 0, "192.0.2.9", 3.0, ReplyKind::Destination),
            ],
        );
        let text = explain(&silent, &silent.hops[0]);
        assert!(text.starts_with("TTL 1: no answer to any of the 3 probes (*)."), "{text}");
        assert!(text.ends_with("3 of 3 probes were lost to the router's ICMP rate limit: it answers each sender about once a second, and this server's traces had used its budget; the router itself is fine."), "{text}");
    }

    #[test]
    fn mpls_hops_name_their_labels() {
        let one = report(
            Protocol::Icmp,
            &[
                labelled(4, 0, "10.0.3.1", &[24001]),
                labelled(4, 1, "10.0.3.1", &[24001]),
                labelled(4, 2, "10.0.3.1", &[24001]),
            ],
        );
        let text = explain(&one, &one.hops[0]);
        assert!(
            text.ends_with(
                "3 answered in 8.00 ms. The router is inside an MPLS tunnel: the probe reached it carrying label \
                 24001, and the router quoted it in its answer (RFC 4950). Inside the tunnel packets are switched by \
                 label, not by address, so the routers in it may not look like separate hops."
            ),
            "{text}"
        );
        let stack = report(Protocol::Icmp, &[labelled(4, 0, "10.0.3.1", &[24001, 16])]);
        let text = explain(&stack, &stack.hops[0]);
        assert!(text.contains("carrying labels 24001, 16, and the router quoted them"), "{text}");
        let plain = report(Protocol::Icmp, &[probe(4, 0, "10.0.3.1", 8.0, ReplyKind::TimeExceeded)]);
        assert!(!explain(&plain, &plain.hops[0]).contains("MPLS"));
    }

    #[test]
    fn the_steps_fold_a_silent_tail_into_one_sentence() {
        let mut r = report(
            Protocol::Icmp,
            &[probe(1, 0, "10.0.0.1", 1.0, ReplyKind::TimeExceeded), lost(2, 0), lost(3, 0), lost(4, 0)],
        );
        r.status = crate::TraceStatus::Finished;
        let steps = steps(&r);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!((steps[0].ttl, steps[0].through), (1, None));
        assert!(steps[0].sentence.starts_with("TTL 1 expired at 10.0.0.1"), "{steps:?}");
        assert_eq!((steps[1].ttl, steps[1].through), (2, Some(4)));
        assert!(steps[1].sentence.starts_with("TTLs 2–4: no answer to any probe"), "{steps:?}");
    }
}
