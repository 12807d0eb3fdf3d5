//! Vantage points over a real `nats-server`: the server and the broker in one namespace, agents in others whose
//! routes to one destination differ, everything a real process (`tracemap serve`, `tracemap agent`, `nats-server`
//! with its own users, passwords and per-agent permissions).
//!
//! The page: the From choice lists the agent with its place, and a trace from it shows that agent's route.
//!
//! Topology (TestNet with two routers, and a host hung off each router):
//! `client (serve, nats-server) — r1 — r2 — server (destination)`, agent `a` beside r1, agent `b` beside r2.

mod common;
mod served;
mod webdriver;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::TestNet;
use common::nats::NatsServer;
use serde_json::{Value, json};
use served::{Server, get, in_namespace, post, scratch, wait_done};
use webdriver::{Browser, artifacts_dir, web_dir};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// Users for the broker: the server may send jobs and stops to any agent and hear them all; each agent may only
/// speak under its own name, hear only its own jobs and stops, and answer the requests it gets.
fn users() -> String {
    let agent = |name: &str| {
        format!(
            r#"{{user: "{name}", password: "{name}-pw", permissions: {{
                publish: ["tracemap.agent.{name}.>"],
                subscribe: ["tracemap.agent.{name}.jobs", "tracemap.agent.{name}.stop"],
                allow_responses: true }} }}"#
        )
    };
    format!(
        r#"authorization {{ users = [
            {{user: "server", password: "server-pw", permissions: {{
                publish: ["tracemap.agent.*.jobs", "tracemap.agent.*.stop"],
                subscribe: ["tracemap.agent.>", "_INBOX.>"] }} }},
            {}, {}, {}
        ] }}"#,
        agent("a"),
        agent("b"),
        agent("c")
    )
}

/// A running `tracemap agent`, killed on drop.
struct Agent {
    child: Child,
}

