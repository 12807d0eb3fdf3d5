//! The process-wide prober: the raw receive sockets, one per protocol and family, shared by every running trace.
//!
//! Each socket has one reader task. It parses what arrives (`wire`), works out which trace could have sent the
//! probe it answers (the probe's identifier: echo identifier, UDP source port, upper half of the TCP sequence) and
//! hands the packet to that trace's channel; a packet no running trace could have sent is dropped and counted.
//! Identifiers are unique among running traces (the prober hands them out; UDP ports are unique because each trace
//! binds its own socket), so a reply can never reach the wrong trace. The trace itself then checks everything else
//! (protocol, destination, ports, an outstanding sequence) before the tracer accepts it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::Socket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracemap_shared::ReplyKind;

use super::NetError;
use super::delivery::{DELIVERY_CAPACITY, Delivery, Packet, deliver};
use super::socket::{Family, RawKind, RawSocket, Received};
use crate::probe::{GivenUp, HopBook, Method, Verdict};
use crate::wire::icmp::{IcmpMessage, Icmpv4Datagram, QuotedProbe};
use crate::wire::icmpv6::Icmpv6Message;
use crate::wire::ipv4::Ipv4Header;
use crate::wire::tcp::{self, Segment};

/// Large enough for any ICMP error (RFC 1812 caps them at 576 bytes, RFC 4443 at 1280) and for the answers to our
/// probes; longer datagrams are cut and then fail to parse, which is right: they cannot be answers to us.
const RECEIVE_BUFFER: usize = 2048;

/// Which transport a trace's identifier belongs to: identifiers are unique within one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// ICMP echo: the echo identifier.
    Icmp,
    /// UDP: the source port.
    Udp,
    /// TCP: the upper half of the sequence number.
    Tcp,
}

impl Transport {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Icmp => "ICMP",
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// The transport a probing method uses.
    pub fn of(method: Method) -> Transport {
        match method {
            Method::IcmpEcho => Transport::Icmp,
            Method::UdpClassic { .. } | Method::UdpParis { .. } => Transport::Udp,
            Method::TcpSyn { .. } => Transport::Tcp,
        }
    }
}

type Key = (Family, Transport, u16);

/// Counters of what the readers could not attribute to any trace.
#[derive(Debug, Default)]
pub struct Counters {
    /// Datagrams that failed to parse.
    pub malformed: AtomicU64,
    /// Parsed packets that no running trace could have caused (other programs' traffic, replies to finished
    /// traces, other ICMP types).
    pub foreign: AtomicU64,
    /// Packets a trace received but did not accept (late, duplicate, wrong destination or sequence).
    pub rejected: AtomicU64,
    /// Packets for a trace whose queue was full (see [`DELIVERY_CAPACITY`](super::delivery::DELIVERY_CAPACITY)), dropped.
    pub dropped: AtomicU64,
    /// TCP segments the raw TCP sockets handed to the parser: only SYN-ACKs and RSTs get past their kernel
    /// filter, not the host's other TCP traffic.
    pub tcp_segments: AtomicU64,
}

/// The shared state the readers consult: which trace owns which identifier.
#[derive(Debug, Default)]
struct Registry {
    traces: Mutex<HashMap<Key, mpsc::Sender<Delivery>>>,
    counters: Counters,
}

/// The raw sockets of a prober, opened but not yet watched by any runtime. A server opens them first thing, while
/// it still has the privilege, then drops the privilege before it starts threads, and hands them to
/// [`Prober::start`].
#[derive(Debug)]
pub struct ProbeSockets {
    icmp4: Option<Socket>,
    icmp6: Option<Socket>,
    tcp4: Option<Socket>,
    tcp6: Option<Socket>,
    udp4: Option<Socket>,
    udp6: Option<Socket>,
}

impl ProbeSockets {
    /// Opens every raw socket the host allows. Without the privilege for raw sockets, none is open and the prober
    /// made from them runs UDP probes over the error queue and ICMP over ICMP datagram sockets where
    /// `net.ipv4.ping_group_range` allows; other failures are errors. A family the host
    /// lacks only leaves that family's sockets closed.
    pub fn open() -> Result<ProbeSockets, NetError> {
        let icmp4 = match RawSocket::create(Family::V4, RawKind::Icmp) {
            Ok(socket) => socket,
            Err(NetError::NoPrivilege { .. }) => {
                tracing::info!(
                    "no raw sockets (needs root or CAP_NET_RAW): UDP over the error queue, ICMP over datagram sockets where ping_group_range allows, no TCP"
                );
                return Ok(ProbeSockets { icmp4: None, icmp6: None, tcp4: None, tcp6: None, udp4: None, udp6: None });
            }
            Err(error) => return Err(error),
        };
        let optional = |family, kind| match RawSocket::create(family, kind) {
            Ok(socket) => Some(socket),
            Err(error) => {
                tracing::warn!(%error, "{family:?} {kind:?} probes unavailable");
                None
            }
        };
        Ok(ProbeSockets {
            icmp4: Some(icmp4),
            icmp6: optional(Family::V6, RawKind::Icmp),
            tcp4: optional(Family::V4, RawKind::Tcp),
            tcp6: optional(Family::V6, RawKind::Tcp),
            udp4: optional(Family::V4, RawKind::Udp),
            udp6: optional(Family::V6, RawKind::Udp),
        })
    }

