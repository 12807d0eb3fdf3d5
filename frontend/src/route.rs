//! The page's addresses: `/` (a new trace), `/t/{id}` (the permalink of one trace) and `/t/{id}?routes=a,b` (a
//! trace shown among the other routes of one request from several vantage points: the permalink of the group),
//! `/t/{id}?embed=1` (the compact view of one trace for an iframe), and the query parameter the page keeps across
//! them: `?present` (presenter mode, so a teacher can share the link as shown).
//!
//! Pure string handling, so the permalink rules are tested natively; the browser history calls live in `session`.

/// The query parameter that turns presenter mode on.
pub const PRESENT_PARAM: &str = "present";

/// The query parameter that asks for the compact view for an iframe.
pub const EMBED_PARAM: &str = "embed";

/// The trace id in a permalink path, if `path` is one: `/t/{id}` with an optional trailing slash.
pub fn trace_id_from_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/t/")?;
    let id = rest.strip_suffix('/').unwrap_or(rest);
    let valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| id.to_owned())
}

/// The permalink path of trace `id`.
pub fn permalink(id: &str) -> String {
    format!("/t/{id}")
}

/// The query parameter that lists the traces of a group, in their order (their colours follow it).
pub const ROUTES_PARAM: &str = "routes";

/// The traces listed in the query string `search` by `?routes=a,b` (ids that could not be trace ids are dropped,
/// and repeats).
pub fn routes_in(search: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for pair in search.trim_start_matches('?').split('&') {
        let Some((ROUTES_PARAM, value)) = pair.split_once('=') else { continue };
        for id in value.split(',') {
            if trace_id_from_path(&permalink(id)).is_some() && !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

/// The link of trace `shown` among the group `ids` (just its permalink when the group has one trace or none).
pub fn group_link(shown: &str, ids: &[String]) -> String {
    if ids.len() < 2 { permalink(shown) } else { format!("{}?{ROUTES_PARAM}={}", permalink(shown), ids.join(",")) }
}

/// `path` (which may carry its own query) with presenter mode's parameter added when `on`.
pub fn with_presenter(path: &str, on: bool) -> String {
    match (on, path.contains('?')) {
        (false, _) => path.to_owned(),
        (true, false) => format!("{path}{}", presenter_query(true)),
        (true, true) => format!("{path}&{PRESENT_PARAM}=1"),
    }
}

/// Whether the query string `search` (`?a=b&present`, with or without `?`) asks for presenter mode: `present`,
/// `present=1`, `present=true` or `present=yes`.
pub fn presenter_in(search: &str) -> bool {
    flag_in(search, PRESENT_PARAM)
}

/// Whether the query string `search` asks for the compact view for an iframe (`embed`, `embed=1`...).
pub fn embed_in(search: &str) -> bool {
    flag_in(search, EMBED_PARAM)
}

/// Whether `search` turns the flag `name` on: `name`, `name=1`, `name=true`, `name=yes` or `name=on`.
fn flag_in(search: &str, name: &str) -> bool {
    search.trim_start_matches('?').split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key == name && matches!(value, "" | "1" | "true" | "yes" | "on")
    })
}

/// The query string (with its `?`, or empty) that says whether presenter mode is on.
pub fn presenter_query(on: bool) -> String {
    if on { format!("?{PRESENT_PARAM}=1") } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presenter_mode_travels_in_the_query() {
        for on in ["?present", "?present=1", "present=true", "?x=2&present=yes"] {
            assert!(presenter_in(on), "{on}");
        }
        for off in ["", "?", "?present=0", "?presenter=1", "?x=present"] {
            assert!(!presenter_in(off), "{off}");
        }
        assert!(presenter_in(&presenter_query(true)));
        assert_eq!(presenter_query(false), "");
    }

    #[test]
    fn the_embed_flag_is_its_own_parameter() {
        assert!(embed_in("?embed=1") && embed_in("?present=1&embed"));
        assert!(!embed_in("?present=1") && !embed_in("?embed=0") && !embed_in("?embedded=1"));
    }

    #[test]
    fn permalinks_round_trip() {
        assert_eq!(trace_id_from_path(&permalink("01JX-abc_9")), Some("01JX-abc_9".to_owned()));
        assert_eq!(trace_id_from_path("/t/abc/"), Some("abc".to_owned()));
    }

    #[test]
    fn a_group_link_lists_its_routes_in_order_and_keeps_presenter_mode() {
        let ids = vec!["a1".to_owned(), "b2".to_owned()];
        assert_eq!(group_link("b2", &ids), "/t/b2?routes=a1,b2");
        assert_eq!(group_link("a1", &ids[..1]), "/t/a1");
        assert_eq!(routes_in("?routes=a1,b2&present=1"), ids);
        assert_eq!(routes_in("?present&routes=a1,,b2,a1,x%20y"), ids, "empty, repeated and bad ids are dropped");
        assert!(routes_in("?present=1").is_empty());
        assert_eq!(with_presenter("/t/b2?routes=a1,b2", true), "/t/b2?routes=a1,b2&present=1");
        assert_eq!(with_presenter("/t/b2", true), "/t/b2?present=1");
        assert_eq!(with_presenter("/t/b2", false), "/t/b2");
        assert!(presenter_in("?routes=a1,b2&present=1"));
    }

    #[test]
    fn other_paths_are_not_permalinks() {
        for path in ["/", "", "/t/", "/t", "/x/abc", "/t/a/b", "/t/a%20b", "/t/../x"] {
            assert_eq!(trace_id_from_path(path), None, "{path}");
        }
    }
}
