//! Two routes side by side (`/compare/{a}/{b}`): which routers they share, where they split and where they meet
//! again. Pure: the routes are aligned on the address that answered each hop (a longest common subsequence, so a
//! route that is longer before it joins the other still lines up), and tested natively.

use tracemap_shared::{Hop, TraceReport};

/// The two trace ids in a compare path, `/compare/{a}/{b}` (an optional trailing slash).
pub fn ids_from_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/compare/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (a, b) = rest.split_once('/')?;
    let ok = |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (ok(a) && ok(b)).then(|| (a.to_owned(), b.to_owned()))
}

/// One line of the side-by-side table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Route a's hop on this line (TTL, address; `None` address for a silent hop).
    pub a: Option<(u8, Option<String>)>,
    /// Route b's hop on this line.
    pub b: Option<(u8, Option<String>)>,
    /// Both routes pass this router.
    pub shared: bool,
    /// The first line the routes go apart on after sharing a router (or from their starts, which always differ
    /// when they come from two places).
    pub splits: bool,
    /// A shared router reached after the routes went apart: they meet again here.
    pub meets: bool,
}

fn hop_key(hop: &Hop) -> (u8, Option<String>) {
    (hop.ttl, hop.address.clone())
}

/// The routes of `a` and `b` aligned line by line.
pub fn align(a: &TraceReport, b: &TraceReport) -> Vec<Row> {
    let (ha, hb) = (&a.hops, &b.hops);
    let same = |i: usize, j: usize| ha[i].address.is_some() && ha[i].address == hb[j].address;
    // Longest common subsequence of answering addresses (routes are at most a few dozen hops).
    let mut lcs = vec![vec![0u16; hb.len() + 1]; ha.len() + 1];
    for i in (0..ha.len()).rev() {
        for j in (0..hb.len()).rev() {
            lcs[i][j] = if same(i, j) { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut apart, mut ever_shared) = (false, false);
    while i < ha.len() || j < hb.len() {
        if i < ha.len() && j < hb.len() && same(i, j) {
            rows.push(Row {
                a: Some(hop_key(&ha[i])),
                b: Some(hop_key(&hb[j])),
                shared: true,
                splits: false,
                meets: apart,
            });
            apart = false;
            ever_shared = true;
            i += 1;
            j += 1;
            continue;
        }
        let splits = !apart && (ever_shared || rows.is_empty());
        apart = true;
        // Take from whichever side keeps the longest common subsequence; pair the two when both go on alone.
        let take_a = i < ha.len() && (j >= hb.len() || lcs[i + 1][j] >= lcs[i][j + 1]);
        let take_b = j < hb.len() && (i >= ha.len() || lcs[i][j + 1] >= lcs[i + 1][j]);
        let pair = take_a && take_b && lcs[i + 1][j + 1] == lcs[i][j];
        let row = if pair {
            let row = Some(hop_key(&ha[i])).zip(Some(hop_key(&hb[j])));
            i += 1;
            j += 1;
            row.map(|(x, y)| (Some(x), Some(y)))
        } else if take_a {
            i += 1;
            Some((Some(hop_key(&ha[i - 1])), None))
        } else {
            j += 1;
            Some((None, Some(hop_key(&hb[j - 1]))))
        };
        if let Some((a, b)) = row {
            rows.push(Row { a, b, shared: false, splits, meets: false });
        }
    }
    rows
}

/// The comparison in words: which routers the routes share, where they go apart (and to which routers) and where
/// they meet again.
pub fn summary(rows: &[Row]) -> String {
    let address = |hop: &Option<(u8, Option<String>)>| hop.as_ref().map(|(_, a)| a.clone().unwrap_or("*".into()));
    let shared: Vec<String> = rows.iter().filter(|r| r.shared).filter_map(|r| address(&r.a)).collect();
    if shared.is_empty() {
        return "The two routes share no router.".to_owned();
    }
    let plural = if shared.len() == 1 { "" } else { "s" };
    let mut text = format!("The two routes share {} router{plural}: {}.", shared.len(), listed(&shared));
    for i in rows.iter().enumerate().filter(|(_, r)| r.splits).map(|(i, _)| i) {
        let apart: Vec<&Row> = rows[i..].iter().take_while(|r| !r.shared).collect();
        let first_a = apart.iter().find_map(|r| address(&r.a)).unwrap_or_else(|| "its end".to_owned());
        let first_b = apart.iter().find_map(|r| address(&r.b)).unwrap_or_else(|| "its end".to_owned());
        let next = format!("{first_a} and {first_b}");
        let rejoin = rows.get(i + apart.len()).filter(|r| r.meets).and_then(|r| address(&r.a));
        let before = rows[..i].iter().rev().find(|r| r.shared).and_then(|r| address(&r.a));
        text.push_str(&match (before, rejoin) {
            (None, Some(at)) => format!(" They start apart ({next}) and meet at {at}."),
            (None, None) => format!(" They start apart ({next}) and never meet."),
            (Some(after), Some(at)) => format!(" They split after {after} ({next}) and meet again at {at}."),
            (Some(after), None) => format!(" They split after {after} ({next}) and do not meet again."),
        });
    }
    text
}

/// `a`, `a and b`, `a, b and c`.
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{Protocol, ReplyKind, TraceEvent};

    fn route(addresses: &[Option<&str>]) -> TraceReport {
        let mut report = TraceReport::new("t", Protocol::Icmp);
        for (n, address) in addresses.iter().enumerate() {
            let reply = address.map(|a| tracemap_shared::ProbeReply::new(a, 1.0, ReplyKind::TimeExceeded));
            report.apply(&TraceEvent::Probe {
                ttl: n as u8 + 1,
                index: 0,
                reply,
                rate_limited: false,
                send_error: None,
            });
        }
        report
    }

    /// A row as (a's address, b's address, shared, splits, meets); `*` for a silent hop.
    type Side = (Option<String>, Option<String>, bool, bool, bool);

    fn sides(rows: &[Row]) -> Vec<Side> {
        let name = |h: &Option<(u8, Option<String>)>| h.as_ref().map(|(_, a)| a.clone().unwrap_or("*".into()));
        rows.iter().map(|r| (name(&r.a), name(&r.b), r.shared, r.splits, r.meets)).collect()
    }

    #[test]
    fn routes_from_two_places_split_at_the_start_and_meet_again() {
        let a = route(&[Some("10.210.0.1"), Some("10.0.1.2"), Some("10.0.2.2")]);
        let b = route(&[Some("10.0.0.2"), None, Some("10.0.1.2"), Some("10.0.2.2")]);
        let rows = align(&a, &b);
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            sides(&rows),
            [
                (s("10.210.0.1"), s("10.0.0.2"), false, true, false),
                (None, s("*"), false, false, false),
                (s("10.0.1.2"), s("10.0.1.2"), true, false, true),
                (s("10.0.2.2"), s("10.0.2.2"), true, false, false),
            ]
        );
        assert_eq!(
            summary(&rows),
            "The two routes share 2 routers: 10.0.1.2 and 10.0.2.2. They start apart (10.210.0.1 and 10.0.0.2) and \
             meet at 10.0.1.2."
        );
    }

    #[test]
    fn a_split_after_a_shared_start_is_marked_and_unrelated_routes_share_nothing() {
        let a = route(&[Some("1.1.1.1"), Some("2.2.2.2"), Some("9.9.9.9")]);
        let b = route(&[Some("1.1.1.1"), Some("3.3.3.3"), Some("9.9.9.9")]);
        let rows = align(&a, &b);
        assert_eq!(
            rows.iter().map(|r| (r.shared, r.splits, r.meets)).collect::<Vec<_>>(),
            [(true, false, false), (false, true, false), (true, false, true)]
        );
        assert_eq!(
            summary(&rows),
            "The two routes share 2 routers: 1.1.1.1 and 9.9.9.9. They split after 1.1.1.1 (2.2.2.2 and 3.3.3.3) and \
             meet again at 9.9.9.9."
        );
        let parted = align(&route(&[Some("1.1.1.1"), Some("2.2.2.2")]), &route(&[Some("1.1.1.1"), None]));
        assert_eq!(
            summary(&parted),
            "The two routes share 1 router: 1.1.1.1. They split after 1.1.1.1 (2.2.2.2 and *) and do not meet again."
        );
        let none = align(&route(&[Some("1.1.1.1")]), &route(&[None, Some("2.2.2.2")]));
        assert_eq!(summary(&none), "The two routes share no router.");
        assert!(none.iter().all(|r| !r.shared));
    }

    #[test]
    fn compare_paths_name_two_traces() {
        assert_eq!(ids_from_path("/compare/abc/def"), Some(("abc".into(), "def".into())));
        assert_eq!(ids_from_path("/compare/abc/def/"), Some(("abc".into(), "def".into())));
        for bad in ["/compare/abc", "/compare//def", "/compare/a/b/c", "/t/abc", "/compare/a%20/b"] {
            assert_eq!(ids_from_path(bad), None, "{bad}");
        }
    }
}
