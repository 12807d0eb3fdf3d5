//! One probe run, many viewers (`--share-window`): a trace request identical to one whose probe run is under way,
//! or finished within the window, joins that run instead of probing the same routers again. Thirty students
//! tracing one site through one server would otherwise each spend the routers' ICMP budget (about one answer a
//! second per source) and mostly see `*rl`.
//!
//! Identical means the same [`ShareKey`]: the resolved destination and the whole request, normalised (defaults
//! filled in, the target's case and trailing dot dropped), so a request field added later takes part without a
//! change here. Each joined trace keeps its own id, row and delete token: while the run goes on its id is another
//! name of the run's log in the hub; when the run ends its task stores a copy of the report and events under that
//! id, so deleting one trace never touches another. A join reveals nothing the joiner did not ask for: the key
//! holds the typed name and the name and place lookups asked for, and the joiner learns neither the run's id nor
//! its token. A join sends no probe, so a client over its rate limit may still join (thirty students behind one
//! school address) and a join takes no running slot; a run takes at most [`MAX_JOINERS`]. Stopping a run others
//! have joined is refused: it ends by itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracemap_shared::{Family, TraceRequest, TraceStatus};

use super::hub::LiveTrace;
use crate::probe::{Method, ProbeConfig};

/// Most traces that may join one probe run; past it a request starts its own (and pays for it).
pub const MAX_JOINERS: usize = 1000;

/// What makes two trace requests the same probe run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShareKey(String);

impl ShareKey {
    /// The key of a checked `request` that will probe with `probe`, looking names up when `dns` and places when
    /// `geo` (both as the server will really run it).
    pub fn new(request: &TraceRequest, probe: &ProbeConfig, dns: bool, geo: bool) -> ShareKey {
        let mut normal = request.clone();
        let target = request.target.trim();
        normal.target = target.strip_suffix('.').unwrap_or(target).to_ascii_lowercase();
        normal.family = if probe.destination.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 };
        normal.max_hops = Some(probe.max_hops);
        normal.tries = Some(probe.tries);
        normal.first_ttl = Some(probe.first_ttl);
        normal.timeout_ms = Some(u32::try_from(probe.timeout.as_millis()).unwrap_or(u32::MAX));
        normal.port = Method::for_config(probe).port();
        normal.dns = Some(dns);
        normal.geo = Some(geo);
        // The paris setting is the server's, the same for every request; the destination is what was resolved. A
        // watch (rounds and interval) is another run than a single trace, and than a watch of other rounds.
        let request = serde_json::to_string(&normal).unwrap_or_default();
        ShareKey(format!("{} {} {:?} {request}", probe.destination, probe.paris, probe.watch))
    }
}

/// One probe run others may join.
#[derive(Debug)]
struct Run {
    id: String,
    live: Arc<LiveTrace>,
    started: Instant,
    ended: Option<Instant>,
    joiners: usize,
}

/// What a request that joined a run gets.
#[derive(Debug)]
pub struct Joined {
    /// The run's log: live, or closed when the run has ended.
    pub live: Arc<LiveTrace>,
    /// How long after the run started the request joined it.
    pub after: Duration,
}

/// The probe runs that may still be joined.
#[derive(Debug)]
pub struct Shares {
    window: Duration,
    runs: Mutex<HashMap<ShareKey, Run>>,
}

impl Shares {
    /// Runs may be joined while they go on and for `window` after they end; a zero window shares nothing.
    pub fn new(window: Duration) -> Shares {
        Shares { window, runs: Mutex::new(HashMap::new()) }
    }

    /// Whether sharing is on.
    pub fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<ShareKey, Run>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets runs that ended more than the window ago, and runs that cannot be joined any more.
    fn prune(&self, runs: &mut HashMap<ShareKey, Run>, now: Instant) {
        runs.retain(|_, run| match run.ended {
            Some(ended) => now.saturating_duration_since(ended) <= self.window,
            None => !run.live.is_stopped(),
        });
    }

    /// Joins the run of `key` if one may be joined at `now`: one under way, or one that finished (not
    /// failed, not stopped) within the window, with room for another joiner.
    pub fn join(&self, key: &ShareKey, now: Instant) -> Option<Joined> {
        if !self.enabled() {
            return None;
        }
        let mut runs = self.runs();
        self.prune(&mut runs, now);
        let run = runs.get_mut(key)?;
        if run.joiners >= MAX_JOINERS || run.live.is_stopped() {
            return None;
        }
        if run.ended.is_some() && run.live.report().status != TraceStatus::Finished {
            return None;
        }
        run.joiners += 1;
        let after = now.saturating_duration_since(run.started);
        Some(Joined { live: Arc::clone(&run.live), after })
    }

