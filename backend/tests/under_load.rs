//! The prober bends instead of breaking, in real network namespaces: a probe the host refuses to send (a local
//! firewall's REJECT or DROP, which a raw socket's send sees as EPERM) costs that probe, reported with the reason,
//! and never the trace; and the kernel filter on the raw TCP socket keeps the host's other TCP traffic (here an
//! HTTP exchange) away from the segment parser, while the answers to TCP probes still reach it.
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{TestNet, in_namespace};
use tokio::sync::mpsc;
use tracemap::net::Prober;
use tracemap::probe::ProbeConfig;
use tracemap_shared::{Protocol, ReplyKind, TraceReport};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// Traces `destination` from inside `ns` with the library and folds the events.
fn trace_from(ns: &str, destination: Ipv4Addr, protocol: Protocol) -> TraceReport {
    in_namespace(ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let config = ProbeConfig {
                destination: IpAddr::V4(destination),
                protocol,
                max_hops: 8,
                tries: 3,
                timeout: Duration::from_secs(1),
                ..ProbeConfig::default()
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            let reached = tracemap::net::trace(&config, &tx).await.expect("the trace must not fail");
            drop(tx);
            let mut report = TraceReport::new(destination.to_string(), protocol);
            report.tries = 3;
            while let Some(event) = rx.recv().await {
                report.apply(&event);
            }
            assert_eq!(report.destination_reached, reached);
            report
        })
    })
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn probes_a_local_firewall_refuses_are_reported_not_sent_and_the_trace_finishes() {
    // Route: router 1 (TTL 1), router 2 (TTL 2), router 3 (TTL 3), the destination (TTL 4).
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // The client's own firewall refuses the echo requests leaving with TTL 2 (REJECT) and TTL 3 (DROP): a raw
    // socket's send then fails with EPERM.
    for (ttl, verdict) in [("2", &["REJECT", "--reject-with", "icmp-admin-prohibited"][..]), ("3", &["DROP"][..])] {
        let mut rule = vec!["iptables", "-A", "OUTPUT", "-p", "icmp", "--icmp-type", "echo-request"];
        rule.extend(["-m", "ttl", "--ttl-eq", ttl, "-j"]);
        rule.extend(verdict);
        net.firewall(&net.client, &rule).expect("iptables rule");
    }
    let report = trace_from(&net.client, net.destination, Protocol::Icmp);

    assert!(report.destination_reached, "the trace went on past the refused probes: {report:?}");
    let hop =
        |ttl: u8| report.hops.iter().find(|hop| hop.ttl == ttl).unwrap_or_else(|| panic!("TTL {ttl}: {report:?}"));
    for ttl in [2, 3] {
        let refused = hop(ttl);
        assert!(refused.probes.iter().all(Option::is_none), "nothing answered TTL {ttl}: {refused:?}");
        let indexes: Vec<u8> = refused.not_sent.iter().map(|not_sent| not_sent.index).collect();
        assert_eq!(indexes, [0, 1, 2], "every try of TTL {ttl} reported as not sent: {refused:?}");
        for not_sent in &refused.not_sent {
            assert!(not_sent.reason.contains("Operation not permitted"), "the system's reason: {not_sent:?}");
        }
        assert!(refused.rate_limited.is_empty());
    }
    assert_eq!(hop(1).answered(), 3, "{:?}", hop(1));
    assert!(hop(1).not_sent.is_empty());
    let last = hop(4);
    assert_eq!(last.answered(), 3, "{last:?}");
    assert!(last.probes.iter().flatten().all(|reply| reply.kind == ReplyKind::Destination));
}

/// One HTTP/1.1 exchange with a server at `to`: a request, a response of `body` bytes, both sides closing cleanly
/// (everything sent is read, so no reset).
fn http_exchange(to: SocketAddr) {
    let mut stream = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    stream.write_all(b"GET /api/traces HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    assert!(
        response.starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&response[..64.min(response.len())])
    );
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn http_traffic_never_reaches_the_tcp_parser_but_answers_to_tcp_probes_do() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    for (client, destination) in [
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(net.destination)),
        (IpAddr::V6("fd00::1".parse().expect("address")), IpAddr::V6(net.destination6)),
    ] {
        let (http_counted, probe_counted, reached) = tcp_segments_parsed(&net, client, destination);
        assert_eq!(http_counted, 0, "{EXCHANGES} HTTP exchanges of {BODY} bytes to {client}: segments parsed");
        assert!(reached, "the TCP trace to {destination} reached it");
        assert!(probe_counted >= 3, "the destination's three RSTs reached the parser: {probe_counted}");
    }
}

const EXCHANGES: usize = 20;
const BODY: usize = 64 * 1024;

/// In `net`'s client namespace, with a prober open: how many TCP segments its parser saw during [`EXCHANGES`] HTTP
/// exchanges with a server on `client` (the prober's host), then during a TCP trace to `destination`'s closed port
/// 80, and whether that trace reached it.
fn tcp_segments_parsed(net: &TestNet, client: IpAddr, destination: IpAddr) -> (u64, u64, bool) {
    let server_ns = net.server.clone();
    in_namespace(&net.client, move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let prober = Prober::open().expect("raw sockets");
            // An HTTP server on the prober's host, as `tracemap serve` is, answered from another host of the
            // test network: each exchange brings SYN, ACK, data and FIN segments in.
            let listener = tokio::net::TcpListener::bind((client, 0)).await.expect("listen");
            let address = listener.local_addr().expect("address");
            let server = tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                for _ in 0..EXCHANGES {
                    let (mut stream, _) = listener.accept().await.expect("accept");
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.ends_with(b"\r\n\r\n") {
                        let n = stream.read(&mut buf).await.expect("read");
                        assert!(n > 0, "request cut short");
                        request.extend_from_slice(&buf[..n]);
                    }
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\nConnection: close\r\n\r\n");
                    stream.write_all(head.as_bytes()).await.expect("head");
                    stream.write_all(&vec![b'x'; BODY]).await.expect("body");
                    stream.shutdown().await.expect("close");
                    // Wait for the client's own close, so nothing is left unread (which would send a reset).
                    while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                }
            });
            tokio::task::spawn_blocking(move || {
                in_namespace(&server_ns, move || {
                    for _ in 0..EXCHANGES {
                        http_exchange(address);
                    }
                })
            })
            .await
            .expect("client");
            server.await.expect("server");
            // Let the readers take whatever the kernel queued.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let http_counted = prober.counters().tcp_segments.load(Ordering::Relaxed);

            // Then a TCP trace to the destination's closed port 80: its RSTs must get through.
            let config = ProbeConfig {
                destination,
                protocol: Protocol::Tcp,
                max_hops: 6,
                tries: 3,
                timeout: Duration::from_secs(1),
                ..ProbeConfig::default()
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            let reached = prober.trace(&config, &tx).await.expect("trace");
            drop(tx);
            while rx.recv().await.is_some() {}
            let probe_counted = prober.counters().tcp_segments.load(Ordering::Relaxed) - http_counted;
            (http_counted, probe_counted, reached)
        })
    })
}
