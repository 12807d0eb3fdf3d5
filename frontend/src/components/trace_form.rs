//! The host field (Enter starts a trace) and the protocol selector, with inline validation.

use crate::session::Session;
use crate::state::Phase;
use leptos::prelude::*;
use tracemap_shared::{Protocol, TraceStatus};

/// Checks what the user typed before asking the server; the server still has the last word.
pub fn validate_target(input: &str) -> Result<String, &'static str> {
    let target = input.trim();
    if target.is_empty() {
        return Err("Type a host name or an IP address to trace.");
    }
    if target.contains("://") || target.contains('/') {
        return Err("Type just the host, without http:// or a path.");
    }
    if target.chars().any(char::is_whitespace) {
        return Err("A host name has no spaces.");
    }
    if target.len() > 253 {
        return Err("That is longer than any host name can be.");
    }
    Ok(target.to_owned())
}

fn parse_protocol(value: &str) -> Protocol {
    match value {
        "udp" => Protocol::Udp,
        "tcp" => Protocol::Tcp,
        _ => Protocol::Icmp,
    }
}

/// The form at the top of the page.
#[component]
pub fn TraceForm() -> impl IntoView {
    let session = expect_context::<Session>();
    let target = RwSignal::new(String::new());
    let protocol = RwSignal::new(Protocol::Icmp);
    let problem = RwSignal::new(None::<&'static str>);
    let busy = move || matches!(session.phase.get(), Phase::Starting(_));

    // A permalink fills the field with the trace it shows, so "trace again" is one key away.
    Effect::new(move |_| {
        let shown = session.model.with(|m| m.as_ref().map(|m| (m.report.target.clone(), m.report.protocol)));
        if let Some((shown, proto)) = shown
            && !shown.is_empty()
            && target.get_untracked().is_empty()
        {
            target.set(shown);
            protocol.set(proto);
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match validate_target(&target.get_untracked()) {
            Ok(host) => {
                problem.set(None);
                session.start(host, protocol.get_untracked());
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    let running = move || session.model.with(|m| m.as_ref().is_some_and(|m| m.report.status == TraceStatus::Running));

    view! {
        <form id="trace-form" class="trace-form" on:submit=on_submit novalidate>
            <label class="visually-hidden" for="target">
                "Host to trace"
            </label>
            <input
                id="target"
                name="target"
                type="text"
                inputmode="url"
                placeholder="Host name or IP address, e.g. example.com"
                autocomplete="off"
                autocapitalize="off"
                spellcheck="false"
                autofocus
                aria-describedby="target-problem"
                aria-invalid=move || if problem.get().is_some() { "true" } else { "false" }
                prop:value=move || target.get()
                on:input=move |ev| {
                    target.set(event_target_value(&ev));
                    problem.set(None);
                }
            />
            <label class="visually-hidden" for="protocol">
                "Protocol"
            </label>
            <select
                id="protocol"
                name="protocol"
                prop:value=move || protocol.get().as_str()
                on:change=move |ev| protocol.set(parse_protocol(&event_target_value(&ev)))
            >
                <option value="icmp">"ICMP"</option>
                <option value="udp">"UDP"</option>
                <option value="tcp">"TCP"</option>
            </select>
            <button id="trace-button" type="submit" disabled=busy>
                {move || if running() { "Trace again" } else { "Trace" }}
            </button>
            <p id="target-problem" class="field-problem" aria-live="assertive">
                {move || problem.get()}
            </p>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_trimmed_and_checked() {
        assert_eq!(validate_target("  example.com \n"), Ok("example.com".to_owned()));
        assert_eq!(validate_target("2001:db8::1"), Ok("2001:db8::1".to_owned()));
        assert!(validate_target("   ").is_err());
        assert!(validate_target("https://example.com").is_err());
        assert!(validate_target("example.com/path").is_err());
        assert!(validate_target("exa mple.com").is_err());
        assert!(validate_target(&"a".repeat(254)).is_err());
    }

    #[test]
    fn protocols_parse_with_icmp_as_default() {
        assert_eq!(parse_protocol("udp"), Protocol::Udp);
        assert_eq!(parse_protocol("tcp"), Protocol::Tcp);
        assert_eq!(parse_protocol("icmp"), Protocol::Icmp);
        assert_eq!(parse_protocol("?"), Protocol::Icmp);
    }
}
