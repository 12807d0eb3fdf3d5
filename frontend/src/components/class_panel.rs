//! A follow-the-teacher class on the page. The teacher's page: **Start a class** opens one (its code, the join
//! link and a QR code drawn by the server, the number of students, **End class**), keeps the secret in this
//! browser's storage, and sends what it shows (trace, replay step, selected hop, presenter mode) on every change.
//! A student's page (`/c/{code}`): follows every view the teacher sends; a replay command of the student's own
//! detaches it, and **Catch up** (or the `F` key) follows again.
//!
//! The pure parts (paths, storage format, what to do with a view) are [`crate::class`].

use crate::class::{Follow, code_from_path, follow, load_teaching, save_teaching, spaced};
use crate::session::Session;
use crate::state::replay_steps;
use crate::ui::{Focus, Following, Presenter, ReplayControl};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use tracemap_shared::{ClassCommand, ClassMessage, ClassView, TraceStatus};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// One open class socket; dropping it detaches its callbacks and closes it.
struct ClassSocket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl ClassSocket {
    /// Connects to class `code`; `on_open` runs once it is open, `on_message` on every frame, `on_close` once.
    fn connect(
        code: &str,
        mut on_open: impl FnMut(&WebSocket) + 'static,
        mut on_message: impl FnMut(ClassMessage) + 'static,
        mut on_close: impl FnMut() + 'static,
    ) -> Result<ClassSocket, String> {
        let location = web_sys::window().ok_or("no window")?.location();
        let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
        let url = format!(
            "{scheme}://{}/api/classes/{}/live",
            location.host().unwrap_or_default(),
            String::from(js_sys::encode_uri_component(code))
        );
        let socket = WebSocket::new(&url).map_err(|e| crate::api::describe(&e))?;
        let opened = socket.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| on_open(&opened));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let Some(text) = msg.data().as_string() else { return };
            if let Some(message) = decode(&text) {
                on_message(message);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| on_close());
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(ClassSocket { socket, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    fn send(&self, command: &ClassCommand) {
        if self.socket.ready_state() == WebSocket::OPEN {
            let _ = self.socket.send_with_str(&encode(command));
        }
    }
}

// The class frames are read and written by hand rather than through serde: six small shapes, and the page's
// weight is counted (see BENCHMARKS.md). The shapes are `shared`'s `ClassMessage` and `ClassCommand`.

/// A frame from the server, or `None` when it is not one this page knows.
fn decode(text: &str) -> Option<ClassMessage> {
    let value = js_sys::JSON::parse(text).ok()?;
    let get = |object: &JsValue, key: &str| js_sys::Reflect::get(object, &JsValue::from_str(key)).ok();
    let number = |object: &JsValue, key: &str| get(object, key).and_then(|v| v.as_f64());
    match get(&value, "type")?.as_string()?.as_str() {
        "view" => {
            let view = get(&value, "view")?;
            Some(ClassMessage::View {
                view: ClassView {
                    trace: get(&view, "trace").and_then(|v| v.as_string()),
                    step: number(&view, "step").map(|n| n as u32),
                    selected: number(&view, "selected").map(|n| n as u8),
                    presenter: get(&view, "presenter").and_then(|v| v.as_bool()).unwrap_or(false),
                },
            })
        }
        "students" => Some(ClassMessage::Students { count: number(&value, "count")? as u32 }),
        "teacher" => Some(ClassMessage::Teacher { present: get(&value, "present")?.as_bool()? }),
        "ended" => Some(ClassMessage::Ended { reason: get(&value, "reason")?.as_string().unwrap_or_default() }),
        _ => None,
    }
}

/// A frame for the server.
fn encode(command: &ClassCommand) -> String {
    let quoted = |text: &str| {
        js_sys::JSON::stringify(&JsValue::from_str(text)).map(String::from).unwrap_or_else(|_| "\"\"".to_owned())
    };
    match command {
        ClassCommand::Teach { token } => format!(r#"{{"type":"teach","token":{}}}"#, quoted(token)),
        ClassCommand::View { view } => {
            let mut fields = Vec::new();
            if let Some(trace) = &view.trace {
                fields.push(format!(r#""trace":{}"#, quoted(trace)));
            }
            if let Some(step) = view.step {
                fields.push(format!(r#""step":{step}"#));
            }
            if let Some(selected) = view.selected {
                fields.push(format!(r#""selected":{selected}"#));
            }
            fields.push(format!(r#""presenter":{}"#, view.presenter));
            format!(r#"{{"type":"view","view":{{{}}}}}"#, fields.join(","))
        }
    }
}

impl Drop for ClassSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// This page's part in a class.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// No class.
    None,
    /// Teaching class `code` with secret `token`.
    Teacher { code: String, token: String },
    /// Following class `code`.
    Student { code: String },
}

/// The class bar under the share bar: start or run a class (teacher), or follow one (student).
#[component]
pub fn ClassPanel() -> impl IntoView {
    let session = expect_context::<Session>();
    let focus = expect_context::<Focus>();
    let presenter = expect_context::<Presenter>();
    let replay = expect_context::<ReplayControl>().0;
    let following = expect_context::<Following>();
    let path = web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default();
    let role = RwSignal::new(match (code_from_path(&path), load_teaching()) {
        (Some(code), _) => Role::Student { code },
        (None, Some((code, token))) => Role::Teacher { code, token },
        (None, None) => Role::None,
    });
    let socket = StoredValue::new_local(None::<ClassSocket>);
    let students = RwSignal::new(0u32);
    let latest = RwSignal::new(None::<ClassView>);
    let note = RwSignal::new(None::<String>);
    let connected = RwSignal::new(false);
    // Whether the teacher's page is connected, as the server last said.
    let teacher_here = RwSignal::new(true);

    // What this page shows, as the teacher sends it.
    let shown = Memo::new(move |_| ClassView {
        trace: session.id.get(),
        step: replay.with(|r| r.position).map(|p| p as u32),
        selected: focus.selected.get(),
        presenter: presenter.0.get(),
    });

    // (Re)connects for the current role; a closed socket tries again unless the class is gone.
    let connect = move || {
        let current = role.get_untracked();
        let code = match &current {
            Role::None => {
                socket.set_value(None);
                return;
            }
            Role::Teacher { code, .. } | Role::Student { code } => code.clone(),
        };
        let token = match &current {
            Role::Teacher { token, .. } => Some(token.clone()),
            _ => None,
        };
        let on_open = move |ws: &WebSocket| {
            connected.set(true);
            if let Some(token) = &token {
                for command in
                    [ClassCommand::Teach { token: token.clone() }, ClassCommand::View { view: shown.get_untracked() }]
                {
                    if let Ok(text) = crate::json::to_string(&command) {
                        let _ = ws.send_with_str(&text);
                    }
                }
            }
        };
        let on_message = move |message: ClassMessage| match message {
            ClassMessage::View { view } => latest.set(Some(view)),
            ClassMessage::Students { count } => students.set(count),
            ClassMessage::Teacher { present } => teacher_here.set(present),
            ClassMessage::Ended { reason } => {
                note.set(Some(reason));
                if matches!(role.get_untracked(), Role::Teacher { .. }) {
                    save_teaching(None);
                }
                following.0.set(None);
                role.set(Role::None);
            }
        };
        let code_again = code.clone();
        let on_close = move || {
            connected.set(false);
            let code = code_again.clone();
            set_timeout(
                move || {
                    spawn_local(async move {
                        let still = crate::api::class_open(&code).await;
                        let same = match role.get_untracked() {
                            Role::Teacher { code: c, .. } | Role::Student { code: c } => c == code,
                            Role::None => false,
                        };
                        if !same {
                            return;
                        }
                        match still {
                            Ok(false) => {
                                if matches!(role.get_untracked(), Role::Teacher { .. }) {
                                    save_teaching(None);
                                }
                                note.set(Some(format!("Class {} is over.", spaced(&code))));
                                following.0.set(None);
                                role.set(Role::None);
                            }
                            _ => role.update(|_| {}),
                        }
                    });
                },
                Duration::from_secs(2),
            );
        };
        match ClassSocket::connect(&code, on_open, on_message, on_close) {
            Ok(s) => socket.set_value(Some(s)),
            Err(e) => note.set(Some(format!("Could not join the class: {e}"))),
        }
    };
    Effect::new(move |_| {
        role.track();
        if let Role::Student { .. } = role.get_untracked()
            && following.0.get_untracked().is_none()
        {
            following.0.set(Some(true));
        }
        connect();
    });

    // The teacher's page sends every change of what it shows.
    Effect::new(move |_| {
        let view = shown.get();
        if matches!(role.get_untracked(), Role::Teacher { .. }) {
            socket.with_value(|s| {
                if let Some(s) = s {
                    s.send(&ClassCommand::View { view });
                }
            });
        }
    });

    // A following student's page shows what the teacher shows.
    let steps = Memo::new(move |_| {
        session.model.with(|m| {
            m.as_ref().filter(|m| m.report.status != TraceStatus::Running).map(|m| replay_steps(&m.report).len())
        })
    });
    Effect::new(move |_| {
        if following.0.get() != Some(true) {
            return;
        }
        let Some(view) = latest.get() else { return };
        presenter.0.set(view.presenter);
        match follow(&view, session.id.get().as_deref(), steps.get()) {
            Follow::Open(id) => session.open(id),
            Follow::Show { step, selected } => {
                let count = steps.get_untracked().unwrap_or(0);
                let now = replay.get_untracked();
                if now.steps != count || now.position != step || now.playing {
                    replay.update(|r| {
                        *r = r.resized(count);
                        r.position = step;
                        r.playing = false;
                    });
                }
                // Tracked: leaving the replay clears the hop it had selected, after this has run; the teacher's
                // selection is put back (only when it differs, so this settles).
                if step.is_none() && focus.selected.get() != selected {
                    focus.selected.set(selected);
                }
            }
            Follow::Wait => {}
        }
    });

    let catch_up = move || {
        if following.0.get_untracked() == Some(false) {
            following.0.set(Some(true));
        }
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || super::replay_panel::typing(&ev) {
            return;
        }
        if matches!(ev.key().as_str(), "f" | "F") && following.0.get_untracked() == Some(false) {
            ev.prevent_default();
            catch_up();
        }
    });
    on_cleanup(move || keys.remove());

    // Another page in the tab (the teacher's, say): the socket closes, so the class no longer counts this page, and
    // opens again if the page comes back from the browser's back-forward cache.
    crate::ui::on_hide_and_restore(
        move || {
            socket.set_value(None);
            connected.set(false);
        },
        move || role.update(|_| {}),
    );

    let start = move |_| {
        note.set(None);
        spawn_local(async move {
            match crate::api::open_class().await {
                Ok(created) => {
                    save_teaching(Some((&created.code, &created.token)));
                    role.set(Role::Teacher { code: created.code, token: created.token });
                }
                Err(message) => note.set(Some(format!("Could not start a class: {message}"))),
            }
        });
    };
    let end = move |_| {
        let Role::Teacher { code, token } = role.get_untracked() else { return };
        spawn_local(async move {
            match crate::api::end_class(&code, &token).await {
                Ok(()) => {
                    save_teaching(None);
                    socket.set_value(None);
                    role.set(Role::None);
                    note.set(Some(format!("Class {} has ended.", spaced(&code))));
                }
                Err(message) => note.set(Some(format!("Could not end the class: {message}"))),
            }
        });
    };
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();

    view! {
        <section class="class-bar" aria-label="Class" id="class-bar">
            {move || match role.get() {
                Role::None => {
                    view! {
                        <button id="class-start" type="button" class="secondary" on:click=start>
                            "Start a class"
                        </button>
                        <span class="class-hint">"Students follow this page on their own screens."</span>
                    }
                        .into_any()
                }
                Role::Teacher { code, .. } => {
                    let link = format!("{origin}/c/{code}");
                    let qr = format!("/api/classes/{code}/qr.svg");
                    view! {
                        <img class="class-qr" src=qr alt=format!("QR code of {link}") width="96" height="96" />
                        <span class="class-info">
                            "Class "
                            <strong id="class-code">{spaced(&code)}</strong>
                            " · join at "
                            <a id="class-link" href=link.clone() target="_blank" rel="noopener">
                                {link.clone()}
                            </a>
                            " · "
                            <span id="class-students" aria-live="polite">
                                {move || match students.get() {
                                    1 => "1 student".to_owned(),
                                    n => format!("{n} students"),
                                }}
                            </span>
                        </span>
                        <button id="class-end" type="button" class="secondary" on:click=end>
                            "End class"
                        </button>
                    }
                        .into_any()
                }
                Role::Student { code } => {
                    view! {
                        <span class="class-info" id="class-follow" aria-live="polite">
                            {move || {
                                let state = if !connected.get() {
                                    "connecting to"
                                } else if following.0.get() == Some(true) {
                                    "following the teacher of"
                                } else {
                                    "on your own in"
                                };
                                let away = if connected.get() && !teacher_here.get() {
                                    " The teacher's page is away: this page keeps the last view until it is back."
                                } else {
                                    ""
                                };
                                format!("You are {state} class {}.{away}", spaced(&code))
                            }}
                        </span>
                        <Show when=move || following.0.get() == Some(false)>
                            <button id="class-catch-up" type="button" on:click=move |_| catch_up()>
                                "Catch up with the teacher (F)"
                            </button>
                        </Show>
                    }
                        .into_any()
                }
            }}
            <span id="class-note" class="class-hint" aria-live="polite">
                {move || note.get()}
            </span>
        </section>
    }
}
