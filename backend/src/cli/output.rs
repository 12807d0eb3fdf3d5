//! How `tracemap trace` shows a trace: a table printed hop by hop as hops complete, or one JSON document.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use tokio::sync::mpsc;
use tracemap_shared::{Asn, Geo, Hop, HopAddress, MplsLabel, TraceEvent, TraceReport, place};

/// Folds every event into a report (for `--json`).
pub async fn collect(mut rx: mpsc::UnboundedReceiver<TraceEvent>) -> TraceReport {
    let mut report = TraceReport::default();
    while let Some(event) = rx.recv().await {
        report.apply(&event);
    }
    report
}

/// Prints the header, then each hop once all its probes and its enrichment are known, in TTL order. The runner
/// sends one `hop_info` for each new address and, with reverse DNS on (`names`), a second when its lookup ends;
/// a hop waits for those, which the runner bounds by the resolver's timeout.
pub async fn print_table(
    mut rx: mpsc::UnboundedReceiver<TraceEvent>,
    out: &mut impl Write,
    names: bool,
) -> std::io::Result<TraceReport> {
    let mut progress = Progress { infos_needed: if names { 2 } else { 1 }, ..Progress::default() };
    while let Some(event) = rx.recv().await {
        progress.report.apply(&event);
        match &event {
            TraceEvent::Started { target, address, max_hops, protocol, first_ttl, mode, .. } => {
                progress.next_ttl = Some(*first_ttl);
                let how = mode.map(|mode| format!(" ({})", mode.describe())).unwrap_or_default();
                writeln!(out, "tracemap to {target} ({address}), {max_hops} hops max, {protocol} probes{how}")?;
            }
            TraceEvent::Probe { ttl, .. } => {
                *progress.probes.entry(*ttl).or_default() += 1;
            }
            TraceEvent::HopInfo { ttl, address, .. } => {
                *progress.infos.entry((*ttl, address.clone())).or_default() += 1;
            }
            _ => {}
        }
        progress.flush(out, false)?;
    }
    progress.flush(out, true)?;
    let mut notes = doubts(&progress.report);
    notes.extend(rate_limit_notes(&progress.report));
    if !notes.is_empty() {
        writeln!(out)?;
        for note in notes {
            writeln!(out, "{note}")?;
        }
    }
    out.flush()?;
    Ok(progress.report)
}

/// Footnotes for the places marked `?`: each one the speed of light rules out, and, when the prober's own place
/// is unknown, each pair of hops that cannot both be where they are placed.
pub fn doubts(report: &TraceReport) -> Vec<String> {
    let mut notes = Vec::new();
    for hop in &report.hops {
        let (Some(geo), Some(address)) = (&hop.geo, &hop.address) else { continue };
        if geo.plausible != Some(false) {
            continue;
        }
        let rtt = place::min_rtt_ms(hop).map(|r| format!(" ({r:.3} ms)")).unwrap_or_default();
        let bound = geo.max_km.map(|km| format!(" further than {km:.0} km")).unwrap_or_default();
        notes.push(format!(
            "? hop {}: {} puts {address} in {}, but its fastest reply{rtt} cannot have come from{bound}",
            hop.ttl,
            source_label(geo),
            place(geo)
        ));
    }
    if report.location.is_none() {
        let name = |ttl: u8| {
            let geo = report.hops.iter().find(|h| h.ttl == ttl).and_then(|h| h.geo.as_ref());
            geo.map(place).unwrap_or_default()
        };
        for c in place::pair_conflicts(report) {
            notes.push(format!(
                "? hop {} ({}) and hop {} ({}) cannot both be right: {:.0} km apart, their replies allow at most {:.0} km",
                c.ttl,
                name(c.ttl),
                c.other_ttl,
                name(c.other_ttl),
                c.distance_km,
                c.bound_km
            ));
        }
    }
    notes
}

/// Footnotes for the tries marked `*rl?`: the router, and how many probes this host had sent it lately.
pub fn rate_limit_notes(report: &TraceReport) -> Vec<String> {
    let mut notes = Vec::new();
    for hop in &report.hops {
        for limit in &hop.probable_rate_limits {
            notes.push(format!(
                "*rl? hop {} try {}: probably {}'s ICMP rate limit: this host had sent it {} probes in the last 10 s",
                hop.ttl,
                u16::from(limit.index) + 1,
                sanitize(&limit.router),
                limit.recent_probes
            ));
        }
    }
    notes
}

