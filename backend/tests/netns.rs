//! Traces through real Linux routers in network namespaces (see `common::TestNet`): the exact hop list, `*` at a
//! silent router, every probe of a responsive hop answered, the destination reached.
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why, instead of passing without testing anything.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{TestNet, in_namespace};
use tokio::sync::mpsc;
use tracemap::probe::ProbeConfig;
use tracemap_shared::{Protocol, ReplyKind, TraceEvent, TraceReport};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// Traces `destination` with the library, from inside `ns`, and folds the events like the runner does.
fn library_trace(ns: &str, destination: Ipv4Addr, traces: usize) -> Vec<TraceReport> {
    in_namespace(ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let config = ProbeConfig {
                destination: IpAddr::V4(destination),
                protocol: Protocol::Icmp,
                max_hops: 10,
                tries: 3,
                timeout: Duration::from_secs(1),
                ..ProbeConfig::default()
            };
            let runs = (0..traces).map(|_| {
                let config = config.clone();
                async move {
                    let (tx, mut rx) = mpsc::unbounded_channel();
                    let reached = tracemap::net::trace(&config, &tx).await.expect("trace");
                    drop(tx);
                    let mut report = TraceReport::new(destination.to_string(), Protocol::Icmp);
                    report.tries = 3;
                    while let Some(event) = rx.recv().await {
                        assert!(
                            matches!(event, TraceEvent::Probe { .. } | TraceEvent::RateLimit { .. }),
                            "only probe events: {event:?}"
                        );
                        report.apply(&event);
                    }
                    assert_eq!(report.destination_reached, reached);
                    report
                }
            });
            futures_util::future::join_all(runs).await
        })
    })
}

/// Asserts that `report` found exactly `net`'s IPv4 route.
fn assert_route(net: &TestNet, report: &TraceReport) {
    let expected: Vec<Option<String>> = net.hops.iter().map(|hop| hop.map(|a| a.to_string())).collect();
    assert_route_is(&expected, report);
}

/// Asserts that `report` found exactly `expected` (an address per TTL, `None` for a silent hop), every probe of an
/// answering hop answered, and the destination reached.
fn assert_route_is(expected: &[Option<String>], report: &TraceReport) {
    let found: Vec<Option<String>> = report.hops.iter().map(|hop| hop.address.clone()).collect();
    assert_eq!(found, expected, "hop list");
    for (hop, expected) in report.hops.iter().zip(expected) {
        assert_eq!(hop.probes.len(), 3, "three probes at TTL {}", hop.ttl);
        match expected {
            None => assert!(hop.probes.iter().all(Option::is_none), "silent hop {} answered: {hop:?}", hop.ttl),
            Some(address) => {
                for reply in &hop.probes {
                    let reply = reply.as_ref().unwrap_or_else(|| panic!("false * at TTL {}: {hop:?}", hop.ttl));
                    assert_eq!(&reply.from, address);
                    assert!(reply.rtt_ms >= 0.0 && reply.rtt_ms < 1000.0, "{reply:?}");
                }
            }
        }
    }
    let last = report.hops.last().expect("hops");
    assert!(last.probes.iter().flatten().all(|r| r.kind == ReplyKind::Destination), "{last:?}");
    assert!(report.destination_reached);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn library_traces_three_routers_with_a_silent_one() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let reports = library_trace(&net.client, net.destination, 1);
    assert_route(&net, &reports[0]);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn concurrent_traces_each_see_only_their_own_replies() {
    // Two traces through the same routers at once: each router answers 2 x 3 probes, within its burst of 6.
    let net = TestNet::new(4, &[2]).expect(NEEDS_ROOT);
    let reports = library_trace(&net.client, net.destination, 2);
    for report in &reports {
        assert_route(&net, report);
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn test_network_cleans_up_after_itself() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let names: Vec<String> =
        std::iter::once(net.client.clone()).chain(net.routers.clone()).chain([net.server.clone()]).collect();
    let result = std::panic::catch_unwind(move || {
        let _net = net;
        panic!("a failing test");
    });
    assert!(result.is_err());
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let list = String::from_utf8_lossy(&list.stdout);
    for name in names {
        assert!(!list.lines().any(|line| line.split_whitespace().next() == Some(name.as_str())), "{name} left behind");
    }
}

/// Runs `tracemap trace --json -n -g` inside the client namespace and returns the parsed document. With `-6` among
/// the options it traces the destination's IPv6 address.
fn cli_trace(net: &TestNet, extra: &[&str]) -> serde_json::Value {
    cli_trace_as(net, &[], extra)
}

/// `setpriv` arguments that run the command as `nobody`, with no group and no capability left.
const AS_NOBODY: &[&str] = &["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"];

/// Like [`cli_trace`], with `wrapper` (such as [`AS_NOBODY`]) before the program.
fn cli_trace_as(net: &TestNet, wrapper: &[&str], extra: &[&str]) -> serde_json::Value {
    let target = if extra.contains(&"-6") { net.destination6.to_string() } else { net.destination.to_string() };
    let output = net
        .exec(&net.client)
        .args(wrapper)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["trace", "--json", "-n", "-g", "-m", "10"])
        // A 1 s timeout unless the test sets its own.
        .args(if extra.contains(&"-t") { &[][..] } else { &["-t", "1"][..] })
        .args(extra)
        .arg(target)
        .output()
        .expect("run tracemap");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tracemap trace failed ({}): {stderr}", output.status);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("trace --json printed no JSON ({error}): {}\n{stderr}", String::from_utf8_lossy(&output.stdout))
    })
}

