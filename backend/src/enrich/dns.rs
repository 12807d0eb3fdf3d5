//! Reverse DNS: the name of each hop, looked up in the background so that no hop ever waits for a resolver.
//!
//! The resolver follows the system's configuration (`/etc/resolv.conf`, which `ip netns exec` swaps for
//! `/etc/netns/NAME/resolv.conf`). Every lookup is bounded by a timeout, answers are cached per address (a server
//! traces the same first hops over and over), concurrent lookups of one address share one query, and the number
//! of queries in flight is capped. Names come from whoever runs the reverse zone, so they are reduced to short
//! printable ASCII before anyone sees them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use tokio::sync::{OnceCell, Semaphore};

/// Longest wait for one name: past it the hop simply has none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// A DNS name never exceeds 253 characters; anything longer is not a name we show whole.
pub const MAX_NAME_LEN: usize = 253;
/// How long an answer (or the lack of one) is reused before asking again.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// Bound on cached addresses, so a long-running server's memory stays flat.
const CACHE_CAPACITY: usize = 8192;
/// Queries in flight at once, across every trace: a burst of traces must not flood the resolver.
const MAX_IN_FLIGHT: usize = 32;

/// Where the resolver's configuration comes from.
#[derive(Debug, Clone)]
enum Source {
    /// No resolver: every lookup answers `None` at once (the default, so nothing queries a resolver unasked).
    Disabled,
    /// `/etc/resolv.conf`, read on the first lookup.
    System,
    /// The text of a resolv.conf (tests point it at a server inside their own network).
    ResolvConf(String),
}

/// One address's answer, shared by everyone who asked while it was being looked up.
type Slot = Arc<OnceCell<Option<String>>>;

/// A cached, bounded reverse resolver.
pub struct ReverseDns {
    source: Source,
    timeout: Duration,
    /// Built on first use: `None` when the configuration could not be read (then no hop gets a name).
    resolver: OnceCell<Option<TokioResolver>>,
    cache: Mutex<HashMap<IpAddr, (Instant, Slot)>>,
    in_flight: Semaphore,
}

impl std::fmt::Debug for ReverseDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseDns").field("source", &self.source).field("timeout", &self.timeout).finish()
    }
}

impl Default for ReverseDns {
    fn default() -> Self {
        ReverseDns::disabled()
    }
}

impl ReverseDns {
    /// A resolver that never asks anyone: every hop stays nameless.
    pub fn disabled() -> Self {
        ReverseDns::new(Source::Disabled, Duration::ZERO)
    }

    /// A resolver configured like the system's, giving up on a name after `timeout`.
    pub fn system(timeout: Duration) -> Self {
        ReverseDns::new(Source::System, timeout)
    }

    /// A resolver configured by `resolv_conf` (the text of a resolv.conf file) instead of the system's.
    pub fn from_resolv_conf(resolv_conf: &str, timeout: Duration) -> Self {
        ReverseDns::new(Source::ResolvConf(resolv_conf.to_owned()), timeout)
    }

    fn new(source: Source, timeout: Duration) -> Self {
        ReverseDns {
            source,
            timeout,
            resolver: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// The longest [`ReverseDns::lookup`] takes.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The name of `ip`, or `None` when it has none, the resolver fails or does not answer within the timeout.
    /// Never takes (much) longer than [`ReverseDns::timeout`].
    pub async fn lookup(&self, ip: IpAddr) -> Option<String> {
        if matches!(self.source, Source::Disabled) || !worth_asking(ip) {
            return None;
        }
        let slot = self.slot(ip);
        let deadline = tokio::time::Instant::now() + self.timeout;
        // The timeout also covers waiting for a query someone else started, and for a permit.
        tokio::time::timeout_at(deadline, slot.get_or_init(|| self.query(ip))).await.ok().cloned().flatten()
    }

    /// The shared answer slot for `ip`, fresh unless a recent one exists.
    fn slot(&self, ip: IpAddr) -> Slot {
        let now = Instant::now();
        // A poisoned lock only means another lookup panicked mid-insert; the map itself is still sound.
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((at, slot)) = cache.get(&ip)
            && now.duration_since(*at) < CACHE_TTL
        {
            return Arc::clone(slot);
        }
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, (at, _)| now.duration_since(*at) < CACHE_TTL);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        let slot = Slot::default();
        cache.insert(ip, (now, Arc::clone(&slot)));
        slot
    }

    /// One PTR query, bounded by the timeout; its result is cached whatever it is.
    async fn query(&self, ip: IpAddr) -> Option<String> {
        let resolver = self.resolver.get_or_init(|| async { self.build() }).await.as_ref()?;
        let _permit = self.in_flight.acquire().await.ok()?;
        let lookup = tokio::time::timeout(self.timeout, resolver.reverse_lookup(Name::from(ip))).await.ok()?.ok()?;
        lookup.answers().iter().find_map(|record| match &record.data {
            RData::PTR(ptr) => clean_name(&ptr.0.to_ascii()),
            _ => None,
        })
    }

    fn build(&self) -> Option<TokioResolver> {
        let parsed = match &self.source {
            Source::Disabled => return None,
            Source::System => hickory_resolver::system_conf::read_system_conf(),
            Source::ResolvConf(text) => hickory_resolver::system_conf::parse_resolv_conf(text),
        };
        let (config, mut options): (ResolverConfig, ResolverOpts) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::warn!(%error, "no resolver configuration: hops will have no names");
                return None;
            }
        };
        // One try per server within our own bound: a second try could only finish after we stopped waiting.
        options.timeout = self.timeout;
        options.attempts = 1;
        let mut builder = hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = options;
        match builder.build() {
            Ok(resolver) => Some(resolver),
            Err(error) => {
                tracing::warn!(%error, "cannot start the resolver: hops will have no names");
                None
            }
        }
    }
}

