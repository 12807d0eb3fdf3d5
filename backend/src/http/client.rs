//! Who is asking, decided once per request at the HTTP edge and carried in the request's extensions into the
//! target policy, the rate limits, the trace list and the WebSocket origin check.
//!
//! A request is *local* only when it comes straight from a loopback peer with no forwarding header (`Forwarded`,
//! `X-Forwarded-For`, `X-Real-IP`): behind a reverse proxy on the same machine every request arrives from
//! 127.0.0.1, and it is the header that says someone else is asking. From a peer in `--trusted-proxy` the client's
//! address is the right-most address in `X-Forwarded-For` (or, when the proxy sent none, in RFC 7239
//! `Forwarded`) that is not itself a trusted proxy: entries to its left were written by the client and prove
//! nothing. Any other peer's forwarding headers are ignored: its own address is the client.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderName};

use crate::addr::{Prefix, canonical};

/// Headers by which a proxy says it forwards someone else's request.
const FORWARDING: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// The client of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer's, or the one a trusted proxy forwarded for; `None` when it cannot be
    /// known (no peer address, or a trusted proxy's header that names no usable address).
    pub ip: Option<IpAddr>,
    /// Straight from a loopback peer, with no forwarding header: someone on this machine.
    pub local: bool,
    /// The peer is a trusted proxy.
    pub via_proxy: bool,
    /// The host the client asked the trusted proxy for (`X-Forwarded-Host`), for the WebSocket origin check.
    pub forwarded_host: Option<String>,
}

impl Client {
    /// A remote client at `ip`, as tests and tools build one.
    pub fn remote(ip: Option<IpAddr>) -> Client {
        Client { ip, local: false, via_proxy: false, forwarded_host: None }
    }

    /// Decides who sent a request that came from `peer` with `headers`, given the trusted proxies.
    pub fn identify(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Prefix]) -> Client {
        let peer = peer.map(canonical);
        let forwarded = FORWARDING.iter().any(|name| headers.contains_key(*name));
        let Some(peer) = peer else { return Client::remote(None) };
        let is_trusted = |ip: IpAddr| trusted.iter().any(|p| p.contains(canonical(ip)));
        if !is_trusted(peer) {
            if forwarded && peer.is_loopback() {
                warn_untrusted_proxy_once(peer);
            }
            return Client { ip: Some(peer), local: peer.is_loopback() && !forwarded, ..Client::remote(None) };
        }
        let forwarded_host = last_value(headers, "x-forwarded-host").map(str::to_owned);
        let chain = if headers.contains_key("x-forwarded-for") {
            x_forwarded_for(&joined(headers, "x-forwarded-for"))
        } else if headers.contains_key("forwarded") {
            forwarded_for(&joined(headers, "forwarded"))
        } else {
            // A trusted proxy's own request, or a client on its host going around it: the peer is the client.
            return Client { ip: Some(peer), local: peer.is_loopback() && !forwarded, via_proxy: true, forwarded_host };
        };
        Client { ip: client_in_chain(&chain, is_trusted), local: false, via_proxy: true, forwarded_host }
    }
}

/// Warns, once per process, about forwarding headers from a loopback peer that is not a trusted proxy: almost
/// always a reverse proxy on this machine that the operator forgot to pass as `--trusted-proxy`, so every client
/// shares its address and one rate-limit bucket.
fn warn_untrusted_proxy_once(peer: IpAddr) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "forwarding headers from a peer that is not a --trusted-proxy: ignored, so every client behind it counts as {peer}; pass --trusted-proxy {peer}/32 if it is your reverse proxy"
        );
    }
}

/// Every value of header `name`, joined by commas (a list header may be split over several lines).
fn joined(headers: &HeaderMap, name: &str) -> String {
    let name = HeaderName::from_bytes(name.as_bytes()).expect("static header name");
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        // A value that is not visible ASCII cannot be read; it stands as one unusable entry.
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    values.join(",")
}

/// The last comma-separated entry of header `name` (the one the nearest proxy wrote), trimmed.
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next().map(str::trim).filter(|v| !v.is_empty())
}

/// The right-most address of `chain` that is not a trusted proxy. An entry that is not an address (`unknown`, an
/// obfuscated identifier, garbage) where the client should be means the client cannot be known. When every entry
/// is a trusted proxy, the farthest one is the client.
fn client_in_chain(chain: &[Node], is_trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let mut farthest = None;
    for node in chain.iter().rev() {
        match node {
            Node::Ip(ip) if is_trusted(*ip) => farthest = Some(canonical(*ip)),
            Node::Ip(ip) => return Some(canonical(*ip)),
            Node::Unknown | Node::Obfuscated | Node::Invalid => return None,
        }
    }
    farthest
}

