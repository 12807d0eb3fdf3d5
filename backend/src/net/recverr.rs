//! Unprivileged probing: ICMP errors read from a datagram socket's error queue (`IP_RECVERR`, `IPV6_RECVERR`), as
//! `tracepath` does, so a trace runs without raw sockets. Two kinds of socket do it: a UDP socket, and an ICMP
//! datagram ("ping") socket where `net.ipv4.ping_group_range` allows one, whose echo replies arrive as ordinary
//! datagrams.
//!
//! The kernel matches each ICMP error to the socket that sent the quoted datagram and queues a `sock_extended_err`
//! with the ICMP type and code and the address of the router that sent it, next to the original destination (port
//! included) and the start of what the probe carried. Those name the probe: the destination port in classic UDP
//! mode, the payload in Paris mode, the echo sequence for ICMP. The control message is parsed by
//! [`parse_extended_err`], a pure function, with every length checked.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use super::delivery::{Delivery, Packet, QUEUED_HEAD, QueuedError, deliver};
use super::socket::{self, Family};
use crate::wire::icmp::IcmpMessage;
use crate::wire::icmpv6::Icmpv6Message;

/// `SO_EE_ORIGIN_ICMP` and `SO_EE_ORIGIN_ICMP6` from linux/errqueue.h.
const ORIGIN_ICMP: u8 = 2;
const ORIGIN_ICMP6: u8 = 3;
/// `struct sock_extended_err`: errno (4), origin, type, code, pad (1 each), info (4), data (4).
const EXTENDED_ERR_LEN: usize = 16;

/// Reads the data of an `IP_RECVERR`/`IPV6_RECVERR` control message: the extended error and the offender's socket
/// address right after it. `None` unless it is an ICMP error with an offender address.
pub fn parse_extended_err(data: &[u8]) -> Option<(u8, u8, u8, u32, IpAddr)> {
    let header = data.get(..EXTENDED_ERR_LEN)?;
    let (origin, icmp_type, code) = (header[4], header[5], header[6]);
    if origin != ORIGIN_ICMP && origin != ORIGIN_ICMP6 {
        return None;
    }
    let info = u32::from_ne_bytes([header[8], header[9], header[10], header[11]]);
    let offender = sockaddr_ip(data.get(EXTENDED_ERR_LEN..)?)?;
    Some((origin, icmp_type, code, info, offender))
}

/// The address in a `sockaddr_in` or `sockaddr_in6` laid out in `bytes` (family in native byte order first).
fn sockaddr_ip(bytes: &[u8]) -> Option<IpAddr> {
    let family = i32::from(u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]));
    match family {
        libc::AF_INET => {
            let octets: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        libc::AF_INET6 => {
            let octets: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// Asks the kernel to queue ICMP errors for what `socket` sends, with a receive timestamp.
pub fn enable(socket: &Socket, v6: bool) -> io::Result<()> {
    let (level, name) =
        if v6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) } else { (libc::IPPROTO_IP, libc::IP_RECVERR) };
    socket::set_int_option(socket, level, name, 1)?;
    socket::enable_timestamps(socket)
}

/// What a socket with an error queue receives besides its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordinary {
    /// A UDP probe socket: datagrams from a service on the probed port mean nothing to a trace; dropped.
    Discard,
    /// An ICMP datagram socket of this family: echo replies, the destination's answers.
    EchoReplies(Family),
}

/// Reads `socket`'s error queue, and its ordinary datagrams as `ordinary` says, until the trace ends (the channel
/// closes), handing every ICMP error and echo reply to it.
pub async fn read_errors(socket: Arc<AsyncFd<Socket>>, ordinary: Ordinary, deliveries: mpsc::Sender<Delivery>) {
    loop {
        let mut guard = match socket.ready(Interest::ERROR | Interest::READABLE).await {
            Ok(guard) => guard,
            Err(error) => {
                tracing::warn!(%error, "error queue unavailable");
                return;
            }
        };
        // Returning WouldBlock once everything is read clears the readiness, so a message that arrives meanwhile
        // wakes us again instead of being missed.
        let drained = guard.try_io(|fd| {
            if !drain(fd.get_ref(), ordinary, &deliveries) {
                return Ok(false);
            }
            Err(io::ErrorKind::WouldBlock.into())
        });
        if let Ok(Ok(false)) = drained {
            return;
        }
        if deliveries.is_closed() {
            return;
        }
    }
}

