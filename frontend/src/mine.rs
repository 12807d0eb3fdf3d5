//! The traces this browser started, kept in its `localStorage`: the server lists every trace only to its operator
//! (ids are what keeps a shared link private), so the page remembers its own, each with the delete token the
//! server gave it once. Parsing and list edits are pure and tested; only [`load`] and [`save`] touch the browser.

use serde::{Deserialize, Serialize};
use tracemap_shared::Protocol;

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
    /// When it was started (milliseconds since the Unix epoch, the browser's clock).
    #[serde(default)]
    pub created_ms: f64,
    /// The secret that deletes it, when the server gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_token: Option<String>,
}

/// The stored list; anything unreadable (another version, a hand edit) counts as an empty list.
pub fn parse(text: Option<&str>) -> Vec<MyTrace> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// `list` with `trace` first (replacing an entry with its id), at most [`MAX`] long.
pub fn with_added(mut list: Vec<MyTrace>, trace: MyTrace) -> Vec<MyTrace> {
    list.retain(|t| t.id != trace.id);
    list.insert(0, trace);
    list.truncate(MAX);
    list
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
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(list)) {
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
            delete_token: Some("t".into()),
        }
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
