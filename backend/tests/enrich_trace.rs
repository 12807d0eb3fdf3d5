//! Enrichment wired into `tracemap trace` through real routers (network namespaces): a classroom-lab geofeed
//! places the private routers, an ASN range file names their AS, and both show in the table and in `--json`,
//! with each hop's address kind; a silent router gets nothing made up.
//!
//! They need root, so a plain `cargo test` skips them; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why.

mod common;

use std::path::PathBuf;

use common::TestNet;

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

/// A lab's own data files in a scratch directory, removed on drop.
struct LabFiles {
    dir: PathBuf,
    geofeed: PathBuf,
    asn: PathBuf,
}

impl LabFiles {
    fn new() -> LabFiles {
        let dir =
            std::env::temp_dir().join(format!("enrich-trace-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let geofeed = dir.join("lab.geofeed");
        // The first link's /24 is in Auckland; the rest of 10/8 in Wellington, so longest prefix decides. A router
        // beside another (`TestNet::add_parallel_router`, on 10.200/16) is in Perth, in its own AS.
        std::fs::write(
            &geofeed,
            "# classroom lab\n10.0.0.0/8,NZ,NZ-WGN,Wellington,,-41.29,174.78\n10.0.0.0/24,NZ,NZ-AUK,Auckland,,-36.85,174.76\n\
             10.200.0.0/16,AU,AU-WA,Perth,,-31.95,115.86\n",
        )
        .expect("geofeed");
        let asn = dir.join("lab-asn.csv");
        std::fs::write(
            &asn,
            "10.0.0.0,10.0.255.255,64512,\"Lab, Campus Net\"\n10.200.0.0,10.200.255.255,64513,Twin Transit\n",
        )
        .expect("asn csv");
        LabFiles { dir, geofeed, asn }
    }
}

impl Drop for LabFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `tracemap trace -n` in the client namespace of `net` with the lab's files, from the scratch directory
/// (so no default data is picked up).
fn trace(net: &TestNet, files: &LabFiles, extra: &[&str]) -> String {
    let mut args: Vec<std::ffi::OsString> = ["-n", "-t", "1", "-m", "10", "--geofeed"].iter().map(Into::into).collect();
    args.extend([files.geofeed.clone().into_os_string(), "--asn-db".into(), files.asn.clone().into_os_string()]);
    args.extend(extra.iter().map(Into::into));
    net.trace_from_client(&files.dir, args)
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn json_hops_carry_geofeed_places_asn_and_kind() {
    let net = TestNet::new(3, &[1]).expect(NEEDS_ROOT);
    let files = LabFiles::new();
    let json: serde_json::Value = serde_json::from_str(&trace(&net, &files, &["--json"])).expect("json");
    let hops = json["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), net.hops.len(), "{json:#}");
    for (hop, expected) in hops.iter().zip(&net.hops) {
        match expected {
            None => {
                for key in ["geo", "asn", "kind", "hostname"] {
                    assert!(hop[key].is_null(), "silent hop has no {key}: {hop}");
                }
            }
            Some(address) => {
                let city = if address.octets()[2] == 0 { "Auckland" } else { "Wellington" };
                assert_eq!(hop["geo"]["city"], city, "{hop}");
                assert_eq!(hop["geo"]["source"], "geofeed lab.geofeed");
                assert_eq!(hop["asn"]["number"], 64512, "{hop}");
                assert_eq!(hop["asn"]["org"], "Lab, Campus Net");
                assert_eq!(hop["asn"]["source"], "lab-asn.csv");
                assert_eq!(hop["kind"], "private");
                assert!(hop["hostname"].is_null(), "-n");
            }
        }
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn table_shows_as_and_place_and_no_geoip_keeps_the_as() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let files = LabFiles::new();
    let table = trace(&net, &files, &[]);
    let lines: Vec<&str> = table.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + net.hops.len(), "{table}");
    assert!(lines[1].ends_with("10.0.0.2  [AS64512 Lab, Campus Net]  Auckland, AUK, NZ"), "{table}");
    assert!(lines[2].ends_with("10.0.1.2  [AS64512 Lab, Campus Net]  Wellington, WGN, NZ"), "{table}");
    // The lab's feed puts two routers a few microseconds apart 480 km from each other: under the table, the
    // speed of light says they cannot both be right.
    assert!(
        table.contains("? hop 2 (Wellington, WGN, NZ) and hop 1 (Auckland, AUK, NZ) cannot both be right"),
        "{table}"
    );

    let table = trace(&net, &files, &["-g"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].ends_with("10.0.0.2  [AS64512 Lab, Campus Net]  private address"), "-g: no place\n{table}");
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_per_flow_load_balanced_hop_keeps_both_routers_each_with_its_own_place_and_as() {
    let mut net = TestNet::new(3, &[]).expect(NEEDS_ROOT);
    // Router 1 splits flows between router 2 and a twin beside it; classic UDP changes ports with every probe, so
    // the eight tries of TTL 2 go both ways (all eight one way: a chance of 1 in 128).
    let twin = net.add_parallel_router(1).expect("a router beside router 2").to_string();
    let files = LabFiles::new();
    let json: serde_json::Value =
        serde_json::from_str(&trace(&net, &files, &["--json", "-p", "udp", "-r", "8"])).expect("json");
    assert_eq!(json["destination_reached"], true, "{json:#}");
    let hop = &json["hops"][1];
    let router = net.hops[1].expect("router 2 answers").to_string();
    let addresses = hop["addresses"].as_array().unwrap_or_else(|| panic!("TTL 2 has addresses: {hop:#}"));
    let mut seen: Vec<&str> = addresses.iter().filter_map(|a| a["address"].as_str()).collect();
    seen.sort_unstable();
    let mut both = vec![router.as_str(), twin.as_str()];
    both.sort_unstable();
    assert_eq!(seen, both, "both routers answered TTL 2: {hop:#}");
    let mut tries = 0;
    for entry in addresses {
        let (city, number) = if entry["address"] == router.as_str() { ("Wellington", 64512) } else { ("Perth", 64513) };
        assert_eq!(entry["geo"]["city"], city, "{entry}");
        assert_eq!(entry["asn"]["number"], number, "{entry}");
        assert_eq!(entry["kind"], "private", "{entry}");
        for index in entry["probes"].as_array().expect("probes") {
            let index = index.as_u64().expect("try index") as usize;
            assert_eq!(hop["probes"][index]["from"], entry["address"], "try {index} is this address's: {hop:#}");
            tries += 1;
        }
    }
    assert_eq!(tries, 8, "every try belongs to one address: {hop:#}");
    // The hop's own fields are the shown address's own, never a mix.
    let shown = addresses.iter().find(|a| a["address"] == hop["address"]).expect("the shown address has an entry");
    assert_eq!((&hop["geo"], &hop["asn"]), (&shown["geo"], &shown["asn"]), "{hop:#}");
    // The hops before and after the diamond have one address each.
    for ttl in [0, 2, 3] {
        assert_eq!(json["hops"][ttl]["addresses"].as_array().map(Vec::len), Some(1), "{json:#}");
    }
}
