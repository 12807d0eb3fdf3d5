//! Per-client rate limiting of trace starts: a token bucket per client, IPv6 clients keyed by their /64 (one
//! subscriber usually holds a whole /64, so keying by address would let them rotate around the limit).
//! Time is passed in, so the bucket arithmetic is tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// One IPv4 address.
    V4(u32),
    /// The /64 an IPv6 address belongs to.
    V6Prefix(u64),
    /// A request whose peer address is unknown (tests, unusual transports): all share one bucket.
    Unknown,
}

impl ClientKey {
    /// The key of a peer address; IPv4-mapped IPv6 peers count as their IPv4 address.
    pub fn of(ip: Option<IpAddr>) -> ClientKey {
        match ip {
            None => ClientKey::Unknown,
            Some(IpAddr::V4(v4)) => ClientKey::V4(v4.into()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.into()),
                None => ClientKey::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets for every client seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
}

/// Past this many clients, buckets that have refilled completely are forgotten (they hold no information).
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    /// A limiter allowing `burst` starts at once and `per_minute` on average.
    pub fn new(burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at `now`; when none is left, says how long until one is.
    pub fn check(&self, key: ClientKey, now: Instant) -> Result<(), Duration> {
        self.check_cost(key, now, 1)
    }

    /// Takes `cost` tokens for `key` at `now` (a watch costs more than one trace; never more than the burst, so
    /// it can always be paid for eventually); when too few are left, says how long until there are enough.
    pub fn check_cost(&self, key: ClientKey, now: Instant, cost: u32) -> Result<(), Duration> {
        let cost = f64::from(cost.max(1)).min(self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - bucket.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Instant::now();
        let key = ClientKey::of(Some("203.0.113.1".parse().expect("ip")));
        for _ in 0..3 {
            assert!(limiter.check(key, t0).is_ok());
        }
        let wait = limiter.check(key, t0).expect_err("bucket empty");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(
            limiter.check(ClientKey::of(Some("203.0.113.2".parse().expect("ip"))), t0).is_ok(),
            "others unaffected"
        );
        assert!(limiter.check(key, t0 + Duration::from_secs(1)).is_ok(), "one token back after a second");
        assert!(limiter.check(key, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_costly_start_takes_several_tokens_but_never_more_than_the_burst() {
        let limiter = RateLimiter::new(5, 60);
        let t0 = Instant::now();
        let key = ClientKey::of(Some("203.0.113.1".parse().expect("ip")));
        assert!(limiter.check_cost(key, t0, 3).is_ok());
        let wait = limiter.check_cost(key, t0, 3).expect_err("two tokens left, three asked");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(key, t0).is_ok() && limiter.check(key, t0).is_ok());
        // A cost above the burst is the burst: a full bucket pays for it.
        let other = ClientKey::of(Some("203.0.113.2".parse().expect("ip")));
        assert!(limiter.check_cost(other, t0, 50).is_ok());
        assert!(limiter.check(other, t0).is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a = ClientKey::of(Some("2001:db8:1:2::1".parse().expect("ip")));
        let b = ClientKey::of(Some("2001:db8:1:2:ffff::9".parse().expect("ip")));
        let c = ClientKey::of(Some("2001:db8:1:3::1".parse().expect("ip")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ClientKey::of(Some("::ffff:192.0.2.1".parse().expect("ip"))),
            ClientKey::of(Some("192.0.2.1".parse().expect("ip")))
        );
    }
}
