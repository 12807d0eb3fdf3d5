//! Sockets and the loop that drives tracers: the only module that touches the network.
//!
//! A [`Prober`] owns the raw receive sockets of the process and routes every packet to the trace it answers; each
//! trace runs [`Prober::trace`]: it lets a [`Tracer`] decide what to send and when, sends each probe the way its
//! method needs (raw ICMP or TCP, or its own UDP socket), feeds the tracer every packet routed to it, and forwards
//! each probe's outcome as a [`TraceEvent::Probe`] as soon as the tracer settles it. The clock lives here, not in
//! the tracer: time is `Instant` since the trace began. [`trace`] runs one trace on the installed process-wide
//! prober, or on a prober of its own when none is installed.

mod delivery;
mod prober;
mod recverr;
mod socket;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tracemap_shared::{ProbeMode, ReplyKind, TraceEvent};

use crate::probe::{
    Action, Evidence, GiveUp, GivenUp, Match, Method, Pacing, Probe, ProbeConfig, ROUND_BLOCKS, Reply, Rounds, Tracer,
    icmpv4_error, icmpv6_error,
};
use crate::wire::extensions::MplsStack;
use crate::wire::icmp::EchoRequest;
use crate::wire::tcp::Syn;
use crate::wire::{icmpv6, udp};

pub use prober::{Counters, ProbeSockets, Prober};
pub use recverr::parse_extended_err;
pub use socket::Family;

use delivery::{Delivery, Packet};
use prober::{Registration, Transport};
use recverr::Ordinary;
use socket::RawSocket;

/// Why probing could not run.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The protocol or family is not available.
    #[error("{0} probes are not supported here")]
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
    /// The host has no route to the destination.
    #[error("no route to {destination}: {error}")]
    NoRoute {
        /// Where the trace was going.
        destination: IpAddr,
        /// The system's reason.
        #[source]
        error: io::Error,
    },
    /// A socket operation failed.
    #[error("cannot {operation}: {error}")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The system's reason.
        #[source]
        error: io::Error,
    },
    /// The prober's readers stopped (the prober was dropped while the trace ran).
    #[error("the prober stopped while the trace was running")]
    ProberGone,
}

/// What a refused ICMP datagram socket means, and the remedies besides raw sockets.
const PING_REFUSED: &str = "open an ICMP datagram socket: this group is outside net.ipv4.ping_group_range (widen it with \
     sysctl, or use UDP probes, which work unprivileged: -p udp)";

/// Bytes after the probe header: makes a 64-byte IPv4 echo datagram and names the sender to anyone capturing it.
const PAYLOAD: &[u8; 36] = b"tracemap traceroute probe (harmless)";

static INSTALLED: OnceLock<Arc<Prober>> = OnceLock::new();

/// Makes `prober` the process-wide prober that [`trace`] uses. The server opens it at start-up, before it drops
/// privileges; only the first call takes effect (the prober is handed back otherwise).
pub fn install(prober: Arc<Prober>) -> Result<(), Arc<Prober>> {
    INSTALLED.set(prober)
}

/// The process-wide prober, once installed.
pub fn installed() -> Option<&'static Arc<Prober>> {
    INSTALLED.get()
}

/// Probes the route described by `config`, sending one `TraceEvent::Probe` per try (answered or timed out) to
/// `events` as soon as it is known. Returns whether the destination answered. Stops early, without error, when
/// `events` has no receiver left: nobody is listening to the trace any more. Runs on the installed prober, or on
/// one opened for this trace alone.
pub async fn trace(config: &ProbeConfig, events: &mpsc::UnboundedSender<TraceEvent>) -> Result<bool, NetError> {
    trace_reporting(config, events, |_| {}).await
}

/// [`trace`], calling `on_mode` with the way the probes will go (raw sockets, or which unprivileged socket) once
/// the sockets are ready and before the first probe. Not called when the trace fails before that.
pub async fn trace_reporting(
    config: &ProbeConfig,
    events: &mpsc::UnboundedSender<TraceEvent>,
    on_mode: impl FnOnce(ProbeMode),
) -> Result<bool, NetError> {
    check(config)?;
    if let Some(prober) = installed() {
        return prober.trace_reporting(config, events, on_mode).await;
    }
    Prober::open()?.trace_reporting(config, events, on_mode).await
}