impl Agent {
    fn start(net: &TestNet, ns: &str, name: &str, nats: &str, log: &std::path::Path, extra: &[&str]) -> Agent {
        let log = std::fs::File::create(log.join(format!("agent-{name}.log"))).expect("agent log");
        let child = net
            .exec(ns)
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .args(["agent", "--nats", nats, "--name", name])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("agent starts");
        Agent { child }
    }

    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /api/agents` until `name`'s `online` is `online`; the list.
fn wait_agent(base: &str, name: &str, online: bool, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, list) = get(base, "/api/agents");
        assert_eq!(status, 200, "{list}");
        let entry = list["agents"].as_array().into_iter().flatten().find(|a| a["name"] == name).cloned();
        if entry.as_ref().is_some_and(|a| a["online"] == online) {
            return list;
        }
        assert!(Instant::now() < deadline, "agent {name} never became online={online}: {list}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The answering address of each hop.
fn addresses(trace: &Value) -> Vec<String> {
    trace["hops"].as_array().into_iter().flatten().map(|h| h["address"].as_str().unwrap_or("*").to_owned()).collect()
}

#[test]
#[ignore = "needs root, network namespaces and nats-server; run by the README's test command"]
fn agents_trace_their_own_routes_and_a_killed_agent_fails_its_trace() {
    let mut net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let (ns_a, _) = net.add_host(0).expect("host beside r1");
    let (ns_b, _) = net.add_host(1).expect("host beside r2");
    let silent = net.add_silent_address();
    let broker = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4222);
    let mut nats = NatsServer::start(&net.client, broker, &users()).expect("nats-server");
    let dir = scratch("agents");
    let url = |user: &str, password: &str| format!("nats://{user}:{password}@{broker}");
    let server = Server::start_on(
        net.exec(&net.client),
        &net.client,
        "10.0.0.1:18120",
        &dir.join("t.sqlite"),
        &["--nats", &url("server", "server-pw")],
    );
    let base = server.base.clone();
    let a = Agent::start(
        &net,
        &ns_a,
        "a",
        &url("a", "a-pw"),
        &dir,
        &["--allow-private", "--location=-33.87,151.21,Sydney"],
    );
    let b = Agent::start(
        &net,
        &ns_b,
        "b",
        &url("b", "b-pw"),
        &dir,
        &["--allow-private", "--location", "51.5,-0.12,London"],
    );
    // Agent c has no --allow-private: the test network's addresses are private, so it must refuse them itself.
    let c = Agent::start(&net, &net.client, "c", &url("c", "c-pw"), &dir, &[]);

    // A wrong password: refused by the broker, a non-zero exit and a one-line reason without the secret.
    let wrong = net
        .exec(&ns_a)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["agent", "--nats", &url("a", "not-the-password"), "--name", "a", "--keep-privileges"])
        .env("RUST_LOG", "off")
        .output()
        .expect("run an agent with a wrong password");
    let stderr = String::from_utf8_lossy(&wrong.stderr).into_owned();
    assert!(!wrong.status.success(), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("tracemap: cannot connect to NATS at nats://10.0.0.1:4222"), "{stderr}");
    assert!(stderr.contains("authorization violation"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");

    let destination = net.destination.to_string();
    let (base2, silent_target) = (base.clone(), silent.to_string());
    let (from_a, from_b, refused, agents, health) = in_namespace(&net.client, move || {
        let base = base2;
        for name in ["a", "b", "c"] {
            wait_agent(&base, name, true, Duration::from_secs(15));
        }
        let (_, agents) = get(&base, "/api/agents");
        let body = json!({"target": destination, "from": ["a", "b"], "tries": 1, "dns": false});
        let (status, created, _) = post(&base, body);
        assert_eq!(status, 201, "{created}");
        let traces = created["traces"].as_array().expect("one trace per vantage point").clone();
        assert_eq!(traces.iter().map(|t| t["from"].clone()).collect::<Vec<_>>(), [json!("a"), json!("b")]);
        assert_eq!(created["id"], traces[0]["id"]);
        let from_a = wait_done(&base, traces[0]["id"].as_str().expect("id"));
        let from_b = wait_done(&base, traces[1]["id"].as_str().expect("id"));
        let refused = post(&base, json!({"target": destination, "from": "c"}));
        // A remote trace stops like a local one.
        let (status, created, _) = post(&base, json!({"target": silent_target, "from": "b", "timeout_ms": 5000}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        std::thread::sleep(Duration::from_millis(500));
        let token = created["delete_token"].as_str().expect("delete token");
        let res = served::agent()
            .delete(&format!("{base}/api/traces/{id}/run"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("DELETE");
        assert_eq!(res.status().as_u16(), 204);
        assert_eq!(get(&base, &format!("/api/traces/{id}")).1["status"], "stopped");
        let (_, health) = get(&base, "/healthz");
        (from_a, from_b, refused, agents, health)
    });
    eprintln!("agents: {agents}\nfrom a: {from_a}\nfrom b: {from_b}");
    let sydney = agents["agents"].as_array().expect("agents").iter().find(|x| x["name"] == "a").expect("a").clone();
    assert_eq!(
        (sydney["location"]["city"].clone(), sydney["version"].clone()),
        (json!("Sydney"), json!(env!("CARGO_PKG_VERSION")))
    );
    assert_eq!((from_a["status"].clone(), from_a["from"].clone()), (json!("finished"), json!("a")));
    assert_eq!((from_b["status"].clone(), from_b["from"].clone()), (json!("finished"), json!("b")));
    assert_eq!(addresses(&from_a), ["10.210.0.1", "10.0.1.2", "10.0.2.2"], "a's own route: beside r1, then r2");
    assert_eq!(addresses(&from_b), ["10.210.1.1", "10.0.2.2"], "b's own route: beside r2");
    assert_eq!(from_a["location"]["city"], "Sydney", "each route starts at its agent's place");
    assert_eq!(from_b["location"]["city"], "London");
    let (status, error, _) = refused;
    assert_eq!((status, error["error"]["code"].clone()), (403, json!("forbidden_target")), "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("agent c does not trace")), "{error}");
    assert_eq!(
        (health["nats"]["state"].clone(), health["nats"]["url"].clone()),
        (json!("connected"), json!("nats://10.0.0.1:4222")),
        "{health}"
    );

    // Agent c leaves cleanly: offline at once. Agent a is killed mid-trace: its trace fails with the reason.
    c.signal(libc::SIGTERM);
    let base2 = base.clone();
    let silent_target = silent.to_string();
    let (cut, took) = in_namespace(&net.client, move || {
        wait_agent(&base2, "c", false, Duration::from_secs(2));
        let (status, created, _) =
            post(&base2, json!({"target": silent_target, "from": "a", "timeout_ms": 5000, "max_hops": 30}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(get(&base2, &format!("/api/traces/{id}")).1["status"], "running");
        a.signal(libc::SIGKILL);
        let killed = Instant::now();
        let cut = wait_done(&base2, &id);
        let took = killed.elapsed();
        wait_agent(&base2, "a", false, Duration::from_secs(1));
        (cut, took)
    });
    eprintln!("killed agent's trace after {took:?}: {}", cut["error"]);
    assert_eq!(cut["status"], "failed", "{cut}");
    assert!(cut["error"].as_str().is_some_and(|e| e.contains("agent a") && e.contains("heartbeat")), "{cut}");
    assert!(took < Duration::from_secs(7), "the heartbeat timeout ends it, not a hang: {took:?}");

    // The broker restarts: the server finds it again, with back-off, and says so in /healthz; b comes back.
    nats.stop();
    let base2 = base.clone();
    let lost = in_namespace(&net.client, move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, health) = get(&base2, "/healthz");
            if health["nats"]["state"] != "connected" {
                return health;
            }
            assert!(Instant::now() < deadline, "the server never noticed the broker was gone: {health}");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    nats.restart().expect("nats-server again");
    let back = in_namespace(&net.client, move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (_, health) = get(&base, "/healthz");
            if health["nats"]["state"] == "connected" {
                // b's heartbeats arrive again over the new connection.
                let before = get(&base, "/api/agents").1;
                std::thread::sleep(Duration::from_millis(1500));
                let after = get(&base, "/api/agents").1;
                let seen = |list: &Value| {
                    list["agents"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|a| a["name"] == "b")
                        .map(|a| a["last_seen_ms"].clone())
                };
                assert_ne!(seen(&before), seen(&after), "b's heartbeat after the broker restarted: {after}");
                return health;
            }
            assert!(Instant::now() < deadline, "the server never found the broker again: {health}");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    assert_eq!(lost["nats"]["state"], "reconnecting", "{lost}");
    assert_eq!(back["nats"]["state"], "connected", "{back}");
    assert!(back["nats"]["disconnects"].as_u64().is_some_and(|n| n >= 1), "{back}");
    drop(b);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for one heartbeat of agent `name` on the broker at `broker`, logged in with `options`: the agent got in.
fn heartbeat_of(ns: &str, broker: SocketAddrV4, options: async_nats::ConnectOptions, name: &str) -> Value {
    let subject = format!("tracemap.agent.{name}.heartbeat");
    in_namespace(ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            use futures::StreamExt;
            let client = options.connect(broker.to_string()).await.expect("the test's own login");
            let mut beats = client.subscribe(subject).await.expect("subscribe");
            let beat = tokio::time::timeout(Duration::from_secs(10), beats.next()).await;
            let beat = beat.expect("a heartbeat within 10 s").expect("a message");
            serde_json::from_slice(&beat.payload).expect("a JSON heartbeat")
        })
    })
}

/// Runs an agent that must be refused; its standard error.
fn refused(net: &TestNet, args: &[&str]) -> String {
    let output = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["agent", "--keep-privileges"])
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run an agent");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
#[ignore = "needs root, network namespaces and nats-server; run by the README's test command"]
fn agents_log_in_with_a_token_in_the_url_or_an_nkey_file_and_a_wrong_token_is_refused() {
    let net = TestNet::new(0, &[]).expect(NEEDS_ROOT);
    let dir = scratch("agent-logins");
    let with_token = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4222);
    let _token_broker =
        NatsServer::start(&net.client, with_token, r#"authorization { token: "tok3n" }"#).expect("nats-server");
    let key = nkeys::KeyPair::new_user();
    let seed = key.seed().expect("seed");
    let with_nkey = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4223);
    let nkey_users = format!(r#"authorization {{ users = [ {{ nkey: "{}" }} ] }}"#, key.public_key());
    let _nkey_broker = NatsServer::start(&net.client, with_nkey, &nkey_users).expect("nats-server");
    let seed_file = dir.join("agent.nk");
    std::fs::write(&seed_file, format!("{seed}\n")).expect("seed file");

    let _t = Agent::start(&net, &net.client, "t", &format!("nats://tok3n@{with_token}"), &dir, &[]);
    let seed_path = seed_file.to_str().expect("utf-8 path");
    let _k = Agent::start(&net, &net.client, "k", &format!("nats://{with_nkey}"), &dir, &["--nats-nkey", seed_path]);
    let beat = heartbeat_of(&net.client, with_token, async_nats::ConnectOptions::with_token("tok3n".into()), "t");
    assert_eq!(beat["name"], "t", "{beat}");
    let beat = heartbeat_of(&net.client, with_nkey, async_nats::ConnectOptions::with_nkey(seed.clone()), "k");
    assert_eq!(beat["name"], "k", "{beat}");

    let wrong = refused(&net, &["--nats", &format!("nats://wrong@{with_token}"), "--name", "t"]);
    assert!(wrong.contains("authorization violation") && !wrong.contains("wrong@"), "{wrong}");
    let none = refused(&net, &["--nats", &format!("nats://{with_nkey}"), "--name", "k"]);
    assert!(none.contains("authorization violation"), "{none}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root, network namespaces, nats-server and Chromium; run by the README's test command"]
fn the_page_traces_from_the_agent_chosen_in_from() {
    common::require_root().expect(NEEDS_ROOT);
    let index = web_dir().join("index.html");
    assert!(index.is_file(), "{} is missing: build the page first (scripts/build-frontend.sh)", index.display());
    let mut net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let (ns_a, _) = net.add_host(0).expect("host beside r1");
    let broker = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4222);
    let _nats = NatsServer::start(&net.client, broker, &users()).expect("nats-server");
    let dir = scratch("agents-page");
    let url = |user: &str, password: &str| format!("nats://{user}:{password}@{broker}");
    let server = Server::start_on(
        net.exec(&net.client),
        &net.client,
        "10.0.0.1:18121",
        &dir.join("t.sqlite"),
        &["--nats", &url("server", "server-pw"), "--location=52.37,4.90,Amsterdam", "--allow-private"],
    );
    let _a = Agent::start(
        &net,
        &ns_a,
        "a",
        &url("a", "a-pw"),
        &dir,
        &["--allow-private", "--location=-33.87,151.21,Sydney"],
    );
    let (base, launcher, shots) = (server.base.clone(), net.exec(&net.client), artifacts_dir());
    let destination = net.destination.to_string();
    let result = in_namespace(&net.client, move || {
        wait_agent(&base, "a", true, Duration::from_secs(15));
        let browser = Browser::start(launcher, 19640, 1280, 800);
        browser.goto(&format!("{base}/"));
        let offered = browser.wait_for(
            "the agent in From",
            Duration::from_secs(20),
            "const o = document.querySelector('#from option[value=\"a\"]'); return o ? o.textContent : ''",
        );
        browser.eval(
            "const s = document.querySelector('#from'); s.value = 'a'; s.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        let status = browser.wait_for(
            "the trace to finish",
            Duration::from_secs(30),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? s.textContent : ''",
        );
        let rows = browser
            .eval("return Array.from(document.querySelectorAll('#hops tbody tr')).map(r => r.textContent)", json!([]));
        browser.screenshot(&shots.join("agents-from-sydney.png"));
        let start = browser.eval(
            "const m = document.querySelector('.origin-marker'); if (!m) return null; const r = m.getBoundingClientRect(); const p = document.querySelector('#map').getBoundingClientRect(); return [r.x - p.x, r.y - p.y, p.width, p.height]",
            json!([]),
        );
        // The route starts at the agent's place (Sydney), in view: not at the server's (Amsterdam), off screen.
        let inside = |i: usize, size: usize| {
            start[i].as_f64().zip(start[size].as_f64()).is_some_and(|(p, s)| (0.0..s).contains(&p))
        };
        assert!(inside(0, 2) && inside(1, 3), "the start marker in view: {start}");
        let from_agent = browser.eval("return location.pathname", json!([]));
        // The same destination from the server itself, then the two routes compared.
        browser.eval(
            "const s = document.querySelector('#from'); s.value = ''; s.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.click("#trace-button");
        let second = format!(
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' && location.pathname !== {from_agent} ? s.textContent : ''"
        );
        browser.wait_for("the server's own trace to finish", Duration::from_secs(30), &second);
        let from_server = browser.eval("return location.pathname", json!([]));
        let id = |path: &Value| path.as_str().and_then(|p| p.strip_prefix("/t/")).unwrap_or_default().to_owned();
        browser.goto(&format!("{base}/compare/{}/{}", id(&from_agent), id(&from_server)));
        let summary = browser.wait_for(
            "the comparison",
            Duration::from_secs(20),
            "const s = document.querySelector('#compare-summary'); return s ? s.textContent : ''",
        );
        let compared = browser.eval(
            "return Array.from(document.querySelectorAll('#compare-table tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))",
            json!([]),
        );
        browser.screenshot(&shots.join("agents-compare.png"));
        json!({"offered": offered, "status": status, "rows": rows, "summary": summary, "compared": compared})
    });
    drop(server);
    eprintln!("{result:#}");
    assert_eq!(result["offered"], "a — Sydney", "the agent is offered with its place");
    assert!(result["status"].as_str().is_some_and(|s| s.contains("from agent a")), "{result}");
    let rows = result["rows"].as_array().expect("rows");
    for (row, hop) in rows.iter().zip(["10.210.0.1", "10.0.1.2", "10.0.2.2"]) {
        assert!(row.as_str().is_some_and(|r| r.contains(hop)), "the agent's own route: {rows:?}");
    }
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        result["summary"], "The two routes share 2 routers; after going apart they meet at 10.0.1.2.",
        "{result}"
    );
    assert_eq!(
        result["compared"],
        json!([
            ["1", "10.210.0.1", "split", "10.0.0.2", "1"],
            ["2", "10.0.1.2", "meet again", "10.0.1.2", "2"],
            ["3", "10.0.2.2", "shared", "10.0.2.2", "3"]
        ])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
