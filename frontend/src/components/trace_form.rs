//! The form at the top: the host field (Enter starts a trace), the protocol, the Watch switch (rounds after rounds,
//! until stopped unless the options say how many), and the trace options (family, max hops, tries, timeout, port,
//! rounds and their interval), each checked as the user types with the server's own limits. A problem the server
//! finds with a field is shown beside that field too.

use crate::options::{Field, OptionInputs, build_request, check_field, family_value, parse_family, parse_protocol};
use crate::session::Session;
use crate::state::Phase;
use leptos::prelude::*;
use tracemap_shared::{Protocol, TraceStatus};

/// One labelled number input of the options, with its inline problem.
#[component]
fn NumberOption(
    field: Field,
    label: &'static str,
    placeholder: &'static str,
    value: Signal<String>,
    set: Callback<String>,
    problem: Signal<Option<String>>,
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    let problem_id = format!("{}-problem", field.id());
    view! {
        <label class="option">
            <span class="option-label">{label}</span>
            <input
                id=field.id()
                type="text"
                inputmode="numeric"
                autocomplete="off"
                placeholder=placeholder
                aria-describedby=problem_id.clone()
                aria-invalid=move || if problem.with(Option::is_some) { "true" } else { "false" }
                disabled=move || disabled.get()
                prop:value=move || value.get()
                on:input=move |ev| set.run(event_target_value(&ev))
            />
            <span id=problem_id class="field-problem" aria-live="polite">
                {move || problem.get()}
            </span>
        </label>
    }
}

