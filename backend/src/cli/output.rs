//! How `tracemap trace` shows a trace: a table printed hop by hop as hops complete, or one JSON document.

use std::collections::BTreeMap;
use std::io::Write;

use tokio::sync::mpsc;
use tracemap_shared::{Geo, Hop, TraceEvent, TraceReport};

/// Folds every event into a report (for `--json`).
pub async fn collect(mut rx: mpsc::UnboundedReceiver<TraceEvent>) -> TraceReport {
    let mut report = TraceReport::default();
    while let Some(event) = rx.recv().await {
        report.apply(&event);
    }
    report
}

/// Prints the header, then each hop once all its probes are known, in TTL order. A hop is printed one event
/// after it completes, because enrichment of a new address follows the probe that revealed it.
pub async fn print_table(
    mut rx: mpsc::UnboundedReceiver<TraceEvent>,
    out: &mut impl Write,
) -> std::io::Result<TraceReport> {
    let mut report = TraceReport::default();
    let mut seen: BTreeMap<u8, u8> = BTreeMap::new();
    let mut next_ttl: Option<u8> = None;
    let mut pending = false;
    while let Some(event) = rx.recv().await {
        if pending {
            flush(&report, &seen, &mut next_ttl, out, false)?;
        }
        report.apply(&event);
        match &event {
            TraceEvent::Started { target, address, max_hops, protocol, first_ttl, .. } => {
                next_ttl = Some(*first_ttl);
                writeln!(out, "tracemap to {target} ({address}), {max_hops} hops max, {protocol} probes")?;
            }
            TraceEvent::Probe { ttl, .. } => {
                *seen.entry(*ttl).or_default() += 1;
            }
            _ => {}
        }
        pending = true;
    }
    flush(&report, &seen, &mut next_ttl, out, true)?;
    out.flush()?;
    Ok(report)
}

/// Prints every hop from `next_ttl` on that is complete (or all known hops when `all`).
fn flush(
    report: &TraceReport,
    seen: &BTreeMap<u8, u8>,
    next_ttl: &mut Option<u8>,
    out: &mut impl Write,
    all: bool,
) -> std::io::Result<()> {
    let Some(from) = *next_ttl else { return Ok(()) };
    for hop in report.hops.iter().filter(|h| h.ttl >= from) {
        // A hop is printed only after every hop before it, so a TTL with no event yet holds back the ones after.
        let in_turn = Some(hop.ttl) == *next_ttl;
        let complete = seen.get(&hop.ttl).copied().unwrap_or(0) >= report.tries;
        let printable = all || (in_turn && complete);
        if !printable {
            break;
        }
        writeln!(out, "{}", format_hop(hop))?;
        *next_ttl = hop.ttl.checked_add(1);
    }
    Ok(())
}

/// One table line: `ttl  rtt rtt rtt  host (ip)  location`.
pub fn format_hop(hop: &Hop) -> String {
    let mut line = format!("{:>2} ", hop.ttl);
    for probe in &hop.probes {
        match probe {
            Some(p) => {
                line.push_str(&format!(" {:.3} ms", p.rtt_ms));
                if let Some(flag) = &p.flag {
                    line.push_str(&format!(" {flag}"));
                }
            }
            None => line.push_str("  *"),
        }
    }
    if let Some(addr) = &hop.address {
        match &hop.hostname {
            Some(name) => line.push_str(&format!("  {} ({addr})", sanitize(name))),
            None => line.push_str(&format!("  {addr}")),
        }
        // Other addresses that answered this TTL (load balancing) are worth seeing.
        let mut others: Vec<&str> =
            hop.probes.iter().flatten().map(|p| p.from.as_str()).filter(|f| f != addr).collect();
        others.dedup();
        for other in others {
            line.push_str(&format!(" / {other}"));
        }
    }
    if let Some(geo) = &hop.geo {
        line.push_str(&format!("  {}", place(geo)));
    }
    line
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
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{EVENT_VERSION, ProbeReply, Protocol, ReplyKind};

    fn reply(from: &str, rtt: f64) -> Option<ProbeReply> {
        Some(ProbeReply { from: from.into(), rtt_ms: rtt, kind: ReplyKind::TimeExceeded, flag: None })
    }

    #[tokio::test]
    async fn table_prints_hops_in_order_with_locations() {
        let (tx, rx) = mpsc::unbounded_channel();
        let events = [
            TraceEvent::Started {
                version: EVENT_VERSION,
                target: "dest".into(),
                address: "10.0.9.2".into(),
                protocol: Protocol::Icmp,
                first_ttl: 1,
                max_hops: 30,
                tries: 2,
                started_at_ms: 0,
            },
            TraceEvent::Probe { ttl: 2, index: 0, reply: None },
            TraceEvent::Probe { ttl: 1, index: 0, reply: reply("10.0.1.1", 0.5) },
            TraceEvent::HopInfo {
                ttl: 1,
                address: "10.0.1.1".into(),
                hostname: Some("r1\x1b[2J".into()),
                geo: Some(Geo {
                    city: Some("Sydney".into()),
                    region: None,
                    country: Some("AU".into()),
                    country_code: Some("AU".into()),
                    lat: -33.9,
                    lon: 151.2,
                    accuracy_km: None,
                    source: None,
                }),
            },
            TraceEvent::Probe { ttl: 1, index: 1, reply: reply("10.0.1.1", 0.25) },
            TraceEvent::Probe { ttl: 2, index: 1, reply: None },
            TraceEvent::Finished { destination_reached: false, duration_ms: 9 },
        ];
        for e in events {
            tx.send(e).expect("send");
        }
        drop(tx);
        let mut out = Vec::new();
        print_table(rx, &mut out).await.expect("print");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "tracemap to dest (10.0.9.2), 30 hops max, icmp probes");
        assert_eq!(lines[1], " 1  0.500 ms 0.250 ms  r1?[2J (10.0.1.1)  Sydney, AU");
        assert_eq!(lines[2], " 2   *  *");
        assert_eq!(lines.len(), 3);
    }
}