/// Whether a PTR query for `ip` can tell anything. Loopback, link-local, multicast and the like mean the same
/// on every host, so an upstream resolver has no name for them that is about this route (RFC 6761 wants loopback
/// reverse queries answered locally); asking would only send queries out for nothing. Private ranges are asked:
/// a campus resolver often names its routers.
fn worth_asking(ip: IpAddr) -> bool {
    use crate::addr::AddressKind as K;
    !matches!(
        crate::addr::kind_of(ip),
        K::Loopback | K::LinkLocal | K::Multicast | K::Unspecified | K::Broadcast | K::Documentation
    )
}

/// A PTR target as something safe to print and store: the trailing dot dropped, anything but printable ASCII
/// replaced (names arrive in punycode, so a real name loses nothing), at most [`MAX_NAME_LEN`] characters.
/// An empty or root name is no name.
pub fn clean_name(raw: &str) -> Option<String> {
    let name = raw.strip_suffix('.').unwrap_or(raw);
    let cleaned: String = name.chars().take(MAX_NAME_LEN).map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_printable_text() {
        assert_eq!(clean_name("r1.lab.test."), Some("r1.lab.test".into()));
        assert_eq!(clean_name("."), None);
        assert_eq!(clean_name(""), None);
        assert_eq!(clean_name("evil\u{1b}[2J<script>.test."), Some("evil?[2J<script>.test".into()));
        assert_eq!(clean_name("a b\tc\u{202e}"), Some("a?b?c?".into()));
        assert_eq!(clean_name(&"x".repeat(1000)).map(|n| n.len()), Some(MAX_NAME_LEN));
    }

    #[tokio::test]
    async fn local_only_addresses_and_a_disabled_resolver_ask_no_one() {
        // Configured with a server, but none of these may reach it: the answer comes before any socket exists.
        let dns = ReverseDns::from_resolv_conf("nameserver 192.0.2.53\n", Duration::from_secs(5));
        let started = Instant::now();
        for local in ["127.0.0.1", "::1", "169.254.1.1", "fe80::1", "224.0.0.1", "0.0.0.0", "203.0.113.1"] {
            assert_eq!(dns.lookup(local.parse().expect("address")).await, None, "{local}");
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(dns.cache.lock().map(|c| c.is_empty()).unwrap_or(false), "nothing was looked up");
        assert_eq!(ReverseDns::default().lookup(IpAddr::from([10, 0, 0, 1])).await, None);
    }

    #[tokio::test]
    async fn no_nameserver_means_no_name_at_once() {
        // A configuration with no server to ask: nothing leaves this process.
        let dns = ReverseDns::from_resolv_conf("options timeout:1\n", Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(dns.lookup(IpAddr::from([10, 0, 0, 1])).await, None);
        assert_eq!(dns.lookup(IpAddr::from([10, 0, 0, 1])).await, None, "cached");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn cache_stays_bounded() {
        let dns = ReverseDns::from_resolv_conf("", DEFAULT_TIMEOUT);
        for i in 0..(CACHE_CAPACITY as u32 + 10) {
            let _ = dns.slot(IpAddr::from(i.to_be_bytes()));
        }
        let len = dns.cache.lock().map(|c| c.len()).unwrap_or(usize::MAX);
        assert!(len <= CACHE_CAPACITY, "{len}");
    }
}
