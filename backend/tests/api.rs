//! The HTTP API driven through `app()` without a socket (`oneshot`), and the live WebSocket over a real
//! listener on port 0. Traces here target loopback only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
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

/// A request from this machine (a loopback peer), as the server's own users send.
async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    call_from(state, "127.0.0.1:40000", req).await
}

/// A request whose TCP peer is `peer`.
async fn call_from(state: &AppState, peer: &str, mut req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let peer: std::net::SocketAddr = peer.parse().expect("peer address");
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    (status, res.into_body().collect().await.expect("body").to_bytes().to_vec())
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/api/traces").header(header::CONTENT_TYPE, "application/json").body(body.into()).expect("request")
}

/// A client somewhere on the internet.
const REMOTE: &str = "203.0.113.50:51000";

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

/// A server whose own address is 192.0.2.10; the burst is large so every request below reaches the check it is
/// meant to hit instead of the rate limit.
fn public_state() -> AppState {
    let config = ServiceConfig {
        policy: TargetPolicy { allow_private: false, own: vec!["192.0.2.10".parse().expect("ip")] },
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

/// Hostile and malformed requests from a remote client: each gets a 4xx with a JSON error (where there is a body to
/// send), no trace is started, and the server keeps serving. No target here may be traceable: every one is
/// malformed or internal.
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
        cases.push((req, StatusCode::FORBIDDEN, Some("forbidden")));
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
        StatusCode::UNAUTHORIZED,
        Some("unauthorized"),
    ));
    for path in ["/api/traces/..%2f..%2fetc%2fpasswd", "/api/traces/%00", "/api/traces/x.csv", "/api/traces/x/live"] {
        cases.push((Request::get(path).body(Body::empty()).expect("r"), StatusCode::NOT_FOUND, Some("not_found")));
    }
    assert!(cases.len() >= 50, "{} cases", cases.len());

    for (req, want_status, want_code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body) = call_from(&state, REMOTE, req).await;
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
    let TraceCreated { id, .. } = serde_json::from_slice(&body).expect("created");

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