    /// Whether raw sockets could be opened.
    pub fn is_privileged(&self) -> bool {
        self.icmp4.is_some()
    }
}

/// The process-wide prober. Open it once (as root or with CAP_NET_RAW, before dropping privileges) and run every
/// trace through [`Prober::trace`](super::Prober::trace). Dropping it stops its readers.
#[derive(Debug)]
pub struct Prober {
    pub(super) icmp4: Option<Arc<RawSocket>>,
    pub(super) icmp6: Option<Arc<RawSocket>>,
    pub(super) tcp4: Option<Arc<RawSocket>>,
    pub(super) tcp6: Option<Arc<RawSocket>>,
    pub(super) udp4: Option<Arc<RawSocket>>,
    pub(super) udp6: Option<Arc<RawSocket>>,
    registry: Arc<Registry>,
    readers: Vec<JoinHandle<()>>,
    hops: Mutex<HopBook>,
    /// Time zero of the hop book.
    epoch: Instant,
    /// Whether raw sockets could be opened; without them only UDP probes run, over the error queue.
    pub(super) privileged: bool,
}

impl Drop for Prober {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

impl Prober {
    /// Opens the raw sockets of both families and starts their readers on the current tokio runtime. Fails with
    /// [`NetError::NoPrivilege`] when the process may not open raw sockets. A family the host lacks (no IPv6) only
    /// leaves that family's sockets closed; tracing to it then fails with a clear error.
    pub fn open() -> Result<Prober, NetError> {
        Prober::start(ProbeSockets::open()?)
    }

    /// Starts a prober on sockets opened earlier (before privileges were dropped), on the current tokio runtime.
    pub fn start(sockets: ProbeSockets) -> Result<Prober, NetError> {
        let Some(icmp4) = sockets.icmp4 else { return Ok(Prober::unprivileged()) };
        let register = |family, socket: Option<Socket>| -> Result<Option<Arc<RawSocket>>, NetError> {
            socket.map(|socket| RawSocket::register(socket, family).map(Arc::new)).transpose()
        };
        let mut prober = Prober {
            icmp4: register(Family::V4, Some(icmp4))?,
            icmp6: register(Family::V6, sockets.icmp6)?,
            tcp4: register(Family::V4, sockets.tcp4)?,
            tcp6: register(Family::V6, sockets.tcp6)?,
            udp4: register(Family::V4, sockets.udp4)?,
            udp6: register(Family::V6, sockets.udp6)?,
            registry: Arc::new(Registry::default()),
            readers: Vec::new(),
            hops: Mutex::new(HopBook::default()),
            epoch: Instant::now(),
            privileged: true,
        };
        let sockets = [
            (prober.icmp4.clone(), Family::V4, RawKind::Icmp),
            (prober.icmp6.clone(), Family::V6, RawKind::Icmp),
            (prober.tcp4.clone(), Family::V4, RawKind::Tcp),
            (prober.tcp6.clone(), Family::V6, RawKind::Tcp),
        ];
        for (socket, family, kind) in sockets {
            if let Some(socket) = socket {
                prober.readers.push(tokio::spawn(read_loop(socket, family, kind, Arc::clone(&prober.registry))));
            }
        }
        Ok(prober)
    }

    /// A prober without raw sockets: UDP traces read ICMP errors from their own socket's error queue.
    pub fn unprivileged() -> Prober {
        Prober {
            icmp4: None,
            icmp6: None,
            tcp4: None,
            tcp6: None,
            udp4: None,
            udp6: None,
            registry: Arc::new(Registry::default()),
            readers: Vec::new(),
            hops: Mutex::new(HopBook::default()),
            epoch: Instant::now(),
            privileged: false,
        }
    }

    /// Whether this prober has raw sockets (every protocol) or runs unprivileged (UDP only).
    pub fn is_privileged(&self) -> bool {
        self.privileged
    }

