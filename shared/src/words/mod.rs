//! A trace in words for people, the same on the page and in the server's offline copy: the labels of times,
//! hosts, places and ASes; the verdicts on places ([`verdict`]); the replay's steps and the sentence for each
//! ([`replay`]). Pure string building over [`TraceReport`], so the words have one home and one set of tests.

use crate::{Geo, Hop, TraceReport};

pub mod replay;
pub mod verdict;

/// Milliseconds with precision that suits the magnitude: `0.412 ms`, `4.07 ms`, `38.1 ms`.
pub fn format_rtt(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Whether the trace runs over IPv6 (whose header calls the TTL the hop limit).
pub fn is_ipv6(report: &TraceReport) -> bool {
    report.options.family == Some(crate::Family::Ipv6) || report.address.as_deref().is_some_and(|a| a.contains(':'))
}

/// `TTL` or, for IPv6, `hop limit`.
pub fn ttl_word(report: &TraceReport) -> &'static str {
    if is_ipv6(report) { "hop limit" } else { "TTL" }
}

/// `hostname (ip)` when reverse DNS named the address, the address alone otherwise, `*` when nothing answered.
pub fn host_label(hop: &Hop) -> String {
    match (&hop.hostname, &hop.address) {
        (Some(name), Some(ip)) if name != ip => format!("{name} ({ip})"),
        (_, Some(ip)) => ip.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => "*".to_owned(),
    }
}

/// `City, Region, Country` with whatever parts the database knows.
pub fn location_label(hop: &Hop) -> String {
    hop.geo.as_ref().map(geo_label).unwrap_or_default()
}

/// `City, Country` of one place, or its coordinates when it names neither.
pub fn geo_label(geo: &Geo) -> String {
    let parts: Vec<&str> = [&geo.city, &geo.country].into_iter().filter_map(|p| p.as_deref()).collect();
    if parts.is_empty() { format!("{:.2}, {:.2}", geo.lat, geo.lon) } else { parts.join(", ") }
}

/// The MPLS labels the hop's replies carried, outermost first, each label once.
pub fn mpls_labels(hop: &Hop) -> Vec<u32> {
    let mut labels = Vec::new();
    for entry in hop.probes.iter().flatten().flat_map(|r| &r.mpls) {
        if !labels.contains(&entry.label) {
            labels.push(entry.label);
        }
    }
    labels
}

/// Round-trip times of the hop's answered probes, in probe order.
pub fn rtts(hop: &Hop) -> Vec<f64> {
    hop.probes.iter().flatten().map(|r| r.rtt_ms).filter(|ms| ms.is_finite()).collect()
}

/// Fastest and slowest answered probe.
pub fn rtt_range(hop: &Hop) -> Option<(f64, f64)> {
    let values = rtts(hop);
    let lo = values.iter().copied().reduce(f64::min)?;
    let hi = values.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// `AS64500 Example Net`, or `AS64500` when the source names no organisation.
pub fn asn_label(number: u32, org: Option<&str>) -> String {
    match org.filter(|o| !o.is_empty()) {
        Some(org) => format!("AS{number} {org}"),
        None => format!("AS{number}"),
    }
}
