//! Sockets and the loop that drives tracers: the only module that touches the network.
//!
//! [`trace`] runs one trace to its end: it opens a raw ICMP socket, lets a [`Tracer`] decide what to send and when,
//! feeds it every reply it can parse, and forwards each probe's outcome as a [`TraceEvent::Probe`] as soon as the
//! tracer settles it. The clock lives here, not in the tracer: time is `Instant` since the trace began.

mod icmp_socket;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracemap_shared::{Protocol, TraceEvent};

use crate::probe::{Action, Match, Pacing, ProbeConfig, Reply, Tracer};
use crate::wire::icmp::{EchoRequest, Icmpv4Datagram};

pub use icmp_socket::IcmpSocket;

/// Why probing could not run.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The protocol or family is not implemented yet.
    #[error("{0} probes are not supported yet")]
    Unsupported(String),
    /// The configuration cannot describe a trace.
    #[error("invalid probe settings: {0}")]
    InvalidConfig(&'static str),
    /// Raw sockets need privileges this process lacks.
    #[error("cannot {operation}: permission denied; run as root or grant CAP_NET_RAW: setcap cap_net_raw+ep <binary>")]
    NoPrivilege {
        /// What was attempted.
        operation: &'static str,
    },
    /// A socket operation failed.
    #[error("cannot {operation}: {error}")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The system's reason.
        #[source]
        error: std::io::Error,
    },
    /// Sending a probe failed (no route to the destination, for instance).
    #[error("cannot send a probe to {destination} with TTL {ttl}: {error}")]
    Send {
        /// Where the probe was going.
        destination: IpAddr,
        /// Its TTL.
        ttl: u8,
        /// The system's reason.
        #[source]
        error: std::io::Error,
    },
}

/// Bytes after the echo header: makes a 64-byte IPv4 datagram and names the sender to anyone capturing it.
const PAYLOAD: &[u8; 36] = b"tracemap traceroute probe (harmless)";

/// Large enough for any ICMP error (RFC 1812 caps them at 576 bytes) and for echo replies to our probes; longer
/// datagrams are cut and then fail to parse, which is right: they cannot be answers to us.
const RECEIVE_BUFFER: usize = 2048;

/// Probes the route described by `config`, sending one `TraceEvent::Probe` per try (answered or timed out) to
/// `events` as soon as it is known. Returns whether the destination answered. Stops early, without error, when
/// `events` has no receiver left: nobody is listening to the trace any more.
pub async fn trace(config: &ProbeConfig, events: &mpsc::UnboundedSender<TraceEvent>) -> Result<bool, NetError> {
    let destination = check(config)?;
    let socket = IcmpSocket::open()?;
    let identifier: u16 = rand::random();
    let mut tracer = Tracer::new(config, identifier, rand::random(), Pacing::default());
    let start = Instant::now();
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    let mut ignored = 0usize;
    loop {
        let action = tracer.poll(start.elapsed());
        if !forward(&mut tracer, events) {
            return Ok(tracer.destination_reached());
        }
        match action {
            Action::Send(probe) => {
                let message = EchoRequest { identifier, sequence: probe.sequence, payload: PAYLOAD }.to_bytes();
                let sent = socket.send(&message, destination, probe.ttl).map_err(|error| NetError::Send {
                    destination: config.destination,
                    ttl: probe.ttl,
                    error,
                })?;
                tracer.sent_at(probe, sent.saturating_duration_since(start));
            }
            Action::Wait(deadline) => {
                // `check` caps the timeout at a minute, so the deadline is always a representable instant.
                let wake = start.checked_add(deadline).unwrap_or_else(Instant::now);
                let received = tokio::select! {
                    received = socket.recv(&mut buf) => received.map(Some),
                    // Before any probe is given up, take in what already arrived: the kernel stamped it in time
                    // even if this task woke late.
                    () = tokio::time::sleep_until(wake.into()) => socket.try_recv(&mut buf),
                };
                let mut received = received.map_err(|error| NetError::Io { operation: "receive ICMP", error })?;
                while let Some((len, at)) = received {
                    // recvmsg never reports more than the buffer holds without MSG_TRUNC; `min` keeps that a
                    // non-panic.
                    let matched = match Icmpv4Datagram::parse(&buf[..len.min(buf.len())]) {
                        Ok(datagram) => match Reply::from_icmpv4(&datagram) {
                            Some(reply) => tracer.on_reply(at.saturating_duration_since(start), &reply),
                            None => Match::Foreign,
                        },
                        Err(error) => {
                            tracing::trace!(%error, "unparsable ICMP datagram dropped");
                            Match::Foreign
                        }
                    };
                    if matched != Match::Accepted {
                        ignored += 1;
                    }
                    received =
                        socket.try_recv(&mut buf).map_err(|error| NetError::Io { operation: "receive ICMP", error })?;
                }
            }
            Action::Done => break,
        }
    }
    tracing::debug!(identifier, ignored, elapsed = ?start.elapsed(), "trace finished");
    Ok(tracer.destination_reached())
}

/// The IPv4 destination of a configuration this module can probe, or why it cannot.
fn check(config: &ProbeConfig) -> Result<Ipv4Addr, NetError> {
    if config.protocol != Protocol::Icmp {
        return Err(NetError::Unsupported(config.protocol.to_string()));
    }
    let IpAddr::V4(destination) = config.destination else {
        return Err(NetError::Unsupported("IPv6".to_owned()));
    };
    if config.first_ttl == 0 || config.first_ttl > config.max_hops {
        return Err(NetError::InvalidConfig("the first TTL must be between 1 and the maximum number of hops"));
    }
    if config.tries == 0 {
        return Err(NetError::InvalidConfig("at least one probe per hop is needed"));
    }
    if config.timeout.is_zero() || config.timeout > Duration::from_secs(60) {
        return Err(NetError::InvalidConfig("the timeout must be more than 0 and at most 60 seconds"));
    }
    Ok(destination)
}

/// Sends the tracer's settled outcomes as events; false when nobody receives them any more.
fn forward(tracer: &mut Tracer, events: &mpsc::UnboundedSender<TraceEvent>) -> bool {
    tracer.drain_outcomes().all(|outcome| events.send(outcome.into()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_and_invalid_settings_are_refused_before_any_socket() {
        let v4 = ProbeConfig { destination: IpAddr::from([10, 0, 0, 1]), ..ProbeConfig::default() };
        assert!(check(&v4).is_ok());
        let udp = ProbeConfig { protocol: Protocol::Udp, ..v4.clone() };
        assert_eq!(check(&udp).unwrap_err().to_string(), "udp probes are not supported yet");
        let v6 = ProbeConfig { destination: "::1".parse().unwrap(), ..v4.clone() };
        assert_eq!(check(&v6).unwrap_err().to_string(), "IPv6 probes are not supported yet");
        for bad in [
            ProbeConfig { first_ttl: 0, ..v4.clone() },
            ProbeConfig { first_ttl: 9, max_hops: 8, ..v4.clone() },
            ProbeConfig { tries: 0, ..v4.clone() },
            ProbeConfig { timeout: Duration::ZERO, ..v4.clone() },
        ] {
            assert!(matches!(check(&bad), Err(NetError::InvalidConfig(_))), "{bad:?}");
        }
    }

    #[test]
    fn no_privilege_names_the_remedy() {
        let message = NetError::NoPrivilege { operation: "open a raw ICMP socket" }.to_string();
        assert!(message.contains("run as root or grant CAP_NET_RAW: setcap cap_net_raw+ep"), "{message}");
    }
}