/// Hands everything `socket` holds (its error queue, then its ordinary datagrams) to the trace; false once the
/// trace is gone.
pub fn drain(socket: &Socket, ordinary: Ordinary, deliveries: &mpsc::Sender<Delivery>) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match recv_error(socket, &mut buf) {
            Ok(Some(delivery)) => {
                if !deliver(deliveries, delivery, None) {
                    return false;
                }
            }
            Ok(None) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) => {
                tracing::debug!(%error, "reading the error queue failed");
                break;
            }
        }
    }
    // Bounded, so a flood cannot keep a trace here forever; the reader takes the rest.
    for _ in 0..256 {
        let Ok(message) = socket::recv_message(socket, &mut buf, libc::MSG_DONTWAIT) else { break };
        let Ordinary::EchoReplies(family) = ordinary else { continue };
        let Some((from, _)) = message.from else { continue };
        if let Some(packet) = echo_reply(family, from, &buf[..message.len])
            && !deliver(deliveries, (packet, message.at()), None)
        {
            return false;
        }
    }
    true
}

/// An echo reply read from an ICMP datagram socket (the ICMP message, without IP header), if it is one.
fn echo_reply(family: Family, from: IpAddr, bytes: &[u8]) -> Option<Packet> {
    let (identifier, sequence) = match family {
        Family::V4 => match IcmpMessage::parse(bytes).ok()? {
            IcmpMessage::EchoReply { identifier, sequence } => (identifier, sequence),
            _ => return None,
        },
        Family::V6 => match Icmpv6Message::parse(bytes).ok()? {
            Icmpv6Message::EchoReply { identifier, sequence } => (identifier, sequence),
            _ => return None,
        },
    };
    Some(Packet::EchoReply { from, identifier, sequence })
}

/// Takes one message off the error queue: `None` for one that is not an ICMP error about a probe.
fn recv_error(socket: &Socket, buf: &mut [u8]) -> io::Result<Option<Delivery>> {
    let message = socket::recv_message(socket, buf, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT)?;
    let Some((destination, port)) = message.from else { return Ok(None) };
    let Some((origin, icmp_type, code, info, offender)) =
        message.extended_err.and_then(|(data, len)| parse_extended_err(&data[..len]))
    else {
        return Ok(None);
    };
    let mut head = [0u8; QUEUED_HEAD];
    let head_len = message.len.min(QUEUED_HEAD);
    head[..head_len].copy_from_slice(&buf[..head_len]);
    let queued = QueuedError {
        offender,
        icmpv6: origin == ORIGIN_ICMP6,
        icmp_type,
        code,
        info,
        destination,
        port,
        head,
        head_len,
    };
    Ok(Some((Packet::QueuedError(queued), message.at())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extended(origin: u8, icmp_type: u8, code: u8, offender: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&113u32.to_ne_bytes()); // EHOSTUNREACH
        data.extend_from_slice(&[origin, icmp_type, code, 0]);
        data.extend_from_slice(&1280u32.to_ne_bytes());
        data.extend_from_slice(&0u32.to_ne_bytes());
        data.extend_from_slice(offender);
        data
    }

    fn sockaddr_in(octets: [u8; 4], port: u16) -> Vec<u8> {
        let mut bytes = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&port.to_be_bytes());
        bytes.extend_from_slice(&octets);
        bytes.extend_from_slice(&[0; 8]);
        bytes
    }

    #[test]
    fn icmp_errors_are_read_with_their_offender() {
        let data = extended(ORIGIN_ICMP, 11, 0, &sockaddr_in([10, 0, 1, 2], 0));
        assert_eq!(parse_extended_err(&data), Some((ORIGIN_ICMP, 11, 0, 1280, IpAddr::from([10, 0, 1, 2]))));
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend_from_slice(&[0; 6]);
        v6.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[0; 4]);
        let data = extended(ORIGIN_ICMP6, 3, 0, &v6);
        assert_eq!(parse_extended_err(&data).map(|e| e.4), Some("fd00::2".parse().unwrap()));
    }

    #[test]
    fn other_origins_and_short_data_are_ignored() {
        // Origin 1 is a local error (EMSGSIZE on send): no router to show.
        assert_eq!(parse_extended_err(&extended(1, 0, 0, &sockaddr_in([10, 0, 1, 2], 0))), None);
        let data = extended(ORIGIN_ICMP, 11, 0, &sockaddr_in([10, 0, 1, 2], 0));
        for len in 0..20 {
            assert_eq!(parse_extended_err(&data[..len]), None, "{len} bytes");
        }
        let mut unknown_family = data.clone();
        unknown_family[16] = 0xee;
        unknown_family[17] = 0xee;
        assert_eq!(parse_extended_err(&unknown_family), None);
    }
}