/// One entry of a forwarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// An address (its port, if any, dropped).
    Ip(IpAddr),
    /// `unknown` (RFC 7239 §6.2), or an element with no `for` parameter.
    Unknown,
    /// An obfuscated identifier such as `_hidden` (RFC 7239 §6.3).
    Obfuscated,
    /// Anything that does not parse.
    Invalid,
}

/// The `for` nodes of an RFC 7239 `Forwarded` value (all lines joined by commas), left to right.
pub fn forwarded_for(value: &str) -> Vec<Node> {
    let Some(elements) = split_outside_quotes(value, ',') else { return vec![Node::Invalid] };
    elements
        .iter()
        .map(|element| {
            let Some(pairs) = split_outside_quotes(element, ';') else { return Node::Invalid };
            let mut node = Node::Unknown;
            for pair in pairs.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
                let Some((key, raw)) = pair.split_once('=') else { return Node::Invalid };
                if !key.trim().eq_ignore_ascii_case("for") {
                    continue;
                }
                let Some(value) = unquote(raw.trim()) else { return Node::Invalid };
                node = parse_node(&value, false);
            }
            node
        })
        .collect()
}

/// The nodes of an `X-Forwarded-For` value (all lines joined by commas), left to right.
pub fn x_forwarded_for(value: &str) -> Vec<Node> {
    value.split(',').map(|entry| parse_node(entry.trim(), true)).collect()
}

/// Splits on `sep` outside double quotes (a backslash escapes the next character inside them); `None` for an
/// unterminated quote.
fn split_outside_quotes(text: &str, sep: char) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    if quoted || escaped {
        return None;
    }
    parts.push(current);
    Some(parts)
}

