//! The page's JSON boundary: WebSocket frames, API bodies and the stored list go through these two functions.
//!
//! In the browser (wasm32) text is parsed by `JSON.parse` and turned into Rust values by serde-wasm-bindgen, and
//! written by serde-wasm-bindgen's JSON-compatible serializer (objects, not `Map`s; `undefined` fields left out;
//! integers as numbers) and `JSON.stringify`. This keeps serde_json, its code and its float-printing tables, out
//! of the page. Native builds (the unit tests) use serde_json, which gives the same results for the `shared` types
//! (see the round-trip test below).

use serde::{Serialize, de::DeserializeOwned};

/// `text` as a `T`; the error names what did not fit.
#[cfg(target_arch = "wasm32")]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(text).map_err(|e| crate::api::describe(&e))?;
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::{ProbeMode, ProbeReply, Protocol, ReplyKind, TraceEvent, TraceOptions};

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
        assert_eq!(from_str::<TraceEvent>(&text).expect("back"), started);
        let reply = ProbeReply::new("2001:db8::1", 12.375, ReplyKind::TimeExceeded);
        let probe = TraceEvent::Probe { ttl: 4, index: 2, reply: Some(reply), rate_limited: false, send_error: None };
        assert_eq!(from_str::<TraceEvent>(&to_string(&probe).expect("json")).expect("back"), probe);
        let old = r#"{"type":"started","version":1,"target":"a","address":"192.0.2.1","protocol":"icmp","max_hops":30,"tries":3,"started_at_ms":5}"#;
        match from_str::<TraceEvent>(old).expect("an event without the newer fields") {
            TraceEvent::Started { first_ttl, mode, location, .. } => {
                assert_eq!((first_ttl, mode, location), (1, None, None))
            }
            other => panic!("not started: {other:?}"),
        }
        let error = from_str::<TraceEvent>(r#"{"type":"no such event"}"#).expect_err("unknown type");
        assert!(error.contains("no such event"), "{error}");
    }
}
