//! Routers placed from their names, and database places the speed of light rules out, through `tracemap trace`
//! on real routers (network namespaces). Debian's dnsmasq, inside the test network, gives the routers names in
//! operators' conventions (`ae5.cs2.ams10.nl.eth…`, `Amsterdam1`…) and the destination none; no database knows
//! them, then a fixture database (written by `support/mmdb_writer.rs`) places every address in Sydney. With the
//! prober in Amsterdam, replies of a fraction of a millisecond rule Sydney out: the JSON says `plausible: false`
//! and the table marks the place with `?` and a footnote.
//!
//! They need root, network namespaces, dnsmasq and the place table that `scripts/setup.sh` fetches into
//! `data/places/` (or `TRACEMAP_PLACES_DIR`). Without it they say so and fail under `CI=true`.

mod common;
#[path = "support/mmdb_writer.rs"]
mod mmdb_writer;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::TestNet;
use mmdb_writer::{MmdbWriter, Value, map, s};

const NEEDS_ROOT: &str = "needs root, network namespaces and dnsmasq; run by the README's test command";

/// The names the routers carry, nearest first, and the token each is read by.
const NAMES: [(&str, &str); 3] = [
    ("ae5.cs2.ams10.nl.eth.transit-lab.test", "ams10"),
    ("be3037.ccr21.ams03.atlas.transit-lab.test", "ams03"),
    ("ae-2-3602.ear4.Amsterdam1.transit-lab.test", "amsterdam1"),
];

/// dnsmasq answering PTR queries for the routers, in the destination's namespace; killed on drop (only it).
struct Dnsmasq(Child);

