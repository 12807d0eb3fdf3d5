//! The body of `POST /api/traces` as any client may send it: JSON into `TraceRequest`, the option checks, the
//! target's syntax check and the probe settings they give. Nothing may panic; a request the checks accept must give
//! settings the prober accepts (the TTL range, tries, timeout and port within the server's limits), and a target
//! that passes the syntax check is an IP literal or an RFC 1123 name, never anything a shell or a resolver could
//! read as an option.
#![no_main]

use std::net::IpAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tracemap::http::request::{MAX_HOPS, MAX_TRIES, TIMEOUT_MS, check_family, check_options, probe_config};
use tracemap::probe::ProbeConfig;
use tracemap::runner::parse_target;
use tracemap_shared::{Protocol, TraceRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<TraceRequest>(data) else { return };
    if check_options(&request).is_err() {
        return;
    }
    let target = match parse_target(&request.target) {
        Ok(Some(ip)) => ip,
        Ok(None) => {
            let name = request.target.strip_suffix('.').unwrap_or(&request.target);
            assert!(!name.is_empty() && name.len() <= 253, "{:?}", request.target);
            assert!(!name.starts_with('-'), "{:?}", request.target);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'), "{:?}", request.target);
            IpAddr::from([192, 0, 2, 1])
        }
        Err(_) => return,
    };
    let _ = check_family(&request, target);
    let config = probe_config(&request, target, &ProbeConfig::default());
    assert!(config.first_ttl >= 1 && config.first_ttl <= config.max_hops, "{config:?}");
    assert!(config.max_hops <= MAX_HOPS.max(ProbeConfig::default().max_hops), "{config:?}");
    assert!(config.tries >= 1 && config.tries <= MAX_TRIES, "{config:?}");
    let (low, high) =
        (Duration::from_millis(u64::from(*TIMEOUT_MS.start())), Duration::from_millis(u64::from(*TIMEOUT_MS.end())));
    assert!(config.timeout >= low && config.timeout <= high || request.timeout_ms.is_none(), "{config:?}");
    assert!(config.port != Some(0), "{config:?}");
    if request.protocol == Protocol::Icmp {
        assert!(request.port.is_none(), "{config:?}");
    }
});
