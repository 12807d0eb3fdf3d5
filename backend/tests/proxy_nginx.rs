//! The deployment of `docs/deploy.md`, for real: Debian's `nginx` in front of `tracemap serve --trusted-proxy
//! 127.0.0.1/32` on loopback, both in one namespace (the router of a test network), and two clients in two other
//! namespaces. Through the proxy each client is remote (refused internal targets, its own rate-limit bucket, no
//! server-wide list), the live WebSocket works, and the Origin check accepts the public origin and no other.
//! Root only (namespaces); nginx comes from `scripts/setup.sh --test`.

mod common;
mod served;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::TestNet;
use futures::StreamExt;
use serde_json::{Value, json};
use served::{Server, agent, in_namespace, scratch};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";
/// Where nginx listens (on every address of the proxy's namespace) and where tracemap listens (loopback only).
const PROXY_PORT: u16 = 18190;
const TRACEMAP_PORT: u16 = 18191;

/// The proxy configuration of docs/deploy.md, in plain HTTP and with every file in `dir`.
fn nginx_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
# The test runs as root and keeps every file in its scratch folder; a deployment leaves nginx's default user.
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen {PROXY_PORT};
        location / {{
            proxy_pass http://127.0.0.1:{TRACEMAP_PORT};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Forwarded "";
            proxy_set_header X-Real-IP "";
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
    }}
}}
"#
    )
}

/// nginx, found where Debian puts it; `None` (after saying so, and failing under CI) when it is not installed.
fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        let message = "NGINX IS NOT INSTALLED: the reverse-proxy test cannot run (scripts/setup.sh --test installs it)";
        eprintln!("\n*** {message} ***\n");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    }
    found
}

/// A running nginx, stopped on drop.
struct Nginx(Child);