/// Asserts the JSON contract of issue 2 against `net`'s route, over the family of the traced address.
fn assert_json_route(net: &TestNet, json: &serde_json::Value) {
    assert_eq!(json["destination_reached"], true, "{json:#}");
    let v6 = json["address"].as_str().is_some_and(|address| address.contains(':'));
    let route: Vec<Option<String>> = if v6 {
        net.hops6.iter().map(|hop| hop.map(|a| a.to_string())).collect()
    } else {
        net.hops.iter().map(|hop| hop.map(|a| a.to_string())).collect()
    };
    let hops = json["hops"].as_array().expect("hops array");
    assert_eq!(hops.len(), route.len(), "hop count: {json:#}");
    for (i, (hop, expected)) in hops.iter().zip(&route).enumerate() {
        assert_eq!(hop["ttl"], i + 1);
        assert!(hop["hostname"].is_null(), "-n: no names");
        assert!(hop["geo"].is_null(), "-g: no locations");
        let probes = hop["probes"].as_array().expect("probes array");
        assert_eq!(probes.len(), 3, "three probes at TTL {}", i + 1);
        for probe in probes {
            match expected {
                None => assert!(probe.is_null(), "silent hop {} answered: {hop}", i + 1),
                Some(address) => {
                    assert_eq!(probe["from"], address.as_str(), "TTL {}: {hop}", i + 1);
                    let rtt = probe["rtt_ms"].as_f64().expect("rtt_ms is a number");
                    assert!((0.0..1000.0).contains(&rtt), "{probe}");
                }
            }
        }
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_three_routers_with_a_silent_one() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    assert_json_route(&net, &cli_trace(&net, &[]));
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_a_longer_route_with_two_silent_routers() {
    let net = TestNet::new(6, &[0, 4]).expect(NEEDS_ROOT);
    assert_json_route(&net, &cli_trace(&net, &["-r", "3"]));
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_table_shows_stars_and_the_destination() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let output = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["trace", "-n", "-g", "-t", "1", &net.destination.to_string()])
        .output()
        .expect("run tracemap");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + net.hops.len(), "a header and one line per hop:\n{table}");
    assert!(lines[2].trim_start().starts_with("2 ") && lines[2].matches('*').count() == 3, "{table}");
    assert!(lines[4].contains(&net.destination.to_string()), "{table}");
}

