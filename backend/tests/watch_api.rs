//! A watch over the API (`rounds` and `interval` in `POST /api/traces`), through Linux routers in network
//! namespaces: a real `tracemap serve` in the client namespace, a viewer on its live WebSocket. Its rounds stream
//! with their statistics and the stored report keeps them; the server's caps end a watch "until stopped"; a watch
//! whose last viewer leaves stops after the grace period.
//!
//! They need root, so they are ignored by a plain `cargo test`; the README's test command runs them with
//! `--include-ignored`. Run as another user they fail and say why.

mod common;
mod served;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestNet;
use serde_json::{Value, json};
use served::{Server, get, in_namespace, post, scratch, wait_done};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket, stream::MaybeTlsStream};

const NEEDS_ROOT: &str = "needs root and network namespaces; run by the README's test command";

type Viewer = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens trace `id`'s live stream, as the page does.
fn view(base: &str, id: &str) -> Viewer {
    let url = format!("{}/api/traces/{id}/live", base.replace("http://", "ws://"));
    let (socket, _) = tungstenite::connect(url).expect("open the live stream");
    socket
}

/// Reads events until `stop` says so or the stream ends; every event read.
fn read_until(viewer: &mut Viewer, limit: Duration, stop: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    let mut events = Vec::new();
    while Instant::now() < deadline && !stop(&events) {
        match viewer.read() {
            Ok(Message::Text(text)) => events.push(serde_json::from_str(text.as_str()).expect("an event")),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    events
}

fn kinds<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |event| event["type"] == kind)
}

