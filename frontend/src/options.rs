//! The trace options a user can set in the form, checked as they type with the same limits the server applies.
//!
//! Inputs are kept as the text the user typed ([`OptionInputs`]); [`build_request`] turns them into a
//! [`TraceRequest`] or into one problem per field, worded for a person. An empty field means "the server's default",
//! so a user who never opens the options sends only the target and the protocol. Pure, tested natively.

use tracemap_shared::{Family, Protocol, TraceRequest};

/// Most hops the server accepts.
pub const MAX_HOPS: u32 = 64;
/// Most probes per hop the server accepts.
pub const MAX_TRIES: u32 = 10;
/// Shortest and longest per-probe wait the server accepts, in milliseconds.
pub const TIMEOUT_MS: (u32, u32) = (50, 10_000);
/// Shortest and longest time between two rounds of a watch the server accepts, in seconds.
pub const INTERVAL_SECS: (u32, u32) = (1, 60);
/// Most rounds the form lets through; the server's own cap (`/api/config`'s `max_rounds`) has the last word.
pub const MAX_ROUNDS: u32 = 100_000;

/// A form field that can have a problem; its `id` is the input's element id and `api` the request field name the
/// server names in its `invalid_field` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The host to trace.
    Target,
    /// Highest TTL.
    MaxHops,
    /// Probes per hop.
    Tries,
    /// Per-probe wait.
    Timeout,
    /// Destination port (UDP, TCP).
    Port,
    /// Address family.
    Family,
    /// First TTL.
    FirstTtl,
    /// Rounds of a watch.
    Rounds,
    /// Seconds between rounds.
    Interval,
}

impl Field {
    /// Every field, in form order.
    pub const ALL: [Field; 9] = [
        Field::Target,
        Field::Family,
        Field::FirstTtl,
        Field::MaxHops,
        Field::Tries,
        Field::Timeout,
        Field::Port,
        Field::Rounds,
        Field::Interval,
    ];

    /// The input element's id.
    pub fn id(self) -> &'static str {
        match self {
            Field::Target => "target",
            Field::MaxHops => "max-hops",
            Field::Tries => "tries",
            Field::Timeout => "timeout",
            Field::Port => "port",
            Field::Family => "family",
            Field::FirstTtl => "first-ttl",
            Field::Rounds => "rounds",
            Field::Interval => "interval",
        }
    }

    /// The field's label in the form, for messages that point at it.
    pub fn label(self) -> &'static str {
        match self {
            Field::Target => "Host",
            Field::MaxHops => "Max hops",
            Field::Tries => "Probes per hop",
            Field::Timeout => "Timeout (ms)",
            Field::Port => "Port",
            Field::Family => "Address family",
            Field::FirstTtl => "First TTL",
            Field::Rounds => "Rounds",
            Field::Interval => "Every (s)",
        }
    }

    /// The request field's name, as the server names it.
    pub fn api_name(self) -> &'static str {
        match self {
            Field::Target => "target",
            Field::MaxHops => "max_hops",
            Field::Tries => "tries",
            Field::Timeout => "timeout_ms",
            Field::Port => "port",
            Field::Family => "family",
            Field::FirstTtl => "first_ttl",
            Field::Rounds => "rounds",
            Field::Interval => "interval",
        }
    }

    /// The field a server's `invalid_field` message is about: the message starts with the field's name.
    pub fn from_server_message(message: &str) -> Option<Field> {
        let name = message.split([':', ' ']).next()?;
        Field::ALL.into_iter().find(|f| f.api_name() == name)
    }
}

/// The options as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionInputs {
    /// Probe protocol.
    pub protocol: Protocol,
    /// Address family.
    pub family: Family,
    /// Highest TTL; empty for the server's default.
    pub max_hops: String,
    /// Probes per hop; empty for the server's default.
    pub tries: String,
    /// Per-probe wait in milliseconds; empty for the server's default.
    pub timeout_ms: String,
    /// Destination port for UDP and TCP; empty for the server's default (ignored for ICMP).
    pub port: String,
    /// First TTL; empty for 1.
    pub first_ttl: String,
    /// Watch the route (rounds after rounds) instead of tracing it once.
    pub watch: bool,
    /// With `watch`: how many rounds; empty (or 0) until stopped.
    pub rounds: String,
    /// With `watch`: seconds between rounds; empty for 1.
    pub interval: String,
}

