//! Turning a `TraceRequest` into probe settings: every option range-checked, each error naming its field.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use tracemap_shared::{Family, Protocol, TraceRequest};

use super::AppError;
use crate::probe::{ProbeConfig, Watch};

/// The widest settings a browser may ask for. Narrower than the command line's: a server's probes are shared.
pub const MAX_HOPS: u8 = 64;
/// Most probes per hop.
pub const MAX_TRIES: u8 = 10;
/// Shortest and longest per-probe wait, in milliseconds.
pub const TIMEOUT_MS: std::ops::RangeInclusive<u32> = 50..=10_000;

fn invalid(field: &str, message: impl std::fmt::Display) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, "invalid_field", format!("{field}: {message}"))
}

/// Why `target` is refused, as the page shows it: `refuser` ("this server", "agent sydney") does not trace
/// `destination`, which is `kind`. A name says what it resolved to; an address is not repeated ("10.0.0.1 is a
/// private address ...", not "10.0.0.1 resolves to 10.0.0.1, ...").
pub fn forbidden_target(target: &str, destination: IpAddr, kind: &str, refuser: &str) -> String {
    if target.parse::<IpAddr>() == Ok(destination) {
        format!("{target} is {kind}, which {refuser} does not trace")
    } else {
        format!("{target} resolves to {destination}, {kind}, which {refuser} does not trace")
    }
}

/// The request's options checked against the server's limits, before the target is resolved.
pub fn check_options(req: &TraceRequest) -> Result<(), AppError> {
    if let Some(hops) = req.max_hops
        && !(1..=MAX_HOPS).contains(&hops)
    {
        return Err(invalid("max_hops", format!("must be between 1 and {MAX_HOPS}")));
    }
    if let Some(tries) = req.tries
        && !(1..=MAX_TRIES).contains(&tries)
    {
        return Err(invalid("tries", format!("must be between 1 and {MAX_TRIES}")));
    }
    if let Some(ms) = req.timeout_ms
        && !TIMEOUT_MS.contains(&ms)
    {
        return Err(invalid("timeout_ms", format!("must be between {} and {}", TIMEOUT_MS.start(), TIMEOUT_MS.end())));
    }
    let max_hops = req.max_hops.unwrap_or(ProbeConfig::default().max_hops);
    if let Some(first) = req.first_ttl
        && (first == 0 || first > max_hops)
    {
        return Err(invalid("first_ttl", format!("must be between 1 and max_hops ({max_hops})")));
    }
    match req.port {
        Some(_) if req.protocol == Protocol::Icmp => return Err(invalid("port", "applies to udp and tcp probes only")),
        Some(0) => return Err(invalid("port", "must be between 1 and 65535")),
        _ => {}
    }
    if req.target.trim().is_empty() {
        return Err(invalid("target", "is empty"));
    }
    Ok(())
}

/// Shortest and longest time between two rounds of a watch, in seconds.
pub const INTERVAL_SECS: std::ops::RangeInclusive<u32> = 1..=60;

/// A server's limits on one watch (`serve --max-rounds`, `--max-watch-seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// The most rounds one watch runs.
    pub max_rounds: u32,
    /// The longest one watch runs, in seconds.
    pub max_seconds: u32,
}

impl Default for WatchLimits {
    fn default() -> Self {
        WatchLimits { max_rounds: 600, max_seconds: 900 }
    }
}