fn start(net: &TestNet, port: u16, extra: &[&str]) -> (Server, std::path::PathBuf) {
    let dir = scratch(&format!("watch-api-{port}"));
    let server = Server::start(net.exec(&net.client), &net.client, port, &dir.join("t.sqlite"), extra);
    (server, dir)
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_watch_over_the_api_streams_five_rounds_and_is_stored_finished_with_their_statistics() {
    let net = TestNet::new(2, &[]).expect(NEEDS_ROOT);
    let (server, dir) = start(&net, 19001, &[]);
    let (base, destination) = (server.base.clone(), net.destination.to_string());
    in_namespace(&net.client, move || {
        let (status, config) = get(&base, "/api/config");
        assert_eq!(status, 200);
        assert_eq!((config["max_rounds"].as_u64(), config["max_watch_seconds"].as_u64()), (Some(600), Some(900)));
        let (status, created, _) =
            post(&base, json!({"target": destination, "rounds": 5, "interval": 1, "dns": false, "timeout_ms": 500}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let mut viewer = view(&base, &id);
        let events = read_until(&mut viewer, Duration::from_secs(30), |events| {
            events.last().is_some_and(|event| event["type"] == "finished")
        });
        let started = kinds(&events, "started").next().expect("started");
        assert_eq!(started["watch"], json!({"rounds": 5, "interval_ms": 1000}), "{started}");
        let rounds: Vec<u64> = kinds(&events, "round").filter_map(|event| event["round"].as_u64()).collect();
        assert_eq!(rounds, [1, 2, 3, 4, 5]);
        // One probe per hop a round (a watch's default), three hops.
        assert_eq!(kinds(&events, "probe").count(), 15, "{events:?}");
        let report = wait_done(&base, &id);
        assert_eq!(report["status"], "finished");
        assert_eq!(report["rounds"], 5);
        assert_eq!(report["watch"], json!({"rounds": 5, "interval_ms": 1000}));
        for hop in report["hops"].as_array().expect("hops") {
            let stats = &hop["stats"];
            assert_eq!((stats["sent"].as_u64(), stats["received"].as_u64()), (Some(5), Some(5)), "{hop}");
            assert_eq!(stats["loss_pct"], 0.0);
            assert!(stats["avg_ms"].is_number() && stats["jitter_ms"].is_number() && stats["p95_ms"].is_number());
        }
        // The permalink replays every round from the store.
        let mut stored = view(&base, &id);
        let replayed = read_until(&mut stored, Duration::from_secs(10), |_| false);
        assert_eq!(kinds(&replayed, "round").count(), 5);
        assert_eq!(kinds(&replayed, "probe").count(), 15);
        // Out-of-range values get a clear error naming the field.
        for (body, says) in [
            (json!({"target": destination, "rounds": 601}), "rounds: this server runs at most 600 rounds"),
            (json!({"target": destination, "rounds": 10, "interval": 0}), "interval: must be between 1 and 60"),
            (json!({"target": destination, "interval": 5}), "interval: applies to a watch only"),
            (json!({"target": destination, "rounds": -1}), "rounds"),
        ] {
            let (status, error, _) = post(&base, body.clone());
            assert_eq!(status, 400, "{body}: {error}");
            assert!(error.to_string().contains(says), "{body}: {error}");
        }
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_watch_until_stopped_ends_at_the_servers_round_cap_and_at_its_time_cap() {
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    let (server, dir) = start(&net, 19002, &["--max-rounds", "3", "--rate-burst", "50"]);
    let (base, destination) = (server.base.clone(), net.destination.to_string());
    in_namespace(&net.client, move || {
        let (status, error, _) = post(&base, json!({"target": destination, "rounds": 4}));
        assert_eq!(status, 400, "{error}");
        assert!(error.to_string().contains("at most 3 rounds"), "{error}");
        let (status, created, _) = post(&base, json!({"target": destination, "rounds": 0, "dns": false}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let mut viewer = view(&base, &id);
        let events = read_until(&mut viewer, Duration::from_secs(30), |events| {
            events.last().is_some_and(|event| event["type"] == "finished")
        });
        assert_eq!(kinds(&events, "round").count(), 3, "{events:?}");
        let report = wait_done(&base, &id);
        assert_eq!((report["status"].as_str(), report["rounds"].as_u64()), (Some("finished"), Some(3)));
    });
    drop(server);
    let _ = std::fs::remove_dir_all(dir);

    // The time cap is the backstop for rounds slower than their interval: here the destination drops every probe,
    // so each round waits 5 s for its last TTLs, and the first round alone outlasts a 3-second cap. The watch ends
    // `finished` at the cap, with what it has.
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    let silent = net.add_silent_address().to_string();
    let (server, dir) = start(&net, 19003, &["--max-watch-seconds", "3"]);
    let base = server.base.clone();
    in_namespace(&net.client, move || {
        let body = json!({"target": silent, "rounds": 0, "dns": false, "timeout_ms": 5000, "max_hops": 4});
        let (status, created, _) = post(&base, body);
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let began = Instant::now();
        let mut viewer = view(&base, &id);
        let events = read_until(&mut viewer, Duration::from_secs(30), |events| {
            events.last().is_some_and(|event| event["type"] == "finished")
        });
        let took = began.elapsed();
        assert_eq!(kinds(&events, "round").count(), 1, "{events:?}");
        assert!(took >= Duration::from_millis(2800) && took < Duration::from_millis(4500), "{took:?}");
        let finished = events.last().expect("finished");
        assert_eq!(finished["destination_reached"], false);
        let report = wait_done(&base, &id);
        assert_eq!(report["status"], "finished");
        assert_eq!(report["watch"]["rounds"], 3, "until stopped: as many rounds as fit 3 s at 1 s");
    });
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and network namespaces; run by the README's test command"]
fn a_watch_stops_once_its_last_viewer_has_been_gone_for_the_grace_period() {
    let net = TestNet::new(1, &[]).expect(NEEDS_ROOT);
    let (server, dir) = start(&net, 19004, &[]);
    let (base, destination) = (server.base.clone(), net.destination.to_string());
    in_namespace(&net.client, move || {
        let (status, created, _) = post(&base, json!({"target": destination, "rounds": 0, "dns": false}));
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let mut viewer = view(&base, &id);
        let events = read_until(&mut viewer, Duration::from_secs(10), |events| kinds(events, "round").count() >= 2);
        assert!(kinds(&events, "round").count() >= 2);
        // The tab closes; a reload within the grace would have come back.
        let _ = viewer.close(None);
        let _ = viewer.flush();
        drop(viewer);
        let left = Instant::now();
        std::thread::sleep(Duration::from_secs(5));
        let (_, trace) = get(&base, &format!("/api/traces/{id}"));
        assert_eq!(trace["status"], "running", "still within the grace period");
        // A viewer that comes back keeps it going; when it leaves too, the grace starts again.
        let mut back = view(&base, &id);
        let _ = read_until(&mut back, Duration::from_secs(2), |events| kinds(events, "round").count() >= 3);
        drop(back);
        let left_again = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(30);
        let report = loop {
            let (_, trace) = get(&base, &format!("/api/traces/{id}"));
            if trace["status"] != "running" {
                break trace;
            }
            assert!(Instant::now() < deadline, "the watch went on without a viewer");
            std::thread::sleep(Duration::from_millis(200));
        };
        let gone = left_again.elapsed();
        assert!(gone >= Duration::from_secs(9) && gone < Duration::from_secs(15), "stopped {gone:?} after");
        assert!(left.elapsed() > Duration::from_secs(14), "the return reset the grace");
        assert_eq!(report["status"], "stopped");
        let rounds = report["rounds"].as_u64().expect("rounds");
        assert!(rounds >= 10, "{rounds} rounds kept");
        assert!(report["hops"][0]["stats"]["sent"].as_u64() >= Some(rounds - 1), "{report}");
    });
    let _ = std::fs::remove_dir_all(dir);
}
