//! The tracer: a pure state machine that decides which probe to send next and what a reply means.
//!
//! It never touches a clock or a socket: time is passed in, packets come in as parsed values, and it answers with
//! what to send and when to wake. That keeps timeouts, retries and matching testable in microseconds. The routers'
//! ICMP rate limit is modelled once, in [`ratelimit`]; what the traces of a process learn about shared hops is kept
//! in a [`HopBook`].

mod hops;
mod method;
pub mod ratelimit;
mod rounds;
#[cfg(test)]
mod scenario_files;
mod tracer;

pub use hops::{Evidence, GivenUp, HopBook, Verdict};
pub use method::{Method, icmpv4_error, icmpv6_error};
pub use rounds::{ROUND_BLOCKS, Rounds, Watch};
pub use tracer::{Action, Answer, GiveUp, Match, Pacing, Probe, ProbeOutcome, Reply, ResendPolicy, Response, Tracer};

use std::net::IpAddr;
use std::time::Duration;

use tracemap_shared::Protocol;

/// What one trace should probe, after the target has been resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The resolved address that is traced.
    pub destination: IpAddr,
    /// Probe protocol.
    pub protocol: Protocol,
    /// First TTL to probe (1 for a whole route).
    pub first_ttl: u8,
    /// Last TTL to probe.
    pub max_hops: u8,
    /// Probes per TTL.
    pub tries: u8,
    /// Longest wait for any one probe's reply.
    pub timeout: Duration,
    /// TCP: the probed port (80 when `None`). UDP: the destination port of the first classic probe, or of every
    /// Paris probe (33434 when `None`). Unused by ICMP.
    pub port: Option<u16>,
    /// UDP only: keep every flow field constant (Paris traceroute) so per-flow load balancers keep one path.
    pub paris: bool,
    /// Watch the route over rounds instead of tracing it once (see [`Rounds`]).
    pub watch: Option<Watch>,
}

impl ProbeConfig {
    /// How many sequence numbers the probes of this configuration may use from the first one: one trace's
    /// ([`Tracer::sequence_span`]), [`ROUND_BLOCKS`] times over for a watch, whose rounds take turns with the
    /// blocks.
    pub fn sequence_span(&self) -> usize {
        let blocks = if self.watch.is_some() { ROUND_BLOCKS } else { 1 };
        (Tracer::sequence_span(self) * blocks).min(1 << 16)
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            destination: IpAddr::from([127, 0, 0, 1]),
            protocol: Protocol::Icmp,
            first_ttl: 1,
            max_hops: 30,
            tries: 3,
            timeout: Duration::from_secs(2),
            port: None,
            paris: false,
            watch: None,
        }
    }
}
