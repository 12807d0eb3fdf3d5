//! Reverse DNS against real DNS servers inside the test network: Debian's dnsmasq answering PTR queries for every
//! router, and a resolver address where queries are silently dropped. Names must arrive as later `hop_info`
//! events, hops must never wait for them, and the stream must still end with exactly one terminal event after
//! every name. No query ever leaves the namespaces these tests create.
//!
//! They need root, so a plain `cargo test` skips them; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why.

mod common;
mod served;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestNet, in_namespace};
use tokio::sync::mpsc;
use tracemap::enrich::{Enricher, ReverseDns};
use tracemap::probe::ProbeConfig;
use tracemap::runner::{self, TraceJob};
use tracemap_shared::{Protocol, TraceEvent};

const NEEDS_ROOT: &str = "needs root, network namespaces and dnsmasq; run by the README's test command";

/// The name dnsmasq gives the address `ip`.
fn name_of(ip: Ipv4Addr) -> String {
    let [_, _, link, end] = ip.octets();
    format!("hop-{link}-{end}.lab.test")
}

/// dnsmasq serving PTR records for every hop of `net`, in the destination's namespace on its address.
struct Dnsmasq {
    child: Child,
}

impl Dnsmasq {
    fn start(net: &TestNet) -> Dnsmasq {
        let mut command = net.exec(&net.server);
        command
            .arg("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"])
            .arg(format!("--listen-address={}", net.destination))
            .args(["--port=53", "--pid-file=", "--user=root"]);
        for hop in net.hops.iter().flatten() {
            let [a, b, c, d] = hop.octets();
            command.arg(format!("--ptr-record={d}.{c}.{b}.{a}.in-addr.arpa,{}", name_of(*hop)));
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start dnsmasq");
        let server = Dnsmasq { child };
        // Ready once it listens on port 53 of the destination.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let listening = net
                .exec(&net.server)
                .args(["ss", "-Hlun", "sport = :53"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&net.destination.to_string()));
            if listening {
                return server;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        // Only this child, by its own id.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/etc/netns/<ns>/resolv.conf`, which `ip netns exec` mounts over /etc/resolv.conf; removed on drop.
struct NetnsResolvConf {
    dir: PathBuf,
}

impl NetnsResolvConf {
    fn write(ns: &str, text: &str) -> NetnsResolvConf {
        let dir = PathBuf::from("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/<ns>");
        std::fs::write(dir.join("resolv.conf"), text).expect("write resolv.conf");
        NetnsResolvConf { dir }
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one trace with the library from inside `ns`, reverse DNS through `resolv_conf`; every event with the
/// time it arrived, counted from the start.
fn timed_trace(
    ns: &str,
    destination: Ipv4Addr,
    resolv_conf: &str,
    dns_timeout: Duration,
) -> Vec<(Duration, TraceEvent)> {
    let resolv_conf = resolv_conf.to_owned();
    in_namespace(ns, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let enricher =
                Enricher::default().with_reverse_dns(ReverseDns::from_resolv_conf(&resolv_conf, dns_timeout));
            let probe = ProbeConfig {
                destination: IpAddr::V4(destination),
                protocol: Protocol::Icmp,
                max_hops: 10,
                tries: 3,
                timeout: Duration::from_secs(1),
                ..ProbeConfig::default()
            };
            let job = TraceJob { target: destination.to_string(), probe, geo: false, dns: true, location: None };
            let (tx, mut rx) = mpsc::unbounded_channel();
            let started = Instant::now();
            tokio::spawn(runner::run(job, Arc::new(enricher), tx));
            let mut events = Vec::new();
            while let Some(event) = rx.recv().await {
                events.push((started.elapsed(), event));
            }
            events
        })
    })
}

/// The stream ends with exactly one terminal event, and it is `finished` with the destination reached.
fn assert_one_terminal_last(events: &[(Duration, TraceEvent)]) {
    let terminals: Vec<usize> =
        events.iter().enumerate().filter(|(_, (_, e))| e.is_terminal()).map(|(i, _)| i).collect();
    assert_eq!(terminals, [events.len() - 1], "exactly one terminal event, last: {events:#?}");
    assert!(matches!(events.last(), Some((_, TraceEvent::Finished { destination_reached: true, .. }))));
}

/// Every `hop_info` for `address`, in order.
fn infos<'a>(events: &'a [(Duration, TraceEvent)], address: &str) -> Vec<(Duration, Option<&'a str>)> {
    events
        .iter()
        .filter_map(|(at, e)| match e {
            TraceEvent::HopInfo { address: a, hostname, .. } if a == address => Some((*at, hostname.as_deref())),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "needs root, network namespaces and dnsmasq; run by the README's test command"]
fn names_from_dnsmasq_follow_the_hops() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let _dns = Dnsmasq::start(&net);
    let conf = format!("nameserver {}\n", net.destination);
    let events = timed_trace(&net.client, net.destination, &conf, Duration::from_secs(2));
    assert_one_terminal_last(&events);
    for hop in net.hops.iter().flatten() {
        let infos = infos(&events, &hop.to_string());
        assert_eq!(infos.len(), 2, "{hop}: one hop_info at once, one with the name: {infos:?}");
        assert_eq!(infos[0].1, None, "the first hop_info does not wait for the name");
        assert_eq!(infos[1].1, Some(name_of(*hop).as_str()), "{hop}");
        let kind = events.iter().find_map(|(_, e)| match e {
            TraceEvent::HopInfo { address, kind, .. } if *address == hop.to_string() => kind.clone(),
            _ => None,
        });
        assert_eq!(kind.as_deref(), Some("private"));
    }
}

#[test]
#[ignore = "needs root, network namespaces and dnsmasq; run by the README's test command"]
fn a_silent_resolver_delays_no_hop_and_gives_no_name() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // The first router drops DNS queries: no answer, not even an ICMP error to end the wait early.
    for proto in ["udp", "tcp"] {
        net.firewall(&net.routers[0], &["iptables", "-A", "INPUT", "-p", proto, "--dport", "53", "-j", "DROP"])
            .expect("drop DNS queries");
    }
    let silent = net.hops[0].expect("first router answers");
    let dns_timeout = Duration::from_secs(3);
    let events = timed_trace(&net.client, net.destination, &format!("nameserver {silent}\n"), dns_timeout);
    assert_one_terminal_last(&events);

    // Every probe was answered long before a name could have been: the hops did not wait for DNS.
    let last_probe = events.iter().filter(|(_, e)| matches!(e, TraceEvent::Probe { .. })).map(|(at, _)| *at).max();
    let last_probe = last_probe.expect("probe events");
    assert!(last_probe < Duration::from_secs(1), "probes took {last_probe:?}: {events:#?}");
    for hop in net.hops.iter().flatten() {
        let infos = infos(&events, &hop.to_string());
        assert_eq!(infos.len(), 2, "{hop}: {infos:?}");
        assert!(infos[0].0 < Duration::from_secs(1), "{hop}: first hop_info at {:?}", infos[0].0);
        assert_eq!(infos[1].1, None, "{hop}: a name from a silent resolver");
        assert!(infos[1].0 >= dns_timeout - Duration::from_millis(100), "{hop}: gave up early at {:?}", infos[1].0);
    }
    // And the end waited for the lookups, but not much longer.
    let (end, _) = events.last().expect("events");
    assert!(*end < dns_timeout + Duration::from_secs(2), "finished at {end:?}");
}

#[test]
#[ignore = "needs root, network namespaces and dnsmasq; run by the README's test command"]
fn cli_reads_the_namespace_resolv_conf_and_prints_names() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let _dns = Dnsmasq::start(&net);
    let _conf = NetnsResolvConf::write(&net.client, &format!("nameserver {}\noptions timeout:1\n", net.destination));
    let run = |args: &[&str]| {
        let output = net
            .exec(&net.client)
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .args(["trace", "-g", "-t", "1", "-m", "10"])
            .args(args)
            .arg(net.destination.to_string())
            .output()
            .expect("run tracemap");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let json: serde_json::Value = serde_json::from_str(&run(&["--json"])).expect("json");
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), net.hops.len());
    for (hop, expected) in hops.iter().zip(net.hops.iter().flatten()) {
        assert_eq!(hop["address"], expected.to_string());
        assert_eq!(hop["hostname"], name_of(*expected), "{hop}");
        assert_eq!(hop["kind"], "private", "{hop}");
    }

    let table = run(&[]);
    for hop in net.hops.iter().flatten() {
        assert!(table.contains(&format!("{} ({hop})", name_of(*hop))), "{hop} named in the table:\n{table}");
    }
    let table = run(&["-n"]);
    assert!(!table.contains("lab.test"), "-n looks up no names:\n{table}");

    // `locate` uses the same resolver and says where the name came from.
    let first = net.hops[0].expect("first router answers");
    let output = net
        .exec(&net.client)
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .args(["locate", "--json", "-g", &first.to_string(), "10.9.9.9"])
        .output()
        .expect("run tracemap locate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answers: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(answers[0]["hostname"], name_of(first), "{answers:#}");
    assert_eq!(answers[0]["hostname_source"], "reverse DNS");
    assert!(answers[1]["hostname"].is_null(), "no PTR record, no name: {answers:#}");
}

#[test]
#[ignore = "needs root, network namespaces and dnsmasq; run by the README's test command"]
fn the_server_names_hops_unless_started_with_no_dns() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let _dns = Dnsmasq::start(&net);
    let _conf = NetnsResolvConf::write(&net.client, &format!("nameserver {}\noptions timeout:1\n", net.destination));
    let dir = served::scratch("nodns");
    let trace = |port: u16, extra: &[&str]| {
        let db = dir.join(format!("{port}.sqlite"));
        let server = served::Server::start(net.exec(&net.client), &net.client, port, &db, extra);
        let base = server.base.clone();
        let destination = net.destination.to_string();
        in_namespace(&net.client, move || {
            let (_, config) = served::get(&base, "/api/config");
            // One probe per hop: two traces through the same routers stay inside their ICMP budget.
            let body = serde_json::json!({"target": destination, "tries": 1, "dns": true});
            let (status, created, _) = served::post(&base, body);
            assert_eq!(status, 201, "{created}");
            (config, served::wait_done(&base, created["id"].as_str().expect("trace id")))
        })
    };
    let names = |trace: &serde_json::Value| -> Vec<Option<String>> {
        trace["hops"].as_array().expect("hops").iter().map(|h| h["hostname"].as_str().map(str::to_owned)).collect()
    };
    let expected: Vec<Option<String>> = net.hops.iter().flatten().map(|hop| Some(name_of(*hop))).collect();

    let (config, named) = trace(18091, &[]);
    assert_eq!(config["reverse_dns"], true);
    assert_eq!(names(&named), expected, "{named}");

    let (config, unnamed) = trace(18092, &["--no-dns"]);
    assert_eq!(config["reverse_dns"], false);
    assert_eq!(unnamed["destination_reached"], true, "{unnamed}");
    assert_eq!(names(&unnamed), vec![None; expected.len()], "--no-dns overrides the request: {unnamed}");
    let _ = std::fs::remove_dir_all(&dir);
}
