//! A raw ICMPv4 socket: sends echo requests with a chosen TTL and hands back every ICMP datagram the host receives.
//!
//! Raw sockets need root or CAP_NET_RAW, and each one sees a copy of every ICMP message, answers to other traces
//! included, so the caller must filter by identifier. The kernel writes the IPv4 header of what we send (we set only
//! the TTL) and keeps it on what we receive, which is what the parser in `wire` expects.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::NetError;

/// The ICMP types a tracer can use: echo reply (0), destination unreachable (3), time exceeded (11).
const WANTED_TYPES: u32 = (1 << 0) | (1 << 3) | (1 << 11);

/// An open raw ICMPv4 socket registered with the tokio reactor.
#[derive(Debug)]
pub struct IcmpSocket {
    fd: AsyncFd<Socket>,
}

impl IcmpSocket {
    /// Opens the socket; fails with [`NetError::NoPrivilege`] when the process may not open raw sockets.
    pub fn open() -> Result<IcmpSocket, NetError> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).map_err(|error| {
            if error.kind() == io::ErrorKind::PermissionDenied {
                NetError::NoPrivilege { operation: "open a raw ICMP socket" }
            } else {
                NetError::Io { operation: "open a raw ICMP socket", error }
            }
        })?;
        socket
            .set_nonblocking(true)
            .map_err(|error| NetError::Io { operation: "make the ICMP socket non-blocking", error })?;
        // Only a filter: without it the tracer would still drop other types, after waking for them.
        if let Err(error) = set_icmp_filter(&socket, !WANTED_TYPES) {
            tracing::debug!(%error, "ICMP_FILTER not available; other ICMP types are dropped after parsing");
        }
        if let Err(error) = enable_timestamps(&socket) {
            tracing::debug!(%error, "SO_TIMESTAMPNS not available; RTTs are taken when the datagram is read");
        }
        // SAFETY: the `Socket` owns its descriptor, which stays open and unchanged for as long as the `AsyncFd` owns
        // the `Socket`; nothing here swaps or closes it. Sends never wait, so only readability is watched.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|error| NetError::Io { operation: "register the ICMP socket", error: error.into() })?;
        Ok(IcmpSocket { fd })
    }

    /// Sends one ICMP message (header and payload; the kernel adds the IPv4 header) to `destination` with `ttl`.
    /// Returns the time taken right before the datagram was handed to the kernel, the probe's send time.
    pub fn send(&self, message: &[u8], destination: Ipv4Addr, ttl: u8) -> io::Result<Instant> {
        let socket = self.fd.get_ref();
        socket.set_ttl_v4(u32::from(ttl))?;
        let address = SockAddr::from(SocketAddrV4::new(destination, 0));
        let sent = Instant::now();
        // A raw socket never sends part of a datagram: the only outcomes are all of it or an error. A full send
        // buffer (EAGAIN) is reported like any other error; probes are too few to fill it.
        socket.send_to(message, &address)?;
        Ok(sent)
    }

    /// Waits for the next datagram and copies it into `buf`; returns its length and when it arrived: the kernel's
    /// receive timestamp when there is one, so time spent sending other probes or waiting for the task to be
    /// scheduled does not inflate round-trip times.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_timestamped(fd.get_ref(), buf)) {
                Ok(result) => {
                    return result.map(|(len, stamp)| (len, stamp.map_or_else(Instant::now, to_instant)));
                }
                // Woken without data (another reader, or a spurious wake-up): wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

impl IcmpSocket {
    /// Takes the next datagram already queued, without waiting: `None` when there is none. Run before giving up on
    /// probes, so an answer the kernel stamped in time is not declared late because the task woke late.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, Instant)>> {
        match recv_timestamped(self.fd.get_ref(), buf) {
            Ok((len, stamp)) => Ok(Some((len, stamp.map_or_else(Instant::now, to_instant)))),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Reads one datagram with `recvmsg`, along with its `SO_TIMESTAMPNS` receive time when the kernel attached one.
fn recv_timestamped(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    // u64 elements keep the control buffer aligned for `cmsghdr`; 128 bytes hold a timestamp message many times over.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data (integers and pointers), for which all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // The field's type differs between C libraries (size_t or socklen_t); 128 fits either.
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` refers to a live buffer of the length given, for the duration of the call.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, 0) };
    let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
    let mut stamp = None;
    // SAFETY: `msg` was filled in by recvmsg, so its control pointer and length describe the control messages the
    // kernel wrote; CMSG_FIRSTHDR and CMSG_NXTHDR stay within them and return null at the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and points to a complete header inside `control` (checked by the macros).
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: an SCM_TIMESTAMPNS message carries one timespec; the data may be unaligned, so read it so.
            let ts: libc::timespec = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            if let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
                stamp = UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
            }
        }
        // SAFETY: as above; `cmsg` came from this `msg`.
        cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
    }
    Ok((len, stamp))
}

/// The monotonic time of a kernel timestamp, which is wall-clock time: the datagram arrived as long ago as the wall
/// clock says, measured now. Reading both clocks back to back keeps a clock step from entering an RTT, except in the
/// instant between the two reads; an age that makes no sense (negative, or beyond any probe timeout) is ignored.
fn to_instant(stamp: SystemTime) -> Instant {
    let now = Instant::now();
    match SystemTime::now().duration_since(stamp) {
        Ok(age) if age < Duration::from_secs(60) => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

/// Asks the kernel to timestamp every datagram on arrival (`SO_TIMESTAMPNS`).
fn enable_timestamps(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the pointer and length describe a live c_int for the duration of the call, and the fd is open.
    let rc = unsafe {
        libc::setsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&raw const on).cast(), len)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Sets the Linux `ICMP_FILTER` socket option: the kernel drops types whose bit is set before they reach us.
fn set_icmp_filter(socket: &Socket, blocked_types: u32) -> io::Result<()> {
    // Values from linux/icmp.h; libc does not export them for every target.
    const SOL_RAW: libc::c_int = 255;
    const ICMP_FILTER: libc::c_int = 1;
    let len = libc::socklen_t::try_from(size_of::<u32>()).unwrap_or(4);
    // SAFETY: the pointer and length describe a live u32 for the duration of the call, and the fd is open.
    let rc =
        unsafe { libc::setsockopt(socket.as_raw_fd(), SOL_RAW, ICMP_FILTER, (&raw const blocked_types).cast(), len) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
