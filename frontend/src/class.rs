//! Follow-the-teacher classes, the page's side: the student's address `/c/{code}`, the teacher's secret kept in
//! this browser's storage (never in a URL a student sees), and what a student page does with a view the teacher
//! sent. Pure where it can be, tested natively; the socket and the panel are `components::class_panel`.

use tracemap_shared::ClassView;

/// Where the teacher's page keeps its class: `CODE TOKEN`.
const KEY: &str = "tracemap.class";

/// The class code in a student's path `/c/{code}` (any case; the server's codes are upper case).
pub fn code_from_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/c/")?;
    let code = rest.strip_suffix('/').unwrap_or(rest).to_ascii_uppercase();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// `ABC DEF`: a code as it is read aloud and typed.
pub fn spaced(code: &str) -> String {
    if code.len() == 6 && code.is_ascii() { format!("{} {}", &code[..3], &code[3..]) } else { code.to_owned() }
}

/// The teacher's class kept in storage: `(code, token)`.
pub fn parse_stored(text: Option<&str>) -> Option<(String, String)> {
    let (code, token) = text?.split_once(' ')?;
    (!code.is_empty() && !token.is_empty()).then(|| (code.to_owned(), token.to_owned()))
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The class this browser teaches, if any.
pub fn load_teaching() -> Option<(String, String)> {
    parse_stored(storage().and_then(|s| s.get_item(KEY).ok().flatten()).as_deref())
}

/// Keeps (or, with `None`, forgets) the class this browser teaches.
pub fn save_teaching(class: Option<(&str, &str)>) {
    let Some(storage) = storage() else { return };
    let _ = match class {
        Some((code, token)) => storage.set_item(KEY, &format!("{code} {token}")),
        None => storage.remove_item(KEY),
    };
}

/// What a following student page should do to show `view`, given the trace it shows and whether that trace is
/// loaded (its replay has `steps` steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Open the teacher's trace first.
    Open(String),
    /// The trace is on show: put the replay on `step` (off when `None`) and select `selected` when the replay is
    /// off.
    Show {
        /// The replay step, when it exists in this trace.
        step: Option<usize>,
        /// The hop to select when the replay is off.
        selected: Option<u8>,
    },
    /// Nothing to show yet (the teacher shows no trace, or this one is still loading).
    Wait,
}

/// See [`Follow`]: `shown` is the id of the trace on this page and `steps` its replay's steps once loaded.
pub fn follow(view: &ClassView, shown: Option<&str>, steps: Option<usize>) -> Follow {
    let Some(trace) = view.trace.as_deref() else { return Follow::Wait };
    if shown != Some(trace) {
        return Follow::Open(trace.to_owned());
    }
    let Some(steps) = steps else { return Follow::Wait };
    let step = view.step.map(|s| s as usize).filter(|&s| s < steps);
    Follow::Show { step, selected: if step.is_some() { None } else { view.selected } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_paths_carry_the_code() {
        assert_eq!(code_from_path("/c/ABCDEF"), Some("ABCDEF".into()));
        assert_eq!(code_from_path("/c/abcdef/"), Some("ABCDEF".into()));
        for other in ["/", "/c/", "/c/ABCDE", "/c/ABCDEFG", "/t/ABCDEF", "/c/ABC/DEF", "/c/ABC%20D"] {
            assert_eq!(code_from_path(other), None, "{other}");
        }
        assert_eq!(spaced("ABCDEF"), "ABC DEF");
    }

    #[test]
    fn the_teachers_class_is_kept_as_code_and_token() {
        assert_eq!(parse_stored(Some("ABCDEF 00ff")), Some(("ABCDEF".into(), "00ff".into())));
        for bad in [None, Some(""), Some("ABCDEF"), Some(" 00ff"), Some("ABCDEF ")] {
            assert_eq!(parse_stored(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_student_opens_the_teachers_trace_then_follows_its_step() {
        let view = ClassView { trace: Some("t1".into()), step: Some(2), selected: Some(3), presenter: false };
        assert_eq!(follow(&view, None, None), Follow::Open("t1".into()));
        assert_eq!(follow(&view, Some("t0"), Some(5)), Follow::Open("t1".into()), "a new trace of the teacher's");
        assert_eq!(follow(&view, Some("t1"), None), Follow::Wait, "still loading");
        assert_eq!(follow(&view, Some("t1"), Some(5)), Follow::Show { step: Some(2), selected: None });
        assert_eq!(
            follow(&view, Some("t1"), Some(2)),
            Follow::Show { step: None, selected: Some(3) },
            "a step this trace does not have (still running here) leaves the replay off"
        );
        let off = ClassView { step: None, ..view };
        assert_eq!(follow(&off, Some("t1"), Some(5)), Follow::Show { step: None, selected: Some(3) });
        assert_eq!(follow(&ClassView::default(), Some("t1"), Some(5)), Follow::Wait);
    }
}