/// Who placed it, in words: the database's label, "the geofeed", or "the name (token)".
fn source_label(geo: &Geo) -> String {
    match (geo.source.as_deref(), geo.token.as_deref()) {
        (Some("hostname"), Some(token)) => format!("its name ({})", sanitize(token)),
        (Some(source), _) => sanitize(source),
        (None, _) => "a database".to_owned(),
    }
}

/// What the table printer knows so far.
#[derive(Default)]
struct Progress {
    report: TraceReport,
    /// Probe events per TTL.
    probes: BTreeMap<u8, u8>,
    /// `hop_info` events per (TTL, address).
    infos: HashMap<(u8, String), u8>,
    /// How many `hop_info` events an address gets.
    infos_needed: u8,
    /// The next TTL to print.
    next_ttl: Option<u8>,
}

impl Progress {
    /// Prints every hop from `next_ttl` on that is complete (or all known hops when `all`).
    fn flush(&mut self, out: &mut impl Write, all: bool) -> std::io::Result<()> {
        let Some(from) = self.next_ttl else { return Ok(()) };
        for hop in self.report.hops.iter().filter(|h| h.ttl >= from) {
            // A hop is printed only after every hop before it, so a TTL with no event yet holds back the ones after.
            let in_turn = Some(hop.ttl) == self.next_ttl;
            let probed = self.probes.get(&hop.ttl).copied().unwrap_or(0) >= self.report.tries;
            // Every address that answered gets its own line, so the hop waits for each one's information.
            let enriched = hop
                .addresses
                .iter()
                .filter(|a| !a.probes.is_empty())
                .all(|a| self.infos.get(&(hop.ttl, a.address.clone())).copied().unwrap_or(0) >= self.infos_needed);
            if !(all || (in_turn && probed && enriched)) {
                break;
            }
            writeln!(out, "{}", format_hop(hop))?;
            self.next_ttl = hop.ttl.checked_add(1);
        }
        Ok(())
    }
}

/// One table line, `ttl  rtt rtt rtt  host (ip)  [AS]  location`, then one line for each other address that answered
/// the TTL (a load balancer's other router), with its own name, AS and place and the tries it answered.
pub fn format_hop(hop: &Hop) -> String {
    let mut text = format_shown(hop);
    for other in hop.other_addresses().filter(|a| !a.probes.is_empty()) {
        let tries: Vec<String> = other.probes.iter().map(|i| (u16::from(*i) + 1).to_string()).collect();
        let which = if tries.len() == 1 { "try" } else { "tries" };
        text.push_str(&format!("\n    {}  (answered {which} {})", describe(other), tries.join(", ")));
    }
    text
}

/// `host (ip)  [AS]  location` of one address, from its own information.
fn describe(address: &HopAddress) -> String {
    let mut line = match &address.hostname {
        Some(name) => format!("{} ({})", sanitize(name), address.address),
        None => address.address.clone(),
    };
    if let Some(asn) = &address.asn {
        line.push_str(&format!("  [{}]", as_label(asn)));
    }
    if let Some(where_) = where_is(address.geo.as_ref(), address.kind.as_deref()) {
        line.push_str(&format!("  {where_}"));
    }
    line
}

/// The place of an address, or for a special address why it has none.
fn where_is(geo: Option<&Geo>, kind: Option<&str>) -> Option<String> {
    match (geo, kind) {
        (Some(geo), _) => {
            let mut text = place(geo);
            if let (Some("hostname"), Some(token)) = (geo.source.as_deref(), geo.token.as_deref()) {
                text.push_str(&format!(" (name: {})", sanitize(token)));
            }
            // Ruled out by the speed of light: a footnote under the table says why.
            if geo.plausible == Some(false) {
                text.push('?');
            }
            Some(text)
        }
        // Special addresses are nowhere in particular: say why there is no place instead of leaving a blank.
        (None, Some(kind)) if kind != "public" => Some(format!("{} address", sanitize(kind))),
        (None, _) => None,
    }
}