    /// Reads and dispatches, without waiting, everything the receive sockets hold right now. A trace calls this
    /// before it gives up on a probe: the kernel may have received (and stamped) the answer in time while the reader
    /// task has not run yet, on a busy runtime.
    pub(super) fn pump(&self) {
        let mut buf = [0u8; RECEIVE_BUFFER];
        let sockets = [
            (&self.icmp4, Family::V4, RawKind::Icmp),
            (&self.icmp6, Family::V6, RawKind::Icmp),
            (&self.tcp4, Family::V4, RawKind::Tcp),
            (&self.tcp6, Family::V6, RawKind::Tcp),
        ];
        for (socket, family, kind) in sockets {
            let Some(socket) = socket else { continue };
            // Bounded, so a flood cannot keep one trace here forever; the reader takes the rest.
            for _ in 0..256 {
                match socket.try_recv(&mut buf) {
                    Ok(Some(received)) => dispatch(&self.registry, family, kind, &buf, received),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    /// Records that `responder` answered a probe to `destination` at `ttl`, with `kind` (`refill`: the time a
    /// default Linux limiter takes to earn a token); see [`HopBook::note_answer`].
    /// `previous` is the trace's responder at `ttl - 1` (our source address at TTL 1), when known.
    pub(super) fn note_answer(
        &self,
        destination: IpAddr,
        ttl: u8,
        previous: Option<IpAddr>,
        responder: IpAddr,
        kind: ReplyKind,
        refill: Duration,
    ) {
        let now = self.epoch.elapsed();
        let mut hops = self.hops.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        hops.note_answer(now, destination, ttl, previous, responder, kind, refill);
    }

    /// What becomes of a probe given up now, and when its resend may go; see [`HopBook::give_up`].
    pub(super) fn give_up(&self, probe: GivenUp<'_>, refill: Duration) -> (Verdict, Instant) {
        let now = self.epoch.elapsed();
        let mut hops = self.hops.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let verdict = hops.give_up(now, probe, refill);
        (verdict, self.epoch + verdict.at)
    }

    /// How many probes of this process reached `responder` in the last seconds: the evidence behind a probable
    /// rate limit.
    pub fn recent_probes(&self, responder: IpAddr) -> u32 {
        let hops = self.hops.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        hops.recent_probes(self.epoch.elapsed(), responder)
    }

    /// What the readers and traces could not use so far.
    pub fn counters(&self) -> &Counters {
        &self.registry.counters
    }

    /// Registers a trace under a fresh random identifier of `transport` (one no running trace holds).
    pub(super) fn register_random(
        &self,
        family: Family,
        transport: Transport,
    ) -> (Registration, mpsc::Receiver<Delivery>) {
        loop {
            if let Some(registered) = self.register(family, transport, rand::random()) {
                return registered;
            }
        }
    }

    /// Registers a trace under `identifier`, unless a running trace holds it.
    pub(super) fn register(
        &self,
        family: Family,
        transport: Transport,
        identifier: u16,
    ) -> Option<(Registration, mpsc::Receiver<Delivery>)> {
        let key = (family, transport, identifier);
        let mut traces = self.registry.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if traces.contains_key(&key) {
            return None;
        }
        let (tx, rx) = mpsc::channel(DELIVERY_CAPACITY);
        traces.insert(key, tx);
        Some((Registration { key, registry: Arc::clone(&self.registry) }, rx))
    }
}

/// A trace's hold on its identifier; released when dropped, so a finished trace's late replies count as foreign.
#[derive(Debug)]
pub(super) struct Registration {
    key: Key,
    registry: Arc<Registry>,
}

impl Registration {
    /// The identifier the trace's probes carry.
    pub fn identifier(&self) -> u16 {
        self.key.2
    }

    /// Another handle on the trace's channel, for a reader of the trace's own socket.
    pub fn deliveries(&self) -> Option<mpsc::Sender<Delivery>> {
        let traces = self.registry.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        traces.get(&self.key).cloned()
    }

    /// Counts a packet the trace received but did not accept.
    pub fn rejected(&self) {
        self.registry.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut traces = self.registry.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        traces.remove(&self.key);
    }
}

/// Reads `socket` until the prober is dropped, handing each packet to the trace whose identifier it carries.
async fn read_loop(socket: Arc<RawSocket>, family: Family, kind: RawKind, registry: Arc<Registry>) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    loop {
        let received = match socket.recv(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // Nothing a reader can do about a failing socket but report it and keep the others going.
                tracing::warn!(%error, ?family, ?kind, "raw socket receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        dispatch(&registry, family, kind, &buf, received);
    }
}

/// Hands a datagram read into `buf` to the trace it answers, or counts it.
fn dispatch(registry: &Registry, family: Family, kind: RawKind, buf: &[u8], received: Received) {
    // recvmsg never reports more than the buffer holds without MSG_TRUNC; `min` keeps that a non-panic.
    let bytes = &buf[..received.len.min(buf.len())];
    if kind == RawKind::Tcp {
        registry.counters.tcp_segments.fetch_add(1, Ordering::Relaxed);
    }
    match classify(family, kind, bytes, received.from) {
        Ok(Some((key, packet))) => {
            let traces = registry.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let dropped = Some(&registry.counters.dropped);
            let delivered = traces.get(&key).is_some_and(|trace| deliver(trace, (packet, received.at), dropped));
            if !delivered {
                registry.counters.foreign.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(None) => {
            registry.counters.foreign.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            tracing::trace!(%error, ?family, ?kind, "unparsable datagram dropped");
            registry.counters.malformed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Parses a datagram and names the trace that could have caused it: `None` when no trace of ours could have (our
/// own outgoing echo requests, other ICMP types, TCP segments that answer nothing).
fn classify(
    family: Family,
    kind: RawKind,
    bytes: &[u8],
    from: Option<IpAddr>,
) -> Result<Option<(Key, Packet)>, crate::wire::WireError> {
    let quoted_key = |probe: &QuotedProbe| match *probe {
        QuotedProbe::EchoRequest { identifier, .. } => Some((family, Transport::Icmp, identifier)),
        QuotedProbe::Udp(header) => Some((family, Transport::Udp, header.source_port)),
        QuotedProbe::Tcp(header) => Some((family, Transport::Tcp, (header.sequence >> 16) as u16)),
        QuotedProbe::Other { .. } => None,
    };
    Ok(match (family, kind) {
        (Family::V4, RawKind::Icmp) => {
            let datagram = Icmpv4Datagram::parse(bytes)?;
            let key = match &datagram.message {
                IcmpMessage::EchoReply { identifier, .. } => Some((family, Transport::Icmp, *identifier)),
                IcmpMessage::TimeExceeded { quoted, .. } | IcmpMessage::DestinationUnreachable { quoted, .. } => {
                    quoted_key(&quoted.probe)
                }
                IcmpMessage::Other { .. } => None,
            };
            key.map(|key| (key, Packet::Icmpv4(datagram)))
        }
        (Family::V6, RawKind::Icmp) => {
            let Some(from) = from else { return Ok(None) };
            let message = Icmpv6Message::parse(bytes)?;
            let key = match &message {
                Icmpv6Message::EchoReply { identifier, .. } => Some((family, Transport::Icmp, *identifier)),
                Icmpv6Message::TimeExceeded { quoted, .. } | Icmpv6Message::DestinationUnreachable { quoted, .. } => {
                    quoted_key(&quoted.probe)
                }
                Icmpv6Message::Other { .. } => None,
            };
            key.map(|key| (key, Packet::Icmpv6 { from, message }))
        }
        (Family::V4, RawKind::Tcp) => {
            let (header, payload) = Ipv4Header::parse(bytes)?;
            if header.protocol != tcp::PROTOCOL {
                return Ok(None);
            }
            let from = IpAddr::V4(header.source);
            // No checksum check: a segment that crossed a veth pair (or loopback) still carries the partial checksum
            // the sender left for offload, and the raw socket sees it before TCP would have excused it. An answer
            // must match ports and acknowledgement exactly, which a corrupted segment is very unlikely to do.
            let segment = Segment::parse(payload, None)?;
            tcp_key(family, segment).map(|key| (key, Packet::Tcp { from, segment }))
        }
        // Send-only sockets have no reader.
        (_, RawKind::Udp) => None,
        (Family::V6, RawKind::Tcp) => {
            let Some(from) = from else { return Ok(None) };
            // The kernel verified the checksum: the socket has IPV6_CHECKSUM set (see `socket`).
            let segment = Segment::parse(bytes, None)?;
            tcp_key(family, segment).map(|key| (key, Packet::Tcp { from, segment }))
        }
    })
}

/// The trace a SYN-ACK or RST answers: the upper half of the sequence it acknowledges.
fn tcp_key(family: Family, segment: Segment) -> Option<Key> {
    (segment.syn_ack || segment.rst)
        .then(|| (family, Transport::Tcp, (segment.acknowledgement.wrapping_sub(1) >> 16) as u16))
}
