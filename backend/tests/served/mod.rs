//! A real `tracemap serve` process inside a test network namespace, and a way for the test to talk to it: a
//! thread that has entered the same namespace (sockets belong to the namespace of the thread that opens them).

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::in_namespace;

/// An HTTP client that reports every status instead of failing on 4xx/5xx.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A running `tracemap serve`; killed (SIGKILL) on drop so a failing test leaves nothing behind.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` inside the namespace.
    pub base: String,
    /// The SQLite file it stores traces in.
    pub db: PathBuf,
}

impl Server {
    /// Starts the server in `ns` via `launcher` (`ip netns exec ns`), listening on `port`, storing in `db`, with
    /// `extra` arguments; returns once it answers `/healthz`.
    pub fn start(launcher: Command, ns: &str, port: u16, db: &Path, extra: &[&str]) -> Server {
        Server::start_on(launcher, ns, &format!("127.0.0.1:{port}"), db, extra)
    }

    /// Like [`Server::start`], listening on `listen` (`ADDR:PORT`): an address beyond loopback turns on the
    /// server's target policy.
    pub fn start_on(mut launcher: Command, ns: &str, listen: &str, db: &Path, extra: &[&str]) -> Server {
        // The server's log goes beside its database, to read when a test fails.
        let log = std::fs::File::create(db.with_extension("log")).expect("server log file");
        let child = launcher
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .args(["serve", "--listen", listen])
            .arg("--db")
            .arg(db)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("server starts");
        let base = format!("http://{listen}");
        let server = Server { child, base: base.clone(), db: db.to_owned() };
        in_namespace(ns, move || {
            let agent = agent();
            let deadline = Instant::now() + Duration::from_secs(20);
            while agent.get(&format!("{base}/healthz")).call().is_err() {
                assert!(Instant::now() < deadline, "server did not come up on {base}");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        server
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracemap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
