//! The server as an operator meets it, in a real namespace network: limits that hold under a burst, and traces
//! that survive `kill -9`. Root only (network namespaces, raw sockets); run by the README's test command.

mod common;
mod served;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::TestNet;
use serde_json::json;
use served::{Server, get, in_namespace, post, scratch, wait_done};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

fn add_silent_address(net: &TestNet) -> Ipv4Addr {
    net.add_silent_address()
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn rate_limit_and_concurrency_cap_hold_under_a_burst() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let silent = add_silent_address(&net);
    let dir = scratch("limits");
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        18081,
        &dir.join("t.sqlite"),
        &["--rate-burst", "3", "--rate-per-minute", "6", "--max-concurrent", "2", "--share-window", "0"],
    );
    let base = server.base.clone();
    let results = in_namespace(&net.client, move || {
        let body = json!({"target": silent.to_string(), "max_hops": 8, "timeout_ms": 3000, "tries": 1});
        (0..5).map(|_| post(&base, body.clone())).collect::<Vec<_>>()
    });
    let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [201, 201, 503, 429, 429], "{results:?}");
    assert_eq!(results[2].1["error"]["code"], "busy");
    assert_eq!(results[3].1["error"]["code"], "rate_limited");
    let retry: u64 = results[3].2.as_deref().and_then(|r| r.parse().ok()).expect("Retry-After on 429");
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn finished_traces_survive_kill_9_and_running_ones_are_marked_interrupted() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let silent = add_silent_address(&net);
    let dir = scratch("kill9");
    let db = dir.join("t.sqlite");
    let destination = net.destination.to_string();
    let hops = net.hops.len();

    let server = Server::start(net.exec(&net.client), &net.client, 18082, &db, &[]);
    let base = server.base.clone();
    let (finished, running) = in_namespace(&net.client, move || {
        let mut finished = Vec::new();
        for _ in 0..2 {
            let (status, created, _) = post(&base, json!({"target": destination}));
            assert_eq!(status, 201, "{created}");
            let id = created["id"].as_str().expect("id").to_owned();
            let trace = wait_done(&base, &id);
            assert_eq!(trace["status"], "finished", "{trace}");
            finished.push((id, trace));
        }
        let (status, created, _) = post(&base, json!({"target": silent.to_string(), "timeout_ms": 5000}));
        assert_eq!(status, 201, "{created}");
        let running = created["id"].as_str().expect("id").to_owned();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(get(&base, &format!("/api/traces/{running}")).1["status"], "running");
        (finished, running)
    });
    server.kill9();

    let integrity: String = rusqlite::Connection::open(&db)
        .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
        .expect("integrity check");
    assert_eq!(integrity, "ok");

    let server = Server::start(net.exec(&net.client), &net.client, 18083, &db, &[]);
    let base = server.base.clone();
    in_namespace(&net.client, move || {
        for (id, before) in &finished {
            let (status, after) = get(&base, &format!("/api/traces/{id}"));
            assert_eq!(status, 200);
            assert_eq!(&after, before, "a finished trace reads back the same after kill -9");
            assert_eq!(after["hops"].as_array().map(Vec::len), Some(hops));
            assert_eq!(after["destination_reached"], true);
        }
        let (status, cut) = get(&base, &format!("/api/traces/{running}"));
        assert_eq!(status, 200);
        assert_eq!(cut["status"], "interrupted", "{cut}");
        let (_, list) = get(&base, "/api/traces?limit=10");
        assert_eq!(list["traces"].as_array().map(Vec::len), Some(3), "{list}");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The uid and gid lines and every capability set of each thread of `pid`.
fn thread_credentials(pid: u32) -> Vec<(String, String, tracemap::privilege::CapabilitySets)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    tasks
        .map(|task| {
            let status = std::fs::read_to_string(task.expect("thread").path().join("status")).expect("thread status");
            let line = |name: &str| status.lines().find(|l| l.starts_with(name)).expect(name).to_owned();
            let sets = tracemap::privilege::CapabilitySets::parse(&status).expect("capability sets");
            (line("Uid:"), line("Gid:"), sets)
        })
        .collect()
}

/// Traces the network's destination through `base` with `protocol` and checks it arrives with every hop.
fn traces_to_the_end(net: &TestNet, base: &str, protocol: &str) {
    let destination = net.destination.to_string();
    let hops = net.hops.len();
    let base = base.to_owned();
    let protocol = protocol.to_owned();
    in_namespace(&net.client, move || {
        let (status, created, _) = post(&base, json!({"target": destination, "protocol": protocol, "tries": 1}));
        assert_eq!(status, 201, "{created}");
        let trace = wait_done(&base, created["id"].as_str().expect("id"));
        assert_eq!(trace["status"], "finished", "{trace}");
        assert_eq!(trace["destination_reached"], true, "{protocol}: {trace}");
        assert_eq!(trace["hops"].as_array().map(Vec::len), Some(hops), "{trace}");
    });
}

fn nobody() -> (String, String) {
    let id = |flag: &str| {
        let out = std::process::Command::new("id").args([flag, "nobody"]).output().expect("id");
        String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
    };
    (id("-u"), id("-g"))
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn started_as_root_the_server_becomes_nobody_with_no_capabilities_and_still_probes() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let dir = scratch("privdrop");
    let server = Server::start(net.exec(&net.client), &net.client, 18084, &dir.join("t.sqlite"), &[]);
    let (uid, gid) = nobody();
    let threads = thread_credentials(server.pid());
    assert!(threads.len() > 1, "the runtime's threads are checked too: {threads:?}");
    for (uids, gids, sets) in &threads {
        assert_eq!(uids.split_whitespace().skip(1).collect::<Vec<_>>(), [&uid; 4], "{uids}");
        assert_eq!(gids.split_whitespace().skip(1).collect::<Vec<_>>(), [&gid; 4], "{gids}");
        assert_eq!((sets.inheritable, sets.permitted, sets.effective, sets.ambient), (0, 0, 0, 0), "{sets:?}");
        assert_eq!(sets.bounding, 0, "root can empty the bounding set too: {sets:?}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("status");
    assert!(status.lines().any(|l| l.split_whitespace().eq(["NoNewPrivs:", "1"])), "{status}");
    // The raw sockets opened before the drop still send and receive; UDP needs none.
    for protocol in ["icmp", "tcp", "udp"] {
        traces_to_the_end(&net, &server.base, protocol);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn an_ordinary_user_with_ambient_cap_net_raw_drops_it_after_opening_the_sockets() {
    // What a systemd unit with User= and AmbientCapabilities=CAP_NET_RAW gives the server.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let dir = scratch("ambient");
    let status = std::process::Command::new("chmod").arg("777").arg(&dir).status().expect("chmod");
    assert!(status.success());
    let (uid, gid) = nobody();
    let mut launcher = net.exec(&net.client);
    launcher.args(["setpriv", "--reuid", &uid, "--regid", &gid, "--clear-groups"]);
    launcher.args(["--inh-caps", "+net_raw", "--ambient-caps", "+net_raw"]);
    let server = Server::start(launcher, &net.client, 18085, &dir.join("t.sqlite"), &[]);
    for (uids, _, sets) in thread_credentials(server.pid()) {
        assert_eq!(uids.split_whitespace().nth(1), Some(uid.as_str()), "{uids}");
        assert_eq!((sets.inheritable, sets.permitted, sets.effective, sets.ambient), (0, 0, 0, 0), "{sets:?}");
    }
    // ICMP needs the raw socket the capability opened.
    traces_to_the_end(&net, &server.base, "icmp");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn sigterm_lets_running_traces_end_then_exits() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let silent = add_silent_address(&net);
    let dir = scratch("sigterm");
    let db = dir.join("t.sqlite");
    let server = Server::start(net.exec(&net.client), &net.client, 18086, &db, &[]);
    let base = server.base.clone();
    let destination = net.destination.to_string();
    let (done, cut) = in_namespace(&net.client, move || {
        let (status, created, _) = post(&base, json!({"target": destination, "tries": 1}));
        assert_eq!(status, 201, "{created}");
        let done = created["id"].as_str().expect("id").to_owned();
        assert_eq!(wait_done(&base, &done)["status"], "finished");
        // A silent tail with a 9 s wait outlives the shutdown grace.
        let body = json!({"target": silent.to_string(), "timeout_ms": 9000, "tries": 1});
        let (status, created, _) = post(&base, body);
        assert_eq!(status, 201, "{created}");
        (done, created["id"].as_str().expect("id").to_owned())
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, took) = server.terminate(Duration::from_secs(15)).expect("the server exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}: the grace is 5 s");

    let server = Server::start(net.exec(&net.client), &net.client, 18087, &db, &[]);
    let base = server.base.clone();
    in_namespace(&net.client, move || {
        assert_eq!(get(&base, &format!("/api/traces/{done}")).1["status"], "finished");
        assert_eq!(get(&base, &format!("/api/traces/{cut}")).1["status"], "interrupted");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// `DELETE /api/traces/{id}/run` with `token` as the bearer: the status and the JSON answer (`null` for an empty
/// body).
fn stop(base: &str, id: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = served::agent().delete(&format!("{base}/api/traces/{id}/run"));
    if let Some(token) = token {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut res = req.call().expect("DELETE");
    (res.status().as_u16(), res.body_mut().read_json().unwrap_or(serde_json::Value::Null))
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_running_trace_stops_on_its_owners_request_only_and_is_stored_as_stopped() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let silent = add_silent_address(&net);
    let dir = scratch("stop");
    let server = Server::start(net.exec(&net.client), &net.client, 18089, &dir.join("t.sqlite"), &[]);
    let base = server.base.clone();
    let (stopped, strangers, again, unknown, took) = in_namespace(&net.client, move || {
        // A silent destination with long waits: without the stop this trace would run for many seconds.
        let (status, created, _) =
            post(&base, json!({"target": silent.to_string(), "timeout_ms": 5000, "max_hops": 30}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let token = created["delete_token"].as_str().expect("delete token").to_owned();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(get(&base, &format!("/api/traces/{id}")).1["status"], "running");
        // Whoever has the permalink but not the token cannot stop it.
        let strangers = [stop(&base, &id, None).0, stop(&base, &id, Some("not-the-token")).0];
        assert_eq!(get(&base, &format!("/api/traces/{id}")).1["status"], "running");
        let asked = std::time::Instant::now();
        let (status, body) = stop(&base, &id, Some(&token));
        assert_eq!(status, 204, "{body}");
        let took = asked.elapsed();
        let (_, stopped) = get(&base, &format!("/api/traces/{id}"));
        let again = stop(&base, &id, Some(&token));
        let unknown = stop(&base, "nosuchtrace", Some(&token));
        (stopped, strangers, again, unknown, took)
    });
    drop(server);
    eprintln!("stopped in {took:?}: {stopped}");
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    assert_eq!(strangers, [401, 403], "no token, a wrong token");
    assert!(took < Duration::from_secs(3), "the stop is stored at once, not after the trace's waits: {took:?}");
    let hops = stopped["hops"].as_array().map_or(0, Vec::len);
    assert!((2..30).contains(&hops), "the hops probed before the stop are kept, no more: {hops}");
    assert!(stopped["duration_ms"].as_u64().is_some(), "{stopped}");
    assert_eq!((again.0, again.1["error"]["code"].clone()), (409, json!("not_running")));
    assert_eq!(unknown.0, 404);
    let _ = std::fs::remove_dir_all(&dir);
}