/// Runs a set-up command in a namespace of `net`, failing the test if it fails.
fn configure(net: &TestNet, ns: &str, args: &[&str]) {
    let output = net.exec(ns).args(args).output().expect("run a set-up command");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_reports_an_unreachable_router_with_its_flag_and_stops_there() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // The last router refuses to forward to the destination: ICMP Destination Unreachable, code 13 (prohibited).
    configure(&net, &net.routers[2], &["ip", "route", "add", "prohibit", &format!("{}/32", net.destination)]);
    let json = cli_trace(&net, &[]);
    assert_eq!(json["destination_reached"], false, "{json:#}");
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 3, "nothing beyond the unreachable hop: {json:#}");
    let router = net.hops[2].expect("router 3 answers").to_string();
    let probes = hops[2]["probes"].as_array().expect("probes");
    // Linux charges an unreachable twice to the same per-source token bucket (once where forwarding fails, once when
    // the ICMP is sent), so a burst of three gets two answers (Debian's traceroute shows `!X !X *`); tracemap sends
    // the third again once the bucket has refilled, so every try shows the flag.
    assert_eq!(probes.len(), 3, "{json:#}");
    for probe in probes {
        assert_eq!(probe["from"], router.as_str(), "no false * at the unreachable hop: {json:#}");
        assert_eq!(probe["kind"], "unreachable");
        assert_eq!(probe["flag"], "!X");
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_silent_tail_costs_one_timeout_not_one_per_hop() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // The destination drops every probe: every TTL from 4 to the maximum stays silent.
    configure(
        &net,
        &net.server,
        &["iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"],
    );
    let started = std::time::Instant::now();
    let output = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["trace", "--json", "-n", "-g", "-t", "1", "-m", "12", &net.destination.to_string()])
        .output()
        .expect("run tracemap");
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["destination_reached"], false);
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 12, "every TTL up to -m is reported: {json:#}");
    assert!(hops[3..].iter().all(|hop| hop["probes"].as_array().is_some_and(|p| p.iter().all(|p| p.is_null()))));
    // Once TTL 4 stays silent for ten round trips of the routers before it, every remaining TTL is probed at once:
    // the 9 silent TTLs cost one timeout of 1 s together, where probing hop after hop would cost nine.
    assert!(elapsed < Duration::from_millis(1500), "silent tail took {elapsed:?}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_silent_hop_between_answering_hops_costs_milliseconds_not_the_timeout() {
    let net = TestNet::new(4, &[1]).expect(NEEDS_ROOT);
    let started = std::time::Instant::now();
    let json = cli_trace(&net, &["-t", "5"]);
    let elapsed = started.elapsed();
    assert_json_route(&net, &json);
    // The silent router waits ten times the slowest answer beyond it (well under a millisecond here), floored at
    // 5 ms; the 5 s timeout is only the ceiling.
    assert!(elapsed < Duration::from_millis(500), "a silent hop took {elapsed:?}");
}

