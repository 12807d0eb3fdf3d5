//! A class on one server, in real headless Chromium: the offline copy of a trace (`/api/traces/{id}.html`) opened
//! from disk in a network namespace with nothing but loopback, and the compact view for an iframe (`?embed=1`).
//!
//! Each test traces through its own namespace network with places from a geofeed, as `browser.rs` does; ports
//! 19200-19299 belong to these tests.
//!
//! The class socket's rules (only the teacher's secret drives, frames over 1 KiB are refused) are tested without
//! a browser or root: the server's router in this process on a loopback port, pages played by WebSocket clients.

mod common;
mod served;
mod webdriver;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestNet;
use serde_json::json;
use served::{Server, agent, in_namespace, post, scratch, wait_done};
use tracemap_shared::{ClassCommand, ClassCreated, ClassMessage, ClassView};
use webdriver::{Browser, artifacts_dir, web_dir};

/// Where the test route's answering hops are: Auckland → Sydney → (silent) → Singapore → London.
const PLACES: [(&str, &str, f64, f64); 4] = [
    ("NZ", "Auckland", -36.85, 174.76),
    ("AU", "Sydney", -33.87, 151.21),
    ("SG", "Singapore", 1.29, 103.85),
    ("GB", "London", 51.51, -0.13),
];

fn geofeed(located: &[Ipv4Addr], dir: &Path) -> PathBuf {
    let mut csv = String::from("# test network locations\n");
    for (addr, (cc, city, lat, lon)) in located.iter().zip(PLACES) {
        csv.push_str(&format!("{addr}/32,{cc},,{city},,{lat},{lon}\n"));
    }
    let path = dir.join("geofeed.csv");
    std::fs::write(&path, csv).expect("geofeed");
    path
}

/// A network, a server in its client namespace on `port`, and one finished trace to the destination: its id.
fn traced(name: &str, port: u16) -> (TestNet, Server, String, PathBuf) {
    common::require_root().expect("root");
    let index = web_dir().join("index.html");
    assert!(index.is_file(), "{} is missing: build the page first (scripts/build-frontend.sh)", index.display());
    let net = TestNet::new(4, &[2]).expect("test network");
    let located: Vec<Ipv4Addr> = net.hops.iter().flatten().copied().collect();
    let work = scratch(name);
    let feed = geofeed(&located, &work).to_string_lossy().into_owned();
    let server = Server::start(net.exec(&net.client), &net.client, port, &work.join("t.sqlite"), &["--geofeed", &feed]);
    let (base, destination) = (server.base.clone(), net.destination.to_string());
    let id = in_namespace(&net.client, move || {
        let (status, created, _) = post(&base, json!({"target": destination, "protocol": "icmp"}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let report = wait_done(&base, &id);
        assert_eq!(report["status"], "finished", "{report}");
        id
    });
    (net, server, id, work)
}

/// A network namespace holding nothing but its loopback interface (up, so the test can reach chromedriver in it):
/// a browser started there has no route anywhere else. Deleted on drop.
struct Offline(String);

impl Offline {
    fn new() -> Offline {
        let name = format!("tm{}-offline", std::process::id());
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("ip");
            assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Offline(name)
    }

    fn exec(&self) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.0]);
        command
    }
}

impl Drop for Offline {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn class_offline_copy_opens_from_disk_in_chromium_without_a_network() {
    let (net, server, id, work) = traced("class-offline", 19200);
    let (base, path) = (server.base.clone(), format!("/api/traces/{id}.html"));
    let (status, disposition, kind, html) = in_namespace(&net.client, move || {
        let mut res = agent().get(&format!("{base}{path}")).call().expect("GET the copy");
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (disposition, kind) = (header("content-disposition"), header("content-type"));
        (res.status().as_u16(), disposition, kind, res.body_mut().read_to_string().expect("body"))
    });
    drop(server);
    assert_eq!(status, 200, "{html}");
    assert_eq!(disposition, format!("attachment; filename=\"tracemap-{id}.html\""));
    assert!(kind.starts_with("text/html"), "{kind}");
    for loader in ["<script", "<link", "<img", "src=", "url(", "@import", "<iframe"] {
        assert!(!html.contains(loader), "the copy would load something: {loader}");
    }
    let file = work.join(format!("tracemap-{id}.html"));
    std::fs::write(&file, &html).expect("the copy saved");
    eprintln!("offline copy: {} bytes", html.len());