/// The watch a request asks for, checked against `limits`: `None` for a single trace. A watch "until stopped"
/// (`rounds: 0`) runs at most as many rounds as fit both caps; an explicit `rounds` beyond either is refused, so
/// nobody is surprised by a watch that ends early.
pub fn check_watch(req: &TraceRequest, limits: WatchLimits) -> Result<Option<Watch>, AppError> {
    let Some(rounds) = req.rounds else {
        return match req.interval {
            Some(_) => Err(invalid("interval", "applies to a watch only: send rounds too (0 watches until stopped)")),
            None => Ok(None),
        };
    };
    let interval = req.interval.unwrap_or(1);
    if !INTERVAL_SECS.contains(&interval) {
        return Err(invalid(
            "interval",
            format!("must be between {} and {} seconds", INTERVAL_SECS.start(), INTERVAL_SECS.end()),
        ));
    }
    if interval > limits.max_seconds {
        return Err(invalid("interval", format!("this server watches for at most {} s", limits.max_seconds)));
    }
    if rounds > limits.max_rounds {
        return Err(invalid(
            "rounds",
            format!("this server runs at most {} rounds (0 watches until stopped, up to that)", limits.max_rounds),
        ));
    }
    let fit = limits.max_seconds / interval;
    if u64::from(rounds) * u64::from(interval) > u64::from(limits.max_seconds) {
        return Err(invalid(
            "rounds",
            format!(
                "{rounds} rounds {interval} s apart take longer than this server's {} s; at most {fit} at that interval",
                limits.max_seconds
            ),
        ));
    }
    let rounds = if rounds == 0 { limits.max_rounds.min(fit).max(1) } else { rounds };
    Ok(Some(Watch { rounds, interval: Duration::from_secs(u64::from(interval)) }))
}

/// The family the request asks the resolver for, if any.
pub fn wanted_family(req: &TraceRequest) -> Option<crate::net::Family> {
    match req.family {
        Family::Auto => None,
        Family::Ipv4 => Some(crate::net::Family::V4),
        Family::Ipv6 => Some(crate::net::Family::V6),
    }
}

/// Whether `ip` is of the family the request asked for.
pub fn check_family(req: &TraceRequest, ip: IpAddr) -> Result<(), AppError> {
    match (req.family, ip) {
        (Family::Ipv4, IpAddr::V6(_)) => Err(invalid("family", format!("{ip} is not an IPv4 address"))),
        (Family::Ipv6, IpAddr::V4(_)) => Err(invalid("family", format!("{ip} is not an IPv6 address"))),
        _ => Ok(()),
    }
}

