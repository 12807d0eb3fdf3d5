//! The page's two addresses: `/` (a new trace) and `/t/{id}` (the permalink of one trace), the one query
//! parameter the page keeps across them: `?present` (presenter mode, so a teacher can share the link as shown), and
//! `/t/{id}?embed=1`, the compact view of one trace for an iframe.
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

/// The query string (with its `?`, or empty) that says whether presenter mode is on; other parameters are dropped,
/// since the page has no others.
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
    fn other_paths_are_not_permalinks() {
        for path in ["/", "", "/t/", "/t", "/x/abc", "/t/a/b", "/t/a%20b", "/t/../x"] {
            assert_eq!(trace_id_from_path(path), None, "{path}");
        }
    }
}
