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

/// A throwaway certificate authority and a certificate for the broker at `ip` signed by it, made with `openssl` in
/// `dir`: (CA certificate, server certificate, server key).
fn throwaway_ca(dir: &std::path::Path, ip: Ipv4Addr) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_owned();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let (ca, ca_key, cert, key, csr) =
        (path("ca.pem"), path("ca.key"), path("server.pem"), path("server.key"), path("server.csr"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=tracemap test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=broker",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    let ext = path("san.ext");
    std::fs::write(&ext, format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n")).expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (ca, cert, key)
}

#[test]
#[ignore = "needs root, network namespaces and nats-server; run by the README's test command"]
fn agents_log_in_over_tls_with_a_ca_file_and_cannot_subscribe_to_another_agents_jobs() {
    let net = TestNet::new(0, &[]).expect(NEEDS_ROOT);
    let dir = scratch("agent-tls");
    let ip = Ipv4Addr::new(10, 0, 0, 1);
    let (ca, cert, key) = throwaway_ca(&dir, ip);
    let broker = SocketAddrV4::new(ip, 4224);
    let config = format!("tls {{ cert_file: \"{cert}\", key_file: \"{key}\" }}\n{}", users());
    let nats = NatsServer::start(&net.client, broker, &config).expect("nats-server with TLS");

    // With the CA file the agent gets in over TLS with its user and password; its heartbeats arrive.
    let _a = Agent::start(&net, &net.client, "a", &format!("tls://a:a-pw@{broker}"), &dir, &["--nats-ca", &ca]);
    let tls = |user: &str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), format!("{user}-pw"))
            .add_root_certificates(ca.clone().into())
            .require_tls(true)
    };
    let beat = heartbeat_of(&net.client, broker, tls("server"), "a");
    assert_eq!(beat["name"], "a", "{beat}");

    // Without the CA the broker's certificate is not trusted; with a wrong password the broker refuses: each time
    // the agent exits non-zero with one line.
    let untrusted = refused(&net, &["--nats", &format!("tls://a:a-pw@{broker}"), "--name", "a"]);
    assert!(untrusted.to_lowercase().contains("certificate"), "{untrusted}");
    let wrong = refused(&net, &["--nats", &format!("tls://a:nope@{broker}"), "--name", "a", "--nats-ca", &ca]);
    assert!(wrong.contains("authorization violation") && !wrong.contains("nope"), "{wrong}");

    // Agent b, logged in as itself, may not subscribe to a's jobs: the broker says so, and a job for a sent by the
    // server never reaches b.
    let options = (tls("b"), tls("server"));
    let seen = in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            use futures::StreamExt;
            let (errors_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
            let b = options
                .0
                .event_callback(move |event| {
                    let errors_tx = errors_tx.clone();
                    async move {
                        if let async_nats::Event::ServerError(e) = event {
                            let _ = errors_tx.send(e.to_string());
                        }
                    }
                })
                .connect(broker.to_string())
                .await
                .expect("b logs in");
            let mut stolen = b.subscribe("tracemap.agent.a.jobs").await.expect("the subscribe is sent");
            b.flush().await.expect("flush");
            let server = options.1.connect(broker.to_string()).await.expect("the server logs in");
            server.publish("tracemap.agent.a.jobs", "{}".into()).await.expect("publish");
            server.flush().await.expect("flush");
            let error = tokio::time::timeout(Duration::from_secs(5), errors.recv()).await.ok().flatten();
            let got = tokio::time::timeout(Duration::from_secs(1), stolen.next()).await.ok().flatten();
            (error, got.is_some())
        })
    });
    let (error, received) = seen;
    let error = error.expect("the broker refuses the subscription");
    assert!(error.to_lowercase().contains("permissions violation"), "{error}");
    assert!(!received, "b read a job meant for a");
    assert!(
        nats.log().to_lowercase().contains("subscription violation - user \"b\", subject \"tracemap.agent.a.jobs\""),
        "{}",
        nats.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A NATS JWT (`ed25519-nkey`) for `subject` with `nats` as its NATS claims, signed by `issuer`.
fn nats_jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: Value) -> String {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let claims = json!({
        "jti": format!("{name}-{subject}"),
        "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs(),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let head = format!("{}.{}", b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#), b64(claims.to_string().as_bytes()));
    let signature = issuer.sign(head.as_bytes()).expect("sign");
    format!("{head}.{}", b64(&signature))
}

/// The text of a `.creds` file: a user's JWT and nkey seed.
fn creds_text(jwt: &str, user: &nkeys::KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().expect("seed")
    )
}

/// A broker in decentralised-auth mode (an operator, one account, users by JWT): its configuration block, a
/// `.creds` file for agent `name` (allowed only its own subjects), and the text of a watcher's credentials (may
/// hear every agent).
fn operator_mode(dir: &std::path::Path, name: &str) -> (String, String, String) {
    let (operator, account) = (nkeys::KeyPair::new_operator(), nkeys::KeyPair::new_account());
    let no_limit = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true, "conn": -1, "leaf": -1
    });
    let operator_jwt =
        nats_jwt(&operator, &operator.public_key(), "tracemap-test", json!({"type": "operator", "version": 2}));
    let account_jwt = nats_jwt(
        &operator,
        &account.public_key(),
        "agents",
        json!({"limits": no_limit, "type": "account", "version": 2}),
    );
    let user = |who: &str, publish: Vec<String>, subscribe: Vec<String>| {
        let key = nkeys::KeyPair::new_user();
        let claims = json!({
            "pub": {"allow": publish}, "sub": {"allow": subscribe},
            "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2,
        });
        creds_text(&nats_jwt(&account, &key.public_key(), who, claims), &key)
    };
    let agent = user(
        name,
        vec![format!("tracemap.agent.{name}.>")],
        vec![format!("tracemap.agent.{name}.jobs"), format!("tracemap.agent.{name}.stop")],
    );
    let watcher = user("watcher", Vec::new(), vec!["tracemap.agent.>".to_owned()]);
    let creds = dir.join(format!("{name}.creds"));
    std::fs::write(&creds, agent).expect("creds file");
    let config = format!(
        "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload: {{ {}: \"{account_jwt}\" }}\n",
        account.public_key()
    );
    (config, creds.to_str().expect("utf-8 path").to_owned(), watcher)
}

