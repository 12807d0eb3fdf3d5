//! The configuration file as a user meets it: the real `tracemap` binary reading `$XDG_CONFIG_HOME/tracemap/
//! config.toml`, with `TRACEMAP_*` variables and flags on top, as `tracemap config` reports it; and a bad file
//! stopping every command with the file and line.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch `$XDG_CONFIG_HOME` holding `text` as `tracemap/config.toml`.
fn config_home(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemap-config-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tracemap")).expect("mkdir");
    std::fs::write(dir.join("tracemap/config.toml"), text).expect("write config");
    dir
}

fn tracemap(home: &PathBuf, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracemap"));
    command.env("XDG_CONFIG_HOME", home).env_remove("TRACEMAP_LISTEN").env_remove("TRACEMAP_RATE_BURST");
    command.envs(env.iter().copied()).args(args).output().expect("run tracemap")
}

/// The `key = value  # origin` line `tracemap config` prints for `key`.
fn line<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("no {key}: {stdout}"))
}

#[test]
fn file_then_environment_then_flag_each_win_and_config_says_where_from() {
    let home = config_home(
        "precedence",
        "[serve]\nlisten = \"127.0.0.2:9001\"\nrate-burst = 9\nrate-per-minute = 40\n\
         allow-origin = [\"https://a.example\", \"https://b.example\"]\n\n[trace]\nmax-hops = 12\nfamily = \"6\"\n",
    );
    let file = home.join("tracemap/config.toml").display().to_string();
    let output = tracemap(
        &home,
        &[("TRACEMAP_LISTEN", "127.0.0.3:9002"), ("TRACEMAP_RATE_BURST", "7")],
        &["config", "serve", "--rate-burst", "3"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("{file} (read)")), "{stdout}");
    // File only; file then environment; file, environment and flag; nothing at all.
    assert!(line(&stdout, "rate-per-minute").ends_with(&format!("# {file}:4")), "{stdout}");
    assert!(line(&stdout, "listen").starts_with("listen = \"127.0.0.3:9002\""), "{stdout}");
    assert!(line(&stdout, "listen").ends_with("# env TRACEMAP_LISTEN"), "{stdout}");
    assert!(line(&stdout, "rate-burst").starts_with("rate-burst = 3 "), "{stdout}");
    assert!(line(&stdout, "rate-burst").ends_with("# flag"), "{stdout}");
    assert!(line(&stdout, "max-concurrent").ends_with("# default"), "{stdout}");
    assert!(
        line(&stdout, "allow-origin").starts_with("allow-origin = [\"https://a.example\", \"https://b.example\"]"),
        "{stdout}"
    );

    // The database is in the user's state directory, not the current one.
    let state = home.join("state").display().to_string();
    let output = tracemap(&home, &[("XDG_STATE_HOME", &state)], &["config", "serve"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(line(&stdout, "db").starts_with(&format!("db = \"{state}/tracemap/traces.sqlite\"")), "{stdout}");
    assert!(line(&stdout, "db").ends_with("# default"), "{stdout}");

    // The [trace] table gives trace's defaults (the host is the one positional, not a setting), the address
    // family among them; -4 on the command line beats it.
    let output = tracemap(&home, &[], &["config", "trace", "127.0.0.1"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(line(&stdout, "max-hops").ends_with(&format!("# {file}:8")), "{stdout}");
    assert!(line(&stdout, "family").starts_with("family = 6 ") && line(&stdout, "family").ends_with(":9"));
    let output = tracemap(&home, &[], &["config", "trace", "127.0.0.1", "-4"]);
    assert!(output.status.success(), "-4 over the file's family: {}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_bad_file_stops_every_command_naming_file_and_line() {
    let home = config_home("unknown", "[serve]\nlisten = \"127.0.0.1:8080\"\nlisen = \"0.0.0.0:80\"\n");
    let file = home.join("tracemap/config.toml").display().to_string();
    for args in [&["config"][..], &["trace", "127.0.0.1"], &["data"]] {
        let output = tracemap(&home, &[], args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("tracemap: {file}:3: unknown key \"lisen\" in [serve]")), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&home);

    let home = config_home("type", "[trace]\ntries = \"lots\"\n");
    let output = tracemap(&home, &[], &["config"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config.toml:2: [trace] tries: invalid value 'lots'"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}
