//! The HTTP API driven through `app()` without a socket (`oneshot`), and the live WebSocket over a real
//! listener on port 0. Traces here target loopback only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use tracemap::enrich::Enricher;
use tracemap::http::assets::Page;
use tracemap::http::policy::TargetPolicy;
use tracemap::http::server;
use tracemap::http::{AppState, ServiceConfig, app, new_trace_id};
use tracemap::store::Store;
use tracemap_shared::{ApiError, TraceCreated, TraceEvent, TraceReport, TraceStatus};

fn web_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemap-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("web dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>tracemap test</title>").expect("index");
    dir
}

fn state() -> AppState {
    AppState::new(
        Store::in_memory().expect("store"),
        Arc::new(Enricher::default()),
        Page::load(&web_dir()).expect("page"),
    )
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

/// A server listening publicly: internal targets are refused. The burst is large so every request below reaches
/// the check it is meant to hit instead of the rate limit.
fn public_state() -> AppState {
    let config = ServiceConfig {
        policy: TargetPolicy { restrict: true, own: vec!["192.0.2.10".parse().expect("ip")] },
        rate_burst: 1000,
        ..ServiceConfig::default()
    };
    AppState::with_config(
        Store::in_memory().expect("store"),
        Arc::new(Enricher::default()),
        Page::load(&web_dir()).expect("page"),
        config,
    )
}

/// Hostile and malformed requests: each gets a 4xx with a JSON error (where there is a body to send), no trace is
/// started, and the server keeps serving. No target here may be traceable: every one is malformed or internal.
#[tokio::test]
async fn hostile_inputs_get_clear_errors_and_change_nothing() {
    let state = public_state();
    let long_label = "a".repeat(64);
    let long_name = format!("{}com", "abcdefghi.".repeat(26));
    assert!(long_name.len() > 253);
    let huge = "x".repeat(5_000);
    let targets: Vec<(&str, &str)> = vec![
        ("-n", "invalid_target"),
        ("--help", "invalid_target"),
        ("-oProxyCommand=id", "invalid_target"),
        ("a;reboot", "invalid_target"),
        ("$(id)", "invalid_target"),
        ("`id`", "invalid_target"),
        ("a|b", "invalid_target"),
        ("a&&b", "invalid_target"),
        ("a>b", "invalid_target"),
        ("a\nb", "invalid_target"),
        ("a b", "invalid_target"),
        ("'", "invalid_target"),
        ("\"", "invalid_target"),
        ("\\\\server\\share", "invalid_target"),
        ("\u{0}", "invalid_target"),
        ("\u{202e}example.com", "invalid_target"),
        ("ex_ample.com", "invalid_target"),
        ("münchen.de", "invalid_target"),
        ("..", "invalid_target"),
        (".", "invalid_target"),
        ("a..b", "invalid_target"),
        ("-a.com", "invalid_target"),
        (&long_label, "invalid_target"),
        (&long_name, "invalid_target"),
        (&huge, "invalid_target"),
        ("1.2.3", "invalid_target"),
        ("256.1.1.1", "invalid_target"),
        ("1.2.3.4.5", "invalid_target"),
        ("1.2.3.4/24", "invalid_target"),
        ("[::1]", "invalid_target"),
        ("::g", "invalid_target"),
        ("http://example.com/", "invalid_target"),
        ("127.0.0.1", "forbidden_target"),
        ("localhost", "forbidden_target"),
        ("10.0.0.1", "forbidden_target"),
        ("192.168.8.3", "forbidden_target"),
        ("172.16.0.3", "forbidden_target"),
        ("169.254.169.254", "forbidden_target"),
        ("100.64.1.1", "forbidden_target"),
        ("0.0.0.0", "forbidden_target"),
        ("224.0.0.1", "forbidden_target"),
        ("255.255.255.255", "forbidden_target"),
        ("::1", "forbidden_target"),
        ("::", "forbidden_target"),
        ("fe80::1", "forbidden_target"),
        ("fd00::1", "forbidden_target"),
        ("ff02::1", "forbidden_target"),
        ("::ffff:127.0.0.1", "forbidden_target"),
        ("::ffff:10.1.1.1", "forbidden_target"),
        ("64:ff9b::7f00:1", "forbidden_target"),
        ("2002:7f00:1::1", "forbidden_target"),
        ("192.0.2.10", "forbidden_target"),
    ];
    let mut cases: Vec<(Request<Body>, StatusCode, Option<&str>)> = targets
        .iter()
        .map(|(target, code)| {
            let body = json!({ "target": target }).to_string();
            let status = if *code == "forbidden_target" { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            (post_json(body), status, Some(*code))
        })
        .collect();
    let bad_bodies = [
        "{",
        "[]",
        "null",
        "\"10.0.0.1\"",
        "{}",
        r#"{"target":1}"#,
        r#"{"target":null}"#,
        r#"{"target":"192.0.2.1","target":"192.0.2.2"}"#,
        r#"{"target":"192.0.2.1","max_hops":"5"}"#,
        r#"{"target":"192.0.2.1","max_hops":-1}"#,
        r#"{"target":"192.0.2.1","max_hops":1e9}"#,
        r#"{"target":"192.0.2.1","max_hops":300}"#,
        r#"{"target":"192.0.2.1","port":70000}"#,
        r#"{"target":"192.0.2.1","protocol":"ICMP"}"#,
        r#"{"target":"192.0.2.1","protocol":1}"#,
        r#"{"target":"192.0.2.1","family":"ipv5"}"#,
        r#"{"target":"192.0.2.1","dns":"yes"}"#,
        r#"{"target":"192.0.2.1","maxhops":5}"#,
        r#"{"target":"192.0.2.1","__proto__":{}}"#,
    ];
    for body in bad_bodies {
        cases.push((post_json(body), StatusCode::BAD_REQUEST, Some("invalid_request")));
    }
    let bad_fields = [
        r#"{"target":"192.0.2.1","max_hops":0}"#,
        r#"{"target":"192.0.2.1","max_hops":65}"#,
        r#"{"target":"192.0.2.1","tries":0}"#,
        r#"{"target":"192.0.2.1","tries":11}"#,
        r#"{"target":"192.0.2.1","timeout_ms":1}"#,
        r#"{"target":"192.0.2.1","timeout_ms":100000}"#,
        r#"{"target":"192.0.2.1","first_ttl":0}"#,
        r#"{"target":"192.0.2.1","port":80}"#,
        r#"{"target":"192.0.2.1","protocol":"tcp","port":0}"#,
        r#"{"target":"192.0.2.1","family":"ipv6"}"#,
    ];
    for body in bad_fields {
        cases.push((post_json(body), StatusCode::BAD_REQUEST, Some("invalid_field")));
    }
    for query in ["limit=0", "limit=100000", "limit=x", "limit=-1", "offset=3"] {
        let req = Request::get(format!("/api/traces?{query}")).body(Body::empty()).expect("r");
        cases.push((req, StatusCode::BAD_REQUEST, Some("invalid_field")));
    }
    cases.push((
        Request::post("/api/traces").header(header::CONTENT_TYPE, "text/plain").body(Body::from("x")).expect("r"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some("invalid_request"),
    ));
    cases.push((
        post_json(format!(r#"{{"target":"{}"}}"#, "a".repeat(100_000))),
        StatusCode::PAYLOAD_TOO_LARGE,
        Some("invalid_request"),
    ));
    cases.push((Request::put("/api/traces").body(Body::empty()).expect("r"), StatusCode::METHOD_NOT_ALLOWED, None));
    cases.push((
        Request::delete("/api/traces/abc").body(Body::empty()).expect("r"),
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    ));
    for path in ["/api/traces/..%2f..%2fetc%2fpasswd", "/api/traces/%00", "/api/traces/x.csv", "/api/traces/x/live"] {
        cases.push((Request::get(path).body(Body::empty()).expect("r"), StatusCode::NOT_FOUND, Some("not_found")));
    }
    assert!(cases.len() >= 50, "{} cases", cases.len());

    for (req, want_status, want_code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body) = call(&state, req).await;
        assert_eq!(status, want_status, "{what}: {}", String::from_utf8_lossy(&body));
        if let Some(code) = want_code {
            assert_eq!(error_code(&body), code, "{what}");
        }
    }
    assert!(state.hub.is_empty(), "no trace was started");
    let (status, body) = call(&state, Request::get("/api/traces").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).expect("list")["traces"], json!([]));
    let (status, _) = call(&state, Request::get("/healthz").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK, "still serving");
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

#[tokio::test]
async fn config_tells_the_page_about_the_server() {
    let (status, body) = call(&state(), Request::get("/api/config").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
    let info: tracemap_shared::ServerInfo = serde_json::from_slice(&body).expect("ServerInfo");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert!(info.tiles.is_none() && info.location.is_none() && info.geoip.is_empty());
}

#[tokio::test]
async fn config_lists_the_data_sets_with_versions_and_ages() {
    let source = tracemap_shared::DataSource {
        name: "geoip".into(),
        dir: "/usr/share/tracemap/geoip".into(),
        version: Some("2.3.2026060513".into()),
        age_days: Some(177),
        stale: true,
    };
    let config = ServiceConfig { data: vec![source.clone()], ..ServiceConfig::default() };
    let state = AppState::with_config(
        Store::in_memory().expect("store"),
        Arc::new(Enricher::default()),
        Page::load(&web_dir()).expect("page"),
        config,
    );
    let (status, body) = call(&state, Request::get("/api/config").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["data"][0]["age_days"], 177, "{json}");
    let info: tracemap_shared::ServerInfo = serde_json::from_value(json).expect("ServerInfo");
    assert_eq!(info.data, [source]);
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
    tokio::spawn(server::serve(listener, app(state.clone()), std::future::pending(), Duration::ZERO));

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

async fn listen(state: &AppState) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, app(state.clone()), std::future::pending(), Duration::ZERO));
    addr
}

fn ws_request(
    addr: std::net::SocketAddr,
    id: &str,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/api/traces/{id}/live").into_client_request().expect("request");
    if let Some(origin) = origin {
        req.headers_mut().insert("origin", origin.parse().expect("header"));
    }
    req
}

#[tokio::test]
async fn websocket_checks_origin_and_drops_oversized_messages() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::{Error, Message};
    let state = state();
    let addr = listen(&state).await;
    let _live = state.hub.insert("livetrace", TraceReport::default());

    for evil in ["http://evil.example", "null", &format!("http://{addr}.evil.example"), "https://127.0.0.1:1"] {
        match tokio_tungstenite::connect_async(ws_request(addr, "livetrace", Some(evil))).await {
            Err(Error::Http(res)) => assert_eq!(res.status(), StatusCode::FORBIDDEN, "{evil}"),
            other => panic!("{evil}: expected 403, got {:?}", other.map(|_| ())),
        }
    }
    let own = format!("http://{addr}");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_request(addr, "livetrace", Some(&own))).await.expect("same origin");
    ws.send(Message::Text("hello".into())).await.expect("small message");
    assert!(tokio::time::timeout(Duration::from_millis(300), ws.next()).await.is_err(), "still open, nothing sent");
    let _ = ws.send(Message::Text("x".repeat(64 * 1024).into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "an oversized message ends the connection");
    let (status, _) = call(&state, Request::get("/healthz").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_viewer_that_never_reads_does_not_hold_up_the_others() {
    let state = state();
    let addr = listen(&state).await;
    let live = state.hub.insert("busy", TraceReport::default());
    let (_stalled, _) = tokio_tungstenite::connect_async(ws_request(addr, "busy", None)).await.expect("stalled viewer");
    let (mut reader, _) = tokio_tungstenite::connect_async(ws_request(addr, "busy", None)).await.expect("reader");
    // Give both upgrades time to subscribe before publishing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..2000u32 {
        live.publish(TraceEvent::Probe { ttl: (i % 250) as u8 + 1, index: 0, reply: None, rate_limited: false });
    }
    live.publish(TraceEvent::Finished { destination_reached: false, duration_ms: 1 });
    let mut received = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(msg)) = reader.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
                received += 1;
                if serde_json::from_str::<TraceEvent>(&text).expect("event").is_terminal() {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(outcome, Ok(true), "the reading viewer got to the end");
    assert_eq!(received, 2001);
}

/// A server on port 0 with the given idle timeout and connection cap; its address.
async fn listening(idle: Duration, max_connections: usize) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = app(state());
    tokio::spawn(server::serve_with(listener, app, std::future::pending(), Duration::ZERO, idle, max_connections));
    addr
}

/// Reads until the peer closes; what it sent and how long that took. Fails after `limit`.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, Duration) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "still open after {limit:?}; got {:?}", String::from_utf8_lossy(&received));
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let idle = Duration::from_millis(300);
    let addr = listening(idle, 16).await;

    // Connected, never a byte.
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (got, after) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(after >= idle - Duration::from_millis(50), "closed after {after:?}, before the timeout");
    assert!(!got.contains("200 OK"), "{got}");

    // Slow loris: half a request head, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let (got, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(!got.contains("200 OK"), "{got}");

    // Keep-alive: one request answered, then the idle connection is closed.
    let mut kept = tokio::net::TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let (got, after) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    assert!(after >= idle - Duration::from_millis(50), "kept alive for {after:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    use tokio::io::AsyncWriteExt;
    let addr = listening(Duration::from_secs(30), 1).await;
    let first = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = tokio::net::TcpStream::connect(addr).await.expect("the kernel still queues it");
    second.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
    let mut buffer = [0u8; 64];
    let early =
        tokio::time::timeout(Duration::from_millis(300), tokio::io::AsyncReadExt::read(&mut second, &mut buffer));
    assert!(early.await.is_err(), "served while the only slot was taken");
    drop(first);
    let (got, _) = read_until_closed(&mut second, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
}
