//! The HTTP API driven through `app()` without a socket (`oneshot`), and the live WebSocket over a real
//! listener on port 0. Traces here target loopback only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracemap::enrich::Enricher;
use tracemap::http::{AppState, app, new_trace_id};
use tracemap::store::Store;
use tracemap_shared::{ApiError, TraceCreated, TraceEvent, TraceReport, TraceStatus};

fn web_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemap-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("web dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>tracemap test</title>").expect("index");
    dir
}

fn state() -> AppState {
    AppState::new(Store::in_memory().expect("store"), Arc::new(Enricher::default()), Some(web_dir()))
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let res = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    (status, res.into_body().collect().await.expect("body").to_bytes().to_vec())
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/api/traces").header(header::CONTENT_TYPE, "application/json").body(body.into()).expect("request")
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<ApiError>(body).expect("error body is ApiError JSON").error.code
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let state = state();
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (post_json(r#"{"target":"-n"}"#), StatusCode::BAD_REQUEST, "invalid_target"),
        (post_json(r#"{"target":"a;reboot"}"#), StatusCode::BAD_REQUEST, "invalid_target"),
        (post_json(r#"{"target":""}"#), StatusCode::BAD_REQUEST, "invalid_field"),
        (post_json(r#"{"target":"10.0.0.1","protocol":"gre"}"#), StatusCode::BAD_REQUEST, "invalid_request"),
        (post_json("{not json"), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            post_json(format!(r#"{{"target":"{}"}}"#, "a".repeat(64 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
        (
            Request::post("/api/traces").body(Body::from(r#"{"target":"10.0.0.1"}"#)).expect("request"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (Request::get("/api/traces/doesnotexist").body(Body::empty()).expect("r"), StatusCode::NOT_FOUND, "not_found"),
        (Request::get("/api/nothing").body(Body::empty()).expect("r"), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (req, want_status, want_code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body) = call(&state, req).await;
        assert_eq!(status, want_status, "{what}: {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(&body), want_code, "{what}");
    }
}

#[tokio::test]
async fn page_is_served_at_root_and_permalinks() {
    let state = state();
    for path in ["/", "/t/abcdefghijkmnpqrstuvwxyz"] {
        let (status, body) = call(&state, Request::get(path).body(Body::empty()).expect("r")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(String::from_utf8_lossy(&body).contains("tracemap test"), "{path}");
    }
}

#[test]
fn trace_ids_are_long_random_and_url_safe() {
    let a = new_trace_id();
    let b = new_trace_id();
    assert_eq!(a.len(), 24);
    assert_ne!(a, b);
    assert!(a.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{a}");
}

/// A trace started through the API streams `started` first and one terminal event last, to a viewer that
/// connects after the start; afterwards the stored report agrees with the stream.
#[tokio::test]
async fn live_stream_then_stored_report() {
    let state = state();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, app(state.clone())).into_future());

    let (status, body) = call(&state, post_json(r#"{"target":"127.0.0.1"}"#)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let TraceCreated { id } = serde_json::from_slice(&body).expect("created");

    let url = format!("ws://{addr}/api/traces/{id}/live");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
    let mut events = Vec::new();
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(30), ws.next()).await.expect("stream stalls") {
        match msg.expect("ws message") {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                events.push(serde_json::from_str::<TraceEvent>(&text).expect("event JSON"));
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            _ => {}
        }
    }
    assert!(matches!(events.first(), Some(TraceEvent::Started { .. })), "{events:?}");
    let last = events.last().expect("events");
    assert!(last.is_terminal(), "{events:?}");
    assert_eq!(events.iter().filter(|e| e.is_terminal()).count(), 1);

    // The store is written just before the hub lets go of the trace; poll briefly.
    let mut report = TraceReport::default();
    for _ in 0..50 {
        let (status, body) =
            call(&state, Request::get(format!("/api/traces/{id}")).body(Body::empty()).expect("r")).await;
        assert_eq!(status, StatusCode::OK);
        report = serde_json::from_slice(&body).expect("report");
        if report.status != TraceStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let want = if matches!(last, TraceEvent::Finished { .. }) { TraceStatus::Finished } else { TraceStatus::Failed };
    assert_eq!(report.status, want);
    assert_eq!(report.id.as_deref(), Some(id.as_str()));

    // A viewer arriving after the end gets the same stream from the store.
    let url = format!("ws://{addr}/api/traces/{id}/live");
    let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
    let replay: Vec<_> = ws
        .filter_map(|m| async move {
            match m.ok()? {
                tokio_tungstenite::tungstenite::Message::Text(t) => serde_json::from_str::<TraceEvent>(&t).ok(),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(replay, events);
}
