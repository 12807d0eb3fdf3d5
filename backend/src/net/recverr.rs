//! Unprivileged UDP probing: ICMP errors read from a UDP socket's error queue (`IP_RECVERR`, `IPV6_RECVERR`), as
//! `tracepath` does, so a trace runs without raw sockets.
//!
//! The kernel matches each ICMP error to the socket that sent the quoted datagram and queues a `sock_extended_err`
//! with the ICMP type and code and the address of the router that sent it, next to the original destination (port
//! included) and payload. Those two name the probe: the destination port in classic mode, the payload in Paris mode.
//! The control message is parsed by [`parse_extended_err`], a pure function, with every length checked.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use super::prober::{Delivery, Packet};

/// `SO_EE_ORIGIN_ICMP` and `SO_EE_ORIGIN_ICMP6` from linux/errqueue.h.
const ORIGIN_ICMP: u8 = 2;
const ORIGIN_ICMP6: u8 = 3;
/// `struct sock_extended_err`: errno (4), origin, type, code, pad (1 each), info (4), data (4).
const EXTENDED_ERR_LEN: usize = 16;

/// An ICMP error the kernel queued for one of our UDP probes.
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
    /// Where the probe was going, and to which port.
    pub destination: IpAddr,
    /// The probe's destination port.
    pub port: u16,
    /// The first two bytes of the probe's payload after the Paris checksum word, which name a Paris probe.
    pub payload_sequence: Option<u16>,
}

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

/// The port in a `sockaddr_in` or `sockaddr_in6` (both keep it at bytes 2..4, big-endian).
fn sockaddr_port(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]))
}

/// Asks the kernel to queue ICMP errors for what `socket` sends, with a receive timestamp.
pub fn enable(socket: &Socket, v6: bool) -> io::Result<()> {
    let (level, name) =
        if v6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) } else { (libc::IPPROTO_IP, libc::IP_RECVERR) };
    let on: libc::c_int = 1;
    let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the pointer and length describe a live c_int for the duration of the call, and the fd is open.
    let rc = unsafe { libc::setsockopt(socket.as_raw_fd(), level, name, (&raw const on).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    super::socket::enable_timestamps(socket)
}

/// Reads `socket`'s error queue until the trace ends (the channel closes) and hands every ICMP error to it.
pub async fn read_errors(socket: Arc<AsyncFd<Socket>>, deliveries: mpsc::UnboundedSender<Delivery>) {
    loop {
        let mut guard = match socket.ready(Interest::ERROR | Interest::READABLE).await {
            Ok(guard) => guard,
            Err(error) => {
                tracing::warn!(%error, "UDP error queue unavailable");
                return;
            }
        };
        // Returning WouldBlock once everything is read clears the readiness, so a message that arrives meanwhile
        // wakes us again instead of being missed.
        let drained = guard.try_io(|fd| {
            if !drain(fd.get_ref(), &deliveries) {
                return Ok(false);
            }
            // Ordinary datagrams to the probe port (a service that answers) mean nothing to a trace: drop them.
            let mut sink = [0u8; 64];
            // SAFETY: the buffer is live and as long as given; MSG_DONTWAIT makes the call return at once.
            while unsafe { libc::recv(fd.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len(), libc::MSG_DONTWAIT) } >= 0 {
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

/// Hands everything on `socket`'s error queue to the trace; false once the trace is gone.
pub fn drain(socket: &Socket, deliveries: &mpsc::UnboundedSender<Delivery>) -> bool {
    loop {
        match recv_error(socket) {
            Ok(Some(delivery)) => {
                if deliveries.send(delivery).is_err() {
                    return false;
                }
            }
            Ok(None) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return true,
            Err(error) => {
                tracing::debug!(%error, "reading the UDP error queue failed");
                return true;
            }
        }
    }
}

/// Takes one message off the error queue: `None` for one that is not an ICMP error about a probe.
fn recv_error(socket: &Socket) -> io::Result<Option<Delivery>> {
    let mut payload = [0u8; 64];
    let mut control = [0u64; 32];
    let mut name = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut iov = libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
    // SAFETY: msghdr is plain data (integers and pointers), for which all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` refers to a live buffer of the length given, for the duration of the call.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
    let payload = &payload[..len.min(payload.len())];
    // SAFETY: the name buffer was zeroed, and recvmsg wrote at most `msg_namelen` bytes of it.
    let name_bytes: &[u8] = unsafe {
        std::slice::from_raw_parts(
            name.as_ptr().cast::<u8>(),
            (msg.msg_namelen as usize).min(size_of::<libc::sockaddr_storage>()),
        )
    };
    let (Some(destination), Some(port)) = (sockaddr_ip(name_bytes), sockaddr_port(name_bytes)) else { return Ok(None) };
    let mut error = None;
    let mut stamp = None;
    // SAFETY: `msg` was filled in by recvmsg, so its control pointer and length describe the control messages the
    // kernel wrote; CMSG_FIRSTHDR and CMSG_NXTHDR stay within them and return null at the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and points to a complete header inside `control` (checked by the macros).
        let header = unsafe { &*cmsg };
        // SAFETY: CMSG_DATA points inside this message, whose total length is `cmsg_len`; the data is what follows
        // the (aligned) header, so its length is `cmsg_len` less the header's aligned length.
        let data = unsafe {
            let start = libc::CMSG_DATA(cmsg);
            let header_len = start.offset_from(cmsg.cast::<u8>()) as usize;
            std::slice::from_raw_parts(start, (header.cmsg_len as usize).saturating_sub(header_len))
        };
        match (header.cmsg_level, header.cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
                error = parse_extended_err(data);
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) if data.len() >= size_of::<libc::timespec>() => {
                // SAFETY: the data holds a whole timespec (checked); it may be unaligned, so read it so.
                let ts: libc::timespec = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
                if let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
                    stamp = UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
                }
            }
            _ => {}
        }
        // SAFETY: as above; `cmsg` came from this `msg`.
        cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
    }
    let Some((origin, icmp_type, code, info, offender)) = error else { return Ok(None) };
    let queued = QueuedError {
        offender,
        icmpv6: origin == ORIGIN_ICMP6,
        icmp_type,
        code,
        info,
        destination,
        port,
        payload_sequence: payload.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]])),
    };
    let at = stamp.map_or_else(Instant::now, super::socket::to_instant);
    Ok(Some((Packet::QueuedError(queued), at)))
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
        assert_eq!(sockaddr_port(&sockaddr_in([10, 0, 3, 2], 33440)), Some(33440));
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