impl Prober {
    /// Runs one trace on this prober's sockets; see [`trace`].
    pub async fn trace(
        &self,
        config: &ProbeConfig,
        events: &mpsc::UnboundedSender<TraceEvent>,
    ) -> Result<bool, NetError> {
        self.trace_reporting(config, events, |_| {}).await
    }

    /// Runs one trace on this prober's sockets; see [`trace_reporting`]. With `config.watch`, runs its rounds
    /// (each announced by a [`TraceEvent::Round`]) until the last, or until nobody listens; returns whether the
    /// destination answered in any round.
    pub async fn trace_reporting(
        &self,
        config: &ProbeConfig,
        events: &mpsc::UnboundedSender<TraceEvent>,
        on_mode: impl FnOnce(ProbeMode),
    ) -> Result<bool, NetError> {
        let destination = check(config)?;
        let method = Method::for_config(config);
        let family = Family::of(destination);
        let source = socket::source_for(destination).map_err(|error| NetError::NoRoute { destination, error })?;
        let (sender, registration, mut deliveries) = self.sender(method, family, source)?;
        on_mode(sender.mode());
        let first = method
            .first_sequence(config.sequence_span(), rand::random())
            .ok_or(NetError::InvalidConfig("too many probes for the port range; lower --port, -m or -r"))?;
        let mut run = Run { prober: self, method, destination, source, sender, registration, rejected: 0 };
        let identifier = run.registration.identifier();
        let Some(watch) = config.watch else {
            let mut tracer = Tracer::new(config, identifier, first, Pacing::default());
            run.drive(&mut tracer, &mut deliveries, events, None).await?;
            tracing::debug!(?method, identifier, rejected = run.rejected, "trace finished");
            return Ok(tracer.destination_reached());
        };
        // A watch's rounds report every loss as it is: no resends (the pacing keeps the routers' budgets), so a
        // probe lost is a probe lost.
        let pacing = Pacing { resend_after_rate_limit: false, ..Pacing::default() };
        let block = Tracer::sequence_span(config);
        let mut rounds = Rounds::new(watch, config.protocol);
        let start = Instant::now();
        let mut reached = false;
        while let Some(at) = rounds.next_start(start.elapsed(), config) {
            tokio::time::sleep_until((start + at).into()).await;
            // Whatever arrived between rounds answers a finished round: too late to count.
            while deliveries.try_recv().is_ok() {}
            let (number, round) = rounds.begin(start.elapsed(), config);
            let at_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            if events.send(TraceEvent::Round { round: number, at_ms }).is_err() {
                break;
            }
            let sequence = first.wrapping_add(((number as usize % ROUND_BLOCKS) * block) as u16);
            let mut tracer = Tracer::new(&round, identifier, sequence, pacing);
            let listening = run.drive(&mut tracer, &mut deliveries, events, Some((&mut rounds, start))).await?;
            reached |= tracer.destination_reached();
            if !listening {
                break;
            }
        }
        tracing::debug!(?method, identifier, rounds = rounds.begun(), rejected = run.rejected, "watch finished");
        Ok(reached)
    }