/// The hop's own line: its tries and its shown address.
fn format_shown(hop: &Hop) -> String {
    let mut line = format!("{:>2} ", hop.ttl);
    for (index, probe) in hop.probes.iter().enumerate() {
        match probe {
            Some(p) => {
                line.push_str(&format!(" {:.3} ms", p.rtt_ms));
                if let Some(flag) = &p.flag {
                    line.push_str(&format!(" {flag}"));
                }
            }
            // Probably lost to the hop's ICMP rate limit, which tracemap's own probes had spent (the evidence is in a
            // footnote); a loss without evidence is a plain star.
            None if hop.probable_rate_limits.iter().any(|l| usize::from(l.index) == index) => line.push_str("  *rl?"),
            // Never left this host: the system refused to send it (the reason is in --json and the page).
            None if hop.not_sent.iter().any(|n| usize::from(n.index) == index) => line.push_str("  !send"),
            None => line.push_str("  *"),
        }
    }
    if let Some(addr) = &hop.address {
        match &hop.hostname {
            Some(name) => line.push_str(&format!("  {} ({addr})", sanitize(name))),
            None => line.push_str(&format!("  {addr}")),
        }
    }
    // Label stacks of an MPLS tunnel, as the routers in it reported them (once each when the tries agree).
    let mut stacks: Vec<&[MplsLabel]> = Vec::new();
    for reply in hop.probes.iter().flatten().filter(|reply| !reply.mpls.is_empty()) {
        if !stacks.contains(&reply.mpls.as_slice()) {
            stacks.push(&reply.mpls);
        }
    }
    for stack in stacks {
        for label in stack {
            line.push_str(&format!(" [{label}]"));
        }
    }
    if let Some(asn) = &hop.asn {
        line.push_str(&format!("  [{}]", as_label(asn)));
    }
    if let Some(where_) = where_is(hop.geo.as_ref(), hop.kind.as_deref()) {
        line.push_str(&format!("  {where_}"));
    }
    line
}

/// `AS13335 Cloudflare, Inc.`, or just the number when the source names no organisation.
pub fn as_label(asn: &Asn) -> String {
    match &asn.org {
        Some(org) => sanitize(&format!("AS{} {org}", asn.number)),
        None => format!("AS{}", asn.number),
    }
}

/// "City, Region, Country" with whatever parts the database knows.
pub fn place(geo: &Geo) -> String {
    let parts: Vec<&str> = [&geo.city, &geo.region, &geo.country]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() { format!("{:.2}, {:.2}", geo.lat, geo.lon) } else { sanitize(&parts.join(", ")) }
}

