//! A small W3C WebDriver client for driving Debian's headless Chromium through chromedriver.
//! Blocking on purpose: it runs on its own thread, and a test that waits on a browser gains nothing from async.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    base: String,
    session: String,
    driver: Child,
    agent: ureq::Agent,
}

impl Browser {
    /// Starts chromedriver on `port` through `launcher` (e.g. `ip netns exec NS`), then a headless Chromium.
    pub fn start(mut launcher: Command, port: u16, width: u32, height: u32) -> Browser {
        let driver = launcher
            .args(["chromedriver", &format!("--port={port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (apt-get install chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up on {base}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!("tracemap-chromium-{}-{port}", std::process::id()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                         format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut browser = Browser { base, session: String::new(), driver, agent };
        let answer = browser.post("/session", caps);
        browser.session = answer["sessionId"].as_str().expect("session id").to_owned();
        browser
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let value: Value = response.body_mut().read_json().expect("webdriver answers JSON");
        if let Some(error) = value["value"]["error"].as_str() {
            panic!("webdriver {method} {path}: {error}: {}", value["value"]["message"]);
        }
        value
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.request("POST", path, Some(body))["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Loads `url` and waits for the document.
    pub fn goto(&self, url: &str) {
        self.post(&self.session_path("/url"), json!({"url": url}));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.post(&self.session_path("/execute/sync"), json!({"script": script, "args": args}))
    }

    /// Types `text` into the first element matching `css` (`\u{E007}` is Enter).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.post(&self.session_path(&format!("/element/{id}/value")), json!({"text": text}));
    }

    /// Polls `script` until it returns something truthy, or panics with `what` after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(script, json!([]));
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.post(&self.session_path(&format!("/element/{id}/click")), json!({}));
    }

    /// The WebDriver id of the first element matching `css`.
    fn element(&self, css: &str) -> String {
        let found = self.post(&self.session_path("/element"), json!({"using": "css selector", "value": css}));
        found[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned()
    }

    /// Presses and releases each key in turn, sent to whatever has focus, as a keyboard would (`\u{E004}` is Tab,
    /// `\u{E007}` Enter, `\u{E015}` and `\u{E013}` the down and up arrows).
    pub fn press_keys(&self, keys: &[&str]) {
        let actions: Vec<Value> = keys
            .iter()
            .flat_map(|k| [json!({"type": "keyDown", "value": k}), json!({"type": "keyUp", "value": k})])
            .collect();
        self.post(
            &self.session_path("/actions"),
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver (`Emulation.setEmulatedMedia`, ...).
    pub fn cdp(&self, command: &str, params: Value) -> Value {
        self.post(&self.session_path("/goog/cdp/execute"), json!({"cmd": command, "params": params}))
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.request("GET", &self.session_path("/screenshot"), None)["value"].as_str().map(str::to_owned);
        let png = decode_base64(&b64.expect("screenshot data"));
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (WebDriver's screenshot encoding); whitespace and padding are skipped.
fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The built page the tests serve: `TRACEMAP_WEB_DIR`, else the workspace's `dist/`.
pub fn web_dir() -> PathBuf {
    std::env::var_os("TRACEMAP_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist")))
}

/// Where screenshots go (`TRACEMAP_ARTIFACTS`, else the workspace's `test-artifacts/`), created if missing.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("TRACEMAP_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-artifacts")));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}