    let offline = Offline::new();
    let shot = artifacts_dir().join("class-offline-copy.png");
    let (url, shot_in, launcher) = (format!("file://{}", file.display()), shot.clone(), offline.exec());
    let seen = in_namespace(&offline.0, move || {
        let browser = Browser::start(launcher, 19210, 1100, 1400);
        browser.goto(&url);
        browser.wait_for(
            "the table",
            Duration::from_secs(10),
            "return document.querySelectorAll('#hops tbody tr').length",
        );
        let seen = browser.eval(
            "return {rows: [...document.querySelectorAll('#hops tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ')),
                     markers: document.querySelectorAll('#map .marker').length,
                     arcs: document.querySelectorAll('#map path.arc').length,
                     land: (document.querySelector('#map path.land')?.getAttribute('d') || '').length,
                     mapWidth: document.querySelector('#map').getBoundingClientRect().width,
                     steps: [...document.querySelectorAll('#replay li')].map(l => l.textContent),
                     settings: document.querySelector('#settings').textContent,
                     credits: document.querySelector('#credits').textContent,
                     scripts: document.scripts.length,
                     requests: performance.getEntriesByType('resource').length}",
            json!([]),
        );
        browser.screenshot(&shot_in);
        seen
    });
    let links = offline.exec().args(["ip", "-o", "link"]).output().expect("ip link");
    let links = String::from_utf8_lossy(&links.stdout).lines().count();
    drop(offline);
    eprintln!("seen: {seen:#}\nscreenshot: {}", shot.display());

