//! What travels from the sockets to a trace: the packets that may answer its probes, with their receive times, and
//! the rule for handing them over without ever waiting (a full queue drops and counts). Both the prober's raw
//! socket readers and the error-queue readers of unprivileged traces feed traces through here; neither knows the
//! other.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::wire::icmp::Icmpv4Datagram;
use crate::wire::icmpv6::Icmpv6Message;
use crate::wire::tcp::Segment;

/// An ICMP error the kernel queued for one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedError {
    /// The router or host that sent the error.
    pub offender: IpAddr,
    /// Whether it was ICMPv6 (types and codes are then ICMPv6's).
    pub icmpv6: bool,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// The MTU for fragmentation needed / packet too big.
    pub info: u32,
    /// Where the probe was going.
    pub destination: IpAddr,
    /// The probe's destination port (UDP; 0 for ICMP datagram sockets).
    pub port: u16,
    /// The start of what the probe carried after its IP header (ICMP datagram sockets: the echo header) or its UDP
    /// header (UDP sockets: the payload), which names the probe; see [`Method::queued_sequence`].
    ///
    /// [`Method::queued_sequence`]: crate::probe::Method::queued_sequence
    pub head: [u8; QUEUED_HEAD],
    /// How many bytes of `head` were present.
    pub head_len: usize,
}

/// Bytes of a queued probe kept: an ICMP echo header, or a Paris payload's first words.
pub const QUEUED_HEAD: usize = 8;

impl QueuedError {
    /// The bytes of the probe the error queue handed back, at most [`QUEUED_HEAD`].
    pub fn head(&self) -> &[u8] {
        &self.head[..self.head_len.min(QUEUED_HEAD)]
    }
}

/// A packet that may answer a trace's probe, on its way to that trace.
#[derive(Debug, Clone, Copy)]
pub enum Packet {
    /// An ICMPv4 message with its IPv4 header.
    Icmpv4(Icmpv4Datagram),
    /// An ICMPv6 message and who sent it.
    Icmpv6 {
        /// The sender.
        from: IpAddr,
        /// The message.
        message: Icmpv6Message,
    },
    /// An ICMP error the kernel queued on a trace's own socket (unprivileged modes).
    QueuedError(QueuedError),
    /// An echo reply read from a trace's own ICMP datagram socket (no IP header comes with it).
    EchoReply {
        /// The sender.
        from: IpAddr,
        /// The echo identifier (the socket's).
        identifier: u16,
        /// The echo sequence.
        sequence: u16,
    },
    /// A TCP segment and who sent it.
    Tcp {
        /// The sender.
        from: IpAddr,
        /// The segment's header.
        segment: Segment,
    },
}

/// A packet and when it arrived.
pub type Delivery = (Packet, Instant);

/// Packets waiting for one trace, at most. The readers never wait for a trace (one trace that falls behind must not
/// hold up the replies of all the others), so when a trace's queue is full the packet is dropped and counted
/// ([`Counters::dropped`]): its probe reads as unanswered. A trace has far fewer probes in flight than this
/// (`Pacing::max_in_flight`), so only a flood of forged replies fills it. The queue's memory grows with use, it is
/// not reserved up front.
pub const DELIVERY_CAPACITY: usize = 1024;

/// Hands `delivery` to a trace's queue without waiting: `false` when the trace is gone. A full queue drops the
/// packet (see [`DELIVERY_CAPACITY`]) and counts it in `dropped` when given.
pub(super) fn deliver(queue: &mpsc::Sender<Delivery>, delivery: Delivery, dropped: Option<&AtomicU64>) -> bool {
    match queue.try_send(delivery) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            if let Some(dropped) = dropped {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}