impl Nginx {
    fn start(binary: &Path, net: &TestNet, ns: &str, dir: &Path) -> Nginx {
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(dir)).expect("nginx.conf");
        let log = std::fs::File::create(dir.join("nginx.stderr")).expect("log file");
        let child = net
            .exec(ns)
            .arg(binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nginx starts");
        Nginx(child)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `POST /api/traces` with extra headers: status, JSON answer.
fn post(base: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = agent().post(&format!("{base}/api/traces"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut res = request.send_json(body).expect("POST");
    (res.status().as_u16(), res.body_mut().read_json().unwrap_or(Value::Null))
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let mut res = agent().get(&format!("{base}{path}")).call().expect("GET");
    (res.status().as_u16(), res.body_mut().read_json().unwrap_or(Value::Null))
}

/// Opens the live WebSocket of `id` at `base` (an `http://` URL) with `origin`: the handshake status, and the
/// events received until the server closes (none when refused).
fn watch(base: &str, id: &str, origin: &str) -> (u16, Vec<Value>) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{Error, Message};
    let url = format!("{}/api/traces/{id}/live", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("origin", origin.parse().expect("origin"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let (mut ws, response) = match tokio_tungstenite::connect_async(request).await {
            Ok(ok) => ok,
            Err(Error::Http(response)) => return (response.status().as_u16(), Vec::new()),
            Err(other) => panic!("WebSocket to {base}: {other}"),
        };
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, ws.next()).await {
            match message.expect("WebSocket message") {
                Message::Text(text) => events.push(serde_json::from_str(&text).expect("event JSON")),
                Message::Close(_) => break,
                _ => {}
            }
        }
        (response.status().as_u16(), events)
    })
}

fn wait_until_served(ns: &str, url: String) {
    in_namespace(ns, move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if agent().get(&url).call().is_ok_and(|r| r.status().as_u16() == 200) {
                return;
            }
            assert!(Instant::now() < deadline, "nothing answers {url}");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

#[test]
#[ignore = "needs root, network namespaces and nginx; run by the README's test command"]
fn behind_nginx_strangers_are_remote_rate_limited_apart_and_watch_live_from_the_public_origin_only() {
    let Some(nginx) = nginx_binary() else { return };
    // client (10.0.0.1) — proxy host (10.0.0.2 | 10.0.1.1) — second client (10.0.1.2)
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    let proxy_ns = net.routers[0].clone();
    let dir = scratch("proxy-nginx");
    let public = format!("http://10.0.0.2:{PROXY_PORT}");
    let server = Server::start(
        net.exec(&proxy_ns),
        &proxy_ns,
        TRACEMAP_PORT,
        &dir.join("t.sqlite"),
        &["--trusted-proxy", "127.0.0.1/32", "--public-url", &public, "--rate-burst", "1", "--rate-per-minute", "1"],
    );
    let _nginx = Nginx::start(&nginx, &net, &proxy_ns, &dir);
    wait_until_served(&net.client, format!("{public}/healthz"));
    let public_b = format!("http://10.0.1.1:{PROXY_PORT}");
    wait_until_served(&net.server, format!("{public_b}/healthz"));

    // Client A: an internal target is refused (its one start is spent), then A is over its limit, also when it
    // claims to be someone else (nginx appends the real address; the right-most entry counts).
    let internal = json!({"target": "10.0.1.2", "max_hops": 3, "tries": 1});
    let base = public.clone();
    let body = internal.clone();
    let a = in_namespace(&net.client, move || {
        vec![
            post(&base, &body, &[]),
            post(&base, &body, &[("x-forwarded-for", "198.51.100.23")]),
            post(&base, &json!({"target": "127.0.0.1"}), &[("forwarded", "for=127.0.0.1")]),
            get(&base, "/api/traces"),
        ]
    });
    assert_eq!((a[0].0, a[0].1["error"]["code"].as_str()), (403, Some("forbidden_target")), "{a:?}");
    assert!(a[0].1["error"]["message"].as_str().is_some_and(|m| m.contains("private")), "{a:?}");
    assert_eq!((a[1].0, a[1].1["error"]["code"].as_str()), (429, Some("rate_limited")), "{a:?}");
    assert_eq!((a[2].0, a[2].1["error"]["code"].as_str()), (429, Some("rate_limited")), "{a:?}");
    assert_eq!((a[3].0, a[3].1["error"]["code"].as_str()), (403, Some("forbidden")), "no list for strangers: {a:?}");

    // Client B, through the same proxy: its own bucket, so refused for the target, not for A's starts.
    let base_b = public_b.clone();
    let b = in_namespace(&net.server, move || post(&base_b, &json!({"target": "10.0.0.1", "tries": 1}), &[]));
    assert_eq!((b.0, b.1["error"]["code"].as_str()), (403, Some("forbidden_target")), "{b:?}");

    // The operator, on the proxy host straight to tracemap: local, so the lab network may be traced. The target
    // is a silent address on B's link, so the trace is still running when the viewers below connect.
    let silent = Ipv4Addr::new(10, 0, 1, 9);
    let status = net.exec(&net.server).args(["ip", "addr", "add", "10.0.1.9/24", "dev", "west"]).status().expect("ip");
    assert!(status.success(), "adding the silent address");
    net.firewall(&net.server, &["iptables", "-A", "INPUT", "-d", "10.0.1.9", "-p", "icmp", "-j", "DROP"])
        .expect("drop ICMP to the silent address");
    let direct = server.base.clone();
    let (status, created) = in_namespace(&proxy_ns, move || {
        post(&direct, &json!({"target": silent.to_string(), "max_hops": 2, "tries": 1, "timeout_ms": 3000}), &[])
    });
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["delete_token"].as_str().expect("delete token").to_owned();

    // A watches live through nginx from the public origin; an evil page's origin is refused; B's page, served by
    // the proxy under the name B used (X-Forwarded-Host), is accepted.
    let (base, watched) = (public.clone(), id.clone());
    let (live, evil) = in_namespace(&net.client, move || {
        let evil = watch(&base, &watched, "http://evil.example");
        (watch(&base, &watched, &base), evil)
    });
    assert_eq!(evil, (403, Vec::new()), "a foreign origin may not watch");
    assert_eq!(live.0, 101, "the public origin may");
    let types: Vec<&str> = live.1.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"started"), "{types:?}");
    assert!(types.contains(&"probe"), "{types:?}");
    assert_eq!(types.last(), Some(&"finished"), "{types:?}");
    let (base_b, watched) = (public_b.clone(), id.clone());
    let replay = in_namespace(&net.server, move || watch(&base_b, &watched, &base_b));
    assert_eq!(replay.0, 101);
    assert_eq!(replay.1, live.1, "a late viewer through the proxy gets the same events from the store");

    // Anyone with the link reads the trace; only the delete token removes it, through the proxy too.
    let (base, path) = (public.clone(), format!("/api/traces/{id}"));
    let outcome = in_namespace(&net.client, move || {
        let read = get(&base, &path).0;
        let delete = |token: &str| {
            agent()
                .delete(&format!("{base}{path}"))
                .header("authorization", &format!("Bearer {token}"))
                .call()
                .expect("DELETE")
                .status()
                .as_u16()
        };
        let wrong = delete("not-the-token");
        let right = delete(&token);
        (read, wrong, right, get(&base, &path).0)
    });
    assert_eq!(outcome, (200, 403, 204, 404));

    let access = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    assert!(access.contains("/api/traces"), "the requests went through nginx:\n{access}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