    assert_eq!(links, 1, "the browser's namespace has loopback only");
    let rows: Vec<String> = serde_json::from_value(seen["rows"].clone()).expect("rows");
    assert_eq!(rows.len(), net.hops.len(), "a row per hop: {rows:#?}");
    for (row, hop) in rows.iter().zip(&net.hops) {
        match hop {
            Some(addr) => assert!(row.contains(&addr.to_string()), "row {row:?} names {addr}"),
            None => assert!(row.contains('*'), "silent hop row {row:?} shows *"),
        }
    }
    assert!(rows.iter().any(|r| r.contains("Sydney")), "places in the table: {rows:#?}");
    assert_eq!(seen["markers"], json!(PLACES.len()), "a marker per located hop");
    assert_eq!(seen["arcs"], json!(PLACES.len() - 1), "an arc between consecutive places");
    assert!(seen["land"].as_u64().unwrap_or(0) > 10_000, "the world map is drawn: {}", seen["land"]);
    assert!(seen["mapWidth"].as_f64().unwrap_or(0.0) > 800.0, "the map fills the page");
    let steps: Vec<String> = serde_json::from_value(seen["steps"].clone()).expect("steps");
    assert_eq!(steps.len(), net.hops.len(), "a replay sentence per hop: {steps:#?}");
    assert!(steps[0].starts_with("TTL 1 expired at"), "{steps:#?}");
    assert!(steps[2].contains("Silence does not mean the network is down"), "{steps:#?}");
    let settings = seen["settings"].as_str().unwrap_or("");
    assert!(
        settings.starts_with("ICMP") && settings.contains("started 20") && settings.contains("finished"),
        "{settings}"
    );
    assert!(seen["credits"].as_str().is_some_and(|c| c.contains("Natural Earth")), "{}", seen["credits"]);
    assert_eq!(seen["scripts"], json!(0));
    assert_eq!(seen["requests"], json!(0), "nothing was fetched");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn class_embed_view_shows_the_map_and_a_slim_table_with_a_link_back() {
    let (net, server, id, work) = traced("class-embed", 19201);
    let base = server.base.clone();
    let launcher = net.exec(&net.client);
    let shot = artifacts_dir().join("class-embed.png");
    let (shot_in, id_in) = (shot.clone(), id.clone());
    let seen = in_namespace(&net.client, move || {
        // About the size of an iframe in a course page.
        let browser = Browser::start(launcher, 19211, 720, 620);
        browser.goto(&format!("{base}/t/{id_in}?embed=1"));
        browser.wait_for(
            "the table",
            Duration::from_secs(20),
            "return document.querySelectorAll('#hops tbody tr').length >= 5",
        );
        browser.wait_for(
            "the markers",
            Duration::from_secs(10),
            "return document.querySelectorAll('.hop-marker').length",
        );
        std::thread::sleep(Duration::from_millis(1200));
        let seen = browser.eval(
            "const shown = el => el && getComputedStyle(el).display !== 'none';
             return {form: !!document.querySelector('#target'), header: !!document.querySelector('.app-header'),
                     replay: !!document.querySelector('.replay'), recent: !!document.querySelector('.recent'),
                     embedClass: document.documentElement.classList.contains('embed'),
                     columns: [...document.querySelectorAll('#hops thead th')].filter(shown).map(th => th.textContent.trim()),
                     markers: document.querySelectorAll('.hop-marker').length,
                     full: document.querySelector('#embed-full')?.getAttribute('href'),
                     target: document.querySelector('#embed-full')?.getAttribute('target')}",
            json!([]),
        );
        browser.screenshot(&shot_in);
        seen
    });
    drop(server);
    eprintln!("seen: {seen:#}\nscreenshot: {}", shot.display());
    assert_eq!(seen["embedClass"], json!(true));
    for part in ["form", "header", "replay", "recent"] {
        assert_eq!(seen[part], json!(false), "no {part} in the embed");
    }
    assert_eq!(seen["columns"], json!(["Hop", "RTT 1 ms", "Host", "Location", "Loss"]), "the slim table");
    assert_eq!(seen["markers"], json!(PLACES.len()));
    assert_eq!(seen["full"], json!(format!("/t/{id}")), "a link back to the full trace");
    assert_eq!(seen["target"], json!("_blank"), "which leaves the iframe");
    let _ = std::fs::remove_dir_all(&work);
}

/// The trace on show in a page, by its export link (a student's address stays `/c/{code}`).
const SHOWN: &str = "const a = document.querySelector('#export-json'); \
                     return a ? a.getAttribute('href').replace('/api/traces/', '').replace('.json', '') : ''";
/// The replay's progress (`Step 2 of 5`), or empty when it is off.
const PROGRESS: &str = "const p = document.querySelector('#replay-progress'); return p ? p.textContent.trim() : ''";

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn class_students_follow_the_teachers_trace_replay_and_presenter_mode_without_a_form_see_it_away_and_catch_up() {
    let (net, server, first, work) = traced("class-follow", 19202);
    let base = server.base.clone();
    let rows = net.hops.len();
    let launchers = [net.exec(&net.client), net.exec(&net.client), net.exec(&net.client)];
    let shots: Vec<PathBuf> =
        ["class-teacher.png", "class-student-a.png", "class-student-b-own.png", "class-student-b-caught-up.png"]
            .iter()
            .map(|name| artifacts_dir().join(name))
            .collect();
    let shots_in = shots.clone();
    let first_in = first.clone();
    let seen = in_namespace(&net.client, move || {
        let [t, a, b] = launchers;
        let teacher = Browser::start(t, 19212, 1280, 800);
        let wait_rows = |browser: &Browser, what: &str| {
            browser.wait_for(
                what,
                Duration::from_secs(30),
                &format!("return document.querySelectorAll('#hops tbody tr').length >= {rows}"),
            );
        };
        teacher.goto(&format!("{base}/t/{first_in}"));
        wait_rows(&teacher, "the teacher's trace");
        teacher.click("#class-start");
        let code = teacher.wait_for(
            "the class code",
            Duration::from_secs(10),
            "const c = document.querySelector('#class-code'); return c ? c.textContent.replace(/\\s/g, '') : ''",
        );
        let code = code.as_str().expect("code").to_owned();
        let qr = teacher.wait_for(
            "the QR code",
            Duration::from_secs(10),
            "const i = document.querySelector('img.class-qr'); return i && i.complete && i.naturalWidth",
        );

        let student_a = Browser::start(a, 19213, 1024, 700);
        let student_b = Browser::start(b, 19214, 1024, 700);
        for (student, what) in [(&student_a, "student A"), (&student_b, "student B")] {
            student.goto(&format!("{base}/c/{code}"));
            wait_rows(student, what);
            student.wait_for(
                "following",
                Duration::from_secs(10),
                "return (document.querySelector('#class-follow')?.textContent || '').includes('following')",
            );
        }
        // A student's page has no trace form while it follows the class.
        let forms = [&student_a, &student_b].map(|s| s.eval("return !!document.querySelector('#target')", json!([])));
        let students = teacher.wait_for(
            "two students counted",
            Duration::from_secs(10),
            "return (document.querySelector('#class-students')?.textContent || '').startsWith('2 ') && document.querySelector('#class-students').textContent",
        );
        let shown_first = [student_a.eval(SHOWN, json!([])), student_b.eval(SHOWN, json!([]))];

        // The teacher steps the replay twice: both students are on step 2.
        teacher.press_keys(&["l", "l"]);
        let teacher_step = teacher.wait_for("the teacher's step", Duration::from_secs(5), PROGRESS);
        let wait_step = |browser: &Browser, step: &str| {
            browser.wait_for(
                &format!("step {step}"),
                Duration::from_secs(10),
                &format!("const p = document.querySelector('#replay-progress'); return p && p.textContent.trim().startsWith('Step {step} of')"),
            );
        };
        wait_step(&student_a, "2");
        wait_step(&student_b, "2");
        let sentence_a = student_a.eval("return document.querySelector('#replay-sentence').textContent", json!([]));
        let sentence_t = teacher.eval("return document.querySelector('#replay-sentence').textContent", json!([]));

        // Student B steps on: now on their own; the teacher goes back to step 1, A follows, B stays.
        student_b.press_keys(&["l", "l"]);
        wait_step(&student_b, "4");
        student_b.wait_for(
            "the catch-up button",
            Duration::from_secs(5),
            "return !!document.querySelector('#class-catch-up')",
        );
        teacher.press_keys(&["j"]);
        wait_step(&student_a, "1");
        std::thread::sleep(Duration::from_millis(500));
        let b_own = student_b.eval(PROGRESS, json!([]));
        student_b.screenshot(&shots_in[2]);
        // One key catches up.
        student_b.press_keys(&["f"]);
        wait_step(&student_b, "1");
        let b_button_gone = student_b.eval("return !document.querySelector('#class-catch-up')", json!([]));

        // Presenter mode and a new trace the teacher starts during the class.
        teacher.click("#presenter-toggle");
        for student in [&student_a, &student_b] {
            student.wait_for(
                "presenter mode",
                Duration::from_secs(10),
                "return document.documentElement.classList.contains('presenter')",
            );
        }
        teacher.click("#trace-button");
        let second = teacher.wait_for(
            "the teacher's new trace",
            Duration::from_secs(20),
            &format!("const s = (() => {{ {SHOWN} }})(); return s && s !== '{first_in}' ? s : ''"),
        );
        let second = second.as_str().expect("id").to_owned();
        for student in [&student_a, &student_b] {
            student.wait_for(
                "the new trace",
                Duration::from_secs(20),
                &format!("const s = (() => {{ {SHOWN} }})(); return s === '{second}'"),
            );
            wait_rows(student, "the new trace's rows");
        }
        // Once it has finished, the teacher's replay step reaches the students in the new trace too.
        teacher.wait_for(
            "the new trace to finish",
            Duration::from_secs(30),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished'",
        );
        teacher.press_keys(&["l", "l", "l"]);
        wait_step(&student_a, "3");
        wait_step(&student_b, "3");
        // With the replay off, the hop the teacher selects is selected on the students' pages.
        teacher.press_keys(&["\u{E00C}"]);
        teacher.wait_for("the replay off", Duration::from_secs(5), &format!("return !(() => {{ {PROGRESS} }})()"));
        teacher.click("#hops tr.hop-row[data-ttl=\"4\"]");
        for student in [&student_a, &student_b] {
            student.wait_for(
                "the teacher's selected hop",
                Duration::from_secs(10),
                "return document.querySelector('#hops tr.hop-row[aria-current=\"true\"]')?.dataset.ttl === '4'",
            );
        }
        std::thread::sleep(Duration::from_millis(800));
        teacher.screenshot(&shots_in[0]);
        student_a.screenshot(&shots_in[1]);
        student_b.screenshot(&shots_in[3]);

        // The teacher's page goes away (another page in its tab): the students' pages say so; it comes back (the
        // secret is in the browser's storage) and they follow it again.
        teacher.goto("about:blank");
        let away = student_a.wait_for(
            "the teacher away",
            Duration::from_secs(10),
            "const t = document.querySelector('#class-follow')?.textContent || ''; return t.includes('away') ? t : ''",
        );
        teacher.goto(&format!("{base}/t/{second}"));
        student_a.wait_for(
            "the teacher back",
            Duration::from_secs(20),
            "return !(document.querySelector('#class-follow')?.textContent || 'away').includes('away')",
        );
        teacher.wait_for("the class bar", Duration::from_secs(20), "return document.querySelector('#class-end')");

        // The teacher ends the class: the students are told.
        teacher.click("#class-end");
        let ended = student_a.wait_for(
            "the end of the class",
            Duration::from_secs(10),
            "return document.querySelector('#class-note')?.textContent || ''",
        );
        // Once the class is over, the student's page traces on its own again.
        let form_after = student_a.wait_for(
            "the form back after the class",
            Duration::from_secs(10),
            "return !!document.querySelector('#target')",
        );
        json!({"code": code, "qr": qr, "students": students, "shown_first": shown_first, "teacher_step": teacher_step,
               "sentence_a": sentence_a, "sentence_t": sentence_t, "b_own": b_own, "b_button_gone": b_button_gone,
               "second": second, "ended": ended, "away": away, "forms": forms, "form_after": form_after})
    });
    drop(server);
    eprintln!("seen: {seen:#}\nscreenshots: {shots:#?}");
    let code = seen["code"].as_str().unwrap_or("");
    assert!(code.len() == 6 && !code.contains(['I', 'L', 'O', '0', '1']), "{code}");
    assert!(seen["qr"].as_u64().unwrap_or(0) >= 100, "the QR code is drawn: {}", seen["qr"]);
    assert_eq!(seen["shown_first"], json!([first, first]), "students open the teacher's trace");
    assert!(seen["teacher_step"].as_str().is_some_and(|s| s.starts_with("Step 2 of")), "{}", seen["teacher_step"]);
    assert_eq!(seen["sentence_a"], seen["sentence_t"], "the student reads the teacher's sentence");
    assert!(
        seen["b_own"].as_str().is_some_and(|s| s.starts_with("Step 4 of")),
        "B stayed on their own step: {}",
        seen["b_own"]
    );
    assert_eq!(seen["b_button_gone"], json!(true), "following again hides the button");
    assert_ne!(seen["second"], json!(first));
    assert!(
        seen["away"].as_str().is_some_and(|s| s.contains("The teacher's page is away")),
        "a student's page says the teacher's page is away: {}",
        seen["away"]
    );
    assert!(seen["ended"].as_str().is_some_and(|s| s.contains("ended")), "{}", seen["ended"]);
    assert_eq!(seen["forms"], json!([false, false]), "a following student's page has no trace form");
    assert_eq!(seen["form_after"], json!(true), "the form comes back when the class is over");
    let _ = std::fs::remove_dir_all(&work);
}

/// A class's socket as a test page holds it.
type Page = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a page waits for a frame before the test calls the class stuck.
const FRAME_WAIT: Duration = Duration::from_secs(5);

/// The server's own router and socket handlers in this process, on a loopback port of its own: no namespace,
/// no root, no browser.
async fn loopback_server(name: &str) -> (std::net::SocketAddr, PathBuf) {
    use tracemap::http::{AppState, app, assets, server};
    let work = scratch(name);
    std::fs::write(work.join("index.html"), "<!doctype html><title>tracemap test</title>").expect("index");
    let state = AppState::new(
        tracemap::store::Store::in_memory().expect("store"),
        std::sync::Arc::new(tracemap::enrich::Enricher::default()),
        assets::Page::load(&work).expect("page"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, app(state), std::future::pending(), Duration::ZERO));
    (addr, work)
}

/// `POST` (when `posting`, else `GET`) `url` over HTTP: the status and the JSON answer (null when there is none).
async fn http(posting: bool, url: String) -> (u16, serde_json::Value) {
    tokio::task::spawn_blocking(move || {
        let agent = agent();
        let mut res =
            if posting { agent.post(&url).send_empty() } else { agent.get(&url).call() }.expect("HTTP request");
        let json = res.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        (res.status().as_u16(), json)
    })
    .await
    .expect("HTTP thread")
}

/// What `GET /api/classes/{code}` says the class shows and how many students follow it.
async fn class_status(addr: std::net::SocketAddr, code: &str) -> (ClassView, u64) {
    let (status, json) = http(false, format!("http://{addr}/api/classes/{code}")).await;
    assert_eq!(status, 200, "{json}");
    (serde_json::from_value(json["view"].clone()).expect("a view"), json["students"].as_u64().expect("students"))
}

async fn connect(addr: std::net::SocketAddr, code: &str) -> Page {
    let url = format!("ws://{addr}/api/classes/{code}/live");
    tokio_tungstenite::connect_async(url).await.expect("class socket").0
}

async fn send(page: &mut Page, command: &ClassCommand) {
    use futures::SinkExt;
    let text = serde_json::to_string(command).expect("command JSON");
    page.send(tokio_tungstenite::tungstenite::Message::Text(text.into())).await.expect("frame sent");
}

/// The next message the server sends the page, `None` once the server has closed the socket.
async fn next_message(page: &mut Page) -> Option<ClassMessage> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(FRAME_WAIT, page.next()).await.expect("a frame or the close within 5 s") {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).expect("a class message")),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// The next view the page is sent, skipping student counts and the teacher's comings and goings.
async fn next_view(page: &mut Page) -> ClassView {
    loop {
        match next_message(page).await {
            Some(ClassMessage::View { view }) => return view,
            Some(ClassMessage::Students { .. } | ClassMessage::Teacher { .. }) => {}
            other => panic!("expected a view, got {other:?}"),
        }
    }
}