/// Asserts that every answer at the destination's TTL has the kind `destination`.
fn assert_destination_kind(json: &serde_json::Value) {
    let last = json["hops"].as_array().and_then(|hops| hops.last()).expect("hops");
    for probe in last["probes"].as_array().expect("probes") {
        assert_eq!(probe["kind"], "destination", "{last}");
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_with_classic_udp() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-p", "udp"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_with_paris_udp() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-p", "udp", "--paris"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_with_tcp_syn_to_a_closed_port() {
    // Nothing listens on port 80 of the destination: it answers RST.
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-p", "tcp"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_with_tcp_syn_to_an_open_port() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // A listener inside the destination's namespace (the socket keeps its namespace; it closes with the test).
    let listener = in_namespace(&net.server, || std::net::TcpListener::bind("0.0.0.0:8443").expect("listen"));
    let json = cli_trace(&net, &["-p", "tcp", "--port", "8443"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
    drop(listener);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_first_ttl_skips_the_hops_before_it() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-f", "3"]);
    let ttls: Vec<u64> = json["hops"].as_array().expect("hops").iter().filter_map(|hop| hop["ttl"].as_u64()).collect();
    assert_eq!(ttls, [3, 4], "{json:#}");
    assert_eq!(json["destination_reached"], true);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_over_ipv6_with_icmp() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-6"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_over_ipv6_with_classic_udp() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-6", "-p", "udp"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_over_ipv6_with_paris_udp() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-6", "-p", "udp", "--paris"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_traces_over_ipv6_with_tcp_syn() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let json = cli_trace(&net, &["-6", "-p", "tcp"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
    let listener = in_namespace(&net.server, || std::net::TcpListener::bind("[::]:8443").expect("listen"));
    let json = cli_trace(&net, &["-6", "-p", "tcp", "--port", "8443"]);
    assert_json_route(&net, &json);
    assert_destination_kind(&json);
    drop(listener);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn cli_reports_an_ipv6_reject_route_on_every_try() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    configure(&net, &net.routers[2], &["ip", "-6", "route", "add", "prohibit", &format!("{}/128", net.destination6)]);
    let json = cli_trace(&net, &["-6"]);
    assert_eq!(json["destination_reached"], false, "{json:#}");
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 3, "nothing beyond the unreachable hop: {json:#}");
    let router = net.hops6[2].expect("router 3 answers").to_string();
    for probe in hops[2]["probes"].as_array().expect("probes") {
        assert_eq!(probe["from"], router.as_str(), "no false * at the unreachable hop: {json:#}");
        assert_eq!(probe["flag"], "!X", "{json:#}");
    }
}

/// Runs `config` on `prober` and folds its events into a report.
async fn prober_trace(prober: &tracemap::net::Prober, config: ProbeConfig) -> TraceReport {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reached = prober.trace(&config, &tx).await.expect("trace");
    drop(tx);
    let mut report = TraceReport::new(config.destination.to_string(), config.protocol);
    report.tries = config.tries;
    while let Some(event) = rx.recv().await {
        report.apply(&event);
    }
    assert_eq!(report.destination_reached, reached);
    report
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn concurrent_traces_share_one_prober_and_foreign_replies_are_counted() {
    // One prober runs three traces at once (ICMP over IPv4, TCP and Paris UDP over IPv6), while a second prober in
    // the same namespace (as another process would) runs a UDP trace over IPv4: each prober's raw sockets see the
    // other's replies, and must drop and count them. Each router sees 6 probes per family, within its burst.
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let v4: Vec<Option<String>> = net.hops.iter().map(|hop| hop.map(|a| a.to_string())).collect();
    let v6: Vec<Option<String>> = net.hops6.iter().map(|hop| hop.map(|a| a.to_string())).collect();
    let (destination, destination6) = (IpAddr::V4(net.destination), IpAddr::V6(net.destination6));
    let (reports, other, counters) = in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        runtime.block_on(async move {
            let shared = tracemap::net::Prober::open().expect("prober");
            let separate = tracemap::net::Prober::open().expect("second prober");
            let base = ProbeConfig { max_hops: 10, timeout: Duration::from_secs(1), ..ProbeConfig::default() };
            let configs = [
                ProbeConfig { destination, protocol: Protocol::Icmp, ..base.clone() },
                ProbeConfig { destination: destination6, protocol: Protocol::Tcp, ..base.clone() },
                ProbeConfig { destination: destination6, protocol: Protocol::Udp, paris: true, ..base.clone() },
            ];
            let shared_runs = futures_util::future::join_all(configs.map(|config| prober_trace(&shared, config)));
            let other_run =
                prober_trace(&separate, ProbeConfig { destination, protocol: Protocol::Udp, ..base.clone() });
            let (reports, other) = tokio::join!(shared_runs, other_run);
            let foreign =
                |prober: &tracemap::net::Prober| prober.counters().foreign.load(std::sync::atomic::Ordering::Relaxed);
            (reports, other, (foreign(&shared), foreign(&separate)))
        })
    });
    for (report, route) in reports.iter().zip([&v4, &v6, &v6]) {
        assert_route_is(route, report);
    }
    assert_route_is(&v4, &other);
    // The second prober's UDP trace yields at least 9 ICMP errors the first prober's ICMP socket sees, and the first
    // prober's ICMP trace at least 9 replies the second sees.
    assert!(counters.0 >= 9 && counters.1 >= 9, "foreign replies counted: {counters:?}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn unprivileged_udp_traces_read_the_error_queue() {
    for extra in [&["-p", "udp"][..], &["-p", "udp", "--paris"], &["-6", "-p", "udp"]] {
        // A network each: a UDP trace spends the destination's burst of port unreachables (its window probes a few
        // TTLs beyond), and the next trace right after would find it empty.
        let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
        let json = cli_trace_as(&net, AS_NOBODY, extra);
        assert_json_route(&net, &json);
        assert_destination_kind(&json);
        assert_eq!(json["mode"], "udp_error_queue", "{json:#}");
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn unprivileged_icmp_uses_a_datagram_socket_where_ping_group_range_allows() {
    for extra in [&["-p", "icmp"][..], &["-6", "-p", "icmp"]] {
        let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
        // Every group may open ICMP datagram sockets in the client namespace (the sysctl is per namespace, and
        // governs IPv6 too).
        configure(&net, &net.client, &["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
        let json = cli_trace_as(&net, AS_NOBODY, extra);
        assert_json_route(&net, &json);
        assert_destination_kind(&json);
        assert_eq!(json["mode"], "icmp_datagram", "{json:#}");
    }
    // As root the same trace goes through raw sockets, and says so.
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    assert_eq!(cli_trace(&net, &[])["mode"], "raw");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn unprivileged_icmp_and_tcp_fail_naming_the_remedy() {
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    // A new namespace starts with `1 0`: no group may open ICMP datagram sockets. Say so explicitly anyway, with a
    // range that leaves out nobody's group (65534).
    configure(&net, &net.client, &["sysctl", "-qw", "net.ipv4.ping_group_range=0 1000"]);
    for proto in ["icmp", "tcp"] {
        let output = net
            .exec(&net.client)
            .args(AS_NOBODY)
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .args(["trace", "-n", "-g", "-t", "1", "-p", proto, &net.destination.to_string()])
            .output()
            .expect("run tracemap");
        assert!(!output.status.success(), "{proto} without privileges must fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("setcap cap_net_raw+ep"), "{proto}: {stderr}");
        assert_eq!(stderr.lines().filter(|line| line.starts_with("tracemap:")).count(), 1, "one line: {stderr}");
        if proto == "icmp" {
            assert!(stderr.contains("net.ipv4.ping_group_range"), "{stderr}");
        }
    }
}

/// Captures the packets of a trace of every protocol and family in the test network and writes them as fuzz seeds
/// (`fuzz/seeds/<target>/`), in the form the raw sockets deliver them. Runs only when `TRACEMAP_CAPTURE_SEEDS` names
/// the seeds directory; otherwise it passes without doing anything.
#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn capture_fuzz_seeds() {
    let Some(seeds) = std::env::var_os("TRACEMAP_CAPTURE_SEEDS") else { return };
    let seeds = std::path::PathBuf::from(seeds);
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    configure(&net, &net.routers[2], &["ip", "route", "add", "prohibit", &format!("{}/32", net.destination)]);
    let pcap = std::env::temp_dir().join(format!("probe-seeds-{}.pcap", std::process::id()));
    let mut dump = net
        .exec(&net.client)
        .args(["tcpdump", "-U", "-ni", "east", "-s", "0", "-w"])
        .arg(&pcap)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(500));
    for extra in [
        &["-p", "icmp"][..],
        &["-p", "udp"],
        &["-p", "udp", "--paris"],
        &["-p", "tcp"],
        &["-6", "-p", "icmp"],
        &["-6", "-p", "udp"],
        &["-6", "-p", "tcp"],
    ] {
        let _ = net
            .exec(&net.client)
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .args(["trace", "--json", "-n", "-g", "-t", "0.3", "-m", "5"])
            .args(extra)
            .arg(if extra.contains(&"-6") { net.destination6.to_string() } else { net.destination.to_string() })
            .output();
        std::thread::sleep(Duration::from_millis(1500));
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("kill").arg(dump.id().to_string()).status();
    let _ = dump.wait();
    let bytes = std::fs::read(&pcap).expect("read the capture");
    let _ = std::fs::remove_file(&pcap);
    let mut written = 0;
    // pcap: a 24-byte file header, then per packet a 16-byte record header (captured length at 8..12) and the frame.
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        let Some(frame) = bytes.get(at + 16..at + 16 + len) else { break };
        at += 16 + len;
        // Ethernet: 14 bytes, the EtherType at 12..14.
        let (Some(ethertype), Some(packet)) = (frame.get(12..14), frame.get(14..)) else { continue };
        let (target, seed) = match (ethertype, packet.get(9), packet.get(6)) {
            ([0x08, 0x00], Some(1), _) => ("icmpv4", packet),
            ([0x08, 0x00], Some(6 | 17), _) => ("transport", packet),
            ([0x86, 0xdd], _, Some(58)) => ("icmpv6", &packet[40.min(packet.len())..]),
            ([0x86, 0xdd], _, Some(6 | 17)) => ("transport", &packet[40.min(packet.len())..]),
            _ => continue,
        };
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).expect("seeds directory");
        std::fs::write(dir.join(format!("captured-{written:03}")), seed).expect("write a seed");
        written += 1;
    }
    assert!(written > 50, "only {written} packets captured");
}

/// Runs `traces` copies of `config` at once on one prober in `net`'s client namespace.
fn on_one_prober(net: &TestNet, config: ProbeConfig, traces: usize) -> Vec<TraceReport> {
    in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        runtime.block_on(async move {
            let prober = tracemap::net::Prober::open().expect("prober");
            futures_util::future::join_all((0..traces).map(|_| prober_trace(&prober, config.clone()))).await
        })
    })
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn four_traces_on_one_prober_beyond_the_routers_burst_show_no_false_star() {
    // 4 x 3 probes per router, twice Linux's burst of 6 Time Exceeded per source: a trace whose probes a limiter
    // dropped learns from the others that the hop answers, and resends at turns spaced by the limiter's refill.
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let destination = IpAddr::V4(net.destination);
    let config = ProbeConfig { destination, max_hops: 10, timeout: Duration::from_secs(1), ..ProbeConfig::default() };
    let reports = on_one_prober(&net, config, 4);
    for report in &reports {
        assert_route(&net, report);
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn back_to_back_udp_traces_on_one_prober_survive_the_destinations_limiter() {
    // A UDP trace spends the destination's burst of port unreachables (its window probes a few TTLs beyond); the
    // next trace right after finds it empty, and resends once it refills, knowing from the first that the
    // destination answers there.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let destination = IpAddr::V4(net.destination);
    let reports = in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let prober = tracemap::net::Prober::open().expect("prober");
            let config = ProbeConfig {
                destination,
                protocol: Protocol::Udp,
                max_hops: 10,
                timeout: Duration::from_secs(1),
                ..ProbeConfig::default()
            };
            let first = prober_trace(&prober, config.clone()).await;
            let second = prober_trace(&prober, config).await;
            [first, second]
        })
    });
    for report in &reports {
        assert_route(&net, report);
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn traces_beyond_what_the_routers_limit_allows_report_rate_limited_not_silent() {
    // 12 x 3 probes reach one Linux router (burst 6, a token a second) at once: resends can recover about ten
    // within the 10 s the prober queues them, the rest cannot be answered in any reasonable time. Each of those is
    // reported as rate-limited (tracemap spent the budget itself), never as a silent hop; and no trace ever shows
    // an address that is not on its route.
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    let destination = IpAddr::V4(net.destination);
    let started = std::time::Instant::now();
    // ICMP: the destination's echo replies are not rate-limited, so only the router's budget is at stake.
    let config = ProbeConfig { destination, max_hops: 5, timeout: Duration::from_secs(1), ..ProbeConfig::default() };
    let reports = on_one_prober(&net, config, 12);
    let elapsed = started.elapsed();
    let router = net.hops[0].map(|a| a.to_string());
    let mut limited = 0;
    for report in &reports {
        assert!(report.destination_reached, "{report:?}");
        let hop = &report.hops[0];
        for (index, probe) in hop.probes.iter().enumerate() {
            match probe {
                Some(reply) => assert_eq!(Some(&reply.from), router.as_ref(), "{hop:?}"),
                None => {
                    assert!(hop.rate_limited.contains(&(index as u8)), "a false star at TTL 1: {hop:?}");
                    // With its evidence: the router, and more probes from us than its burst.
                    let evidence = hop.probable_rate_limits.iter().find(|limit| usize::from(limit.index) == index);
                    let evidence = evidence.unwrap_or_else(|| panic!("no evidence for try {index}: {hop:?}"));
                    assert_eq!(Some(&evidence.router), router.as_ref());
                    assert!(evidence.recent_probes > 6, "{evidence:?}");
                    limited += 1;
                }
            }
        }
    }
    eprintln!("{limited} of 36 probes at the router reported rate-limited; all traces done in {elapsed:?}");
    assert!(limited > 0 && limited < 36 - 6, "{limited} rate-limited of 36");
    assert!(elapsed < Duration::from_secs(15), "the resend queue is bounded: {elapsed:?}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn back_to_back_udp_runs_in_separate_processes_find_the_destination() {
    // The first run spends the destination's burst of port unreachables; the second, a new process with no memory
    // of the first, finds the destination silent at first, and its one retry of the silent tail (after a token's
    // refill, within -t 2) finds it.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    for run in 0..3 {
        let json = cli_trace(&net, &["-p", "udp", "-t", "2"]);
        assert_eq!(json["destination_reached"], true, "run {run}: {json:#}");
        assert_json_route(&net, &json);
    }
}
