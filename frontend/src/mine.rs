//! The traces this browser started, kept in its `localStorage`: the server lists every trace only to its operator
//! (ids are what keeps a shared link private), so the page remembers its own, each with the delete token the
//! server gave it once. Parsing and list edits are pure and tested; only [`load`] and [`save`] touch the browser.

use serde::{Deserialize, Serialize};
use tracemap_shared::{Family, Protocol, TraceOptions};

/// The `localStorage` key.
const KEY: &str = "tracemap.my-traces";
/// Most traces remembered; older ones drop off the end (their links still work).
pub const MAX: usize = 50;

/// One trace this browser started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyTrace {
    /// Its id (permalink `/t/{id}`).
    pub id: String,
    /// What was traced, as typed.
    pub target: String,
    /// How.
    pub protocol: Protocol,
    /// When it was started (milliseconds since the Unix epoch, the browser's clock). Written as a whole number
    /// (older lists wrote `1764470000000.0`, which still reads): printing floats would cost the page serde_json's
    /// float formatter.
    #[serde(default, serialize_with = "whole_ms")]
    pub created_ms: f64,
    /// The destination port (TCP, UDP): as asked for, then as the server ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The address family: as asked for (when not `auto`), then as the server ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// The secret that deletes it, when the server gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_token: Option<String>,
    /// The agent it ran on (`from`); `None`: the server itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

fn whole_ms<S: serde::Serializer>(ms: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(ms.max(0.0) as u64)
}

/// The stored list; anything unreadable (another version, a hand edit) counts as an empty list.
pub fn parse(text: Option<&str>) -> Vec<MyTrace> {
    text.and_then(|t| crate::json::from_str(t).ok()).unwrap_or_default()
}

/// `list` with `trace` first (replacing an entry with its id), at most [`MAX`] long.
pub fn with_added(mut list: Vec<MyTrace>, trace: MyTrace) -> Vec<MyTrace> {
    list.retain(|t| t.id != trace.id);
    list.insert(0, trace);
    list.truncate(MAX);
    list
}

/// `list` with the settings trace `id` really ran with (the server picks the default port and the family).
pub fn with_settings(mut list: Vec<MyTrace>, id: &str, options: &TraceOptions) -> Vec<MyTrace> {
    if let Some(trace) = list.iter_mut().find(|t| t.id == id) {
        trace.port = options.port.or(trace.port);
        trace.family = options.family.filter(|f| *f != Family::Auto).or(trace.family);
    }
    list
}

/// What the list says after a trace's target: `TCP port 8080 · IPv4 · 2026-11-30 01:42 UTC`.
pub fn describe(trace: &MyTrace) -> String {
    let mut parts = vec![match trace.port {
        Some(port) if trace.protocol != Protocol::Icmp => {
            format!("{} port {port}", trace.protocol.as_str().to_ascii_uppercase())
        }
        _ => trace.protocol.as_str().to_ascii_uppercase(),
    }];
    match trace.family {
        Some(Family::Ipv4) => parts.push("IPv4".to_owned()),
        Some(Family::Ipv6) => parts.push("IPv6".to_owned()),
        Some(Family::Auto) | None => {}
    }
    if let Some(agent) = &trace.from {
        parts.push(format!("from {agent}"));
    }
    if trace.created_ms > 0.0 {
        parts.push(crate::state::utc_time(trace.created_ms as u64));
    }
    parts.join(" · ")
}

/// `list` without trace `id`.
pub fn without(mut list: Vec<MyTrace>, id: &str) -> Vec<MyTrace> {
    list.retain(|t| t.id != id);
    list
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The list this browser keeps (empty where storage is off, e.g. some private windows).
pub fn load() -> Vec<MyTrace> {
    parse(storage().and_then(|s| s.get_item(KEY).ok().flatten()).as_deref())
}

/// Keeps `list` for the next visit; silently does nothing where storage is off or full.
pub fn save(list: &[MyTrace]) {
    if let (Some(storage), Ok(text)) = (storage(), crate::json::to_string(list)) {
        let _ = storage.set_item(KEY, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str) -> MyTrace {
        MyTrace {
            id: id.into(),
            target: "example.test".into(),
            protocol: Protocol::Icmp,
            created_ms: 1.0,
            port: None,
            family: None,
            delete_token: Some("t".into()),
            from: None,
        }
    }

    #[test]
    fn each_trace_says_its_settings_and_when_it_ran() {
        let mut tcp = trace("a");
        tcp.protocol = Protocol::Tcp;
        tcp.port = Some(8080);
        tcp.created_ms = 1_796_002_920_000.0;
        let list = with_settings(
            vec![tcp, trace("b")],
            "a",
            &TraceOptions { family: Some(Family::Ipv4), ..Default::default() },
        );
        assert_eq!(describe(&list[0]), "TCP port 8080 · IPv4 · 2026-11-30 01:42 UTC", "the port asked for stays");
        assert_eq!(describe(&list[1]), "ICMP · 1970-01-01 00:00 UTC", "other traces are left alone");
        let agent = MyTrace { from: Some("sydney".into()), ..trace("d") };
        assert_eq!(describe(&agent), "ICMP · from sydney · 1970-01-01 00:00 UTC");
        let udp = with_settings(
            vec![MyTrace { protocol: Protocol::Udp, ..trace("c") }],
            "c",
            &TraceOptions { port: Some(33434), family: Some(Family::Ipv6), timeout_ms: None, from: None, watch: None },
        );
        assert_eq!(describe(&udp[0]), "UDP port 33434 · IPv6 · 1970-01-01 00:00 UTC", "the server's default port");
        // Saved and read back: the settings survive a reload; entries from before them still read.
        let text = serde_json::to_string(&udp).expect("json");
        assert_eq!(parse(Some(&text)), udp);
    }

    #[test]
    fn the_list_round_trips_and_garbage_reads_as_empty() {
        let list = vec![trace("a"), trace("b")];
        let text = serde_json::to_string(&list).expect("json");
        assert_eq!(parse(Some(&text)), list);
        for bad in [None, Some(""), Some("{"), Some("[1,2]"), Some(r#"{"id":"a"}"#)] {
            assert!(parse(bad).is_empty(), "{bad:?}");
        }
        // An entry from before delete tokens still reads.
        let old = parse(Some(r#"[{"id":"x","target":"h","protocol":"udp"}]"#));
        assert_eq!((old[0].delete_token.as_deref(), old[0].protocol), (None, Protocol::Udp));
        // Start times are written whole; ones written as floats still read.
        assert!(text.contains(r#""created_ms":1,"#), "{text}");
        let float = parse(Some(r#"[{"id":"x","target":"h","protocol":"icmp","created_ms":1764470000000.0}]"#));
        assert_eq!(float[0].created_ms, 1_764_470_000_000.0);
    }

    #[test]
    fn newest_first_without_repeats_and_capped() {
        let mut list = Vec::new();
        for i in 0..(MAX + 5) {
            list = with_added(list, trace(&i.to_string()));
        }
        assert_eq!(list.len(), MAX);
        assert_eq!(list[0].id, (MAX + 4).to_string());
        let list = with_added(list, trace("10"));
        assert_eq!((list.len(), list[0].id.as_str()), (MAX, "10"));
        assert_eq!(list.iter().filter(|t| t.id == "10").count(), 1);
        let list = without(list, "10");
        assert!(list.iter().all(|t| t.id != "10"));
    }
}