/// Names come from the network and from databases: never let them move the terminal's cursor.
pub fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{EVENT_VERSION, ProbeMode, ProbeReply, Protocol, ReplyKind};

    fn reply(from: &str, rtt: f64) -> Option<ProbeReply> {
        Some(ProbeReply { from: from.into(), rtt_ms: rtt, kind: ReplyKind::TimeExceeded, flag: None, mpls: vec![] })
    }

    fn info(ttl: u8, address: &str, hostname: Option<&str>, geo: Option<Geo>, asn: Option<Asn>) -> TraceEvent {
        let kind = if address.starts_with("10.") { "private" } else { "public" };
        TraceEvent::HopInfo {
            ttl,
            address: address.into(),
            hostname: hostname.map(Into::into),
            geo,
            asn,
            kind: Some(kind.into()),
        }
    }

    fn sydney() -> Geo {
        Geo {
            city: Some("Sydney".into()),
            country: Some("AU".into()),
            country_code: Some("AU".into()),
            ..Geo::at(-33.9, 151.2)
        }
    }

    fn started(tries: u8) -> TraceEvent {
        TraceEvent::Started {
            version: EVENT_VERSION,
            target: "dest".into(),
            address: "10.0.9.2".into(),
            protocol: Protocol::Icmp,
            first_ttl: 1,
            max_hops: 30,
            tries,
            started_at_ms: 0,
            mode: Some(ProbeMode::Raw),
            options: Default::default(),
            location: None,
        }
    }

    async fn table(events: Vec<TraceEvent>, names: bool) -> Vec<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            tx.send(e).expect("send");
        }
        drop(tx);
        let mut out = Vec::new();
        print_table(rx, &mut out, names).await.expect("print");
        String::from_utf8(out).expect("utf8").lines().map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn table_prints_hops_in_order_with_locations() {
        let cf = Asn { number: 13335, org: Some("Cloudflare, Inc.".into()), source: None };
        let lines = table(
            vec![
                started(2),
                TraceEvent::Probe { ttl: 2, index: 0, reply: None, rate_limited: false, send_error: None },
                TraceEvent::Probe {
                    ttl: 1,
                    index: 0,
                    reply: reply("10.0.1.1", 0.5),
                    rate_limited: false,
                    send_error: None,
                },
                info(1, "10.0.1.1", Some("r1\x1b[2J"), Some(sydney()), None),
                TraceEvent::Probe {
                    ttl: 1,
                    index: 1,
                    reply: reply("10.0.1.1", 0.25),
                    rate_limited: false,
                    send_error: None,
                },
                TraceEvent::Probe { ttl: 2, index: 1, reply: None, rate_limited: false, send_error: None },
                TraceEvent::Probe {
                    ttl: 3,
                    index: 0,
                    reply: reply("10.0.3.1", 1.0),
                    rate_limited: false,
                    send_error: None,
                },
                info(3, "10.0.3.1", None, None, None),
                TraceEvent::Probe {
                    ttl: 3,
                    index: 1,
                    reply: reply("10.0.3.1", 1.0),
                    rate_limited: false,
                    send_error: None,
                },
                TraceEvent::Probe {
                    ttl: 4,
                    index: 0,
                    reply: reply("1.1.1.1", 2.0),
                    rate_limited: false,
                    send_error: None,
                },
                info(4, "1.1.1.1", None, None, Some(cf)),
                TraceEvent::Probe { ttl: 4, index: 1, reply: None, rate_limited: false, send_error: None },
                TraceEvent::Finished { destination_reached: false, duration_ms: 9 },
            ],
            false,
        )
        .await;
        assert_eq!(lines[0], "tracemap to dest (10.0.9.2), 30 hops max, icmp probes (raw sockets)");
        assert_eq!(lines[1], " 1  0.500 ms 0.250 ms  r1?[2J (10.0.1.1)  Sydney, AU");
        assert_eq!(lines[2], " 2   *  *");
        assert_eq!(lines[3], " 3  1.000 ms 1.000 ms  10.0.3.1  private address");
        assert_eq!(lines[4], " 4  2.000 ms  *  1.1.1.1  [AS13335 Cloudflare, Inc.]");
        assert_eq!(lines.len(), 5);
    }

    #[tokio::test]
    async fn a_load_balanced_hop_prints_each_address_on_its_own_line_with_its_own_information() {
        let a_as = Asn { number: 64501, org: Some("A Net".into()), source: None };
        let b_as = Asn { number: 64502, org: Some("B Net".into()), source: None };
        let lines = table(
            vec![
                started(3),
                TraceEvent::Probe {
                    ttl: 1,
                    index: 0,
                    reply: reply("1.0.0.1", 0.5),
                    rate_limited: false,
                    send_error: None,
                },
                info(1, "1.0.0.1", None, Some(sydney()), Some(a_as)),
                TraceEvent::Probe {
                    ttl: 1,
                    index: 1,
                    reply: reply("1.0.0.2", 0.25),
                    rate_limited: false,
                    send_error: None,
                },
                TraceEvent::Probe {
                    ttl: 1,
                    index: 2,
                    reply: reply("1.0.0.2", 0.75),
                    rate_limited: false,
                    send_error: None,
                },
                info(1, "1.0.0.2", None, None, Some(b_as)),
                TraceEvent::Finished { destination_reached: false, duration_ms: 9 },
            ],
            false,
        )
        .await;
        // B answered two tries of three: it is the hop's address, with B's AS and no place (A's Sydney is A's).
        assert_eq!(lines[1], " 1  0.500 ms 0.250 ms 0.750 ms  1.0.0.2  [AS64502 B Net]");
        assert_eq!(lines[2], "    1.0.0.1  [AS64501 A Net]  Sydney, AU  (answered try 1)");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn doubtful_places_are_flagged_with_a_reason() {
        let prober = Geo { city: Some("Amsterdam".into()), ..Geo::at(52.37, 4.89) };
        let mumbai = Geo {
            city: Some("Mumbai".into()),
            country: Some("IN".into()),
            source: Some("DB-IP Lite".into()),
            ..Geo::at(19.08, 72.88)
        };
        let geo = place::settle(vec![mumbai], Some(&prober), Some(0.05)).expect("a place");
        let mut report = TraceReport::default();
        report.apply(&started(1));
        report.location = Some(prober);
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("192.0.2.1", 0.05),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&info(1, "192.0.2.1", None, Some(geo), None));
        assert_eq!(format_hop(&report.hops[0]), " 1  0.050 ms  192.0.2.1  Mumbai, IN?");
        assert_eq!(
            doubts(&report),
            [
                "? hop 1: DB-IP Lite puts 192.0.2.1 in Mumbai, IN, but its fastest reply (0.050 ms) cannot have come from further than 5 km"
            ]
        );

        // Without the prober's place, hops bound each other.
        let mut report = TraceReport::default();
        report.apply(&started(1));
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("10.0.1.1", 0.05),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&info(1, "10.0.1.1", None, Some(sydney()), None));
        report.apply(&TraceEvent::Probe {
            ttl: 2,
            index: 0,
            reply: reply("10.0.2.1", 0.06),
            rate_limited: false,
            send_error: None,
        });
        let london = Geo { city: Some("London".into()), country: Some("GB".into()), ..Geo::at(51.5, -0.13) };
        report.apply(&info(2, "10.0.2.1", None, Some(london), None));
        let notes = doubts(&report);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("? hop 2 (London, GB) and hop 1 (Sydney, AU) cannot both be right: 169"),
            "{notes:?}"
        );
    }

    #[test]
    fn rate_limited_tries_are_marked_apart_from_silence() {
        let mut report = TraceReport::default();
        report.apply(&started(3));
        report.apply(&TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("10.0.1.1", 0.5),
            rate_limited: false,
            send_error: None,
        });
        report.apply(&TraceEvent::Probe { ttl: 1, index: 1, reply: None, rate_limited: true, send_error: None });
        report.apply(&TraceEvent::Probe { ttl: 1, index: 2, reply: None, rate_limited: false, send_error: None });
        // Without its evidence a rate-limit verdict is a guess: a plain star.
        assert_eq!(format_hop(&report.hops[0]), " 1  0.500 ms  *  *  10.0.1.1");
        let evidence = TraceEvent::RateLimit { ttl: 1, index: 1, router: "10.0.1.1".into(), recent_probes: 9 };
        report.apply(&evidence);
        assert_eq!(format_hop(&report.hops[0]), " 1  0.500 ms  *rl?  *  10.0.1.1");
        assert_eq!(
            rate_limit_notes(&report),
            ["*rl? hop 1 try 2: probably 10.0.1.1's ICMP rate limit: this host had sent it 9 probes in the last 10 s"]
        );
        let json = serde_json::to_value(&report.hops[0]).expect("json");
        assert_eq!(json["rate_limited"], serde_json::json!([1]));
        assert_eq!(
            json["probable_rate_limits"],
            serde_json::json!([{"index": 1, "router": "10.0.1.1", "recent_probes": 9}])
        );
        // Evidence for a try that was not reported rate-limited is ignored; a new outcome for the try clears it.
        report.apply(&TraceEvent::RateLimit { ttl: 1, index: 2, router: "10.0.1.1".into(), recent_probes: 9 });
        report.apply(&TraceEvent::Probe { ttl: 1, index: 1, reply: None, rate_limited: false, send_error: None });
        assert!(report.hops[0].probable_rate_limits.is_empty());
    }

    #[test]
    fn mpls_labels_follow_the_address() {
        let inner = MplsLabel { label: 16, tc: 0, bottom_of_stack: true, ttl: 1 };
        let outer = MplsLabel { label: 24001, tc: 0, bottom_of_stack: false, ttl: 1 };
        let labelled = |stack: Vec<MplsLabel>| reply("10.0.1.1", 1.0).map(|reply| ProbeReply { mpls: stack, ..reply });
        let hop = Hop {
            probes: vec![labelled(vec![outer, inner]), labelled(vec![outer, inner]), reply("10.0.1.1", 2.0)],
            address: Some("10.0.1.1".into()),
            ..Hop::new(3, 3)
        };
        assert_eq!(
            format_hop(&hop),
            " 3  1.000 ms 1.000 ms 2.000 ms  10.0.1.1 [MPLS L=24001 TC=0 S=0 TTL=1] [MPLS L=16 TC=0 S=1 TTL=1]"
        );
    }

    #[tokio::test]
    async fn with_names_on_a_hop_waits_for_its_lookup() {
        let (tx, rx) = mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            let mut out = Vec::new();
            print_table(rx, &mut out, true).await.map(|_| out)
        });
        tx.send(started(1)).expect("send");
        tx.send(TraceEvent::Probe {
            ttl: 1,
            index: 0,
            reply: reply("10.0.1.1", 0.5),
            rate_limited: false,
            send_error: None,
        })
        .expect("send");
        tx.send(info(1, "10.0.1.1", None, None, None)).expect("send");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tx.send(info(1, "10.0.1.1", Some("r1.lab"), None, None)).expect("send");
        tx.send(TraceEvent::Finished { destination_reached: false, duration_ms: 9 }).expect("send");
        drop(tx);
        let out = printer.await.expect("join").expect("print");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().nth(1), Some(" 1  0.500 ms  r1.lab (10.0.1.1)  private address"));
    }
}
