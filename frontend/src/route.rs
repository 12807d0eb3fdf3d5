//! The page's two addresses: `/` (a new trace) and `/t/{id}` (the permalink of one trace).
//!
//! Pure string handling, so the permalink rules are tested natively; the browser history calls live in `session`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