/// A parameter value: a token as it is, or a quoted string without its quotes and escapes.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return (!raw.contains('"') && !raw.contains('\\')).then(|| raw.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// A node: `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::17]`, `[2001:db8::17]:4711`, `unknown`, `_hidden`;
/// `bare_v6` also takes an unbracketed IPv6 address, as `X-Forwarded-For` writers send.
fn parse_node(text: &str, bare_v6: bool) -> Node {
    if text.eq_ignore_ascii_case("unknown") {
        return Node::Unknown;
    }
    if text.starts_with('_')
        && text.len() > 1
        && text[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Node::Obfuscated;
    }
    let port_ok = |port: Option<&str>| match port {
        None => true,
        Some(p) => {
            (p.len() <= 5 && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                || (p.starts_with('_') && p.len() > 1)
        }
    };
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else { return Node::Invalid };
        let port = match after {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Node::Invalid,
            },
        };
        return match inside.parse::<Ipv6Addr>() {
            Ok(v6) if port_ok(port) => Node::Ip(IpAddr::V6(v6)),
            _ => Node::Invalid,
        };
    }
    if bare_v6 && let Ok(v6) = text.parse::<Ipv6Addr>() {
        return Node::Ip(IpAddr::V6(v6));
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(v4) if port_ok(port) => Node::Ip(IpAddr::V4(v4)),
        _ => Node::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn proxies() -> Vec<Prefix> {
        vec!["127.0.0.1/32".parse().expect("p"), "10.9.0.0/16".parse().expect("p"), "::1/128".parse().expect("p")]
    }

    #[test]
    fn forwarded_header_nodes_parse_as_rfc_7239_writes_them() {
        let nodes = forwarded_for(
            r#"for="_gazonk", For="[2001:db8:cafe::17]:4711", for=192.0.2.60;proto=http;by=203.0.113.43, for="192.0.2.43:47011", for=unknown, for="[::ffff:10.0.0.1]""#,
        );
        assert_eq!(
            nodes,
            [
                Node::Obfuscated,
                Node::Ip(ip("2001:db8:cafe::17")),
                Node::Ip(ip("192.0.2.60")),
                Node::Ip(ip("192.0.2.43")),
                Node::Unknown,
                Node::Ip(ip("::ffff:10.0.0.1")),
            ]
        );
        // Quoted commas and semicolons belong to their value; an element without `for` says nothing.
        assert_eq!(
            forwarded_for(r#"by="a,b;c";for=198.51.100.1, proto=https"#),
            [Node::Ip(ip("198.51.100.1")), Node::Unknown]
        );
        assert_eq!(forwarded_for(r#"for="[2001:db8::1]:_port""#), [Node::Ip(ip("2001:db8::1"))]);
        assert_eq!(forwarded_for(r#"for="\[2001:db8::1\]""#), [Node::Ip(ip("2001:db8::1"))]);
    }

    #[test]
    fn garbage_in_forwarding_headers_is_invalid_not_an_address() {
        for bad in [
            r#"for="192.0.2.1"#,
            "for=2001:db8::1",
            "for=[2001:db8::1",
            r#"for="[2001:db8::1]x""#,
            "for=192.0.2.1:99999999",
            "for=300.1.1.1",
            "for=",
            "for",
            "for=a\"b",
            "for=localhost",
        ] {
            let nodes = forwarded_for(bad);
            assert!(nodes.iter().all(|n| !matches!(n, Node::Ip(_))), "{bad}: {nodes:?}");
            assert!(nodes.contains(&Node::Invalid), "{bad}: {nodes:?}");
        }
        assert_eq!(
            x_forwarded_for("203.0.113.7, 2001:db8::9,[2001:db8::8]:443, 198.51.100.2:8080, junk, , unknown, _x"),
            [
                Node::Ip(ip("203.0.113.7")),
                Node::Ip(ip("2001:db8::9")),
                Node::Ip(ip("2001:db8::8")),
                Node::Ip(ip("198.51.100.2")),
                Node::Invalid,
                Node::Invalid,
                Node::Unknown,
                Node::Obfuscated,
            ]
        );
    }

    #[test]
    fn only_a_loopback_peer_without_forwarding_headers_is_local() {
        let none = headers(&[]);
        assert!(Client::identify(Some(ip("127.0.0.1")), &none, &[]).local);
        assert!(Client::identify(Some(ip("::1")), &none, &[]).local);
        assert!(Client::identify(Some(ip("::ffff:127.0.0.1")), &none, &[]).local);
        assert!(!Client::identify(Some(ip("10.0.0.1")), &none, &[]).local);
        assert!(!Client::identify(None, &none, &[]).local, "an unknown peer is remote");
        for name in ["forwarded", "x-forwarded-for", "x-real-ip"] {
            let h = headers(&[(name, "")]);
            let client = Client::identify(Some(ip("127.0.0.1")), &h, &[]);
            assert!(!client.local, "{name}");
            assert_eq!(client.ip, Some(ip("127.0.0.1")), "{name}: an untrusted peer's header is ignored");
            assert!(!Client::identify(Some(ip("127.0.0.1")), &h, &proxies()).local, "{name}, trusted");
        }
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_address() {
        let trusted = proxies();
        let from = |pairs: &[(&'static str, &str)]| Client::identify(Some(ip("127.0.0.1")), &headers(pairs), &trusted);
        // The client forged the left entries; the proxy appended the real peer.
        let c = from(&[("x-forwarded-for", "127.0.0.1, 8.8.8.8, 203.0.113.5")]);
        assert_eq!((c.ip, c.local, c.via_proxy), (Some(ip("203.0.113.5")), false, true));
        // Proxies in the chain are skipped, also across several header lines.
        let c = from(&[("x-forwarded-for", "198.51.100.1"), ("x-forwarded-for", "203.0.113.5, 10.9.1.1")]);
        assert_eq!(c.ip, Some(ip("203.0.113.5")));
        // X-Forwarded-For wins over a Forwarded the client could have sent through a proxy that ignores it.
        let c = from(&[("forwarded", "for=192.0.2.99"), ("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(c.ip, Some(ip("203.0.113.5")));
        let c = from(&[("forwarded", r#"for=192.0.2.99, for="[2001:db8:cafe::17]:4711";proto=https"#)]);
        assert_eq!(c.ip, Some(ip("2001:db8:cafe::17")));
        // Unusable right-most entries leave the client unknown, never local and never the proxy itself.
        for garbage in ["_hidden", "unknown", "nonsense", ""] {
            let c = from(&[("x-forwarded-for", garbage)]);
            assert_eq!((c.ip, c.local), (None, false), "{garbage:?}");
        }
        let c = from(&[("forwarded", "for=_hidden")]);
        assert_eq!(c.ip, None);
        // Only proxies: the farthest one asked.
        let c = from(&[("x-forwarded-for", "10.9.0.1, 127.0.0.1")]);
        assert_eq!(c.ip, Some(ip("10.9.0.1")));
        // The public host the proxy was asked for.
        let c = from(&[("x-forwarded-for", "203.0.113.5"), ("x-forwarded-host", "trace.example.org")]);
        assert_eq!(c.forwarded_host.as_deref(), Some("trace.example.org"));
        // Not a trusted peer: its forwarding headers are ignored.
        let c = Client::identify(Some(ip("192.0.2.1")), &headers(&[("x-forwarded-for", "203.0.113.5")]), &trusted);
        assert_eq!((c.ip, c.via_proxy, c.forwarded_host), (Some(ip("192.0.2.1")), false, None));
        // A trusted proxy's own request without headers: itself, local when on loopback.
        let c = Client::identify(Some(ip("127.0.0.1")), &headers(&[]), &trusted);
        assert_eq!((c.ip, c.local), (Some(ip("127.0.0.1")), true));
    }
}
