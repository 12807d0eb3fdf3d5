//! The page's Watch, in headless Chromium against a real `tracemap serve` in a network namespace (as
//! `browser_app.rs`): the Watch switch starts a watch, the statistics columns count up round after round, each hop
//! has a sparkline, a route swapped in a router mid-watch is marked in the table and on the map, Stop ends it, and
//! the timeline of the stopped watch goes back to an earlier round; and a watch whose page goes to another page
//! stops, although Chromium keeps that page in its back-forward cache. Screenshots land in `test-artifacts/`.
//!
//! Needs root, Chromium and the built page (`scripts/build-frontend.sh`), so it is ignored by a plain `cargo test`.

mod common;
mod served;
mod webdriver;

use std::process::Command;
use std::time::Duration;

use common::TestNet;
use serde_json::json;
use served::{Server, in_namespace, scratch};
use webdriver::{Browser, artifacts_dir, web_dir};

const APP_PORT: u16 = 19010;
const DRIVER_PORT: u16 = 19011;

/// `ip netns exec NS ip route replace SUBNET via GATEWAY dev DEV` for each subnet.
fn reroute(ns: &str, subnets: &[&str], gateway: &str, dev: &str) {
    for subnet in subnets {
        let status = Command::new("ip")
            .args(["netns", "exec", ns, "ip", "route", "replace", subnet, "via", gateway, "dev", dev])
            .status()
            .expect("ip route replace");
        assert!(status.success(), "route {subnet} via {gateway} in {ns}");
    }
}

/// A JavaScript expression: the Sent count of hop `ttl` (its first statistics cell), 0 when its row has none.
fn sent_at(ttl: u8) -> String {
    format!(
        "(() => {{ const c = document.querySelector('#hops tr.hop-row[data-ttl=\"{ttl}\"] td.stat'); \
         return c ? Number(c.textContent) : 0; }})()"
    )
}