    /// How this trace sends its probes, and its hold on an identifier.
    fn sender(
        &self,
        method: Method,
        family: Family,
        source: IpAddr,
    ) -> Result<(Sender, Registration, mpsc::Receiver<Delivery>), NetError> {
        let unsupported = || NetError::Unsupported(format!("{} over {family:?}", Transport::of(method).name()));
        match method {
            Method::TcpSyn { .. } if !self.privileged => Err(NetError::NoPrivilege {
                operation: "send TCP probes without raw sockets (UDP probes work unprivileged: -p udp)",
            }),
            Method::IcmpEcho if !self.privileged => {
                let ping = DatagramSocket::bind(source, Kind::Ping)?;
                let (registration, deliveries) = self
                    .register(family, Transport::Icmp, ping.port)
                    .ok_or(NetError::Unsupported("an ICMP identifier held by a running trace".to_owned()))?;
                let reader = AbortOnDrop::spawn(&ping, Ordinary::EchoReplies(family), &registration)?;
                Ok((Sender::Ping { ping, reader }, registration, deliveries))
            }
            Method::UdpClassic { .. } | Method::UdpParis { .. } if !self.privileged => {
                let udp = DatagramSocket::bind(source, Kind::UdpErrorQueue)?;
                let (registration, deliveries) = self
                    .register(family, Transport::Udp, udp.port)
                    .ok_or(NetError::Unsupported("a UDP port held by a running trace".to_owned()))?;
                let reader = AbortOnDrop::spawn(&udp, Ordinary::Discard, &registration)?;
                let paris = paris_port(method);
                Ok((Sender::Udp { udp, raw: None, paris, _reader: Some(reader) }, registration, deliveries))
            }
            Method::IcmpEcho | Method::TcpSyn { .. } => {
                let (socket, transport) = match (method, family) {
                    (Method::IcmpEcho, Family::V4) => (&self.icmp4, Transport::Icmp),
                    (Method::IcmpEcho, Family::V6) => (&self.icmp6, Transport::Icmp),
                    (_, Family::V4) => (&self.tcp4, Transport::Tcp),
                    (_, Family::V6) => (&self.tcp6, Transport::Tcp),
                };
                let socket = socket.clone().ok_or_else(unsupported)?;
                // ICMP errors about our probes arrive on the ICMP socket of the family; it must be open too.
                self.icmp_socket(family).ok_or_else(unsupported)?;
                let (registration, deliveries) = self.register_random(family, transport);
                let sender = match method {
                    Method::TcpSyn { port } => Sender::RawTcp { socket, source, port },
                    _ => Sender::RawIcmp { socket, family },
                };
                Ok((sender, registration, deliveries))
            }
            Method::UdpClassic { .. } | Method::UdpParis { .. } => {
                self.icmp_socket(family).ok_or_else(unsupported)?;
                let udp = DatagramSocket::bind(source, Kind::Udp)?;
                let (registration, deliveries) = self
                    .register(family, Transport::Udp, udp.port)
                    .ok_or(NetError::Unsupported("a UDP port held by a running trace".to_owned()))?;
                let raw = match family {
                    Family::V4 => self.udp4.clone(),
                    Family::V6 => self.udp6.clone(),
                };
                let paris = paris_port(method);
                Ok((Sender::Udp { udp, raw, paris, _reader: None }, registration, deliveries))
            }
        }
    }

    fn icmp_socket(&self, family: Family) -> Option<&Arc<RawSocket>> {
        match family {
            Family::V4 => self.icmp4.as_ref(),
            Family::V6 => self.icmp6.as_ref(),
        }
    }
}

/// One trace's hold on the prober while it runs: how its probes leave and where their answers come from.
struct Run<'a> {
    prober: &'a Prober,
    method: Method,
    destination: IpAddr,
    source: IpAddr,
    sender: Sender,
    registration: Registration,
    /// Packets the trace received but did not accept.
    rejected: usize,
}