impl OptionInputs {
    /// The inputs that re-run `report` as it ran: every setting it recorded, written out.
    pub fn from_report(report: &tracemap_shared::TraceReport) -> Self {
        let text = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        let nonzero = |n: u8| (n > 0).then_some(u32::from(n));
        OptionInputs {
            protocol: report.protocol,
            family: report.options.family.unwrap_or_default(),
            max_hops: text(nonzero(report.max_hops)),
            tries: text(nonzero(report.tries)),
            timeout_ms: text(report.options.timeout_ms),
            port: text(report.options.port.map(u32::from)),
            first_ttl: text(report.first_ttl.map(u32::from)),
            watch: report.options.watch.is_some(),
            rounds: text(report.options.watch.map(|w| w.rounds)),
            interval: text(report.options.watch.map(|w| u32::try_from(w.interval_ms / 1000).unwrap_or(u32::MAX))),
        }
    }
}

/// A whole number in `min..=max` from `text`; `Ok(None)` when empty.
fn number(text: &str, min: u32, max: u32, what: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        Ok(_) => Err(format!("{what} must be between {min} and {max}.")),
        Err(_) => Err(format!("{what} must be a whole number between {min} and {max}.")),
    }
}

/// The problem with one option, if any (for inline messages as the user types).
pub fn check_field(inputs: &OptionInputs, field: Field) -> Option<String> {
    match field {
        Field::MaxHops => number(&inputs.max_hops, 1, MAX_HOPS, "Max hops").err(),
        Field::Tries => number(&inputs.tries, 1, MAX_TRIES, "Tries").err(),
        Field::Timeout => number(&inputs.timeout_ms, TIMEOUT_MS.0, TIMEOUT_MS.1, "Timeout (ms)").err(),
        Field::Port if inputs.protocol != Protocol::Icmp => number(&inputs.port, 1, 65_535, "Port").err(),
        Field::FirstTtl => number(&inputs.first_ttl, 1, MAX_HOPS, "First TTL").err().or_else(|| {
            let first = number(&inputs.first_ttl, 1, MAX_HOPS, "").ok().flatten()?;
            let max = number(&inputs.max_hops, 1, MAX_HOPS, "").ok().flatten().unwrap_or(30);
            (first > max).then(|| format!("First TTL must not be above Max hops ({max})."))
        }),
        Field::Rounds if inputs.watch => number(&inputs.rounds, 0, MAX_ROUNDS, "Rounds").err(),
        Field::Interval if inputs.watch => {
            number(&inputs.interval, INTERVAL_SECS.0, INTERVAL_SECS.1, "Seconds between rounds").err()
        }
        Field::Port | Field::Family | Field::Target | Field::Rounds | Field::Interval => None,
    }
}

/// Checks what the user typed as a host before asking the server; the server still has the last word.
pub fn validate_target(input: &str) -> Result<String, &'static str> {
    let target = input.trim();
    if target.is_empty() {
        return Err("Type a host name or an IP address to trace.");
    }
    if target.contains("://") || target.contains('/') {
        return Err("Type just the host, without http:// or a path.");
    }
    if host_with_port(target) {
        return Err("To trace a port, choose TCP (or UDP) and set Options → Port; type the host alone here.");
    }
    if target.chars().any(char::is_whitespace) {
        return Err("A host name has no spaces.");
    }
    if target.len() > 253 {
        return Err("That is longer than any host name can be.");
    }
    Ok(target.to_owned())
}

