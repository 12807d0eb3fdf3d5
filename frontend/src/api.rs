//! The HTTP half of the contract: start a trace, load a trace, fetch a static file.
//!
//! Thin wrappers over the browser's `fetch` that turn every failure into one sentence a person can act on: the
//! server's own `ApiError` message when it sent one, otherwise what went wrong on the way.

use serde::de::DeserializeOwned;
use tracemap_shared::{ApiError, ClassCreated, ServerInfo, TraceCreated, TraceReport, TraceRequest};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

/// Why the server refused to start a trace, with what the page needs to say it well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    /// The `ApiError` code (`rate_limited`, `invalid_field`...), when the server sent one.
    pub code: Option<String>,
    /// The server's message, or what went wrong on the way.
    pub message: String,
    /// Seconds to wait (`Retry-After`), for `rate_limited`.
    pub retry_after: Option<u64>,
}

impl StartFailure {
    /// One sentence for the error banner: what happened, in the page's words, then the server's own detail.
    pub fn sentence(&self) -> String {
        let detail = capitalized(self.message.trim_end_matches('.'));
        match self.code.as_deref() {
            Some("rate_limited") => match self.retry_after {
                Some(secs) => format!("Too many traces started from your address. You can start another in {secs} s."),
                None => format!("Too many traces started from your address. {detail}."),
            },
            Some("busy") => format!("The server is busy: {}.", self.message.trim_end_matches('.')),
            Some("forbidden_target") => format!("{detail}."),
            Some("invalid_field") => match crate::options::Field::from_server_message(&self.message) {
                Some(field) => {
                    let rest = self.message.split_once(':').map_or("", |(_, rest)| rest.trim()).trim_end_matches('.');
                    format!("Options → {}: {rest}.", field.label())
                }
                None => format!("{detail}."),
            },
            Some("unresolvable_target") => format!("{detail}. Check the host name's spelling."),
            Some("invalid_target") => format!("{detail}: type a host name such as example.com, or an IP address."),
            _ => format!("{detail}."),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| std::iter::once(c.to_ascii_uppercase()).chain(chars).collect()).unwrap_or_default()
}

/// `POST /api/traces`: starts a trace and returns its id.
pub async fn create_trace(request: &TraceRequest) -> Result<TraceCreated, StartFailure> {
    let failure = |message: String| StartFailure { code: None, message, retry_after: None };
    let body = crate::json::to_string(request).map_err(failure)?;
    let (status, text, retry_after) = send_with_headers("POST", "/api/traces", Some(&body)).await.map_err(failure)?;
    if (200..300).contains(&status) {
        return decode(status, &text).map_err(failure);
    }
    let code = crate::json::from_str::<ApiError>(&text).ok().map(|e| e.error.code);
    Err(StartFailure { code, message: error_message(status, &text), retry_after })
}

/// `GET /api/traces/{id}`: the trace as stored (or as folded so far, while it runs).
pub async fn fetch_trace(id: &str) -> Result<TraceReport, String> {
    let url = format!("/api/traces/{}", String::from(js_sys::encode_uri_component(id)));
    let (status, text) = send("GET", &url, None).await?;
    decode_with(status, &text, crate::json::report_from_str)
}

/// `DELETE /api/traces/{id}/run` with the trace's delete token: stops a running trace (the server stores what it
/// has, as `stopped`).
pub async fn stop_trace(id: &str, token: &str) -> Result<(), String> {
    let url = format!("/api/traces/{}/run", String::from(js_sys::encode_uri_component(id)));
    let (status, text, _) = send_full("DELETE", &url, None, Some(token)).await?;
    if (200..300).contains(&status) { Ok(()) } else { Err(error_message(status, &text)) }
}

/// `DELETE /api/traces/{id}` with the trace's delete token. A trace the server no longer has counts as deleted.
pub async fn delete_trace(id: &str, token: &str) -> Result<(), String> {
    let url = format!("/api/traces/{}", String::from(js_sys::encode_uri_component(id)));
    let (status, text, _) = send_full("DELETE", &url, None, Some(token)).await?;
    if (200..300).contains(&status) || status == 404 { Ok(()) } else { Err(error_message(status, &text)) }
}

/// `POST /api/classes`: opens a class this page teaches (its code and the teacher's secret).
pub async fn open_class() -> Result<ClassCreated, String> {
    let (status, text) = send("POST", "/api/classes", Some("{}")).await?;
    decode(status, &text)
}

/// `DELETE /api/classes/{code}` with the teacher's secret. A class the server no longer has counts as ended.
pub async fn end_class(code: &str, token: &str) -> Result<(), String> {
    let url = format!("/api/classes/{}", String::from(js_sys::encode_uri_component(code)));
    let (status, text, _) = send_full("DELETE", &url, None, Some(token)).await?;
    if (200..300).contains(&status) || status == 404 { Ok(()) } else { Err(error_message(status, &text)) }
}

/// Whether the server still holds class `code`.
pub async fn class_open(code: &str) -> Result<bool, String> {
    let url = format!("/api/classes/{}", String::from(js_sys::encode_uri_component(code)));
    let (status, _) = send("GET", &url, None).await?;
    Ok((200..300).contains(&status))
}

/// `GET /api/config`: the server's location, tile layer and GeoIP labels.
pub async fn fetch_config() -> Result<ServerInfo, String> {
    let (status, text) = send("GET", "/api/config", None).await?;
    decode(status, &text)
}

/// `GET url` as text, for static files such as the basemap.
pub async fn fetch_text(url: &str) -> Result<String, String> {
    let (status, text) = send("GET", url, None).await?;
    if (200..300).contains(&status) { Ok(text) } else { Err(format!("{url} answered HTTP {status}")) }
}

/// The body of a 2xx answer as `T`; otherwise the server's error message.
fn decode<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, String> {
    decode_with(status, text, crate::json::from_str)
}

/// The body of a 2xx answer read by `read`; otherwise the server's error message.
fn decode_with<T>(status: u16, text: &str, read: impl FnOnce(&str) -> Result<T, String>) -> Result<T, String> {
    if (200..300).contains(&status) {
        read(text).map_err(|e| format!("The server sent an answer this page cannot read ({e})."))
    } else {
        Err(error_message(status, text))
    }
}

/// The `ApiError` message, or a plain description of the status when the body is not one.
pub fn error_message(status: u16, text: &str) -> String {
    match crate::json::from_str::<ApiError>(text) {
        Ok(e) => e.error.message,
        Err(_) if status == 404 => "No such trace on this server.".to_owned(),
        Err(_) => format!("The server answered HTTP {status}."),
    }
}

async fn send(method: &str, url: &str, json_body: Option<&str>) -> Result<(u16, String), String> {
    send_with_headers(method, url, json_body).await.map(|(status, text, _)| (status, text))
}

/// Status, body and the `Retry-After` seconds of one request.
async fn send_with_headers(
    method: &str,
    url: &str,
    json_body: Option<&str>,
) -> Result<(u16, String, Option<u64>), String> {
    send_full(method, url, json_body, None).await
}

/// [`send_with_headers`], with a bearer token when `bearer` is given.
async fn send_full(
    method: &str,
    url: &str,
    json_body: Option<&str>,
    bearer: Option<&str>,
) -> Result<(u16, String, Option<u64>), String> {
    let unreachable = |e: JsValue| format!("Could not reach the tracemap server ({}).", describe(&e));
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(unreachable)?;
    if let Some(token) = bearer {
        headers.set("Authorization", &format!("Bearer {token}")).map_err(unreachable)?;
    }
    if let Some(body) = json_body {
        headers.set("Content-Type", "application/json").map_err(unreachable)?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(url, &init).map_err(unreachable)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(unreachable)?
        .dyn_into()
        .map_err(unreachable)?;
    let text = JsFuture::from(response.text().map_err(unreachable)?).await.map_err(unreachable)?;
    let retry_after = response.headers().get("Retry-After").ok().flatten().and_then(|v| v.trim().parse().ok());
    Ok((response.status(), text.as_string().unwrap_or_default(), retry_after))
}

/// A JS error's message, or its string form.
pub fn describe(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_message_is_shown_as_is() {
        let body = r#"{"error":{"code":"unresolvable_target","message":"nope.invalid does not resolve."}}"#;
        assert_eq!(error_message(422, body), "nope.invalid does not resolve.");
    }

    #[test]
    fn start_failures_say_what_to_do() {
        let failure = |code: &str, message: &str, retry_after| StartFailure {
            code: Some(code.to_owned()),
            message: message.to_owned(),
            retry_after,
        };
        assert_eq!(
            failure("rate_limited", "too many traces started from your address; try again in 17 s", Some(17))
                .sentence(),
            "Too many traces started from your address. You can start another in 17 s."
        );
        assert_eq!(
            failure(
                "forbidden_target",
                "localhost resolves to 127.0.0.1, loopback, which this server does not trace",
                None
            )
            .sentence(),
            "Localhost resolves to 127.0.0.1, loopback, which this server does not trace."
        );
        assert_eq!(
            failure("unresolvable_target", "cannot resolve 'x.test': no address found", None).sentence(),
            "Cannot resolve 'x.test': no address found. Check the host name's spelling."
        );
        assert_eq!(
            failure("invalid_target", "'a;b' is not a hostname or IP address", None).sentence(),
            "'a;b' is not a hostname or IP address: type a host name such as example.com, or an IP address."
        );
        assert_eq!(
            failure("busy", "8 traces are already running; try again in a few seconds", None).sentence(),
            "The server is busy: 8 traces are already running; try again in a few seconds."
        );
        assert_eq!(
            failure("invalid_field", "max_hops: must be between 1 and 64", None).sentence(),
            "Options → Max hops: must be between 1 and 64."
        );
        let offline =
            StartFailure { code: None, message: "Could not reach the tracemap server (x).".into(), retry_after: None };
        assert_eq!(offline.sentence(), "Could not reach the tracemap server (x).");
    }

    #[test]
    fn other_failures_are_described() {
        assert_eq!(error_message(404, "Not Found"), "No such trace on this server.");
        assert_eq!(error_message(502, "<html>"), "The server answered HTTP 502.");
    }
}
