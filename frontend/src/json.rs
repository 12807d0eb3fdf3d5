//! The page's JSON boundary: WebSocket frames, API bodies and the stored list go through these functions.
//!
//! In the browser (wasm32) text is parsed by `JSON.parse` and turned into Rust values by serde-wasm-bindgen, and
//! written by serde-wasm-bindgen's JSON-compatible serializer (objects, not `Map`s; `undefined` fields left out;
//! integers as numbers) and `JSON.stringify`. This keeps serde_json, its code and its float-printing tables, out
//! of the page. Native builds (the unit tests) use serde_json, which gives the same results for the `shared` types
//! (see the round-trip test below).

use serde::{Serialize, de::DeserializeOwned};
#[cfg(target_arch = "wasm32")]
use tracemap_shared::TraceOptions;
use tracemap_shared::{TraceEvent, TraceReport};

/// `text` as a `T`; the error names what did not fit.
#[cfg(target_arch = "wasm32")]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    decode(parse(text)?)
}

/// `text` parsed by the browser.
#[cfg(target_arch = "wasm32")]
fn parse(text: &str) -> Result<wasm_bindgen::JsValue, String> {
    js_sys::JSON::parse(text).map_err(|e| crate::api::describe(&e))
}

/// A parsed value as a `T`; the error names what did not fit.
#[cfg(target_arch = "wasm32")]
fn decode<T: DeserializeOwned>(value: wasm_bindgen::JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// One WebSocket frame, `{"type": "probe", ...}`, as a [`TraceEvent`]. In the browser the parsed frame is re-keyed
/// by its tag, `{"probe": {...}}`, and a `started` event's options are nested, which is how `shared` lets wasm32
/// decode events (see [`TraceEvent`] and [`TraceOptions::KEYS`]): no intermediate buffer, so a smaller module.
#[cfg(target_arch = "wasm32")]
pub fn event_from_str(text: &str) -> Result<TraceEvent, String> {
    use wasm_bindgen::{JsCast, JsValue};
    let value = parse(text)?;
    let key = JsValue::from_str("type");
    let tag =
        js_sys::Reflect::get(&value, &key).ok().and_then(|t| t.as_string()).ok_or("an event without a \"type\"")?;
    let _ = js_sys::Reflect::delete_property(value.unchecked_ref::<js_sys::Object>(), &key);
    if tag == "started" {
        nest_options(&value);
    }
    let keyed = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&keyed, &JsValue::from_str(&tag), &value);
    decode(keyed.into())
}

/// A stored or running trace, `GET /api/traces/{id}`, as a [`TraceReport`]; in the browser with its options nested
/// first (see [`TraceOptions::KEYS`]).
#[cfg(target_arch = "wasm32")]
pub fn report_from_str(text: &str) -> Result<TraceReport, String> {
    let value = parse(text)?;
    nest_options(&value);
    decode(value)
}

/// Moves the keys of [`TraceOptions::KEYS`] of a parsed object under its `"options"` (created if absent).
#[cfg(target_arch = "wasm32")]
fn nest_options(object: &wasm_bindgen::JsValue) {
    use js_sys::{Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    if !object.is_object() {
        return;
    }
    let options_key = JsValue::from_str("options");
    let options =
        Reflect::get(object, &options_key).ok().filter(JsValue::is_object).unwrap_or_else(|| Object::new().into());
    for key in TraceOptions::KEYS {
        let key = JsValue::from_str(key);
        if let Ok(value) = Reflect::get(object, &key)
            && !value.is_undefined()
        {
            let _ = Reflect::set(&options, &key, &value);
            let _ = Reflect::delete_property(object.unchecked_ref::<Object>(), &key);
        }
    }
    let _ = Reflect::set(object, &options_key, &options);
}

/// One WebSocket frame as a [`TraceEvent`] (natively, `shared`'s internally tagged form read as it is).
#[cfg(not(target_arch = "wasm32"))]
pub fn event_from_str(text: &str) -> Result<TraceEvent, String> {
    from_str(text)
}

/// A stored or running trace as a [`TraceReport`] (natively, with its options flattened as on the wire).
#[cfg(not(target_arch = "wasm32"))]
pub fn report_from_str(text: &str) -> Result<TraceReport, String> {
    from_str(text)
}

/// `value` as JSON text.
#[cfg(target_arch = "wasm32")]
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let js = to_js(value)?;
    js_sys::JSON::stringify(&js).map(String::from).map_err(|e| crate::api::describe(&e))
}

/// `value` as a JS value shaped like its JSON (for Leaflet's option bags and GeoJSON).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<wasm_bindgen::JsValue, String> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| e.to_string())
}

/// `text` as a `T`; the error names what did not fit.
#[cfg(not(target_arch = "wasm32"))]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `value` as JSON text.
#[cfg(not(target_arch = "wasm32"))]
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

// Native only: on wasm32 `TraceEvent` has no `Serialize` (see `shared`), and these tests run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use tracemap_shared::{ProbeMode, ProbeReply, Protocol, ReplyKind, TraceOptions};

    /// The boundary keeps what the server's events carry: tagged enums, flattened options, `u64` milliseconds,
    /// `f64` round-trip times, absent optional fields and defaults for fields older streams lack.
    #[test]
    fn shared_events_round_trip_through_the_boundary() {
        let started = TraceEvent::Started {
            version: tracemap_shared::EVENT_VERSION,
            target: "example.test".into(),
            address: "192.0.2.9".into(),
            protocol: Protocol::Udp,
            first_ttl: 3,
            max_hops: 30,
            tries: 3,
            started_at_ms: 1_764_470_000_123,
            mode: Some(ProbeMode::UdpErrorQueue),
            options: TraceOptions { port: Some(33434), ..Default::default() },
            location: None,
        };
        let text = to_string(&started).expect("json");
        assert_eq!(event_from_str(&text).expect("back"), started);
        let reply = ProbeReply::new("2001:db8::1", 12.375, ReplyKind::TimeExceeded);
        let probe = TraceEvent::Probe { ttl: 4, index: 2, reply: Some(reply), rate_limited: false, send_error: None };
        assert_eq!(event_from_str(&to_string(&probe).expect("json")).expect("back"), probe);
        let old = r#"{"type":"started","version":1,"target":"a","address":"192.0.2.1","protocol":"icmp","max_hops":30,"tries":3,"started_at_ms":5}"#;
        match event_from_str(old).expect("an event without the newer fields") {
            TraceEvent::Started { first_ttl, mode, location, .. } => {
                assert_eq!((first_ttl, mode, location), (1, None, None))
            }
            other => panic!("not started: {other:?}"),
        }
        let error = event_from_str(r#"{"type":"no such event"}"#).expect_err("unknown type");
        assert!(error.contains("no such event"), "{error}");
    }
}
