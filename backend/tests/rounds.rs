//! `tracemap trace --rounds` through real Linux routers in network namespaces (see `common::TestNet`), with their
//! default ICMP rate limits (a burst of 6, then one a second per source): the binary runs in the client namespace,
//! and the tests read its `--json` (or `--csv`) statistics.
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why, instead of passing without testing anything.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::TestNet;
use tracemap_shared::{HopStats, TraceReport, TraceStatus};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// Where the binary runs: a directory with no `data/` of its own.
fn scratch() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// Runs `tracemap trace --json -n -g ARGS... DESTINATION` in the client namespace to its end; the report.
fn watch(net: &TestNet, args: &[&str]) -> TraceReport {
    let mut all = vec!["--json", "-n", "-g"];
    all.extend_from_slice(args);
    let json = net.trace_from_client(scratch(), all);
    serde_json::from_str(&json).unwrap_or_else(|error| panic!("{error}: {json}"))
}

fn stats_at(report: &TraceReport, ttl: u8) -> &HopStats {
    let hop = report.hops.iter().find(|hop| hop.ttl == ttl).unwrap_or_else(|| panic!("no hop {ttl}: {report:#?}"));
    hop.stats.as_ref().unwrap_or_else(|| panic!("hop {ttl} has no statistics: {hop:#?}"))
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn twenty_fast_rounds_through_default_icmp_limits_lose_nothing_at_answering_hops() {
    // Router 2 never answers: 100 % there, 0 % everywhere else, although rounds are asked every 50 ms: the
    // pacing spends the routers' burst, then waits for their tokens.
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let started = Instant::now();
    let report = watch(&net, &["--rounds", "20", "--interval", "0.05", "-t", "1"]);
    let took = started.elapsed();
    assert_eq!(report.rounds, Some(20));
    assert_eq!(report.status, TraceStatus::Finished);
    assert!(report.destination_reached);
    for ttl in [1, 3, 4] {
        let stats = stats_at(&report, ttl);
        assert_eq!((stats.sent, stats.received), (20, 20), "TTL {ttl}: {stats:?}");
        assert_eq!(stats.loss_pct, 0.0);
        assert!(stats.avg_ms.is_some() && stats.p95_ms.is_some() && stats.jitter_ms.is_some(), "{stats:?}");
    }
    let silent = stats_at(&report, 2);
    assert_eq!((silent.sent, silent.received, silent.loss_pct), (20, 0, 100.0));
    // Every answering address has its own statistics too.
    let first = &report.hops[0].addresses[0];
    assert_eq!(first.stats.as_ref().map(|stats| stats.received), Some(20));
    // Five rounds in the burst, then one per token (1.05 s with the margin): not faster, and not much slower.
    assert!(took > Duration::from_secs(15) && took < Duration::from_secs(25), "took {took:?}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn every_second_packet_dropped_at_a_router_is_loss_from_the_next_hop_on() {
    // Router 2 forwards only every second probe towards the destination: the hop after it (the destination)
    // loses about half, hops 1 and 2 nothing. A probe that expires at router 2 is answered before the FORWARD
    // chain, so router 2 itself answers every one.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let router = net.routers[1].clone();
    let destination = net.destination.to_string();
    let rule = [
        "iptables",
        "-A",
        "FORWARD",
        "-d",
        &destination,
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "2",
        "--packet",
        "1",
    ];
    net.firewall(&router, &[&rule[..], &["-j", "DROP"]].concat()).expect("iptables statistic");
    let report = watch(&net, &["--rounds", "10", "--interval", "0.05", "-t", "0.3"]);
    assert_eq!(report.rounds, Some(10));
    for ttl in [1, 2] {
        assert_eq!(stats_at(&report, ttl).loss_pct, 0.0, "TTL {ttl}");
    }
    let stats = stats_at(&report, 3);
    assert_eq!(stats.sent, 10);
    // The rule drops the 2nd, 4th... probe it sees. The first round sends TTLs 3 and up at once, in order: TTL 3
    // passes and the destination is found there (had the rule dropped it, the first round would have found the
    // destination one TTL further, and later rounds would send two probes a round through the rule, one always
    // dropped). From then on one probe a round goes through it: half are lost, give or take a round.
    assert!((40.0..=60.0).contains(&stats.loss_pct), "{stats:?}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn ctrl_c_ends_a_watch_with_the_statistics_so_far() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let child = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["trace", "--rounds", "0", "--interval", "0.1", "--json", "-n", "-g", "-t", "0.5"])
        .arg(net.destination.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracemap");
    std::thread::sleep(Duration::from_millis(1500));
    // `ip netns exec` runs the program in its own place, so the child is tracemap itself.
    // SAFETY: kill only sends a signal to the process this test started.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let output = child.wait_with_output().expect("wait for tracemap");
    assert!(output.status.success(), "{:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    let report: TraceReport = serde_json::from_slice(&output.stdout).expect("the report, after Ctrl-C");
    assert_eq!(report.status, TraceStatus::Stopped);
    let rounds = report.rounds.expect("rounds");
    assert!(rounds >= 3, "{rounds} rounds in 1.5 s");
    let first = stats_at(&report, 1);
    assert!(first.sent + 1 >= rounds && first.received > 0, "{first:?}");
    // The CSV of a watch has a row per hop and per address, with the JSON's names. A new network: the watch
    // above spent the routers' burst, and a new process cannot know it.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let csv = net.trace_from_client(scratch(), ["--rounds", "2", "--interval", "0.05", "--csv", "-n", "-g"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("ttl,scope,address,hostname,sent,received,loss_pct,"), "{csv}");
    assert!(rows.iter().any(|row| row.starts_with("1,hop,\"10.0.0.2\",\"\",2,2,0.0,")), "{csv}");
    assert!(rows.iter().any(|row| row.starts_with("1,address,\"10.0.0.2\"")), "{csv}");
}

/// Runs `ip -n NS route replace SUBNET via GATEWAY dev DEV` for each subnet.
fn reroute(net: &TestNet, ns: &str, subnets: &[&str], gateway: &str, dev: &str) {
    for subnet in subnets {
        let status = net
            .exec(ns)
            .args(["ip", "route", "replace", subnet, "via", gateway, "dev", dev])
            .status()
            .expect("ip route replace");
        assert!(status.success(), "route {subnet} via {gateway} in {ns}");
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_route_replaced_mid_watch_is_recorded_as_a_change_with_its_round() {
    // Router 1 reaches everything beyond router 2 through router 2 alone; a second router beside router 2 waits.
    // Mid-watch router 1 switches to it: hop 2 answers from the new router from then on.
    let mut net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let twin = net.add_parallel_router(1).expect("a router beside router 2").to_string();
    let before = net.routers[0].clone();
    let beyond = ["10.0.2.0/24", "10.0.3.0/24"];
    reroute(&net, &before, &beyond, "10.0.1.2", "east");
    let child = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["trace", "--rounds", "10", "--interval", "0.05", "--json", "-n", "-g", "-t", "0.5"])
        .arg(net.destination.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracemap");
    // Five rounds go within the routers' burst, in the first quarter second; then one a second.
    std::thread::sleep(Duration::from_millis(1500));
    let switched = Instant::now();
    reroute(&net, &before, &beyond, &twin, "east2");
    let output = child.wait_with_output().expect("wait for tracemap");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: TraceReport = serde_json::from_slice(&output.stdout).expect("the report");
    let changes: Vec<_> = report.route_changes.iter().filter(|change| change.ttl == 2).collect();
    assert_eq!(changes.len(), 1, "{:?}", report.route_changes);
    let change = changes[0];
    assert_eq!((change.from.as_str(), change.to.as_str()), ("10.0.1.2", twin.as_str()));
    assert!(change.round >= 2, "{change:?}");
    assert!(change.at_ms >= 1500, "recorded in a round that began after the switch: {change:?}");
    assert!(switched.elapsed() > Duration::from_secs(2), "rounds went on after the switch");
    assert!(!report.hops[1].load_balanced);
    assert_eq!(stats_at(&report, 2).loss_pct, 0.0, "the switch loses nothing");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_router_with_two_next_hops_is_load_balancing_not_a_route_change() {
    // Router 1 hashes flows on their ports over router 2 and a router beside it (`fib_multipath_hash_policy=1`).
    // Classic UDP probes change destination port from round to round, so hop 2 answers from both, back and forth.
    let mut net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let twin = net.add_parallel_router(1).expect("a router beside router 2").to_string();
    let report = watch(&net, &["-p", "udp", "--rounds", "12", "--interval", "0.05", "-t", "0.5"]);
    let hop = &report.hops[1];
    let addresses: Vec<&str> = hop.addresses.iter().map(|entry| entry.address.as_str()).collect();
    assert!(addresses.contains(&"10.0.1.2") && addresses.contains(&twin.as_str()), "{addresses:?}");
    assert!(hop.load_balanced, "{hop:#?}");
    assert!(report.route_changes.iter().all(|change| change.ttl != 2), "{:?}", report.route_changes);
    // Each address has its own figures, and together they answered every probe.
    let received: u32 = hop.addresses.iter().filter_map(|entry| entry.stats.as_ref()).map(|s| s.received).sum();
    assert_eq!(received, 12);
}