#[test]
#[ignore = "needs root, network namespaces and nats-server; run by the README's test command"]
fn agents_log_in_with_a_creds_file_and_creds_of_another_operator_are_refused() {
    let net = TestNet::new(0, &[]).expect(NEEDS_ROOT);
    let dir = scratch("agent-creds");
    let (config, creds, watcher) = operator_mode(&dir, "j");
    let broker = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4225);
    let _nats = NatsServer::start(&net.client, broker, &config).expect("nats-server in operator mode");
    let _j = Agent::start(&net, &net.client, "j", &format!("nats://{broker}"), &dir, &["--nats-creds", &creds]);
    let options = async_nats::ConnectOptions::with_credentials(&watcher).expect("the watcher's creds");
    let beat = heartbeat_of(&net.client, broker, options, "j");
    assert_eq!(beat["name"], "j", "{beat}");
    // Creds issued under another operator are refused: a non-zero exit and one line.
    let other = scratch("agent-creds-other");
    let (_, foreign, _) = operator_mode(&other, "j");
    let wrong = refused(&net, &["--nats", &format!("nats://{broker}"), "--name", "j", "--nats-creds", &foreign]);
    assert!(wrong.contains("authorization violation"), "{wrong}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

/// Clicks the From box of `value` (`""`: this server) when its ticked state differs from `on`.
fn tick_from(browser: &Browser, value: &str, on: bool) {
    let script = format!(
        "const b = document.querySelector('#from input[value=\"{value}\"]'); if (b.checked !== {on}) b.click(); return b.checked"
    );
    assert_eq!(browser.eval(&script, json!([])), json!(on), "From {value:?}");
}

/// The answering address of every row of the hop table, once it holds `n` rows and the trace on show has finished.
fn rows_when_finished(browser: &Browser, n: usize, what: &str) -> Value {
    browser.wait_for(
        what,
        Duration::from_secs(30),
        &format!(
            "const s = document.querySelector('#status'); const r = document.querySelectorAll('#hops tbody tr'); \
             return s && s.dataset.state === 'finished' && r.length === {n} ? s.textContent : ''"
        ),
    );
    browser.eval("return Array.from(document.querySelectorAll('#hops tbody tr')).map(r => r.textContent)", json!([]))
}

#[test]
#[ignore = "needs root, network namespaces, nats-server and Chromium; run by the README's test command"]
fn the_page_draws_the_routes_from_two_agents_on_one_map_and_compares_two_picked_traces() {
    common::require_root().expect(NEEDS_ROOT);
    let index = web_dir().join("index.html");
    assert!(index.is_file(), "{} is missing: build the page first (scripts/build-frontend.sh)", index.display());
    let mut net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let (ns_a, _) = net.add_host(0).expect("host beside r1");
    let (ns_b, _) = net.add_host(1).expect("host beside r2");
    let broker = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4222);
    let _nats = NatsServer::start(&net.client, broker, &users()).expect("nats-server");
    let dir = scratch("agents-page");
    // Every router of both routes has a place, so each route is drawn: a from Sydney by Singapore, b from London.
    let feed = dir.join("geofeed.csv");
    std::fs::write(
        &feed,
        "10.210.0.1/32,AU,,Sydney,,-33.9,151.2\n10.0.1.2/32,SG,,Singapore,,1.35,103.82\n\
         10.210.1.1/32,GB,,London,,51.5,-0.12\n10.0.2.2/32,DE,,Frankfurt,,50.11,8.68\n",
    )
    .expect("geofeed");
    let feed = feed.to_str().expect("utf-8 path").to_owned();
    let url = |user: &str, password: &str| format!("nats://{user}:{password}@{broker}");
    let server = Server::start_on(
        net.exec(&net.client),
        &net.client,
        "10.0.0.1:19121",
        &dir.join("t.sqlite"),
        &["--nats", &url("server", "server-pw"), "--location=52.37,4.90,Amsterdam", "--allow-private"],
    );
    let _a = Agent::start(
        &net,
        &ns_a,
        "a",
        &url("a", "a-pw"),
        &dir,
        &["--allow-private", "--location=-33.87,151.21,Sydney", "--geofeed", &feed],
    );
    let _b = Agent::start(
        &net,
        &ns_b,
        "b",
        &url("b", "b-pw"),
        &dir,
        &["--allow-private", "--location=51.5,-0.12,London", "--geofeed", &feed],
    );
    let (base, launcher, shots) = (server.base.clone(), net.exec(&net.client), artifacts_dir());
    let destination = net.destination.to_string();
    let result = in_namespace(&net.client, move || {
        wait_agent(&base, "a", true, Duration::from_secs(15));
        wait_agent(&base, "b", true, Duration::from_secs(15));
        let browser = Browser::start(launcher, 19140, 1280, 900);
        browser.goto(&format!("{base}/"));
        let offered = browser.wait_for(
            "both agents in From",
            Duration::from_secs(20),
            "const o = [...document.querySelectorAll('#from label')].map(l => l.textContent.trim()); return o.length === 3 ? o : ''",
        );
        // From a and b, not from the server itself: two routes from one request.
        tick_from(&browser, "a", true);
        tick_from(&browser, "b", true);
        tick_from(&browser, "", false);
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        let tabs_script = "const t = [...document.querySelectorAll('#route-tabs [role=tab]')]; \
             return t.length === 2 && !t.some(x => x.textContent.includes('…')) ? t.map(x => [x.textContent, x.getAttribute('aria-selected')]) : ''";
        let tabs = browser.wait_for("a tab per route", Duration::from_secs(20), tabs_script);
        let rows_a = rows_when_finished(&browser, 3, "a's route to finish");
        // Both routes on the map, each in its own colour, and the legend naming where each starts.
        let colours_script = "const c = new Set([...document.querySelectorAll('#map path.route-line, #map path.route-doubt')].map(p => getComputedStyle(p).stroke)); \
             return c.size >= 2 ? [...c].sort() : ''";
        let colours = browser.wait_for("two route colours", Duration::from_secs(20), colours_script);
        let legend = browser.eval(
            "return [...document.querySelectorAll('.legend-route')].map(l => [l.textContent, l.querySelector('.legend-line').style.borderColor])",
            json!([]),
        );
        let starts = browser.eval(
            "return [...document.querySelectorAll('#map .vantage-marker-label')].map(l => l.textContent)",
            json!([]),
        );
        browser.screenshot(&shots.join("agents-two-routes.png"));
        // The second tab shows b's table; its replay walks b's route.
        browser.click("#route-tabs [role=tab]:nth-child(2)");
        let rows_b = rows_when_finished(&browser, 2, "b's table");
        let group_link = browser.eval("return location.pathname + location.search", json!([]));
        browser.click("#replay-play");
        let replay = browser.wait_for(
            "b's replay to say its first hop",
            Duration::from_secs(10),
            "const s = document.querySelector('#replay-sentence'); return s && s.textContent.includes('10.210.1.1') ? s.textContent : ''",
        );
        browser.screenshot(&shots.join("agents-second-route.png"));
        // The group's link reopens both routes, b's table on show.
        browser.goto(&format!("{base}{}", group_link.as_str().unwrap_or_default()));
        let reopened = browser.wait_for("the group reopened", Duration::from_secs(20), tabs_script);
        let reopened_rows = rows_when_finished(&browser, 2, "b's table again");
        // Compare from the history list: tick the two traces, follow the link.
        browser.goto(&format!("{base}/"));
        browser.wait_for(
            "the history list",
            Duration::from_secs(10),
            "return document.querySelectorAll('#recent-traces li').length >= 2 ? 'yes' : ''",
        );
        browser.eval(
            "const b = [...document.querySelectorAll('#recent-traces .recent-pick')]; b[0].click(); b[1].click(); return true",
            json!([]),
        );
        let compare_href =
            browser.eval("return document.querySelector('#compare-picked').getAttribute('href')", json!([]));
        browser.click("#compare-picked");
        let summary = browser.wait_for(
            "the comparison",
            Duration::from_secs(20),
            "const s = document.querySelector('#compare-summary'); return s ? s.textContent : ''",
        );
        let compared = browser.eval(
            "return Array.from(document.querySelectorAll('#compare-table tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))",
            json!([]),
        );
        let compare_colours =
            browser.wait_for("both routes on the compare map", Duration::from_secs(20), colours_script);
        let leftovers = browser.eval(
            "return ['#hops', '#status', '#replay-play', '#route-tabs'].filter(s => document.querySelector(s))",
            json!([]),
        );
        browser.screenshot(&shots.join("agents-compare.png"));
        let history = browser.eval(
            "return [...document.querySelectorAll('#recent-traces li .recent-meta')].map(m => m.textContent.replace(/ · 20.*/, '').trim())",
            json!([]),
        );
        // This server and agent a together: two requests, one group.
        browser.goto(&format!("{base}/"));
        browser.wait_for(
            "the From choice",
            Duration::from_secs(20),
            "return document.querySelectorAll('#from input').length === 3 ? 'yes' : ''",
        );
        tick_from(&browser, "", true);
        tick_from(&browser, "a", true);
        tick_from(&browser, "b", false);
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        let here_and_a = browser.wait_for("a tab per route", Duration::from_secs(20), tabs_script);
        let rows_here = rows_when_finished(&browser, 3, "the server's own route");
        json!({
            "history": history, "here_and_a": here_and_a, "rows_here": rows_here,
            "offered": offered, "tabs": tabs, "rows_a": rows_a, "colours": colours, "legend": legend, "starts": starts,
            "rows_b": rows_b, "group_link": group_link, "replay": replay, "reopened": reopened,
            "reopened_rows": reopened_rows, "compare_href": compare_href, "summary": summary, "compared": compared,
            "compare_colours": compare_colours, "leftovers": leftovers,
        })
    });
    drop(server);
    eprintln!("{result:#}");
    assert_eq!(result["offered"], json!(["this server", "a — Sydney", "b — London"]), "agents offered with places");
    assert_eq!(
        result["tabs"],
        json!([["from agent a (Sydney)", "true"], ["from agent b (London)", "false"]]),
        "a tab per vantage point, the first shown"
    );
    let has = |rows: &Value, hops: &[&str]| {
        let rows = rows.as_array().expect("rows");
        rows.len() == hops.len() && rows.iter().zip(hops).all(|(r, h)| r.as_str().is_some_and(|r| r.contains(h)))
    };
    assert!(has(&result["rows_a"], &["10.210.0.1", "10.0.1.2", "10.0.2.2"]), "a's own route: {result}");
    assert!(has(&result["rows_b"], &["10.210.1.1", "10.0.2.2"]), "b's own route: {result}");
    assert_eq!(result["colours"], json!(["rgb(0, 114, 178)", "rgb(213, 94, 0)"]), "two Okabe–Ito colours, as drawn");
    assert_eq!(
        result["legend"],
        json!([["from agent a (Sydney)", "rgb(0, 114, 178)"], ["from agent b (London)", "rgb(213, 94, 0)"]])
    );
    assert_eq!(result["starts"], json!(["agent b (London)"]), "the other route's start is named on the map");
    let link = result["group_link"].as_str().expect("link");
    assert!(link.starts_with("/t/") && link.contains("?routes="), "{link}");
    assert!(result["replay"].as_str().is_some_and(|s| s.contains("10.210.1.1")), "{result}");
    assert_eq!(result["reopened"], json!([["from agent a (Sydney)", "false"], ["from agent b (London)", "true"]]));
    assert!(has(&result["reopened_rows"], &["10.210.1.1", "10.0.2.2"]), "{result}");
    assert!(result["compare_href"].as_str().is_some_and(|h| h.starts_with("/compare/")), "{result}");
    assert_eq!(
        result["summary"],
        "The two routes share 1 router: 10.0.2.2. They start apart (10.210.0.1 and 10.210.1.1) and meet at 10.0.2.2.",
        "{result}"
    );
    assert_eq!(
        result["compared"],
        json!([
            ["1", "10.210.0.1", "split", "10.210.1.1", "1"],
            ["2", "10.0.1.2", "", "", ""],
            ["3", "10.0.2.2", "meet again", "10.0.2.2", "2"]
        ])
    );
    assert_eq!(result["compare_colours"], json!(["rgb(0, 114, 178)", "rgb(213, 94, 0)"]), "both routes overlaid");
    assert_eq!(result["leftovers"], json!([]), "the compare page shows no empty table, status or replay");
    assert_eq!(
        result["history"],
        json!(["ICMP · IPv4 · from a", "ICMP · IPv4 · from b"]),
        "each says what it ran with"
    );
    assert_eq!(
        result["here_and_a"],
        json!([["from this server (Amsterdam)", "true"], ["from agent a (Sydney)", "false"]]),
        "the server itself and an agent in one group"
    );
    assert!(has(&result["rows_here"], &["10.0.0.2", "10.0.1.2", "10.0.2.2"]), "the server's own route: {result}");
    let _ = std::fs::remove_dir_all(&dir);
}
