//! Traces through real Linux routers in network namespaces (see `common::TestNet`): the exact hop list, `*` at a
//! silent router, every probe of a responsive hop answered, the destination reached.
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why, instead of passing without testing anything.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::TestNet;
use tokio::sync::mpsc;
use tracemap::probe::ProbeConfig;
use tracemap_shared::{Protocol, ReplyKind, TraceEvent, TraceReport};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// Runs `f` on a new thread that has entered the network namespace `ns`, so the trace's sockets live there.
fn in_namespace<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("open the namespace");
    std::thread::spawn(move || {
        // SAFETY: setns only changes this thread's network namespace; the fd is a live namespace file.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("the namespace thread panicked")
}

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
                        assert!(matches!(event, TraceEvent::Probe { .. }), "only probe events: {event:?}");
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

/// Asserts that `report` found exactly `net`'s route.
fn assert_route(net: &TestNet, report: &TraceReport) {
    let found: Vec<Option<String>> = report.hops.iter().map(|hop| hop.address.clone()).collect();
    let expected: Vec<Option<String>> = net.hops.iter().map(|hop| hop.map(|a| a.to_string())).collect();
    assert_eq!(found, expected, "hop list");
    for (hop, expected) in report.hops.iter().zip(&net.hops) {
        assert_eq!(hop.probes.len(), 3, "three probes at TTL {}", hop.ttl);
        match expected {
            None => assert!(hop.probes.iter().all(Option::is_none), "silent hop {} answered: {hop:?}", hop.ttl),
            Some(address) => {
                for reply in &hop.probes {
                    let reply = reply.as_ref().unwrap_or_else(|| panic!("false * at TTL {}: {hop:?}", hop.ttl));
                    assert_eq!(reply.from, address.to_string());
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
