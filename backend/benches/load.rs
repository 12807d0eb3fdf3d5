//! Load benchmark of the server: N traces started at once through the API, through a namespace network of Linux
//! routers, each checked against its own expected route (zero cross-talk), with completion times and the
//! server's peak memory. Run as root: `cargo bench -p tracemap --bench load -- 50 200`; figures go to
//! BENCHMARKS.md. `--viewers N` (e.g. `-- --viewers 500`) measures instead one trace watched live by N WebSocket
//! viewers at once: whether each saw every event, how long the last took, and the server's peak memory.
//!
//! The routers' per-source ICMP rate limit is switched off here (`net.ipv4.icmp_ratelimit=0`; their host-wide
//! limit, 1000/s with a burst of 50, stays): with it, 200 traces from one client drain each router's 6-token bucket
//! within the first milliseconds, which measures the routers, not the server. `--router-limits` keeps it, to see
//! how the server reports what the routers cannot answer (rate-limited, not `*`). Each trace targets one of ten
//! addresses of the destination host, so a reply handed to the wrong trace shows up as a wrong last hop. The server
//! runs from the checkout's root and so reads `data/` when `scripts/setup.sh` has fetched it, as an installed
//! server reads its data; the first line on standard error says whether it was there.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/served/mod.rs"]
mod served;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::TestNet;
use serde_json::{Value, json};
use served::{Server, agent, in_namespace, scratch};

const ADDRESSES: u8 = 10;

/// The command that starts the server in `ns`: from the checkout's root, as `scripts/run.sh` runs it, so that the
/// server finds `data/` when it is there (the default install) however `cargo bench` was started.
fn launcher(net: &TestNet, ns: &str) -> std::process::Command {
    let mut command = net.exec(ns);
    command.current_dir(checkout());
    command
}

fn checkout() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// What one trace came back with.
struct Outcome {
    /// Seconds from the request to the finished trace.
    elapsed: f64,
    /// Unanswered probes at hops that answer, not marked rate-limited: false `*`.
    false_stars: usize,
    /// Unanswered probes the server marked rate-limited (its own probes had spent the hop's ICMP budget).
    rate_limited: usize,
}