impl Dnsmasq {
    fn start(net: &TestNet, records: &[(Ipv4Addr, &str)]) -> Dnsmasq {
        let mut command = net.exec(&net.server);
        command
            .arg("dnsmasq")
            .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces"])
            .arg(format!("--listen-address={}", net.destination))
            .args(["--port=53", "--pid-file=", "--user=root"]);
        for (ip, name) in records {
            let [a, b, c, d] = ip.octets();
            command.arg(format!("--ptr-record={d}.{c}.{b}.{a}.in-addr.arpa,{name}"));
        }
        let server = Dnsmasq(command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start dnsmasq"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !net
            .exec(&net.server)
            .args(["ss", "-Hlun", "sport = :53"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&net.destination.to_string()))
        {
            assert!(Instant::now() < deadline, "dnsmasq did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch folder to run tracemap in: `data/places` links to the real place table, `resolv` is the client
/// namespace's resolver (`/etc/netns/<ns>/resolv.conf`); both removed on drop.
struct Scratch {
    dir: PathBuf,
    netns_etc: PathBuf,
}

impl Scratch {
    fn new(net: &TestNet) -> Option<Scratch> {
        let places = std::env::var_os("TRACEMAP_PLACES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/places"));
        if !places.join("cities.pbf").is_file() && !places.join("places.idx").is_file() {
            let why = format!("NOT RUN: no place table in {} (scripts/setup.sh fetches it)", places.display());
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("{why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("names-places-{}-{}", std::process::id(), net.client));
        std::fs::create_dir_all(dir.join("data")).expect("scratch dir");
        std::os::unix::fs::symlink(places.canonicalize().expect("places dir"), dir.join("data/places"))
            .expect("link the place table");
        let netns_etc = PathBuf::from("/etc/netns").join(&net.client);
        std::fs::create_dir_all(&netns_etc).expect("/etc/netns/<ns>");
        std::fs::write(netns_etc.join("resolv.conf"), format!("nameserver {}\noptions timeout:1\n", net.destination))
            .expect("resolv.conf");
        Some(Scratch { dir, netns_etc })
    }

    /// A database that places every address of the test network in Sydney.
    fn far_database(&self) -> PathBuf {
        let sydney: Value = map([
            ("city", s("Sydney")),
            ("country_code", s("AU")),
            ("latitude", Value::F64(-33.8688)),
            ("longitude", Value::F64(151.209)),
            ("state1", s("New South Wales")),
        ]);
        let path = self.dir.join("far-away.mmdb");
        MmdbWriter::new(4, "Far-Away-City").insert("10.0.0.0/8", &sydney).write(&path);
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.netns_etc);
    }
}

fn trace(net: &TestNet, scratch: &Scratch, extra: &[&str]) -> String {
    // Each run spends three of a router's six ICMP error tokens (refilled at one a second): let them refill so a
    // later run meets full buckets, as a user's would.
    std::thread::sleep(Duration::from_secs(3));
    net.trace_from_client(&scratch.dir, ["-t", "1", "-m", "10"].iter().chain(extra))
}

#[test]
#[ignore = "needs root, network namespaces and dnsmasq; run by the README's test command"]
fn routers_are_placed_from_their_names_and_far_databases_are_flagged() {
    let net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    let routers: Vec<Ipv4Addr> = net.hops[..3].iter().map(|h| h.expect("every router answers")).collect();
    let records: Vec<(Ipv4Addr, &str)> = routers.iter().zip(NAMES).map(|(ip, (name, _))| (*ip, name)).collect();
    let _dns = Dnsmasq::start(&net, &records);
    let Some(scratch) = Scratch::new(&net) else { return };

    // No database: every router is placed from its name, and the token is recorded.
    let json: serde_json::Value = serde_json::from_str(&trace(&net, &scratch, &["--json"])).expect("json");
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 4, "{json:#}");
    for (hop, (name, token)) in hops.iter().zip(NAMES) {
        // dnsmasq answers in lower case.
        assert_eq!(hop["hostname"], name.to_ascii_lowercase(), "{hop:#}");
        assert_eq!(hop["geo"]["source"], "hostname", "{hop:#}");
        assert_eq!(hop["geo"]["token"], token, "{hop:#}");
        assert_eq!(hop["geo"]["country_code"], "NL", "{hop:#}");
        assert!(hop["geo"]["max_km"].as_f64().is_some_and(|km| km >= 0.0), "a bound from the RTT: {hop:#}");
    }
    assert!(hops[3]["geo"].is_null(), "the nameless destination has no place: {:#}", hops[3]);

    // A database that puts everything in Sydney, and the prober in Amsterdam: the names win, the database's
    // places are kept as candidates and flagged; the destination, known only to the database, is flagged too.
    let far = scratch.far_database();
    let far = far.to_str().expect("utf-8 path");
    let located = ["--geoip-db", far, "--location", "52.37,4.89,Amsterdam lab"];
    let json: serde_json::Value =
        serde_json::from_str(&trace(&net, &scratch, &[&["--json"][..], &located[..]].concat())).expect("json");
    assert_eq!(json["location"]["city"], "Amsterdam lab");
    let hops = json["hops"].as_array().expect("hops");
    for hop in &hops[..3] {
        let geo = &hop["geo"];
        assert_eq!((&geo["source"], &geo["plausible"]), (&"hostname".into(), &true.into()), "{hop:#}");
        let candidates = geo["candidates"].as_array().expect("candidates");
        assert_eq!(candidates.len(), 2, "{hop:#}");
        assert_eq!(candidates[0]["source"], "hostname");
        assert_eq!((&candidates[1]["source"], &candidates[1]["city"]), (&"Far-Away-City".into(), &"Sydney".into()));
        assert_eq!(candidates[1]["plausible"], false, "the speed of light rules Sydney out: {hop:#}");
    }
    let destination = &hops[3]["geo"];
    assert_eq!((&destination["city"], &destination["plausible"]), (&"Sydney".into(), &false.into()), "{destination:#}");

    let table = trace(&net, &scratch, &located);
    println!("{table}");
    let lines: Vec<&str> = table.lines().collect();
    for (line, (_, token)) in lines[1..4].iter().zip(NAMES) {
        assert!(line.contains(&format!("(name: {token})")) && !line.ends_with('?'), "{table}");
    }
    assert!(lines[4].ends_with("Sydney, New South Wales, AU?"), "flagged:\n{table}");
    let note = format!(
        "? hop 4: Far-Away-City puts {} in Sydney, New South Wales, AU, but its fastest reply",
        net.destination
    );
    assert!(table.contains(&note), "footnote:\n{table}");
}