/// Reads up to the student count `count`: every message before it must be a count too, or the teacher's coming
/// or going (no view, no end).
async fn until_students(page: &mut Page, count: u32) {
    loop {
        match next_message(page).await {
            Some(ClassMessage::Students { count: now }) if now == count => return,
            Some(ClassMessage::Students { .. } | ClassMessage::Teacher { .. }) => {}
            other => panic!("expected student counts up to {count}, got {other:?}"),
        }
    }
}

/// Reads up to the message that the teacher's page is `present` (or not); only counts may come before it.
async fn until_teacher(page: &mut Page, present: bool) {
    loop {
        match next_message(page).await {
            Some(ClassMessage::Teacher { present: now }) if now == present => return,
            Some(ClassMessage::Students { .. }) => {}
            other => panic!("expected the teacher's page {}, got {other:?}", if present { "back" } else { "away" }),
        }
    }
}

/// Reads until the server closes the socket; what it sent before that.
async fn until_closed(page: &mut Page) -> Vec<ClassMessage> {
    let mut seen = Vec::new();
    while let Some(message) = next_message(page).await {
        seen.push(message);
    }
    seen
}

fn view(trace: &str, step: u32, selected: u8) -> ClassView {
    ClassView { trace: Some(trace.into()), step: Some(step), selected: Some(selected), presenter: false }
}

