//! End to end, as a user meets it: `tracemap serve` runs in the client namespace of a real test network, headless
//! Chromium (also in that namespace) opens the release build of the page, types the destination, presses Enter,
//! and the test waits for the table rows, the map's markers and the route line, then saves a screenshot. The page
//! is the copy embedded in the binary, as a deployment serves it.
//!
//! Hop locations come from a geofeed written here: the routers have private addresses that no public database
//! places, which is exactly the case `--geofeed` exists for.

mod common;
mod served;
mod webdriver;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use common::TestNet;
use serde_json::json;
use served::{Server, in_namespace, scratch};
use webdriver::{Browser, artifacts_dir, web_dir};

const SERVER_PORT: u16 = 18080;
const DRIVER_PORT: u16 = 19515;

/// Where a hop of the test route is, on a path Auckland → Sydney → (silent) → Singapore → London.
const PLACES: [(&str, &str, f64, f64); 4] = [
    ("NZ", "Auckland", -36.85, 174.76),
    ("AU", "Sydney", -33.87, 151.21),
    ("SG", "Singapore", 1.29, 103.85),
    ("GB", "London", 51.51, -0.13),
];

fn geofeed(located: &[Ipv4Addr], dir: &std::path::Path) -> PathBuf {
    let mut csv = String::from("# test network locations\n");
    for (addr, (cc, city, lat, lon)) in located.iter().zip(PLACES) {
        csv.push_str(&format!("{addr}/32,{cc},,{city},,{lat},{lon}\n"));
    }
    let path = dir.join("geofeed.csv");
    std::fs::write(&path, csv).expect("geofeed");
    path
}

#[test]
#[ignore = "needs root, network namespaces and Chromium; run by the README's test command"]
fn page_traces_through_the_network_and_draws_the_route() {
    common::require_root().expect("root");
    let index = web_dir().join("index.html");
    assert!(index.is_file(), "{} is missing: build the page first (scripts/build-frontend.sh)", index.display());

    let net = TestNet::new(4, &[2]).expect("test network");
    let located: Vec<Ipv4Addr> = net.hops.iter().flatten().copied().collect();
    assert_eq!(located.len(), PLACES.len());
    let work = scratch("browser");
    let feed = geofeed(&located, &work);
    let feed_arg = feed.to_string_lossy().into_owned();
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        SERVER_PORT,
        &work.join("t.sqlite"),
        &["--geofeed", &feed_arg],
    );

    let destination = net.destination.to_string();
    let hop_count = net.hops.len();
    let client_ns = net.client.clone();
    let launcher = net.exec(&net.client);
    let shot = artifacts_dir().join("browser-trace.png");
    let shot_for_thread = shot.clone();
    let base = server.base.clone();
    let result = in_namespace(&client_ns, move || {
        let browser = Browser::start(launcher, DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the map", Duration::from_secs(20), "return document.querySelector('.leaflet-container')");
        browser.type_into("#target", &format!("{destination}\u{E007}"));

        let rows = browser.wait_for(
            "every hop in the table",
            Duration::from_secs(30),
            &format!("const n = document.querySelectorAll('#hops tbody tr').length; return n >= {hop_count} ? n : 0"),
        );
        let status = browser.wait_for(
            "the trace to finish",
            Duration::from_secs(30),
            "const s = document.querySelector('#status'); return s && s.dataset.state === 'finished' ? s.textContent : ''",
        );
        let markers = browser.wait_for(
            "a marker per located hop",
            Duration::from_secs(10),
            "return document.querySelectorAll('.hop-marker').length",
        );
        let route = browser.eval(
            "return [document.querySelectorAll('path.route-line').length, document.querySelectorAll('path.route-doubt').length]",
            json!([]),
        );
        let table = browser.eval(
            "return [...document.querySelectorAll('#hops tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())",
            json!([]),
        );
        let permalink = browser.eval("return location.pathname", json!([]));
        // Leaflet animates the fit to the finished route; let it settle so the screenshot shows the whole route.
        std::thread::sleep(Duration::from_millis(1500));
        browser.screenshot(&shot_for_thread);

        // A permalink opened afresh shows the same trace.
        let mut reopened = json!(null);
        if let Some(path) = permalink.as_str().filter(|p| p.starts_with("/t/")) {
            browser.goto(&format!("{base}{path}"));
            reopened = browser.wait_for(
                "the permalink's rows",
                Duration::from_secs(20),
                &format!(
                    "const n = document.querySelectorAll('#hops tbody tr').length; return n >= {hop_count} ? n : 0"
                ),
            );
        }
        (rows, status, markers, route, table, permalink, reopened)
    });
    drop(server);
    let (rows, status, markers, route, table, permalink, reopened) = result;

    eprintln!("status: {status}\ntable: {table:#}\nscreenshot: {}", shot.display());
    assert_eq!(rows, json!(hop_count), "one row per hop: {table:#}");
    assert_eq!(markers, json!(located.len()), "one marker per located hop");
    // The routers answer in microseconds, so no two of the geofeed's cities can both be true (the page compares every
    // pair when the server has no --location): the route is drawn, as one line of the doubtful kind.
    assert_eq!(route, json!([0, 1]), "one route line, drawn as doubtful");
    let rows: Vec<String> = serde_json::from_value(table).expect("rows");
    for (row, hop) in rows.iter().zip(&net.hops) {
        match hop {
            Some(addr) => assert!(row.contains(&addr.to_string()), "row {row:?} names {addr}"),
            None => assert!(row.contains('*'), "silent hop row {row:?} shows *"),
        }
    }
    assert!(rows.iter().any(|r| r.contains("Sydney")), "locations shown: {rows:?}");
    assert!(permalink.as_str().is_some_and(|p| p.starts_with("/t/")), "the page links to the trace: {permalink}");
    assert_eq!(reopened, json!(hop_count), "the permalink shows the same hops");
    let _ = std::fs::remove_dir_all(&work);
}
