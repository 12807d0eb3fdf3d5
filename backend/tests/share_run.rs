//! A class on one server (`--share-window`), in real network namespaces: 30 requests for one destination within
//! 6 s, through Linux routers that keep their default per-source ICMP limit (a 6-token bucket, one token a second),
//! joined to one probe run: every probe of every hop answered, no `*` and no `*rl`, each trace with its own id and
//! delete token, and deleting one leaves the others. The same 30 with `--share-window 0`, each probing on its own,
//! for comparison (its figures are printed for BENCHMARKS.md; it is only required to be worse).
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why.

mod common;
mod served;

use std::time::{Duration, Instant};

use common::TestNet;
use serde_json::{Value, json};
use served::{Server, agent, in_namespace, scratch};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";
const REQUESTS: usize = 30;
/// Between two requests: 30 of them in 6 s.
const SPACING: Duration = Duration::from_millis(200);

/// What one round of 30 requests came back with.
#[derive(Debug)]
struct Round {
    /// Each request's answer to `POST` and its finished report.
    traces: Vec<(Value, Value)>,
    /// From the first request to the last finished trace.
    wall: Duration,
}

impl Round {
    /// Unanswered probes at hops that answered at all (`*` where the route is known to answer), and probes of
    /// those marked rate-limited (`*rl`), over every trace.
    fn missing(&self) -> (usize, usize) {
        let mut stars = 0;
        let mut limited = 0;
        for (_, trace) in &self.traces {
            for hop in trace["hops"].as_array().into_iter().flatten() {
                let probes = hop["probes"].as_array().map_or(0, Vec::len);
                let unanswered = hop["probes"].as_array().map_or(0, |p| p.iter().filter(|p| p.is_null()).count());
                let rl = hop["rate_limited"].as_array().map_or(0, Vec::len);
                if probes > 0 {
                    stars += unanswered - rl.min(unanswered);
                    limited += rl;
                }
            }
        }
        (stars, limited)
    }

    /// Traces whose every probe was answered.
    fn complete(&self) -> usize {
        self.traces
            .iter()
            .filter(|(_, trace)| {
                trace["destination_reached"] == true
                    && trace["hops"].as_array().into_iter().flatten().all(|hop| {
                        hop["probes"].as_array().is_some_and(|p| !p.is_empty() && p.iter().all(|p| !p.is_null()))
                    })
            })
            .count()
    }
}

/// 30 requests for the destination of `net`, one every 200 ms, to a server started with `extra`; each is followed
/// until it has finished.
fn round(net: &TestNet, port: u16, extra: &[&str]) -> Round {
    let dir = scratch(&format!("share-run-{port}"));
    let limits = ["--rate-burst", "1000", "--rate-per-minute", "1000", "--max-concurrent", "100"];
    let args: Vec<&str> = limits.iter().chain(extra).copied().collect();
    let server = Server::start(net.exec(&net.client), &net.client, port, &dir.join("t.sqlite"), &args);
    let base = server.base.clone();
    let destination = net.destination.to_string();
    let round = in_namespace(&net.client, move || {
        let started = Instant::now();
        let threads: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let (base, destination) = (base.clone(), destination.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(SPACING * u32::try_from(i).expect("small"));
                    let agent = agent();
                    let mut res = agent
                        .post(&format!("{base}/api/traces"))
                        .send_json(json!({"target": destination, "timeout_ms": 1000}))
                        .expect("POST");
                    assert_eq!(res.status().as_u16(), 201, "request {i}");
                    let created: Value = res.body_mut().read_json().expect("created");
                    let id = created["id"].as_str().expect("id").to_owned();
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        let mut res = agent.get(&format!("{base}/api/traces/{id}")).call().expect("GET");
                        let trace: Value = res.body_mut().read_json().expect("trace");
                        if trace["status"] != "running" {
                            return (created, trace);
                        }
                        assert!(Instant::now() < deadline, "{id} still running");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })
            })
            .collect();
        let traces = threads.into_iter().map(|t| t.join().expect("request thread")).collect();
        Round { traces, wall: started.elapsed() }
    });
    let _ = std::fs::remove_dir_all(&dir);
    drop(server);
    round
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn thirty_identical_requests_share_one_probe_run_and_every_probe_is_answered() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let shared = round(&net, 18290, &["--share-window", "10"]);

    let (stars, limited) = shared.missing();
    let joined: Vec<u64> =
        shared.traces.iter().filter_map(|(created, _)| created["joined_after_ms"].as_u64()).collect();
    eprintln!(
        "share-window 10: {} of {REQUESTS} traces with every probe answered, {stars} `*`, {limited} `*rl`, {} joined \
         (after {:?} ms), wall {:.2} s",
        shared.complete(),
        joined.len(),
        joined.iter().max(),
        shared.wall.as_secs_f64()
    );
    assert_eq!((stars, limited), (0, 0), "no `*`, no `*rl` with sharing");
    assert_eq!(shared.complete(), REQUESTS, "every probe of every hop answered in every trace");
    assert_eq!(joined.len(), REQUESTS - 1, "one probe run, every other request joined it");
    assert!(joined.iter().all(|&ms| ms < 7_000), "joined within the 6 s of requests: {joined:?}");
    let ids: std::collections::HashSet<&str> =
        shared.traces.iter().filter_map(|(created, _)| created["id"].as_str()).collect();
    let tokens: std::collections::HashSet<&str> =
        shared.traces.iter().filter_map(|(created, _)| created["delete_token"].as_str()).collect();
    assert_eq!((ids.len(), tokens.len()), (REQUESTS, REQUESTS), "each trace its own id and delete token");
    let first = &shared.traces[0].1;
    for (created, trace) in &shared.traces {
        assert_eq!(trace["id"], created["id"], "a joined trace answers with its own id");
        assert_eq!(trace["hops"], first["hops"], "the same probe run");
        assert_eq!(trace["joined_after_ms"], created["joined_after_ms"]);
    }

    let unshared = round(&net, 18291, &["--share-window", "0"]);
    let (stars0, limited0) = unshared.missing();
    eprintln!(
        "share-window 0: {} of {REQUESTS} traces with every probe answered, {stars0} `*`, {limited0} `*rl`, wall {:.2} s",
        unshared.complete(),
        unshared.wall.as_secs_f64()
    );
    assert!(unshared.traces.iter().all(|(created, _)| created["joined_after_ms"].is_null()), "nothing shared");
    assert!(unshared.complete() < REQUESTS, "without sharing the routers' limits cost answers");
}