impl Run<'_> {
    /// Lets `tracer` probe until it is done, sending each outcome to `events`; a round of a watch also tells its
    /// [`Rounds`] (whose time counts from the given instant) every probe sent and every outcome. The tracer's time
    /// is `Instant` since this call. Returns `false` when nobody listens to the trace any more.
    async fn drive(
        &mut self,
        tracer: &mut Tracer,
        deliveries: &mut mpsc::Receiver<Delivery>,
        events: &mpsc::UnboundedSender<TraceEvent>,
        mut watch: Option<(&mut Rounds, Instant)>,
    ) -> Result<bool, NetError> {
        let Run { prober, method, destination, source, .. } = *self;
        let identifier = self.registration.identifier();
        let start = Instant::now();
        let registration = &self.registration;
        let rejected = &mut self.rejected;
        let mut handle = |tracer: &mut Tracer, (packet, at): Delivery| {
            let reply = match packet {
                Packet::Icmpv4(datagram) => method.reply_from_icmpv4(&datagram),
                Packet::Icmpv6 { from, message } => method.reply_from_icmpv6(from, &message),
                Packet::Tcp { from, segment } => method.reply_from_tcp(from, &segment),
                Packet::QueuedError(error) => queued_reply(method, identifier, &error),
                Packet::EchoReply { from, identifier, sequence } => method.echo_reply(from, identifier, sequence),
            };
            let matched =
                reply.map_or(Match::Foreign, |reply| tracer.on_reply(at.saturating_duration_since(start), &reply));
            if matched != Match::Accepted {
                *rejected += 1;
                registration.rejected();
            }
        };
        let refill = Pacing::default().rate_limit_refill;
        // Who answered each TTL of this trace so far: the hop before a TTL tells who is likely behind it. (A mutex
        // only because the trace's future must be `Send`; nothing else ever holds it.)
        let responders: Mutex<HashMap<u8, IpAddr>> = Mutex::new(HashMap::new());
        let path = || responders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Per TTL, why its latest probe given up is probably a victim of its router's rate limit.
        let evidence: Mutex<HashMap<u8, Evidence>> = Mutex::new(HashMap::new());
        let evidence_of = || evidence.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut resend = |ttl: u8, sibling: Option<(ReplyKind, IpAddr)>, may_resend: bool| {
            let path = path();
            let probe = GivenUp { destination, ttl, source, path: &path, sibling, may_resend };
            let (verdict, at) = prober.give_up(probe, refill);
            if let Some(found) = verdict.evidence {
                evidence_of().insert(ttl, found);
            }
            match verdict.give_up {
                GiveUp::Resend(kind, _) => GiveUp::Resend(kind, Some(at.saturating_duration_since(start))),
                other => other,
            }
        };
        loop {
            let action = tracer.poll_with(start.elapsed(), &mut resend);
            let outcomes: Vec<_> = tracer.drain_outcomes().collect();
            for outcome in outcomes {
                if let Some(answer) = &outcome.reply {
                    let before = if outcome.ttl <= 1 { Some(source) } else { path().get(&(outcome.ttl - 1)).copied() };
                    path().entry(outcome.ttl).or_insert(answer.from);
                    prober.note_answer(destination, outcome.ttl, before, answer.from, answer.kind, refill);
                }
                if let Some((rounds, _)) = watch.as_mut() {
                    rounds.answered(outcome.ttl, outcome.reply.as_ref().map(|answer| answer.kind));
                }
                let limited = (outcome.rate_limited && outcome.reply.is_none()).then_some((outcome.ttl, outcome.index));
                if events.send(outcome.into()).is_err() {
                    // Nobody listens to this trace any more.
                    return Ok(false);
                }
                if let Some((ttl, index)) = limited
                    && let Some(found) = evidence_of().get(&ttl).copied()
                {
                    let router = found.router.to_string();
                    let _ =
                        events.send(TraceEvent::RateLimit { ttl, index, router, recent_probes: found.recent_probes });
                }
            }
            match action {
                Action::Send(probe) => {
                    if let Some((rounds, since)) = watch.as_mut() {
                        rounds.sent(since.elapsed(), probe.ttl);
                    }
                    match send_with_retry(&self.sender, identifier, probe, destination).await {
                        Ok(sent) => tracer.sent_at(probe, sent.saturating_duration_since(start)),
                        // The probe is lost, not the trace: the others may well go (a full buffer drains, a
                        // firewall rule may cover one TTL only).
                        Err(error) => {
                            tracing::debug!(%error, ttl = probe.ttl, %destination, "probe not sent");
                            tracer.not_sent(probe, error.to_string());
                        }
                    }
                }
                Action::Wait(deadline) => {
                    // `check` caps the timeout at a minute, so the deadline is always a representable instant.
                    let wake = start.checked_add(deadline).unwrap_or_else(Instant::now);
                    tokio::select! {
                        delivery = deliveries.recv() => match delivery {
                            Some(delivery) => handle(tracer, delivery),
                            None => return Err(NetError::ProberGone),
                        },
                        () = tokio::time::sleep_until(wake.into()) => {
                            // Before any probe is given up, take in what already arrived: the kernel stamped it in
                            // time even if the readers (or this task) run late.
                            prober.pump();
                            self.sender.drain_error_queue();
                        }
                    }
                    while let Ok(delivery) = deliveries.try_recv() {
                        handle(tracer, delivery);
                    }
                }
                Action::Done => return Ok(true),
            }
        }
    }
}

/// The destination port of every probe of a Paris UDP trace; `None` for the other methods.
fn paris_port(method: Method) -> Option<u16> {
    match method {
        Method::UdpParis { port } => Some(port),
        _ => None,
    }
}

