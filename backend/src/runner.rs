//! One trace from resolved target to its last event, shared by the command line and the server.
//!
//! The runner wraps the prober: it announces the trace, forwards every probe event, adds what enrichment knows
//! about each new address right after the probe that revealed it (and its name when reverse DNS answers), and
//! closes the stream with exactly one `finished` or `failed` event, after every name. Callers only read a channel
//! of [`TraceEvent`]s.
//!
//! The event channels of a trace (prober → runner → hub) are unbounded channels with a bounded content: only this
//! trace's own code feeds them, one event per probe (at most `max_hops × tries`, times the rounds of a watch,
//! which are paced at one probe per hop per second or slower), two per hop address, a start and an end, so a full
//! queue can never happen and no producer ever waits on a consumer. What outside input feeds
//! (the raw sockets' readers) goes through bounded queues that drop and count when full (`net`), and viewers read
//! the hub's log at their own pace (`http::hub`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracemap_shared::{Asn, EVENT_VERSION, Family, Geo, TraceEvent, TraceOptions, WatchSettings};

use crate::enrich::{AddressKind, Enricher};
use crate::net;
use crate::probe::ProbeConfig;

/// Longest a target may take to resolve before the trace is refused.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a target could not be turned into an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// Empty, too long, or not a hostname or IP literal.
    #[error("'{0}' is not a hostname or IP address")]
    Invalid(String),
    /// The resolver found no address.
    #[error("cannot resolve '{0}': no address found")]
    NotFound(String),
    /// The resolver did not answer in time.
    #[error("cannot resolve '{0}': the resolver did not answer within {1} s")]
    Timeout(String, u64),
}

/// Checks `target`'s syntax: an IP literal, or a hostname per RFC 1123 (labels of letters, digits and hyphens,
/// not starting or ending with a hyphen, at most 63 characters each, 253 in all). It is never passed to a shell.
pub fn parse_target(target: &str) -> Result<Option<IpAddr>, ResolveError> {
    let invalid = || ResolveError::Invalid(target.chars().take(64).collect());
    if let Ok(ip) = target.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    let name = target.strip_suffix('.').unwrap_or(target);
    if name.is_empty() || name.len() > 253 {
        return Err(invalid());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // An all-numeric last label would make `1.2.3` look like a name; real top-level domains are never numeric.
    let last_numeric = name.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if name.split('.').all(label_ok) && !last_numeric { Ok(None) } else { Err(invalid()) }
}

/// Resolves `target` once, to the first address the resolver gives (the family of the first resolved address).
pub async fn resolve(target: &str) -> Result<IpAddr, ResolveError> {
    resolve_family(target, None).await
}

/// Resolves `target` once, to an address of `family` when one is given (`-4`, `-6`).
pub async fn resolve_family(target: &str, family: Option<net::Family>) -> Result<IpAddr, ResolveError> {
    let wanted = |ip: &IpAddr| family.is_none_or(|family| net::Family::of(*ip) == family);
    if let Some(ip) = parse_target(target)? {
        return if wanted(&ip) { Ok(ip) } else { Err(ResolveError::NotFound(target.to_owned())) };
    }
    let lookup = tokio::net::lookup_host((target, 0));
    let addrs: Vec<IpAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Err(_) => return Err(ResolveError::Timeout(target.to_owned(), RESOLVE_TIMEOUT.as_secs())),
        Ok(Err(_)) => return Err(ResolveError::NotFound(target.to_owned())),
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
    };
    addrs.into_iter().find(wanted).ok_or_else(|| ResolveError::NotFound(target.to_owned()))
}