/// Whether `target` is a host with a port after it (`10.0.0.1:80`, `example.com:443`, `[2001:db8::1]:80`), which
/// the host field cannot take: the port is an option.
fn host_with_port(target: &str) -> bool {
    if target.starts_with('[') {
        return target.contains("]:");
    }
    match target.split_once(':') {
        Some((host, port)) => !host.is_empty() && !port.contains(':') && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The request for `target` with these options, or every problem found (field and sentence).
pub fn build_request(target: &str, inputs: &OptionInputs) -> Result<TraceRequest, Vec<(Field, String)>> {
    let mut problems = Vec::new();
    let target = validate_target(target).map_err(|m| problems.push((Field::Target, m.to_owned()))).ok();
    for field in Field::ALL {
        if let Some(problem) = check_field(inputs, field) {
            problems.push((field, problem));
        }
    }
    let Some(target) = target.filter(|_| problems.is_empty()) else { return Err(problems) };
    let small = |text: &str, max: u32| number(text, 1, max, "").ok().flatten().and_then(|n| u8::try_from(n).ok());
    let mut request = TraceRequest::new(target, inputs.protocol);
    request.family = inputs.family;
    request.max_hops = small(&inputs.max_hops, MAX_HOPS);
    request.tries = small(&inputs.tries, MAX_TRIES);
    request.timeout_ms = number(&inputs.timeout_ms, TIMEOUT_MS.0, TIMEOUT_MS.1, "").ok().flatten();
    request.first_ttl = small(&inputs.first_ttl, MAX_HOPS);
    if inputs.protocol != Protocol::Icmp {
        request.port = number(&inputs.port, 1, 65_535, "").ok().flatten().and_then(|n| u16::try_from(n).ok());
    }
    if inputs.watch {
        request.rounds = Some(number(&inputs.rounds, 0, MAX_ROUNDS, "").ok().flatten().unwrap_or(0));
        request.interval = number(&inputs.interval, INTERVAL_SECS.0, INTERVAL_SECS.1, "").ok().flatten();
    }
    Ok(request)
}

/// The protocol a `<select>` value names (ICMP for anything unknown).
pub fn parse_protocol(value: &str) -> Protocol {
    match value {
        "udp" => Protocol::Udp,
        "tcp" => Protocol::Tcp,
        _ => Protocol::Icmp,
    }
}

/// The family a `<select>` value names (auto for anything unknown).
pub fn parse_family(value: &str) -> Family {
    match value {
        "ipv4" => Family::Ipv4,
        "ipv6" => Family::Ipv6,
        _ => Family::Auto,
    }
}

/// The `<select>` value of a family.
pub fn family_value(family: Family) -> &'static str {
    match family {
        Family::Auto => "auto",
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn targets_are_trimmed_and_checked() {
        assert_eq!(validate_target("  example.com \n"), Ok("example.com".to_owned()));
        assert_eq!(validate_target("2001:db8::1"), Ok("2001:db8::1".to_owned()));
        assert!(validate_target("   ").is_err());
        assert!(validate_target("https://example.com").is_err());
        assert!(validate_target("example.com/path").is_err());
        assert!(validate_target("exa mple.com").is_err());
        assert!(validate_target(&"a".repeat(254)).is_err());
    }

    #[test]
    fn empty_options_send_only_target_and_protocol() {
        let request = build_request("example.com", &OptionInputs::default()).unwrap();
        assert_eq!(request, TraceRequest::new("example.com", Protocol::Icmp));
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json, serde_json::json!({"target": "example.com", "protocol": "icmp", "family": "auto"}));
    }

    #[test]
    fn options_fill_the_request() {
        let inputs = OptionInputs {
            protocol: Protocol::Udp,
            family: Family::Ipv6,
            max_hops: "20".into(),
            tries: " 5 ".into(),
            timeout_ms: "800".into(),
            port: "33434".into(),
            first_ttl: String::new(),
            ..OptionInputs::default()
        };
        let request = build_request("example.com", &inputs).unwrap();
        assert_eq!(request.family, Family::Ipv6);
        assert_eq!(
            (request.max_hops, request.tries, request.timeout_ms, request.port),
            (Some(20), Some(5), Some(800), Some(33434))
        );
    }

    #[test]
    fn out_of_range_options_are_named() {
        let inputs = OptionInputs {
            max_hops: "65".into(),
            tries: "0".into(),
            timeout_ms: "fast".into(),
            ..OptionInputs::default()
        };
        let problems = build_request("example.com", &inputs).unwrap_err();
        let fields: Vec<Field> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [Field::MaxHops, Field::Tries, Field::Timeout]);
        assert_eq!(problems[0].1, "Max hops must be between 1 and 64.");
        assert_eq!(problems[2].1, "Timeout (ms) must be a whole number between 50 and 10000.");
        let problems = build_request(" ", &OptionInputs::default()).unwrap_err();
        assert_eq!(problems[0].0, Field::Target);
    }

    #[test]
    fn the_port_belongs_to_udp_and_tcp() {
        let icmp = OptionInputs { port: "99999".into(), ..OptionInputs::default() };
        let request = build_request("example.com", &icmp).unwrap();
        assert_eq!(request.port, None, "ICMP has no port; a stale value is not sent");
        let tcp = OptionInputs { protocol: Protocol::Tcp, ..icmp };
        assert_eq!(check_field(&tcp, Field::Port).as_deref(), Some("Port must be between 1 and 65535."));
    }

    #[test]
    fn a_host_with_a_port_points_to_the_port_option() {
        for typed in ["10.201.7.2:80", "example.com:8080", "[2001:db8::1]:80"] {
            let problem = validate_target(typed).unwrap_err();
            assert!(problem.starts_with("To trace a port, choose TCP"), "{typed}: {problem}");
            assert!(problem.contains("Options → Port"), "{problem}");
        }
        assert_eq!(validate_target("2001:db8::1"), Ok("2001:db8::1".to_owned()), "IPv6 is not a port");
        assert_eq!(validate_target("::1"), Ok("::1".to_owned()));
    }

    #[test]
    fn a_report_fills_the_form_with_every_setting() {
        let mut report = tracemap_shared::TraceReport::new("example.com", Protocol::Tcp);
        report.max_hops = 20;
        report.tries = 2;
        report.first_ttl = Some(3);
        report.options = tracemap_shared::TraceOptions {
            port: Some(8080),
            family: Some(Family::Ipv4),
            timeout_ms: Some(800),
            ..Default::default()
        };
        let inputs = OptionInputs::from_report(&report);
        let request = build_request("example.com", &inputs).unwrap();
        assert_eq!(request.protocol, Protocol::Tcp);
        assert_eq!(request.port, Some(8080));
        assert_eq!(request.family, Family::Ipv4);
        assert_eq!(
            (request.max_hops, request.tries, request.timeout_ms, request.first_ttl),
            (Some(20), Some(2), Some(800), Some(3))
        );
        let old = OptionInputs::from_report(&tracemap_shared::TraceReport::new("x", Protocol::Icmp));
        assert_eq!(old, OptionInputs::default(), "a trace stored before its settings leaves the defaults");
        let high = OptionInputs { first_ttl: "40".into(), ..OptionInputs::default() };
        assert_eq!(check_field(&high, Field::FirstTtl).as_deref(), Some("First TTL must not be above Max hops (30)."));
    }

    #[test]
    fn server_messages_name_their_field() {
        assert_eq!(Field::from_server_message("max_hops: must be between 1 and 64"), Some(Field::MaxHops));
        assert_eq!(Field::from_server_message("timeout_ms: must be between 50 and 10000"), Some(Field::Timeout));
        assert_eq!(Field::from_server_message("family: 10.0.0.1 is not an IPv6 address"), Some(Field::Family));
        assert_eq!(Field::from_server_message("something else"), None);
    }

    #[test]
    fn select_values_round_trip() {
        assert_eq!(parse_protocol("udp"), Protocol::Udp);
        assert_eq!(parse_protocol("?"), Protocol::Icmp);
        for family in [Family::Auto, Family::Ipv4, Family::Ipv6] {
            assert_eq!(parse_family(family_value(family)), family);
        }
    }

    #[test]
    fn the_watch_switch_asks_for_rounds_until_stopped_by_default() {
        let mut inputs = OptionInputs { watch: true, ..OptionInputs::default() };
        let request = build_request("example.net", &inputs).unwrap();
        assert_eq!((request.rounds, request.interval), (Some(0), None));
        inputs.rounds = "20".into();
        inputs.interval = "2".into();
        let request = build_request("example.net", &inputs).unwrap();
        assert_eq!((request.rounds, request.interval), (Some(20), Some(2)));
        inputs.interval = "0".into();
        let problems = build_request("example.net", &inputs).unwrap_err();
        assert_eq!(problems[0].0, Field::Interval);
        // Off, the watch fields are neither checked nor sent.
        inputs.watch = false;
        let request = build_request("example.net", &inputs).unwrap();
        assert_eq!((request.rounds, request.interval), (None, None));
        assert_eq!(Field::from_server_message("rounds: this server runs at most 600 rounds"), Some(Field::Rounds));
    }
}