/// How one trace's probes leave: one kind per way of sending, each carrying what its method needs, so a probe can
/// only go out the way its trace was set up for.
#[derive(Debug)]
enum Sender {
    /// ICMP echo requests through the family's shared raw ICMP socket; the kernel adds the IP header.
    RawIcmp {
        /// The socket.
        socket: Arc<RawSocket>,
        /// Its family.
        family: Family,
    },
    /// TCP SYNs through the family's shared raw TCP socket.
    RawTcp {
        /// The socket.
        socket: Arc<RawSocket>,
        /// Our address towards the destination, for the TCP checksum.
        source: IpAddr,
        /// The probed port.
        port: u16,
    },
    /// Through the trace's own UDP socket, whose port is the trace's identifier; Paris probes go through the raw UDP
    /// socket when there is one, from the same port, so that their checksum is exactly the one we chose.
    Udp {
        /// The trace's socket, which also holds its port.
        udp: DatagramSocket,
        /// The shared raw UDP socket of the family.
        raw: Option<Arc<RawSocket>>,
        /// Paris: the destination port of every probe (the sequence rides in the checksum); classic UDP (`None`)
        /// puts the sequence in the destination port.
        paris: Option<u16>,
        /// Unprivileged: the task reading the socket's error queue, stopped with the trace.
        _reader: Option<AbortOnDrop>,
    },
    /// Unprivileged ICMP: the trace's own ICMP datagram socket, whose "port" is the echo identifier (the kernel
    /// writes it into every request); errors come from its error queue, echo replies as ordinary datagrams.
    Ping {
        /// The socket.
        ping: DatagramSocket,
        /// The task reading it, stopped with the trace.
        reader: AbortOnDrop,
    },
}

/// The error-queue reader task, stopped when its owner is dropped, and the channel it feeds.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>, mpsc::Sender<Delivery>, Ordinary);

