//! A real `tracemap serve` process inside a test network namespace, and a way for the test to talk to it: a
//! thread that has entered the same namespace (sockets belong to the namespace of the thread that opens them).

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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

    /// Like [`Server::start`], listening on `listen` (`ADDR:PORT`): clients reaching it from another address are
    /// remote, so the server's target policy applies to them.
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

    /// Asks the server to stop (SIGTERM, as systemd does) and waits up to `limit` for it to exit; its exit status
    /// and how long it took, or `None` if it was still running (it is then killed).
    pub fn terminate(mut self, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let started = Instant::now();
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM");
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

/// `POST /api/traces` with `body`: the status, the JSON answer and any `Retry-After`.
pub fn post(base: &str, body: Value) -> (u16, Value, Option<String>) {
    let mut res = agent().post(&format!("{base}/api/traces")).send_json(body).expect("POST");
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, res.body_mut().read_json().unwrap_or(Value::Null), retry)
}

/// `GET` of `path` on the server: the status and the JSON answer (`null` when it is not JSON).
pub fn get(base: &str, path: &str) -> (u16, Value) {
    let mut res = agent().get(&format!("{base}{path}")).call().expect("GET");
    (res.status().as_u16(), res.body_mut().read_json().unwrap_or(Value::Null))
}

/// Polls trace `id` until it is no longer running; its report.
pub fn wait_done(base: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, trace) = get(base, &format!("/api/traces/{id}"));
        assert_eq!(status, 200, "{trace}");
        if trace["status"] != "running" {
            return trace;
        }
        assert!(Instant::now() < deadline, "trace {id} still running");
        std::thread::sleep(Duration::from_millis(100));
    }
}