/// The form at the top of the page.
#[component]
pub fn TraceForm() -> impl IntoView {
    let session = expect_context::<Session>();
    let target = RwSignal::new(String::new());
    let inputs = RwSignal::new(OptionInputs::default());
    let target_problem = RwSignal::new(None::<String>);
    let open = RwSignal::new(false);
    let busy = move || matches!(session.phase.get(), Phase::Starting(_));

    // Opening a stored trace (a permalink, a recent trace) fills the form with its target and every setting it ran
    // with, so "trace again" repeats it exactly.
    Effect::new(move |_| {
        session.opened.track();
        let shown = session.model.with_untracked(|m| {
            m.as_ref()
                .filter(|m| !m.report.target.is_empty())
                .map(|m| (m.report.target.clone(), OptionInputs::from_report(&m.report)))
        });
        if let Some((shown, settings)) = shown {
            target.set(shown);
            inputs.set(settings);
            target_problem.set(None);
        }
    });
    // A field the server refused opens the options so its message is seen.
    Effect::new(move |_| {
        if session.error_field.get().is_some_and(|f| f != Field::Target) {
            open.set(true);
        }
    });

    // Inline problems: what the user typed, else what the server said about the field.
    let problem = move |field: Field| {
        Signal::derive(move || {
            inputs
                .with(|i| check_field(i, field))
                .or_else(|| (session.error_field.get() == Some(field)).then(|| session.error.get()).flatten())
        })
    };
    let value = move |get: fn(&OptionInputs) -> String| Signal::derive(move || inputs.with(get));
    let set = move |put: fn(&mut OptionInputs, String)| {
        Callback::new(move |text: String| {
            inputs.update(|i| put(i, text));
            session.error_field.set(None);
        })
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match build_request(&target.get_untracked(), &inputs.get_untracked()) {
            Ok(mut request) => {
                target_problem.set(None);
                let mut also_here = true;
                if let Some(vantage) = use_context::<crate::vantage::Vantage>() {
                    request.from = vantage.from();
                    also_here = vantage.also_here();
                }
                session.start(request, also_here);
            }
            Err(problems) => {
                target_problem.set(problems.iter().find(|(f, _)| *f == Field::Target).map(|(_, m)| m.clone()));
                // The status line says the trace did not start rather than inviting the user to type.
                session.error_field.set(problems.first().map(|(f, _)| *f));
                if problems.iter().any(|(f, _)| *f != Field::Target) {
                    open.set(true);
                }
            }
        }
    };
    let running = move || session.model.with(|m| m.as_ref().is_some_and(|m| m.report.status == TraceStatus::Running));
    let icmp = Signal::derive(move || inputs.with(|i| i.protocol == Protocol::Icmp));
    let single = Signal::derive(move || inputs.with(|i| !i.watch));
    let watching = move || inputs.with(|i| i.watch);
    let target_invalid =
        move || target_problem.with(Option::is_some) || session.error_field.get() == Some(Field::Target);

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
                aria-invalid=move || if target_invalid() { "true" } else { "false" }
                prop:value=move || target.get()
                on:input=move |ev| {
                    target.set(event_target_value(&ev));
                    target_problem.set(None);
                    session.error_field.set(None);
                }
            />
            <label class="visually-hidden" for="protocol">
                "Protocol"
            </label>
            <select
                id="protocol"
                name="protocol"
                prop:value=move || inputs.with(|i| i.protocol.as_str())
                on:change=move |ev| inputs.update(|i| i.protocol = parse_protocol(&event_target_value(&ev)))
            >
                <option value="icmp">"ICMP"</option>
                <option value="udp">"UDP"</option>
                <option value="tcp">"TCP"</option>
            </select>
            <label class="watch-switch" title="Probe every hop again, round after round, with statistics per hop (like mtr); until stopped unless Options say how many rounds">
                <input
                    id="watch"
                    type="checkbox"
                    role="switch"
                    prop:checked=watching
                    on:change=move |ev| {
                        inputs.update(|i| i.watch = event_target_checked(&ev));
                        session.error_field.set(None);
                    }
                />
                "Watch"
            </label>
            <button
                id="options-toggle"
                type="button"
                class="secondary"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                aria-controls="trace-options"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "Options"
            </button>
            <button id="trace-button" type="submit" disabled=busy>
                {move || match (watching(), running()) {
                    (true, true) => "Watch again",
                    (true, false) => "Watch",
                    (false, true) => "Trace again",
                    (false, false) => "Trace",
                }}
            </button>
            <p id="target-problem" class="field-problem" aria-live="assertive">
                {move || target_problem.get()}
            </p>
            <fieldset id="trace-options" class="trace-options" hidden=move || !open.get()>
                <legend class="visually-hidden">"Trace options"</legend>
                <label class="option">
                    <span class="option-label">"Address family"</span>
                    <select
                        id="family"
                        prop:value=move || inputs.with(|i| family_value(i.family))
                        on:change=move |ev| {
                            inputs.update(|i| i.family = parse_family(&event_target_value(&ev)));
                            session.error_field.set(None);
                        }
                    >
                        <option value="auto">"Auto"</option>
                        <option value="ipv4">"IPv4"</option>
                        <option value="ipv6">"IPv6"</option>
                    </select>
                    <span id="family-problem" class="field-problem" aria-live="polite">
                        {move || problem(Field::Family).get()}
                    </span>
                </label>
                <NumberOption
                    field=Field::FirstTtl
                    label="First TTL"
                    placeholder="1"
                    value=value(|i| i.first_ttl.clone())
                    set=set(|i, v| i.first_ttl = v)
                    problem=problem(Field::FirstTtl)
                />
                <NumberOption
                    field=Field::MaxHops
                    label="Max hops"
                    placeholder="30"
                    value=value(|i| i.max_hops.clone())
                    set=set(|i, v| i.max_hops = v)
                    problem=problem(Field::MaxHops)
                />
                <NumberOption
                    field=Field::Tries
                    label="Probes per hop"
                    placeholder="3"
                    value=value(|i| i.tries.clone())
                    set=set(|i, v| i.tries = v)
                    problem=problem(Field::Tries)
                />
                <NumberOption
                    field=Field::Timeout
                    label="Timeout (ms)"
                    placeholder="2000"
                    value=value(|i| i.timeout_ms.clone())
                    set=set(|i, v| i.timeout_ms = v)
                    problem=problem(Field::Timeout)
                />
                <NumberOption
                    field=Field::Port
                    label="Port (UDP, TCP)"
                    placeholder="default"
                    value=value(|i| i.port.clone())
                    set=set(|i, v| i.port = v)
                    problem=problem(Field::Port)
                    disabled=icmp
                />
                <NumberOption
                    field=Field::Rounds
                    label="Rounds (Watch)"
                    placeholder="until stopped"
                    value=value(|i| i.rounds.clone())
                    set=set(|i, v| i.rounds = v)
                    problem=problem(Field::Rounds)
                    disabled=single
                />
                <NumberOption
                    field=Field::Interval
                    label="Every (s, Watch)"
                    placeholder="1"
                    value=value(|i| i.interval.clone())
                    set=set(|i, v| i.interval = v)
                    problem=problem(Field::Interval)
                    disabled=single
                />
            </fieldset>
        </form>
    }
}