#[test]
#[ignore = "needs root, network namespaces, Chromium and the built page; run by the README's test command"]
fn the_page_watches_a_route_with_statistics_sparklines_and_a_route_change_on_the_map() {
    common::require_root().expect("root");
    assert!(web_dir().join("index.html").is_file(), "build the page first (scripts/build-frontend.sh)");
    // Router 1 reaches everything beyond router 2 through router 2 alone; a second router beside router 2 waits,
    // and takes over mid-watch.
    let mut net = TestNet::new(3, &[]).expect("test network");
    let twin = net.add_parallel_router(1).expect("a router beside router 2").to_string();
    let before = net.routers[0].clone();
    let beyond = ["10.0.2.0/24", "10.0.3.0/24"];
    reroute(&before, &beyond, "10.0.1.2", "east");
    let work = scratch("browser-watch");
    let (feed, asn) = (work.join("geofeed.csv"), work.join("asn.csv"));
    std::fs::write(&feed, "10.0.0.0/8,NZ,,Wellington,,-41.29,174.78\n10.200.0.0/16,AU,,Sydney,,-33.87,151.21\n")
        .expect("geofeed");
    std::fs::write(&asn, "10.0.0.0,10.0.255.255,64512,Harbour Net\n10.200.0.0,10.200.255.255,64513,Twin Transit\n")
        .expect("asn file");
    let (feed, asn) = (feed.to_string_lossy().into_owned(), asn.to_string_lossy().into_owned());
    let server = Server::start(
        net.exec(&net.client),
        &net.client,
        APP_PORT,
        &work.join("t.sqlite"),
        &["--geofeed", &feed, "--asn-db", &asn, "--location=-41.29,174.78,Wellington"],
    );
    let destination = net.destination.to_string();
    let launcher = net.exec(&net.client);
    let shots = artifacts_dir();
    let base = server.base.clone();
    let new_router = twin.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the map", Duration::from_secs(20), "return document.querySelector('.leaflet-container')");
        browser.click("#watch");
        let button = browser.eval("return document.querySelector('#trace-button').textContent", json!([]));
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        browser.wait_for("round 3", Duration::from_secs(30), &format!("return {} >= 3 ? true : null", sent_at(1)));
        let headers = browser
            .eval("return [...document.querySelectorAll('#hops thead th')].map(h => h.textContent.trim())", json!([]));
        let early = browser.eval(&format!("return {}", sent_at(1)), json!([]));
        let status = browser.eval("return document.querySelector('#status').textContent", json!([]));
        browser.screenshot(&shots.join("watch-live.png"));
        // Router 1 switches to the router beside router 2: hop 2 answers from it from the next round on.
        reroute(&before, &beyond, &new_router, "east2");
        let change = browser.wait_for(
            "the route change in the table",
            Duration::from_secs(20),
            "const c = document.querySelector('#hops tr.hop-row[data-ttl=\"2\"] .route-change'); \
             return c ? [c.textContent, c.getAttribute('title')] : null",
        );
        std::thread::sleep(Duration::from_millis(1500));
        let later = browser.eval(&format!("return {}", sent_at(1)), json!([]));
        let sparks = browser.eval(
            "return [...document.querySelectorAll('#hops svg.sparkline path')].map(p => p.getAttribute('d') || '')",
            json!([]),
        );
        let markers = browser.eval(
            "return [...document.querySelectorAll('#map .hop-marker')].map(m => [m.dataset.ttls, m.dataset.addresses, m.getAttribute('title') || ''])",
            json!([]),
        );
        browser.screenshot(&shots.join("watch-route-change.png"));
        browser.click("#stop-trace");
        let stopped = browser.wait_for(
            "the stopped watch",
            Duration::from_secs(20),
            "const s = document.querySelector('#status'); \
             return s && s.dataset.state === 'failed' && !document.querySelector('.watch-timeline').hidden ? s.textContent : null",
        );
        // Every stored round is on the timeline once the stored events have all arrived.
        let stored_rounds: u32 = stopped
            .as_str()
            .and_then(|s| s.split("after ").nth(1))
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let rounds = browser.wait_for(
            "every round on the timeline",
            Duration::from_secs(10),
            &format!(
                "const m = Number(document.querySelector('#watch-round').max); return m === {stored_rounds} ? m : null"
            ),
        );
        // The slider moved to round 2, as dragging it does (an input event per step).
        browser.eval(
            "const r = document.querySelector('#watch-round'); r.value = '2'; \
             r.dispatchEvent(new Event('input', { bubbles: true })); return true",
            json!([]),
        );
        std::thread::sleep(Duration::from_millis(500));
        let at_two = browser.eval(
            &format!(
                "return [document.querySelector('#watch-round-label').textContent, {}, \
                 document.querySelectorAll('#hops .route-change').length, document.querySelector('#status').textContent]",
                sent_at(1)
            ),
            json!([]),
        );
        browser.screenshot(&shots.join("watch-timeline.png"));
        json!({"button": button, "headers": headers, "early": early, "later": later, "status": status,
               "change": change, "sparks": sparks, "markers": markers, "stopped": stopped, "rounds": rounds,
               "at_two": at_two})
    });
    drop(server);
    eprintln!("{result:#}");

    assert_eq!(result["button"], "Watch", "the switch turns Trace into Watch");
    let headers: Vec<&str> = result["headers"].as_array().expect("headers").iter().filter_map(|h| h.as_str()).collect();
    for column in ["Sent", "Last", "Avg", "Best", "Worst", "StDev", "Jitter", "RTT", "Loss"] {
        assert!(headers.contains(&column), "{column} in {headers:?}");
    }
    assert!(result["status"].as_str().is_some_and(|s| s.starts_with("Watching ")), "{}", result["status"]);
    let (early, later) = (result["early"].as_u64().expect("early"), result["later"].as_u64().expect("later"));
    assert!(later > early, "the statistics count up: {early} then {later}");
    let sparks = result["sparks"].as_array().expect("sparklines");
    assert!(sparks.len() >= 3 && sparks.iter().all(|d| d.as_str().is_some_and(|d| d.starts_with('M'))), "{sparks:?}");
    let change = &result["change"];
    assert!(change[0].as_str().is_some_and(|t| t.starts_with("route changed ")), "{change}");
    let title = change[1].as_str().unwrap_or_default();
    assert!(title.contains(&format!("10.0.1.2 → {twin}")), "{title}");
    // On the map: hop 2 forks to the new router's marker (Sydney), whose tooltip gives the time of the change.
    let markers = result["markers"].as_array().expect("markers");
    let new_branch = markers.iter().find(|m| m[1] == twin.as_str()).expect("a marker for the new router");
    assert!(new_branch[2].as_str().is_some_and(|t| t.contains("new route since ")), "{new_branch}");
    assert!(
        result["stopped"].as_str().is_some_and(|s| s.starts_with("Stopped: the watch of")),
        "{}",
        result["stopped"]
    );
    let rounds = result["rounds"].as_u64().expect("rounds");
    assert!(rounds >= 4, "{rounds}");
    let at_two = &result["at_two"];
    assert!(at_two[0].as_str().is_some_and(|l| l.starts_with(&format!("round 2 of {rounds}"))), "{at_two}");
    assert_eq!(at_two[1], 2, "the table as it stood after round 2: {at_two}");
    assert_eq!(at_two[2], 0, "before the route changed: {at_two}");
    assert!(
        at_two[3].as_str().is_some_and(|s| s.contains(&format!("ended after {rounds} rounds"))),
        "the status line still tells the whole watch: {at_two}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

const CACHED_PORT: u16 = 19012;
const CACHED_DRIVER_PORT: u16 = 19013;

/// A watch ends 10 s after its last viewer leaves. Chromium keeps a page it navigates away from in its
/// back-forward cache, open sockets included, so the page closes its live socket when it is hidden: the watch
/// stops although the page still exists; going back shows it stopped.
#[test]
#[ignore = "needs root, network namespaces, Chromium and the built page; run by the README's test command"]
fn a_watch_stops_when_its_page_goes_to_another_page_although_chromium_keeps_it_in_its_cache() {
    common::require_root().expect("root");
    assert!(web_dir().join("index.html").is_file(), "build the page first (scripts/build-frontend.sh)");
    let net = TestNet::new(2, &[]).expect("test network");
    let work = scratch("browser-watch-cached");
    let server = Server::start(net.exec(&net.client), &net.client, CACHED_PORT, &work.join("t.sqlite"), &[]);
    let destination = net.destination.to_string();
    let launcher = net.exec(&net.client);
    let base = server.base.clone();
    let result = in_namespace(&net.client, move || {
        let browser = Browser::start(launcher, CACHED_DRIVER_PORT, 1280, 800);
        browser.goto(&format!("{base}/"));
        browser.wait_for("the form", Duration::from_secs(20), "return document.querySelector('#target')");
        browser.click("#watch");
        browser.type_into("#target", &format!("{destination}\u{E007}"));
        browser.wait_for("round 2", Duration::from_secs(30), &format!("return {} >= 2 ? true : null", sent_at(1)));
        let path = browser.eval("return location.pathname", json!([]));
        let id = path.as_str().and_then(|p| p.strip_prefix("/t/")).expect("a permalink").to_owned();
        let status = || {
            let mut answer = ureq::get(&format!("{base}/api/traces/{id}")).call().expect("GET the trace");
            let report: serde_json::Value = answer.body_mut().read_json().expect("a report");
            report["status"].as_str().unwrap_or_default().to_owned()
        };
        let before = status();
        browser.eval(
            "window.tracemapRestored = false; \
             addEventListener('pageshow', e => { window.tracemapRestored = e.persisted; }); return true",
            json!([]),
        );
        let left = std::time::Instant::now();
        browser.goto("about:blank");
        let deadline = left + Duration::from_secs(30);
        let mut after = status();
        while after == "running" && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            after = status();
        }
        let stopped_after_s = left.elapsed().as_secs_f64();
        // Back: the page comes out of the cache (or loads again) and shows the watch as it was stored.
        browser.eval("history.back(); return true", json!([]));
        let shown = browser.wait_for(
            "the stopped watch on the page",
            Duration::from_secs(20),
            "const s = document.querySelector('#status'); return s && s.dataset.state !== 'live' && /stopped/i.test(s.textContent) ? s.textContent : null",
        );
        // `true` when the page came back from the cache: the socket was closed and is opened again (resume).
        let from_cache = browser.eval("return window.tracemapRestored === true", json!([]));
        json!({"before": before, "after": after, "stopped_after_s": stopped_after_s, "shown": shown,
               "from_cache": from_cache})
    });
    drop(server);
    eprintln!("{result:#}");
    assert_eq!(result["before"], "running");
    assert_eq!(result["after"], "stopped", "the watch stops without its viewer");
    let seconds = result["stopped_after_s"].as_f64().unwrap_or(f64::MAX);
    assert!((9.0..25.0).contains(&seconds), "stopped {seconds:.1} s after the page left (grace: 10 s)");
    assert!(result["shown"].as_str().is_some_and(|s| s.contains("Stopped")), "{}", result["shown"]);
    assert_eq!(result["from_cache"], true, "Chromium kept the page in its back-forward cache");
    let _ = std::fs::remove_dir_all(&work);
}
