//! Presenter mode: large type and high contrast for a projector. A button toggles it and the address bar carries it
//! (`?present=1`), so the link a teacher shares opens the same way; the whole page restyles from one class on `<html>`.

use crate::route::{presenter_in, presenter_query};
use crate::ui::Presenter;
use leptos::prelude::*;

/// Whether the page's address asks for presenter mode.
pub fn presenter_requested() -> bool {
    web_sys::window().and_then(|w| w.location().search().ok()).is_some_and(|s| presenter_in(&s))
}

/// The toggle in the header; also keeps `<html class="presenter">` and the address bar in step with the mode.
#[component]
pub fn PresenterToggle() -> impl IntoView {
    let presenter = expect_context::<Presenter>();
    Effect::new(move |_| {
        let on = presenter.0.get();
        let Some(window) = web_sys::window() else { return };
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.class_list().toggle_with_force("presenter", on);
        }
        let location = window.location();
        if presenter_in(&location.search().unwrap_or_default()) != on
            && let (Ok(path), Ok(history)) = (location.pathname(), window.history())
        {
            let url = format!("{path}{}{}", presenter_query(on), location.hash().unwrap_or_default());
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    });
    view! {
        <button
            id="presenter-toggle"
            type="button"
            class="presenter-toggle"
            aria-pressed=move || if presenter.0.get() { "true" } else { "false" }
            title="Large type and high contrast, for a projector (the link keeps it)"
            on:click=move |_| presenter.0.update(|on| *on = !*on)
        >
            "Presenter mode"
        </button>
    }
}
