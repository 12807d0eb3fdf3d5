//! Old data as a user meets it, with the real `tracemap` binary and a data directory whose sets are years old:
//! `tracemap data` says STALE, `tracemap serve` says it once in its start-up log, and `tracemap locate` (like
//! `trace`, which shares its start-up) does not repeat it on every run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch data directory with a `geoip` and an `asn` set from 2020 (their files are empty: no database opens).
fn old_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    for set in ["geoip", "asn"] {
        std::fs::create_dir_all(data.join(set)).expect("mkdir");
        std::fs::write(data.join(set).join("VERSION"), "2.3.2020010100\n").expect("write VERSION");
    }
    data
}

fn tracemap(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracemap"));
    // No configuration file or data of this machine's user; no RUST_LOG from the caller.
    command.current_dir(dir).env("XDG_CONFIG_HOME", dir).env("XDG_DATA_HOME", dir).env_remove("RUST_LOG");
    command.env_remove("TRACEMAP_DATA_DIR").env_remove("TRACEMAP_DB");
    command
}

#[test]
fn stale_data_is_said_by_data_and_once_by_serve_but_not_by_every_locate() {
    let dir = std::env::temp_dir().join(format!("tracemap-data-age-{}", std::process::id()));
    let data = old_data(&dir);

    let output = tracemap(&dir).arg("data").arg("--data-dir").arg(&data).output().expect("tracemap data");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches("STALE: older than 90 days").count(), 2, "{stdout}");

    let output = tracemap(&dir)
        .args(["locate", "-n", "--data-dir"])
        .arg(&data)
        .arg("192.0.2.1")
        .output()
        .expect("tracemap locate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("older than"), "locate repeats the data's age: {stderr}");

    // The server, on a port of the system's choosing, keeping its privileges (it may run unprivileged here).
    let mut server = tracemap(&dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--keep-privileges", "--no-dns", "--data-dir"])
        .arg(&data)
        .arg("--db")
        .arg(dir.join("t.sqlite"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tracemap serve");
    let stderr = server.stderr.take().expect("stderr");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("tracemap is serving")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => break,
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let log = log.join("\n");
    assert!(log.contains("tracemap is serving"), "the server did not start: {log}");
    let stale: Vec<&str> = log.lines().filter(|l| l.contains("older than")).collect();
    assert_eq!(stale.len(), 1, "one line about old data: {log}");
    assert!(stale[0].contains("WARN") && stale[0].contains("(geoip 2"), "{log}");
    assert!(stale[0].contains("asn 2") && stale[0].contains("`tracemap data`"), "{log}");
}