    /// Offers the new run `id` of `key`, started at `now`, to later identical requests.
    pub fn offer(&self, key: ShareKey, id: &str, live: &Arc<LiveTrace>, now: Instant) {
        if !self.enabled() {
            return;
        }
        let mut runs = self.runs();
        self.prune(&mut runs, now);
        let run = Run { id: id.to_owned(), live: Arc::clone(live), started: now, ended: None, joiners: 0 };
        runs.insert(key, run);
    }

    /// The run `id` has ended (and been stored) at `now`: joinable for the window from now.
    pub fn ended(&self, id: &str, now: Instant) {
        let mut runs = self.runs();
        for run in runs.values_mut().filter(|run| run.id == id) {
            run.ended = Some(now);
        }
        self.prune(&mut runs, now);
    }

    /// How many traces have joined the run whose log is `live` (zero for a run nobody joined).
    pub fn joiners(&self, live: &Arc<LiveTrace>) -> usize {
        self.runs().values().filter(|run| Arc::ptr_eq(&run.live, live)).map(|run| run.joiners).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::hub::Hub;
    use std::net::IpAddr;
    use tracemap_shared::{Protocol, TraceEvent, TraceReport};

    fn request(json: &str) -> TraceRequest {
        serde_json::from_str(json).expect("request")
    }

    fn key(json: &str, destination: [u8; 4]) -> ShareKey {
        let request = request(json);
        let probe =
            super::super::request::probe_config(&request, IpAddr::from(destination), &ProbeConfig::default(), None);
        ShareKey::new(&request, &probe, request.dns.unwrap_or(true), request.geo.unwrap_or(true))
    }

    #[test]
    fn identical_means_every_setting_after_defaults_and_resolution() {
        let base = key(r#"{"target":"Example.net."}"#, [192, 0, 2, 1]);
        let defaults = ProbeConfig::default();
        let spelled_out = format!(
            r#"{{"target":" example.net","family":"ipv4","tries":{},"max_hops":{},"first_ttl":1,"timeout_ms":{}}}"#,
            defaults.tries,
            defaults.max_hops,
            defaults.timeout.as_millis()
        );
        assert_eq!(base, key(&spelled_out, [192, 0, 2, 1]), "defaults written out are the same run");
        for other in [
            key(r#"{"target":"example.net"}"#, [192, 0, 2, 2]),
            key(r#"{"target":"example.org"}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","protocol":"udp"}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","tries":1}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","max_hops":9}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","first_ttl":2}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","timeout_ms":500}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","dns":false}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","geo":false}"#, [192, 0, 2, 1]),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(
            key(r#"{"target":"example.net","protocol":"tcp"}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","protocol":"tcp","port":443}"#, [192, 0, 2, 1])
        );
        assert_eq!(
            key(r#"{"target":"example.net","protocol":"tcp"}"#, [192, 0, 2, 1]),
            key(r#"{"target":"example.net","protocol":"tcp","port":80}"#, [192, 0, 2, 1]),
            "the default port written out"
        );
    }

    #[test]
    fn runs_are_joined_while_running_and_for_the_window_after_a_finish() {
        let hub = Hub::default();
        let shares = Shares::new(Duration::from_secs(10));
        let k = key(r#"{"target":"example.net"}"#, [192, 0, 2, 1]);
        let t0 = Instant::now();
        assert!(shares.join(&k, t0).is_none(), "nothing to join yet");
        let live = hub.insert("run", TraceReport::default());
        shares.offer(k.clone(), "run", &live, t0);
        let joined = shares.join(&k, t0 + Duration::from_secs(3)).expect("joins a running run");
        assert!(Arc::ptr_eq(&joined.live, &live));
        assert_eq!(joined.after, Duration::from_secs(3));
        assert_eq!(shares.joiners(&live), 1);

        live.publish(TraceEvent::Finished { destination_reached: true, duration_ms: 5 });
        shares.ended("run", t0 + Duration::from_secs(5));
        assert!(shares.join(&k, t0 + Duration::from_secs(15)).is_some(), "10 s after the end");
        assert!(shares.join(&k, t0 + Duration::from_secs(16)).is_none(), "window over");

        let off = Shares::new(Duration::ZERO);
        off.offer(k.clone(), "run", &live, t0);
        assert!(off.join(&k, t0).is_none(), "a zero window shares nothing");
    }

    #[test]
    fn failed_and_stopped_runs_are_not_joined() {
        let hub = Hub::default();
        let shares = Shares::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let k = key(r#"{"target":"example.net","protocol":"tcp"}"#, [192, 0, 2, 1]);
        let failed = hub.insert("failed", TraceReport::new("example.net", Protocol::Tcp));
        shares.offer(k.clone(), "failed", &failed, t0);
        failed.publish(TraceEvent::Failed { reason: "no privilege".into() });
        shares.ended("failed", t0);
        assert!(shares.join(&k, t0).is_none());

        let stopped = hub.insert("stopped", TraceReport::default());
        shares.offer(k.clone(), "stopped", &stopped, t0);
        stopped.stop();
        assert!(shares.join(&k, t0).is_none());
    }
}