/// The class socket of a real server on loopback (`/api/classes/{code}/live`, through the HTTP server and the
/// WebSocket upgrade): a student's view is dropped, a page claiming a wrong secret is closed, and neither changes
/// what the other student sees or what `GET /api/classes/{code}` reports; the teacher's views reach every student;
/// a teacher frame over 1 KiB (a valid view padded with spaces) closes only the teacher's socket, unapplied, the
/// students are told the teacher's page is away, and the class goes on until a teacher page that comes back with
/// the secret (the students are told) drives it again.
#[tokio::test]
async fn class_socket_drops_student_views_closes_wrong_secrets_and_oversized_frames_and_tells_students_the_teacher_is_away()
 {
    let (addr, work) = loopback_server("class-socket").await;
    let (status, created) = http(true, format!("http://{addr}/api/classes")).await;
    assert_eq!(status, 201, "{created}");
    let ClassCreated { code, token } = serde_json::from_value(created).expect("code and secret");

    // The teacher's page joins like any page, then proves itself: it is no longer counted as a student.
    let mut teacher = connect(addr, &code).await;
    assert_eq!(next_view(&mut teacher).await, ClassView::default());
    send(&mut teacher, &ClassCommand::Teach { token: token.clone() }).await;
    until_students(&mut teacher, 0).await;
    let mut a = connect(addr, &code).await;
    assert_eq!(next_view(&mut a).await, ClassView::default());
    until_students(&mut a, 1).await;
    let mut b = connect(addr, &code).await;
    assert_eq!(next_view(&mut b).await, ClassView::default());
    until_students(&mut b, 2).await;
    until_students(&mut a, 2).await;

    // The teacher shows a view: both students get it, and the class reports it.
    let first = view("first-trace", 1, 2);
    send(&mut teacher, &ClassCommand::View { view: first.clone() }).await;
    assert_eq!(next_view(&mut a).await, first);
    assert_eq!(next_view(&mut b).await, first);
    assert_eq!(class_status(addr, &code).await, (first.clone(), 2));

    // Student A sends a view (dropped), then claims a wrong secret: the server closes A's socket, having read
    // both frames in order. B sees only the count fall: no view came between.
    send(&mut a, &ClassCommand::View { view: view("students-trace", 9, 9) }).await;
    send(&mut a, &ClassCommand::Teach { token: "not-the-secret".into() }).await;
    let before_close = until_closed(&mut a).await;
    assert!(
        before_close.iter().all(|m| !matches!(m, ClassMessage::View { .. })),
        "a student's view is not sent back either: {before_close:?}"
    );
    until_students(&mut b, 1).await;
    assert_eq!(class_status(addr, &code).await, (first.clone(), 1), "the class still shows the teacher's view");

    // A's page comes back as a student and starts where the class is.
    let mut a = connect(addr, &code).await;
    assert_eq!(next_view(&mut a).await, first);
    until_students(&mut a, 2).await;
    until_students(&mut b, 2).await;

    // A teacher frame over MAX_FRAME_BYTES (1 KiB): a valid view command padded with spaces. The server refuses it
    // by closing the teacher's socket before reading it as a command; the view is not applied.
    let second = view("second-trace", 3, 4);
    let compact = serde_json::to_string(&ClassCommand::View { view: second.clone() }).expect("JSON");
    let padded = format!("{compact}{}", " ".repeat(1100));
    assert!(padded.len() > 1024 && serde_json::from_str::<ClassCommand>(&padded).is_ok(), "a valid command");
    {
        use futures::SinkExt;
        let _ = teacher.send(tokio_tungstenite::tungstenite::Message::Text(padded.into())).await;
    }
    let before_close = until_closed(&mut teacher).await;
    assert!(!before_close.iter().any(|m| m == &ClassMessage::View { view: second.clone() }), "{before_close:?}");
    assert_eq!(class_status(addr, &code).await, (first.clone(), 2), "the class goes on, showing the last view");
    // The students are told the teacher's page is away.
    until_teacher(&mut a, false).await;
    until_teacher(&mut b, false).await;

    // The teacher's page comes back with the secret (within the grace period) and drives again.
    let mut teacher = connect(addr, &code).await;
    assert_eq!(next_view(&mut teacher).await, first);
    send(&mut teacher, &ClassCommand::Teach { token: token.clone() }).await;
    until_students(&mut teacher, 2).await;
    until_teacher(&mut a, true).await;
    until_teacher(&mut b, true).await;
    send(&mut teacher, &ClassCommand::View { view: second.clone() }).await;
    assert_eq!(next_view(&mut a).await, second, "the same view, sent small, is shown");
    assert_eq!(next_view(&mut b).await, second);
    assert_eq!(class_status(addr, &code).await, (second, 2));
    let _ = std::fs::remove_dir_all(&work);
}
