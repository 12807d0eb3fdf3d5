//! A trace in words for people, the same on the page and in the server's offline copy: the labels of times,
//! hosts, places and ASes; the verdicts on places ([`verdict`]); the replay's steps and the sentence for each
//! ([`replay`]). Pure string building over [`TraceReport`], so the words have one home and one set of tests.
//! [`escape_html`] is the one escaper both sides put those words (and names from the network) into HTML with.

use crate::{Geo, Hop, TraceReport};

pub mod replay;
pub mod verdict;

/// `text` safe inside HTML text and double- or single-quoted attributes: the five characters that can end one or
/// start markup become entities, everything else is kept. Hostnames, targets and AS names come from users and the
/// network, so every one of them goes through here before it meets HTML (the server's pages, the map's tooltips).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

/// A duration to the precision it has: `5 ms`, `0.84 s`, `12.3 s`, `2 min 5 s`.
pub fn format_duration(ms: u64) -> String {
    match ms {
        0..100 => format!("{ms} ms"),
        100..10_000 => format!("{:.2} s", ms as f64 / 1000.0),
        10_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
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

/// `TCP port 8080`, `UDP port 33434`, `ICMP`: the protocol and, when it has one, the port.
pub fn protocol_text(report: &TraceReport) -> String {
    let protocol = report.protocol.as_str().to_ascii_uppercase();
    match report.options.port {
        Some(port) => format!("{protocol} port {port}"),
        None => protocol,
    }
}

/// Every recorded setting of the trace, for the status line and the recent list:
/// `TCP port 8080, IPv4, 3 probes per hop, timeout 2.00 s, TTL 1–30`.
pub fn settings_text(report: &TraceReport) -> String {
    let mut parts = vec![protocol_text(report)];
    if let Some(family) = report.options.family {
        parts.push(match family {
            crate::Family::Ipv6 => "IPv6".to_owned(),
            crate::Family::Ipv4 => "IPv4".to_owned(),
            crate::Family::Auto => "any family".to_owned(),
        });
    }
    if report.tries > 0 {
        parts.push(format!("{} probe{} per hop", report.tries, if report.tries == 1 { "" } else { "s" }));
    }
    if let Some(ms) = report.options.timeout_ms {
        parts.push(format!("timeout {}", format_duration(u64::from(ms))));
    }
    if report.max_hops > 0 {
        parts.push(format!("{} {}–{}", ttl_word(report), report.first_ttl.unwrap_or(1), report.max_hops));
    }
    if let Some(from) = &report.options.from {
        parts.push(format!("from agent {from}"));
    }
    parts.join(", ")
}

/// `2026-11-29 22:58 UTC` for a Unix time in milliseconds.
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, (rest % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn markup_and_both_quotes_become_entities() {
        assert_eq!(
            escape_html("<img src=x onerror=alert(1)> & 'q'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39;"
        );
        assert_eq!(escape_html("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }

    #[test]
    fn everything_else_is_kept_as_it_is() {
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("Zürich · AS3303 Swisscom"), "Zürich · AS3303 Swisscom");
        assert_eq!(escape_html("a\u{7}b\n"), "a\u{7}b\n", "control characters are the caller's business");
        assert_eq!(escape_html("&amp;"), "&amp;amp;", "escaping twice shows the entity, it is not undone");
    }
}
