//! The WebSocket client of `/api/traces/{id}/live`: one JSON `TraceEvent` per text frame.
//!
//! A [`LiveSocket`] owns its browser socket and callbacks; dropping it detaches the callbacks and closes the socket,
//! so a page that switches traces never hears from the old one. Reconnecting is the session's job: the server replays
//! every past event to a new viewer and the fold is idempotent, so a fresh socket resumes without duplicate rows.

use tracemap_shared::TraceEvent;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// An open (or opening) live connection to one trace.
#[derive(Debug)]
pub struct LiveSocket {
    socket: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

/// The live URL of trace `id` on the page's own host, `wss://` when the page is served over HTTPS.
pub fn live_url(page_protocol: &str, host: &str, id: &str) -> String {
    let scheme = if page_protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/api/traces/{id}/live")
}

impl LiveSocket {
    /// Connects to trace `id`. `on_event` gets every decoded event (a frame that does not decode is logged and
    /// skipped, so a newer server's extra event types do not break the page); `on_close` is called once when the
    /// socket closes for any reason other than being dropped.
    pub fn connect(
        id: &str,
        mut on_event: impl FnMut(TraceEvent) + 'static,
        mut on_close: impl FnMut() + 'static,
    ) -> Result<Self, String> {
        let location = web_sys::window().ok_or("no window")?.location();
        let url = live_url(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
            &String::from(js_sys::encode_uri_component(id)),
        );
        let socket = WebSocket::new(&url).map_err(|e| crate::api::describe(&e))?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let Some(text) = msg.data().as_string() else { return };
            match crate::json::event_from_str(&text) {
                Ok(event) => on_event(event),
                Err(e) => web_sys::console::warn_1(&format!("tracemap: skipped an event: {e}: {text}").into()),
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| on_close());
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(LiveSocket { socket, _on_message: on_message, _on_close: on_close })
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_follows_the_page() {
        assert_eq!(live_url("http:", "127.0.0.1:8080", "ab"), "ws://127.0.0.1:8080/api/traces/ab/live");
        assert_eq!(live_url("https:", "tracemap.example", "ab"), "wss://tracemap.example/api/traces/ab/live");
    }
}