/// How long the server waits for a viewer to take a frame before it cuts the viewer off (`SEND_TIMEOUT` in
/// `http/ws.rs`).
const VIEWER_SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_viewer_that_never_reads_does_not_hold_up_the_others() {
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let state = state();
    let addr = listen(&state).await;
    let live = state.hub.insert("busy", TraceReport::default());
    // The stalled viewer's receive buffer is tiny (which also stops the kernel growing it), so the server's send
    // buffer (at most tcp_wmem's 4 MiB) is all that stands between the trace and a send that cannot go on.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut stalled, _) =
        tokio_tungstenite::client_async(ws_request(addr, "busy", None), stream).await.expect("stalled viewer");
    let (mut reader, _) = tokio_tungstenite::connect_async(ws_request(addr, "busy", None)).await.expect("reader");
    // Give both upgrades time to subscribe before publishing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // About 10 MiB of events: far more than both socket buffers of the stalled viewer hold.
    let events = 24_000u32;
    let name = "r".repeat(250);
    for i in 0..events {
        live.publish(TraceEvent::HopInfo {
            ttl: (i % 250) as u8 + 1,
            address: format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            hostname: Some(format!("{name}{i}")),
            geo: None,
            asn: None,
            kind: Some("private".into()),
        });
    }
    live.publish(TraceEvent::Finished { destination_reached: false, duration_ms: 1 });
    let mut received = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(msg)) = reader.next().await {
            if let WsMessage::Text(text) = msg {
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
    assert_eq!(received, events + 1);

    // The stalled viewer could not take a frame for longer than the server waits: it was cut off. What it reads
    // now is what the buffers held, then the end of the stream, never the terminal event.
    tokio::time::sleep(VIEWER_SEND_TIMEOUT + Duration::from_secs(2)).await;
    let mut stalled_received = 0u32;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stalled.next().await {
                Some(Ok(WsMessage::Text(text))) => {
                    let event: TraceEvent = serde_json::from_str(&text).expect("event");
                    assert!(!event.is_terminal(), "a cut-off viewer never sees the end: it was not cut off");
                    stalled_received += 1;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stalled viewer's stream ended");
    assert!(stalled_received < events, "the stalled viewer got {stalled_received} of {events} events");
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

/// A server behind a reverse proxy on 127.0.0.1 (`--trusted-proxy 127.0.0.1/32`), one trace start per client.
fn proxied_state(admin_token: Option<&str>) -> AppState {
    let config = ServiceConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("prefix")],
        admin_token: admin_token.map(str::to_owned),
        rate_burst: 1,
        rate_per_minute: 1,
        ..ServiceConfig::default()
    };
    AppState::with_config(
        Store::in_memory().expect("store"),
        Arc::new(Enricher::default()),
        Page::load(&web_dir()).expect("page"),
        config,
    )
}

fn post_with(body: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = post_json(body.to_owned());
    for (name, value) in headers {
        req.headers_mut()
            .append(axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"), value.parse().expect("value"));
    }
    req
}

/// Through a trusted proxy on loopback, a client is remote: refused internal targets, with its own bucket; the
/// same proxy's own direct request (no forwarding header) is local and may trace loopback; an untrusted peer's
/// forwarding headers change nothing.
#[tokio::test]
async fn behind_a_proxy_each_client_is_remote_and_counted_on_its_own() {
    let state = proxied_state(None);
    let loopback = r#"{"target":"127.0.0.1","max_hops":2,"timeout_ms":100,"tries":1}"#;
    let proxy = "127.0.0.1:50000";
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        // Client A, through the proxy: refused, then over its limit of one start.
        (proxy, vec![("x-forwarded-for", "203.0.113.1")], StatusCode::FORBIDDEN, "forbidden_target"),
        (proxy, vec![("x-forwarded-for", "127.0.0.1, 203.0.113.1")], StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        // Client B has its own bucket, whichever header names it.
        (
            proxy,
            vec![("forwarded", r#"for="[2001:db8:b::1]:4711";proto=https"#)],
            StatusCode::FORBIDDEN,
            "forbidden_target",
        ),
        (
            proxy,
            vec![("forwarded", "for=192.0.2.7"), ("x-forwarded-for", "203.0.113.2")],
            StatusCode::FORBIDDEN,
            "forbidden_target",
        ),
        // X-Real-IP alone names nobody, but still says someone else is asking: not local.
        ("127.0.0.2:1", vec![("x-real-ip", "127.0.0.1")], StatusCode::FORBIDDEN, "forbidden_target"),
        // An untrusted peer: its own address is the client, whatever it claims.
        ("198.51.100.9:1", vec![("x-forwarded-for", "127.0.0.1")], StatusCode::FORBIDDEN, "forbidden_target"),
        ("198.51.100.9:2", vec![("x-forwarded-for", "203.0.113.77")], StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
    ];
    for (peer, headers, want_status, want_code) in cases {
        let (status, body) = call_from(&state, peer, post_with(loopback, &headers)).await;
        assert_eq!(status, want_status, "{peer} {headers:?}: {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(&body), want_code, "{peer} {headers:?}");
    }
    let (status, body) = call_from(&state, proxy, post_with(loopback, &[("x-forwarded-for", "203.0.113.3")])).await;
    let message = serde_json::from_slice::<ApiError>(&body).expect("error").error.message;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("127.0.0.1") && message.contains("loopback"), "{message}");
    // This machine's own user, straight to the server: local, so loopback may be traced.
    let (status, body) = call_from(&state, proxy, post_json(loopback)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
}

/// The server-wide list answers this machine and the admin token only; a page's own list lives in the browser.
#[tokio::test]
async fn only_the_operator_may_list_every_trace() {
    let state = proxied_state(Some("operator-secret"));
    let list = |auth: Option<&str>| {
        let mut req = Request::get("/api/traces?limit=5");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        req.body(Body::empty()).expect("r")
    };
    let forwarded = |mut req: Request<Body>| {
        req.headers_mut().insert("x-forwarded-for", "203.0.113.1".parse().expect("v"));
        req
    };
    for (peer, req, want) in [
        (REMOTE, list(None), StatusCode::FORBIDDEN),
        (REMOTE, list(Some("Bearer wrong")), StatusCode::FORBIDDEN),
        (REMOTE, list(Some("Basic operator-secret")), StatusCode::FORBIDDEN),
        ("127.0.0.1:1", forwarded(list(None)), StatusCode::FORBIDDEN),
        (REMOTE, list(Some("Bearer operator-secret")), StatusCode::OK),
        ("127.0.0.1:1", forwarded(list(Some("Bearer operator-secret"))), StatusCode::OK),
        ("127.0.0.1:1", list(None), StatusCode::OK),
        ("[::1]:1", list(None), StatusCode::OK),
    ] {
        let what = format!("{peer} {:?}", req.headers());
        let (status, body) = call_from(&state, peer, req).await;
        assert_eq!(status, want, "{what}: {}", String::from_utf8_lossy(&body));
        if status == StatusCode::FORBIDDEN {
            assert_eq!(error_code(&body), "forbidden", "{what}");
        }
    }
    // A local client still gets its query checked.
    let (status, body) = call(&state, Request::get("/api/traces?limit=0").body(Body::empty()).expect("r")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_field".to_owned()));
    // Without --admin-token no bearer token lists anything.
    let open = proxied_state(None);
    let (status, _) = call_from(&open, REMOTE, list(Some("Bearer "))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn wait_stored(state: &AppState, id: &str) {
    for _ in 0..100 {
        if state.hub.get(id).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("trace {id} still running");
}

fn delete(id: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::delete(format!("/api/traces/{id}"));
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    req.body(Body::empty()).expect("r")
}

/// The creator's delete token removes a trace for good; nobody else's token does; a running trace is refused.
#[tokio::test]
async fn a_delete_token_removes_its_trace_for_good() {
    let state = proxied_state(Some("operator-secret"));
    let body = r#"{"target":"127.0.0.1","max_hops":2,"timeout_ms":100,"tries":1}"#;
    let (status, body) = call(&state, post_json(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let TraceCreated { id, delete_token, .. } = serde_json::from_slice(&body).expect("created");
    let token = delete_token.expect("a delete token for the creator");
    assert!(token.len() >= 32, "{token}");
    // Only a hash is stored, never the token.
    let stored = state.store.deletable(&id).await.expect("read").expect("row");
    assert!(stored.delete_hash.is_some_and(|hash| hash != token.as_bytes()));
    // (A running trace's refusal is checked below with one that cannot end meanwhile.)
    wait_stored(&state, &id).await;
    for (token, want, code) in [
        (None, StatusCode::UNAUTHORIZED, "unauthorized"),
        (Some("0000"), StatusCode::FORBIDDEN, "forbidden"),
        (Some(&token[1..]), StatusCode::FORBIDDEN, "forbidden"),
    ] {
        let (status, body) = call_from(&state, REMOTE, delete(&id, token)).await;
        assert_eq!((status, error_code(&body)), (want, code.to_owned()), "{token:?}");
    }
    let (status, _) =
        call_from(&state, REMOTE, Request::get(format!("/api/traces/{id}")).body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::OK, "still there after refused deletes");
    let (status, body) = call_from(&state, REMOTE, delete(&id, Some(&token))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&body));
    for path in [format!("/api/traces/{id}"), format!("/api/traces/{id}.csv")] {
        let (status, _) = call_from(&state, REMOTE, Request::get(&path).body(Body::empty()).expect("r")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(state.store.get(&id).await.expect("get").is_none(), "report and events are gone");
    let (status, _) = call_from(&state, REMOTE, delete(&id, Some(&token))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A running trace is refused until it has ended, whoever asks.
    let _live = state.hub.insert("busytrace", TraceReport::default());
    state.store.insert("busytrace", 1, &TraceReport::default(), None).await.expect("insert");
    let (status, body) = call_from(&state, REMOTE, delete("busytrace", Some("operator-secret"))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "trace_running".to_owned()));

    // The operator's token deletes any stored trace (older traces have no delete token at all).
    state.store.insert("legacy", 1, &TraceReport::default(), None).await.expect("insert");
    state
        .store
        .finish("legacy", &TraceReport { status: TraceStatus::Finished, ..TraceReport::default() }, &[])
        .await
        .expect("finish");
    let (status, _) = call_from(&state, REMOTE, delete("legacy", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another trace's token");
    let (status, _) = call_from(&state, REMOTE, delete("legacy", Some("operator-secret"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// `--keep-days`: the periodic sweep deletes traces older than the limit and keeps newer ones.
#[tokio::test]
async fn the_expiry_sweep_deletes_old_traces() {
    let store = Store::in_memory().expect("store");
    let finished = TraceReport { status: TraceStatus::Finished, ..TraceReport::default() };
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let day_ms = 86_400_000;
    for (id, created) in
        [("ancient", now_ms - 40 * day_ms), ("lastweek", now_ms - 8 * day_ms), ("today", now_ms - 1000)]
    {
        store.insert(id, created, &finished, None).await.expect("insert");
        store.finish(id, &finished, &[]).await.expect("finish");
    }
    let sweep = tokio::spawn(tracemap::http::expire_traces(
        store.clone(),
        Duration::from_secs(7 * 86_400),
        Duration::from_millis(50),
    ));
    let mut left = Vec::new();
    for _ in 0..100 {
        left = store.list(10).await.expect("list").into_iter().map(|t| t.id).collect::<Vec<_>>();
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, ["today"]);
    // A trace that grows old while the server runs goes at a later sweep.
    store.insert("aging", now_ms - 7 * day_ms - 1, &finished, None).await.expect("insert");
    store.finish("aging", &finished, &[]).await.expect("finish");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.get("aging").await.expect("get").is_none());
    assert!(store.get("today").await.expect("get").is_some());
    sweep.abort();
}

/// `--share-window`: a request identical to a running or just finished trace joins its probe run. Here the client
/// has spent its one start, yet its second, identical request joins (a join sends no probe); it gets its own id,
/// delete token and stored copy, and says when it joined; deleting it leaves the first; a different request is
/// still over the limit.
#[tokio::test]
async fn an_identical_request_joins_the_probe_run_with_its_own_id_and_token() {
    let state = proxied_state(None);
    let body = r#"{"target":"127.0.0.1","max_hops":2,"timeout_ms":100,"tries":1}"#;
    let (status, first) = call(&state, post_json(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    let first: TraceCreated = serde_json::from_slice(&first).expect("created");
    assert_eq!(first.joined_after_ms, None, "the first request probes");
    let (status, second) = call(
        &state,
        post_json(r#"{"target":" 127.0.0.1","max_hops":2,"timeout_ms":100,"tries":1,"family":"ipv4","first_ttl":1}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "joined despite the spent start: {}", String::from_utf8_lossy(&second));
    let second: TraceCreated = serde_json::from_slice(&second).expect("created");
    let after = second.joined_after_ms.expect("the second request joined");
    assert!(after < 10_000, "{after}");
    assert_ne!(first.id, second.id);
    assert_ne!(first.delete_token, second.delete_token);
    if state.hub.get(&second.id).is_some() {
        let token = second.delete_token.as_deref().expect("token");
        let stop = Request::delete(format!("/api/traces/{}/run", second.id))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("r");
        let (status, body) = call(&state, stop).await;
        assert_eq!(status, StatusCode::CONFLICT, "a shared run is not stopped by one viewer");
        assert!(["shared_run", "not_running"].contains(&error_code(&body).as_str()));
    }
    let (status, body) =
        call(&state, post_json(r#"{"target":"127.0.0.1","max_hops":3,"timeout_ms":100,"tries":1}"#)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned()), "not a join");
    wait_stored(&state, &first.id).await;
    wait_stored(&state, &second.id).await;
    let report = |id: String| {
        let state = state.clone();
        async move {
            let (status, body) =
                call(&state, Request::get(format!("/api/traces/{id}")).body(Body::empty()).expect("r")).await;
            (status, serde_json::from_slice::<TraceReport>(&body).ok())
        }
    };
    let (_, a) = report(first.id.clone()).await;
    let (_, b) = report(second.id.clone()).await;
    let (a, b) = (a.expect("first report"), b.expect("second report"));
    assert_eq!(b.id.as_deref(), Some(second.id.as_str()));
    assert_eq!(b.joined_after_ms, Some(after));
    assert_eq!((a.hops.clone(), a.status), (b.hops.clone(), b.status), "the same probe run");
    assert_eq!(b.status, TraceStatus::Finished);
    let stored = state.store.get(&second.id).await.expect("get").expect("a row of its own");
    assert!(!stored.events.is_empty(), "its own copy of the events");

    let (status, _) = call_from(&state, REMOTE, delete(&second.id, first.delete_token.as_deref())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the first trace's token does not delete the joined one");
    let (status, _) = call_from(&state, REMOTE, delete(&second.id, second.delete_token.as_deref())).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(report(second.id.clone()).await.0, StatusCode::NOT_FOUND);
    let (status, a_again) = report(first.id.clone()).await;
    assert_eq!((status, a_again.map(|r| r.hops)), (StatusCode::OK, Some(a.hops)), "the first trace is untouched");
}

/// A permalink unfurls: `/t/{id}` carries the trace's Open Graph and Twitter-card tags, every value escaped, with
/// absolute URLs on the host asked for; `/t/{id}.png` is a 1200 × 630 PNG, kept in the store once drawn. Unknown
/// ids get the plain page, and 404 for the picture.
#[tokio::test]
async fn a_permalink_unfurls_with_escaped_tags_and_a_stored_picture() {
    let state = state();
    let report: TraceReport = serde_json::from_value(json!({
        "target": "example.net",
        "status": "finished",
        "destination_reached": true,
        "hops": [{
            "ttl": 1,
            "probes": [{"from": "192.0.2.1", "rtt_ms": 12.6, "kind": "destination"}],
            "address": "192.0.2.1",
            "geo": {"city": "<img src=x onerror=alert(1)>", "country_code": "AU", "lat": -33.9, "lon": 151.2},
            "asn": {"number": 64500, "org": "\"Evil\" & <Co>"}
        }]
    }))
    .expect("report");
    state.store.insert("unfurled", 1, &report, None).await.expect("insert");
    state.store.finish("unfurled", &report, &[]).await.expect("finish");
    let get = |path: &str| Request::get(path).header(header::HOST, "trace.example.org").body(Body::empty()).expect("r");

    let (status, body) = call(&state, get("/t/unfurled")).await;
    let html = String::from_utf8(body).expect("utf-8");
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<meta property="og:title" content="Route to example.net: 1 hop, reached in 13 ms">"#),
        "{html}"
    );
    assert!(html.contains(r#"<meta property="og:image" content="http://trace.example.org/t/unfurled.png">"#), "{html}");
    assert!(html.contains(r#"<meta name="twitter:card" content="summary_large_image">"#), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && html.contains("&quot;Evil&quot; &amp; &lt;Co&gt;"));
    assert!(!html.contains("<img") && !html.contains("<Co>"), "nothing unescaped: {html}");
    assert!(html.contains("tracemap test") || html.contains("<title>"), "still the page");

    assert!(state.store.preview("unfurled").await.expect("read").is_none(), "drawn only when asked for");
    let (status, png) = call(&state, get("/t/unfurled.png")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((size(16), size(20)), (1200, 630), "IHDR width and height");
    let stored = state.store.preview("unfurled").await.expect("read").expect("kept after the first drawing");
    assert_eq!(stored, png);

    let (status, body) = call(&state, get("/t/nosuchtrace")).await;
    assert_eq!(status, StatusCode::OK, "the page, which says the trace is not found");
    assert!(!String::from_utf8_lossy(&body).contains("og:title"));
    let (status, _) = call(&state, get("/t/nosuchtrace.png")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn classes_open_show_their_qr_code_and_end_only_with_the_teachers_secret() {
    let state = state();
    let (status, body) = call(&state, Request::post("/api/classes").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let created: tracemap_shared::ClassCreated = serde_json::from_slice(&body).expect("ClassCreated");
    let path = format!("/api/classes/{}", created.code);
    let (status, body) = call(&state, Request::get(&path).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    let shown: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(shown["students"], json!(0));
    // Typed in lower case with a dash, as a person might.
    let typed = format!("/api/classes/{}-{}", &created.code[..3].to_lowercase(), &created.code[3..].to_lowercase());
    assert_eq!(call(&state, Request::get(&typed).body(Body::empty()).expect("request")).await.0, StatusCode::OK);
    let qr = Request::get(format!("{path}/qr.svg")).header(header::HOST, "class.example").body(Body::empty());
    let (status, svg) = call(&state, qr.expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    let end = |token: &str| {
        Request::delete(&path).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty())
    };
    let (status, body) = call(&state, end("not-the-secret").expect("request")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "forbidden".to_owned()));
    assert_eq!(call(&state, end(&created.token).expect("request")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = call(&state, Request::get(&path).body(Body::empty()).expect("request")).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "class_not_found".to_owned()));
    let (status, body) = call(&state, Request::get("/api/classes/../x").body(Body::empty()).expect("request")).await;
    assert!(status.is_client_error(), "{status} {}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn opening_classes_counts_against_the_clients_rate_limit() {
    let state = state();
    let open = || Request::post("/api/classes").body(Body::empty()).expect("request");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(call_from(&state, REMOTE, open()).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 5, "the burst: {statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test]
async fn the_offline_copy_of_an_unknown_trace_is_not_found() {
    let state = state();
    let (status, _) = call(&state, Request::get("/api/traces/nope.html").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