/// Everything a trace needs besides its sink.
#[derive(Debug, Clone)]
pub struct TraceJob {
    /// What the user asked for, as typed (shown in the output).
    pub target: String,
    /// Probing parameters, with the resolved destination.
    pub probe: ProbeConfig,
    /// Whether to look up locations.
    pub geo: bool,
    /// Whether to look up hop names (reverse DNS).
    pub dns: bool,
    /// Where the prober stands (`--location`): announced in the `started` event so a permalink knows it, and every
    /// place is judged against each reply's round-trip time from there.
    pub location: Option<Geo>,
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Slack on top of the resolver's own timeout before the trace stops waiting for names: lookups end by
/// themselves within the timeout, this only guards the terminal event against a lookup that misbehaves.
const NAME_WAIT_SLACK: Duration = Duration::from_millis(500);

/// Milliseconds since the Unix epoch, for the `started` event.
fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Runs `job` to its end, sending every event to `events`. The last event sent is always `finished` or `failed`.
/// A closed receiver does not stop the trace early: its result is still wanted by the other holders of its log.
///
/// Each new (TTL, address) gets a `hop_info` at once with what the in-memory sources know; with `job.dns`, a
/// second one with the name (and the places read from it) follows when its lookup ends. Every location is judged
/// against the address's fastest answer so far; a faster one that changes the verdict sends the address's
/// `hop_info` again (after its name lookup, when there is one). Lookups run beside the trace, so no probe event waits
/// for them; after the last probe the runner waits for the outstanding ones, never longer than the resolver's
/// timeout, and only then sends the terminal event.
pub async fn run(job: TraceJob, enricher: Arc<Enricher>, events: mpsc::UnboundedSender<TraceEvent>) {
    let started = Instant::now();
    let (probe_tx, mut probe_rx) = mpsc::unbounded_channel();
    let (mode_tx, mode_rx) = oneshot::channel();
    let config = job.probe.clone();
    // Aborted when this future is dropped (a stopped trace), so no probe goes out after the stop.
    let mut prober = AbortOnDrop(tokio::spawn(async move {
        net::trace_reporting(&config, &probe_tx, move |mode| {
            let _ = mode_tx.send(mode);
        })
        .await
    }));
    // The prober names its mode once its sockets are open, before the first probe; a trace that fails before that
    // (no privilege for what was asked) starts without one and ends with `failed`.
    let mode = mode_rx.await.ok();
    let _ = events.send(TraceEvent::Started {
        version: EVENT_VERSION,
        target: job.target.clone(),
        address: job.probe.destination.to_string(),
        protocol: job.probe.protocol,
        first_ttl: job.probe.first_ttl,
        max_hops: job.probe.max_hops,
        tries: job.probe.tries,
        started_at_ms: unix_ms(),
        mode,
        options: options(&job.probe),
        location: job.location.clone(),
    });

    let mut book = Book::default();
    let mut names: JoinSet<(u8, IpAddr, Option<String>)> = JoinSet::new();
    loop {
        tokio::select! {
            event = probe_rx.recv() => {
                let Some(event) = event else { break };
                let answered = match &event {
                    TraceEvent::Probe { ttl, reply: Some(reply), .. } => {
                        reply.from.parse::<IpAddr>().ok().map(|ip| (*ttl, ip, reply.rtt_ms))
                    }
                    _ => None,
                };
                let _ = events.send(event);
                let Some((ttl, ip, rtt)) = answered else { continue };
                let faster = book.rtt(ip, rtt);
                if book.reveal(ttl, ip) {
                    let info = enricher.info(ip, false);
                    let geo = if job.geo {
                        enricher.place(ip, None, job.location.as_ref(), book.min_rtt(ip))
                    } else {
                        None
                    };
                    let entry = Entry { hostname: None, named: !job.dns, geo, asn: info.asn, kind: info.kind };
                    let _ = events.send(entry.event(ttl, ip));
                    book.entries.insert((ttl, ip), entry);
                    if job.dns {
                        let enricher = Arc::clone(&enricher);
                        names.spawn(async move { (ttl, ip, enricher.hostname(ip).await) });
                    }
                } else if faster && job.geo {
                    // A faster answer bounds the router more tightly: judge its places again, and say so when
                    // that changes anything (once its name is known, which the table waits for).
                    let min_rtt = book.min_rtt(ip);
                    for (ttl, entry) in book.entries_of(ip) {
                        let geo = enricher.place(ip, entry.hostname.as_deref(), job.location.as_ref(), min_rtt);
                        if geo != entry.geo {
                            entry.geo = geo;
                            if entry.named {
                                let _ = events.send(entry.event(ttl, ip));
                            }
                        }
                    }
                }
            }
            Some(Ok((ttl, ip, hostname))) = names.join_next(), if !names.is_empty() => {
                let min_rtt = book.min_rtt(ip);
                if let Some(event) = book.named(ttl, ip, hostname, |entry| {
                    if job.geo { enricher.place(ip, entry.hostname.as_deref(), job.location.as_ref(), min_rtt) } else { None }
                }) {
                    let _ = events.send(event);
                }
            }
        }
    }
    let duration_ms = started.elapsed().as_millis() as u64;

    let deadline = tokio::time::Instant::now() + enricher.dns_timeout() + NAME_WAIT_SLACK;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, names.join_next()).await {
        if let Ok((ttl, ip, hostname)) = joined {
            let min_rtt = book.min_rtt(ip);
            if let Some(event) = book.named(ttl, ip, hostname, |entry| {
                if job.geo {
                    enricher.place(ip, entry.hostname.as_deref(), job.location.as_ref(), min_rtt)
                } else {
                    None
                }
            }) {
                let _ = events.send(event);
            }
        }
    }
    // Whatever is still looking up is dropped with the set: its name would arrive after the end.
    names.abort_all();

    let last = match (&mut prober.0).await {
        Ok(Ok(destination_reached)) => TraceEvent::Finished { destination_reached, duration_ms },
        Ok(Err(err)) => TraceEvent::Failed { reason: err.to_string() },
        Err(join) => {
            tracing::error!(error = %join, "prober task died");
            TraceEvent::Failed { reason: "the prober stopped unexpectedly".to_owned() }
        }
    };
    let _ = events.send(last);
}