/// The probe settings for a checked request.
/// A watch probes each hop once a round unless `tries` says otherwise, as `trace --rounds` does.
pub fn probe_config(
    req: &TraceRequest,
    destination: IpAddr,
    defaults: &ProbeConfig,
    watch: Option<Watch>,
) -> ProbeConfig {
    let default_tries = if watch.is_some() { 1 } else { defaults.tries };
    ProbeConfig {
        destination,
        protocol: req.protocol,
        first_ttl: req.first_ttl.unwrap_or(defaults.first_ttl),
        max_hops: req.max_hops.unwrap_or(defaults.max_hops),
        tries: req.tries.unwrap_or(default_tries),
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))).unwrap_or(defaults.timeout),
        port: req.port.or(defaults.port),
        paris: defaults.paris,
        watch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> TraceRequest {
        serde_json::from_str(json).expect("request")
    }

    #[test]
    fn a_refused_address_is_named_once_and_a_refused_name_with_its_address() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            forbidden_target("127.0.0.1", loopback, "a loopback address", "this server"),
            "127.0.0.1 is a loopback address, which this server does not trace"
        );
        assert_eq!(
            forbidden_target("localhost", loopback, "a loopback address", "agent c"),
            "localhost resolves to 127.0.0.1, a loopback address, which agent c does not trace"
        );
        // Another spelling of an address is not the address: say what it stands for.
        let v6: IpAddr = "::ffff:a00:1".parse().expect("ip");
        assert_eq!(
            forbidden_target("::ffff:10.0.0.1", v6, "a private address", "this server"),
            "::ffff:10.0.0.1 is a private address, which this server does not trace"
        );
    }

    #[test]
    fn out_of_range_options_name_their_field() {
        for (body, field) in [
            (r#"{"target":"h","max_hops":0}"#, "max_hops"),
            (r#"{"target":"h","max_hops":65}"#, "max_hops"),
            (r#"{"target":"h","tries":0}"#, "tries"),
            (r#"{"target":"h","tries":11}"#, "tries"),
            (r#"{"target":"h","timeout_ms":10}"#, "timeout_ms"),
            (r#"{"target":"h","timeout_ms":10001}"#, "timeout_ms"),
            (r#"{"target":"h","first_ttl":0}"#, "first_ttl"),
            (r#"{"target":"h","max_hops":5,"first_ttl":6}"#, "first_ttl"),
            (r#"{"target":"h","port":80}"#, "port"),
            (r#"{"target":"h","protocol":"tcp","port":0}"#, "port"),
            (r#"{"target":"  "}"#, "target"),
        ] {
            let err = check_options(&req(body)).expect_err(body);
            assert!(format!("{err:?}").contains(field), "{body}: {err:?}");
        }
        assert!(check_options(&req(r#"{"target":"h","protocol":"udp","port":53,"max_hops":5,"first_ttl":5}"#)).is_ok());
    }

    #[test]
    fn settings_take_defaults_for_absent_options() {
        let defaults = ProbeConfig::default();
        let ip = IpAddr::from([10, 0, 0, 1]);
        let config = probe_config(&req(r#"{"target":"h","tries":1,"timeout_ms":250}"#), ip, &defaults, None);
        assert_eq!(config.tries, 1);
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert_eq!(config.max_hops, defaults.max_hops);
        assert_eq!(config.destination, ip);
        assert!(check_family(&req(r#"{"target":"h","family":"ipv6"}"#), ip).is_err());
        assert!(check_family(&req(r#"{"target":"h","family":"ipv4"}"#), ip).is_ok());
    }

    #[test]
    fn a_watch_is_capped_by_the_server_and_out_of_range_values_name_their_field() {
        let limits = WatchLimits { max_rounds: 100, max_seconds: 300 };
        let watch = |json: &str| check_watch(&req(json), limits);
        assert_eq!(watch(r#"{"target":"h"}"#).expect("single"), None);
        let until_stopped = watch(r#"{"target":"h","rounds":0}"#).expect("until stopped").expect("a watch");
        assert_eq!((until_stopped.rounds, until_stopped.interval), (100, Duration::from_secs(1)));
        // Until stopped at 10 s a round: the time cap allows 30.
        assert_eq!(watch(r#"{"target":"h","rounds":0,"interval":10}"#).expect("ok").map(|w| w.rounds), Some(30));
        assert_eq!(watch(r#"{"target":"h","rounds":20,"interval":2}"#).expect("ok").map(|w| w.rounds), Some(20));
        for (body, field) in [
            (r#"{"target":"h","interval":2}"#, "interval: applies to a watch only"),
            (r#"{"target":"h","rounds":5,"interval":0}"#, "interval: must be between 1 and 60"),
            (r#"{"target":"h","rounds":5,"interval":61}"#, "interval: must be between 1 and 60"),
            (r#"{"target":"h","rounds":101}"#, "rounds: this server runs at most 100 rounds"),
            (r#"{"target":"h","rounds":100,"interval":5}"#, "at most 60 at that interval"),
        ] {
            let err = watch(body).expect_err(body);
            assert!(format!("{err:?}").contains(field), "{body}: {err:?}");
        }
        let tight = WatchLimits { max_rounds: 10, max_seconds: 5 };
        assert!(
            format!("{:?}", check_watch(&req(r#"{"target":"h","rounds":1,"interval":6}"#), tight))
                .contains("at most 5 s")
        );
        let ip = IpAddr::from([10, 0, 0, 1]);
        let config =
            probe_config(&req(r#"{"target":"h","rounds":0}"#), ip, &ProbeConfig::default(), until_stopped.into());
        assert_eq!((config.tries, config.watch), (1, Some(until_stopped)), "one probe per hop a round");
    }
}