/// One round: `n` concurrent traces; `router_limits` keeps the routers' per-source ICMP rate limit (Linux's default)
/// instead of switching it off. Returns a printable line.
fn round(n: usize, port: u16, router_limits: bool) -> String {
    let net = TestNet::new(3, &[]).expect("root and network namespaces");
    for ns in net.routers.iter().chain([&net.server]) {
        if router_limits {
            continue;
        }
        let ok = net.exec(ns).args(["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]).status().expect("sysctl");
        assert!(ok.success());
    }
    let d = net.destination.octets();
    let targets: Vec<Ipv4Addr> = (0..ADDRESSES).map(|i| Ipv4Addr::new(d[0], d[1], d[2], 2 + i)).collect();
    for extra in &targets[1..] {
        let ok = net.exec(&net.server).args(["ip", "addr", "add", &format!("{extra}/24"), "dev", "west"]).status();
        assert!(ok.expect("ip addr").success());
    }
    let routers: Vec<String> = net.hops[..net.hops.len() - 1].iter().flatten().map(|a| a.to_string()).collect();
    let dir = scratch(&format!("load{n}"));
    let limits = ["--max-concurrent", "1000", "--rate-burst", "100000", "--rate-per-minute", "100000"];
    let server = Server::start(launcher(&net, &net.client), &net.client, port, &dir.join("t.sqlite"), &limits);
    let base = server.base.clone();
    let rss_before = peak_rss_kib(server.pid());

    let started = Instant::now();
    let results: Vec<Result<Outcome, String>> = in_namespace(&net.client, move || {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let base = base.clone();
                let target = targets[i % targets.len()];
                let routers = routers.clone();
                std::thread::spawn(move || -> Result<Outcome, String> {
                    let t0 = Instant::now();
                    let agent = agent();
                    let mut res = agent
                        .post(&format!("{base}/api/traces"))
                        .send_json(json!({"target": target.to_string(), "timeout_ms": 2000}))
                        .map_err(|e| e.to_string())?;
                    let created: Value = res.body_mut().read_json().map_err(|e| e.to_string())?;
                    let id = created["id"].as_str().ok_or(format!("no id: {created}"))?.to_owned();
                    let trace = loop {
                        let mut res =
                            agent.get(&format!("{base}/api/traces/{id}")).call().map_err(|e| e.to_string())?;
                        let trace: Value = res.body_mut().read_json().map_err(|e| e.to_string())?;
                        if trace["status"] != "running" {
                            break trace;
                        }
                        if t0.elapsed() > Duration::from_secs(120) {
                            return Err(format!("{id} still running"));
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    };
                    let elapsed = t0.elapsed().as_secs_f64();
                    let mut want: Vec<String> = routers.clone();
                    want.push(target.to_string());
                    let hops = trace["hops"].as_array().cloned().unwrap_or_default();
                    let count = |hop: &Value, key: &str| hop[key].as_array().map_or(0, Vec::len);
                    let unanswered =
                        |hop: &Value| hop["probes"].as_array().map_or(0, |p| p.iter().filter(|p| p.is_null()).count());
                    // A hop nothing answered shows `*` (or `rl` when every try was marked rate-limited); any other
                    // address than the expected one, or a hop count other than the route's, is a wrong route.
                    let got: Vec<String> = hops
                        .iter()
                        .map(|h| match h["address"].as_str() {
                            Some(address) => address.to_owned(),
                            None if count(h, "rate_limited") == unanswered(h) => "rl".to_owned(),
                            None => "*".to_owned(),
                        })
                        .collect();
                    let wrong = got.len() != want.len()
                        || got.iter().zip(&want).any(|(got, want)| got != want && got != "*" && got != "rl");
                    let rate_limited: usize = hops.iter().map(|h| count(h, "rate_limited")).sum();
                    // Every hop of this route answers: an unanswered probe is a false star unless marked.
                    let false_stars: usize = hops.iter().map(|h| unanswered(h) - count(h, "rate_limited")).sum();
                    if wrong || trace["destination_reached"] != true {
                        return Err(format!("{id}: hops {got:?}, want {want:?}"));
                    }
                    Ok(Outcome { elapsed, false_stars, rate_limited })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into()))).collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let rss_peak = peak_rss_kib(server.pid());
    drop(server);

    let outcomes: Vec<&Outcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut times: Vec<f64> = outcomes.iter().map(|o| o.elapsed).collect();
    times.sort_by(f64::total_cmp);
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    for failure in failures.iter().take(5) {
        eprintln!("  failure: {failure}");
    }
    let exact = outcomes.iter().filter(|o| o.false_stars == 0 && o.rate_limited == 0).count();
    let false_stars: usize = outcomes.iter().map(|o| o.false_stars).sum();
    let with_false_stars = outcomes.iter().filter(|o| o.false_stars > 0).count();
    let rate_limited: usize = outcomes.iter().map(|o| o.rate_limited).sum();
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "| {n} | {} | {exact} | {false_stars} in {with_false_stars} | {rate_limited} | {} | {:.2} s | {:.2} s | {:.2} s \
         | {:.2} s | {} MiB | {} MiB |",
        if router_limits { "on" } else { "off" },
        failures.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or(f64::NAN),
        wall,
        rss_before / 1024,
        rss_peak / 1024,
    )
}

/// One trace watched live by `viewers` WebSocket viewers that all connect as it starts. The target is an address
/// on the destination's link that no host holds: the routers answer, then the last one's ARP fails for a few
/// seconds, so the trace is still running while the viewers join. Returns a printable line.
fn viewers_round(viewers: usize, port: u16) -> String {
    use futures_util::StreamExt;
    let net = TestNet::new(3, &[]).expect("root and network namespaces");
    let d = net.destination.octets();
    let target = Ipv4Addr::new(d[0], d[1], d[2], 99);
    let dir = scratch(&format!("viewers{viewers}"));
    let server = Server::start(launcher(&net, &net.client), &net.client, port, &dir.join("t.sqlite"), &[]);
    let base = server.base.clone();
    let rss_before = peak_rss_kib(server.pid());
    let (events, complete, last_done, connected) = in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let agent = agent();
            let created: Value = agent
                .post(&format!("{base}/api/traces"))
                .send_json(json!({"target": target.to_string(), "timeout_ms": 5000, "dns": false}))
                .expect("create")
                .body_mut()
                .read_json()
                .expect("json");
            let id = created["id"].as_str().expect("id").to_owned();
            let started = Instant::now();
            let url = format!("{}/api/traces/{id}/live", base.replacen("http://", "ws://", 1));
            let watchers: Vec<_> = (0..viewers)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move {
                        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.ok()?;
                        let connected = started.elapsed();
                        let mut events = 0usize;
                        while let Some(Ok(message)) = ws.next().await {
                            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                                events += 1;
                                let event: Value = serde_json::from_str(&text).ok()?;
                                if matches!(event["type"].as_str(), Some("finished" | "failed")) {
                                    return Some((events, connected, started.elapsed()));
                                }
                            }
                        }
                        None
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for watcher in watchers {
                seen.push(watcher.await.ok().flatten());
            }
            // The whole log, as the store replays it once the trace is over: what every viewer should have seen.
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("stored replay");
            let mut events = 0usize;
            while let Some(Ok(message)) = ws.next().await {
                events += usize::from(matches!(message, tokio_tungstenite::tungstenite::Message::Text(_)));
            }
            let complete: Vec<_> = seen.iter().flatten().collect();
            let same = complete.iter().filter(|(n, _, _)| *n == events).count();
            let last_done = complete.iter().map(|(_, _, done)| *done).max().unwrap_or_default();
            let connected = complete.iter().map(|(_, connected, _)| *connected).max().unwrap_or_default();
            (events, same, last_done, connected)
        })
    });
    let rss_peak = peak_rss_kib(server.pid());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    format!(
        "| {viewers} | {complete} | {events} | {:.2} s | {:.2} s | {} MiB | {} MiB |",
        connected.as_secs_f64(),
        last_done.as_secs_f64(),
        rss_before / 1024,
        rss_peak / 1024,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = checkout().join("data/geoip");
    let present = std::fs::read_dir(&data).is_ok_and(|mut entries| entries.next().is_some());
    eprintln!("data/: {}", if present { "present (the default install)" } else { "absent (no GeoIP or ASN data)" });
    if let Some(at) = args.iter().position(|a| a == "--viewers") {
        let viewers: usize = args.get(at + 1).and_then(|n| n.parse().ok()).unwrap_or(500);
        println!(
            "| viewers | saw every event to the end | events each | last connected after | last done after \
             | RSS at start | peak RSS |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        println!("{}", viewers_round(viewers, 18300));
        return;
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![50, 200] } else { sizes };
    // `--router-limits`: leave the routers' per-source ICMP limit at Linux's default (burst 6, 1/s).
    let router_limits = args.iter().any(|a| a == "--router-limits");
    println!(
        "| traces | per-source limit | every probe answered | false stars (in traces) | rate-limited probes \
         | wrong route or failed | median | p95 | slowest | wall | RSS at start | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (i, n) in sizes.into_iter().enumerate() {
        println!("{}", round(n, 18200 + i as u16, router_limits));
    }
}