/// The settings the trace really runs with, defaults filled in, for the `started` event.
fn options(probe: &ProbeConfig) -> TraceOptions {
    let port = crate::probe::Method::for_config(probe).port();
    let family = if probe.destination.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 };
    let timeout_ms = u32::try_from(probe.timeout.as_millis()).unwrap_or(u32::MAX);
    let watch = probe.watch.map(|watch| WatchSettings {
        rounds: watch.rounds,
        interval_ms: u64::try_from(watch.interval.as_millis()).unwrap_or(u64::MAX),
    });
    TraceOptions { port, family: Some(family), timeout_ms: Some(timeout_ms), watch, ..TraceOptions::default() }
}

/// What the runner has told about each (TTL, address), and each address's fastest answer.
#[derive(Default)]
struct Book {
    entries: HashMap<(u8, IpAddr), Entry>,
    min_rtt: HashMap<IpAddr, f64>,
}

/// The last `hop_info` sent for one (TTL, address).
struct Entry {
    hostname: Option<String>,
    /// Whether its name lookup has ended (or none was wanted).
    named: bool,
    geo: Option<Geo>,
    asn: Option<Asn>,
    kind: AddressKind,
}

impl Entry {
    fn event(&self, ttl: u8, ip: IpAddr) -> TraceEvent {
        TraceEvent::HopInfo {
            ttl,
            address: ip.to_string(),
            hostname: self.hostname.clone(),
            geo: self.geo.clone(),
            asn: self.asn.clone(),
            kind: Some(self.kind.as_str().to_owned()),
        }
    }
}

impl Book {
    /// Records an answer's RTT; true when it is the address's fastest yet (and not its first).
    fn rtt(&mut self, ip: IpAddr, rtt_ms: f64) -> bool {
        if !rtt_ms.is_finite() || rtt_ms < 0.0 {
            return false;
        }
        match self.min_rtt.get_mut(&ip) {
            Some(best) if rtt_ms < *best => {
                *best = rtt_ms;
                true
            }
            Some(_) => false,
            None => {
                self.min_rtt.insert(ip, rtt_ms);
                false
            }
        }
    }

    fn min_rtt(&self, ip: IpAddr) -> Option<f64> {
        self.min_rtt.get(&ip).copied()
    }

    /// Whether (TTL, address) is new.
    fn reveal(&self, ttl: u8, ip: IpAddr) -> bool {
        !self.entries.contains_key(&(ttl, ip))
    }

    fn entries_of(&mut self, ip: IpAddr) -> impl Iterator<Item = (u8, &mut Entry)> {
        self.entries.iter_mut().filter(move |((_, a), _)| *a == ip).map(|((ttl, _), e)| (*ttl, e))
    }

    /// The name lookup of (TTL, address) ended: its places are judged again with the name, and the event to send.
    fn named(
        &mut self,
        ttl: u8,
        ip: IpAddr,
        hostname: Option<String>,
        place: impl FnOnce(&Entry) -> Option<Geo>,
    ) -> Option<TraceEvent> {
        let entry = self.entries.get_mut(&(ttl, ip))?;
        entry.hostname = hostname;
        entry.named = true;
        entry.geo = place(entry);
        Some(entry.event(ttl, ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_ip_literals_or_rfc1123_names() {
        assert_eq!(parse_target("10.0.0.1"), Ok(Some(IpAddr::from([10, 0, 0, 1]))));
        assert_eq!(parse_target("::1"), Ok(Some("::1".parse().unwrap_or(IpAddr::from([0; 16])))));
        assert_eq!(parse_target("example.com"), Ok(None));
        assert_eq!(parse_target("a-b.example.com."), Ok(None));
        assert_eq!(parse_target("localhost"), Ok(None));
        for bad in [
            "",
            "-n",
            "--help",
            "a b",
            "host;rm -rf /",
            "$(id)",
            "a..b",
            "-a.com",
            "a-.com",
            "1.2.3",
            "ex_ample.com",
            "ünicode.de",
            "a\nb",
            &"a".repeat(64),
            &format!("{}.com", "a.".repeat(126)),
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[tokio::test]
    async fn literal_needs_no_resolver() {
        assert_eq!(resolve("192.0.2.7").await, Ok(IpAddr::from([192, 0, 2, 7])));
        assert!(matches!(resolve("no such host!").await, Err(ResolveError::Invalid(_))));
        assert_eq!(
            resolve_family("::1", Some(net::Family::V6)).await,
            Ok("::1".parse().unwrap_or(IpAddr::from([0; 16])))
        );
        assert!(matches!(resolve_family("::1", Some(net::Family::V4)).await, Err(ResolveError::NotFound(_))));
    }
}