impl AbortOnDrop {
    /// Starts reading `socket` for the trace that holds `registration`.
    fn spawn(socket: &DatagramSocket, ordinary: Ordinary, registration: &Registration) -> Result<Self, NetError> {
        let sink = registration.deliveries().ok_or(NetError::ProberGone)?;
        let task = tokio::spawn(recverr::read_errors(Arc::clone(&socket.socket), ordinary, sink.clone()));
        Ok(AbortOnDrop(task, sink, ordinary))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The reply an ICMP error from the error queue gives to trace `identifier` (whose socket received it).
fn queued_reply(method: Method, identifier: u16, error: &delivery::QueuedError) -> Option<Reply> {
    let response = if error.icmpv6 {
        icmpv6_error(error.icmp_type, error.code, error.info)
    } else {
        icmpv4_error(error.icmp_type, error.code, u16::try_from(error.info).unwrap_or(u16::MAX))
    }?;
    Some(Reply {
        from: error.offender,
        response,
        identifier,
        sequence: method.queued_sequence(error.port, error.head())?,
        probe_destination: Some(error.destination),
        // The error queue hands over the ICMP type and code, not the message's extensions.
        mpls: MplsStack::default(),
    })
}

impl Sender {
    /// How this sender's probes go.
    fn mode(&self) -> ProbeMode {
        match self {
            Sender::RawIcmp { .. } | Sender::RawTcp { .. } | Sender::Udp { _reader: None, .. } => ProbeMode::Raw,
            Sender::Udp { _reader: Some(_), .. } => ProbeMode::UdpErrorQueue,
            Sender::Ping { .. } => ProbeMode::IcmpDatagram,
        }
    }

    /// Unprivileged: hands what the trace's own socket holds to its channel now, as [`Prober::pump`] does for the
    /// raw sockets.
    fn drain_error_queue(&self) {
        let (socket, reader) = match self {
            Sender::Udp { udp, _reader: Some(reader), .. } => (udp, reader),
            Sender::Ping { ping, reader } => (ping, reader),
            Sender::RawIcmp { .. } | Sender::RawTcp { .. } | Sender::Udp { _reader: None, .. } => return,
        };
        recverr::drain(socket.socket.get_ref(), reader.2, &reader.1);
    }

    /// Sends `probe` of trace `identifier`; returns the time right before it was handed to the kernel.
    fn send(&self, identifier: u16, probe: Probe, destination: IpAddr) -> io::Result<Instant> {
        match self {
            Sender::RawIcmp { socket, family } => {
                let message = match family {
                    Family::V4 => EchoRequest { identifier, sequence: probe.sequence, payload: PAYLOAD }.to_bytes(),
                    Family::V6 => icmpv6::echo_request(identifier, probe.sequence, PAYLOAD),
                };
                socket.send(&message, destination, probe.ttl)
            }
            Sender::RawTcp { socket, source, port } => {
                let sequence = Method::tcp_sequence(identifier, probe.sequence);
                let syn = Syn { source_port: probe.sequence, destination_port: *port, sequence };
                socket.send(&syn.to_bytes(*source, destination), destination, probe.ttl)
            }
            Sender::Ping { ping, .. } => {
                // The kernel puts the socket's identifier in place of ours and computes the checksum.
                let message = match ping.family {
                    Family::V4 => EchoRequest { identifier, sequence: probe.sequence, payload: PAYLOAD }.to_bytes(),
                    Family::V6 => icmpv6::echo_request(identifier, probe.sequence, PAYLOAD),
                };
                ping.send(&message, destination, 0, probe.ttl)
            }
            Sender::Udp { udp, paris: None, .. } => udp.send(PAYLOAD, destination, probe.sequence, probe.ttl),
            Sender::Udp { udp, raw, paris: Some(port), .. } => {
                let port = *port;
                // The sequence also travels in the payload, right after the checksum word: the error queue of the
                // unprivileged mode returns the payload, not the checksum.
                let mut tail = probe.sequence.to_be_bytes().to_vec();
                tail.extend_from_slice(&PAYLOAD[2..]);
                let payload = udp::paris_payload(udp.source, destination, udp.port, port, probe.sequence, &tail);
                match raw {
                    Some(raw) => {
                        let datagram = udp::datagram(udp.source, destination, udp.port, port, &payload);
                        raw.send(&datagram, destination, probe.ttl)
                    }
                    None => udp.send(&payload, destination, port, probe.ttl),
                }
            }
        }
    }
}

/// How long a probe refused for lack of buffer space waits before its one retry: long enough for the kernel to
/// drain some of a shared raw socket's send queue, short against any round trip that matters.
const SEND_RETRY_DELAY: Duration = Duration::from_millis(2);

/// Sends `probe`, and once more if the system refuses it (EAGAIN or ENOBUFS under load, after a short pause;
/// EPERM from a local firewall, at once, in case the rule was a rate limit). The second refusal is the answer.
async fn send_with_retry(sender: &Sender, identifier: u16, probe: Probe, destination: IpAddr) -> io::Result<Instant> {
    match sender.send(identifier, probe, destination) {
        Ok(sent) => Ok(sent),
        Err(error) => {
            if matches!(error.raw_os_error(), Some(libc::EAGAIN | libc::ENOBUFS)) {
                tokio::time::sleep(SEND_RETRY_DELAY).await;
            }
            sender.send(identifier, probe, destination)
        }
    }
}

/// Which datagram socket a trace opens for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// UDP, errors read by the prober's raw ICMP sockets.
    Udp,
    /// UDP with an error queue (unprivileged).
    UdpErrorQueue,
    /// ICMP datagram socket with an error queue (unprivileged, where `net.ipv4.ping_group_range` allows).
    Ping,
}

/// A trace's own datagram socket: the kernel holds its port (UDP) or echo identifier (ICMP) for us, so no other
/// trace or program can use it meanwhile.
#[derive(Debug)]
struct DatagramSocket {
    socket: Arc<AsyncFd<Socket>>,
    source: IpAddr,
    port: u16,
    family: Family,
    error_queue: bool,
}

impl DatagramSocket {
    /// Binds a socket of `kind` to `source` and a port the kernel picks; with an error queue, ICMP errors about what
    /// it sends are queued on it.
    fn bind(source: IpAddr, kind: Kind) -> Result<DatagramSocket, NetError> {
        let io = |operation| move |error| NetError::Io { operation, error };
        let family = Family::of(source);
        let domain = if family == Family::V4 { Domain::IPV4 } else { Domain::IPV6 };
        let socket = match kind {
            Kind::Udp | Kind::UdpErrorQueue => {
                Socket::new(domain, Type::DGRAM, Some(socket2::Protocol::UDP)).map_err(io("open a UDP socket"))?
            }
            Kind::Ping => {
                let protocol = if family == Family::V4 { socket2::Protocol::ICMPV4 } else { socket2::Protocol::ICMPV6 };
                Socket::new(domain, Type::DGRAM, Some(protocol)).map_err(|error| {
                    // EACCES: the process's group is outside net.ipv4.ping_group_range (which IPv6 obeys too).
                    if error.kind() == io::ErrorKind::PermissionDenied || error.raw_os_error() == Some(libc::EPERM) {
                        NetError::NoPrivilege { operation: PING_REFUSED }
                    } else {
                        NetError::Io { operation: "open an ICMP datagram socket", error }
                    }
                })?
            }
        };
        if family == Family::V6 {
            socket.set_only_v6(true).map_err(io("make the socket IPv6-only"))?;
        }
        socket.set_nonblocking(true).map_err(io("make the socket non-blocking"))?;
        let error_queue = kind != Kind::Udp;
        if error_queue {
            recverr::enable(&socket, family == Family::V6).map_err(io("enable the error queue"))?;
        }
        socket.bind(&SockAddr::from(SocketAddr::new(source, 0))).map_err(io("bind the probe socket"))?;
        let port = socket
            .local_addr()
            .map_err(io("read the probe socket's port"))?
            .as_socket()
            .map(|address| address.port())
            .ok_or(NetError::InvalidConfig("the probe socket has no port"))?;
        // SAFETY: the `Socket` owns its descriptor, which stays open and unchanged for as long as the `AsyncFd` owns
        // it. Only the error-queue reader waits on it.
        let socket = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::ERROR) }
            .map_err(|error| NetError::Io { operation: "register the probe socket", error: error.into() })?;
        Ok(DatagramSocket { socket: Arc::new(socket), source, port, family, error_queue })
    }

    fn send(&self, payload: &[u8], destination: IpAddr, port: u16, ttl: u8) -> io::Result<Instant> {
        let socket = self.socket.get_ref();
        socket::set_ttl(socket, self.family, ttl)?;
        let address = SockAddr::from(SocketAddr::new(destination, port));
        // With an error queue, the kernel also reports the latest ICMP error on the next send, which then fails
        // without sending. That error is already queued for the reader (and reading it here clears it), so send
        // again; a real failure repeats.
        let attempts = if self.error_queue { 3 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let sent = Instant::now();
            match socket.send_to(payload, &address) {
                Ok(_) => return Ok(sent),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no send attempted")))
    }
}

/// The destination of a configuration this module can probe, or why it cannot.
fn check(config: &ProbeConfig) -> Result<IpAddr, NetError> {
    if config.first_ttl == 0 || config.first_ttl > config.max_hops {
        return Err(NetError::InvalidConfig("the first TTL must be between 1 and the maximum number of hops"));
    }
    if config.tries == 0 {
        return Err(NetError::InvalidConfig("at least one probe per hop is needed"));
    }
    if config.timeout.is_zero() || config.timeout > Duration::from_secs(60) {
        return Err(NetError::InvalidConfig("the timeout must be more than 0 and at most 60 seconds"));
    }
    if config.port == Some(0) {
        return Err(NetError::InvalidConfig("the port must be between 1 and 65535"));
    }
    if config.watch.is_some_and(|watch| watch.interval.is_zero()) {
        return Err(NetError::InvalidConfig("the interval between rounds must be more than 0"));
    }
    if Method::for_config(config).first_sequence(config.sequence_span(), 0).is_none() {
        return Err(NetError::InvalidConfig("too many probes for the port range; lower --port, -m or -r"));
    }
    Ok(config.destination)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::Protocol;

    #[test]
    fn invalid_settings_are_refused_before_any_socket() {
        let v4 = ProbeConfig { destination: IpAddr::from([10, 0, 0, 1]), ..ProbeConfig::default() };
        assert!(check(&v4).is_ok());
        let udp = ProbeConfig { protocol: Protocol::Udp, ..v4.clone() };
        assert!(check(&udp).is_ok());
        let v6 = ProbeConfig { destination: "::1".parse().unwrap(), ..v4.clone() };
        assert!(check(&v6).is_ok());
        for bad in [
            ProbeConfig { first_ttl: 0, ..v4.clone() },
            ProbeConfig { first_ttl: 9, max_hops: 8, ..v4.clone() },
            ProbeConfig { tries: 0, ..v4.clone() },
            ProbeConfig { timeout: Duration::ZERO, ..v4.clone() },
            ProbeConfig { port: Some(0), ..v4.clone() },
            // Classic UDP ports rise from --port: 65500 leaves no room for 30 x 3 probes.
            ProbeConfig { port: Some(65500), ..udp.clone() },
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
