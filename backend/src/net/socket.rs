//! Raw sockets: send a probe with a chosen TTL (hop limit) and hand back every datagram of one protocol the host
//! receives, with the kernel's arrival time.
//!
//! Raw sockets need root or CAP_NET_RAW, and each one sees a copy of every datagram of its protocol, answers to other
//! traces included, so the prober dispatches what it reads by identifier. Over IPv4 the kernel keeps the IP header
//! on what we receive (the parser in `wire` expects it); over IPv6 it never does, and the sender's address comes from
//! the socket address instead. We never write IP headers ourselves: the kernel adds them, we set only the TTL.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::NetError;

/// The ICMPv4 types a tracer can use: echo reply (0), destination unreachable (3), time exceeded (11).
const WANTED_ICMPV4_TYPES: u32 = (1 << 0) | (1 << 3) | (1 << 11);
/// The ICMPv6 types a tracer can use: destination unreachable (1), packet too big (2), time exceeded (3), echo
/// reply (129).
const WANTED_ICMPV6_TYPES: [u8; 4] = [1, 2, 3, 129];

/// The IP family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `address`.
    pub fn of(address: IpAddr) -> Family {
        if address.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    fn domain(self) -> Domain {
        match self {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        }
    }
}

/// Which protocol a raw socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawKind {
    /// ICMP (ICMPv6 over IPv6): echo probes out, every answer and error in.
    Icmp,
    /// TCP: SYN probes out, SYN-ACK and RST answers in.
    Tcp,
    /// UDP, send only: Paris probes, whose checksum must be ours (a datagram socket may leave it to offload, and a
    /// veth pair then delivers, and routers quote, a partial checksum).
    Udp,
}

/// One datagram as read from a socket.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes written to the buffer.
    pub len: usize,
    /// When it arrived: the kernel's timestamp when there is one.
    pub at: Instant,
    /// The sender's address.
    pub from: Option<IpAddr>,
}

/// An open raw socket registered with the tokio reactor.
#[derive(Debug)]
pub struct RawSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    /// Setting the TTL and sending must happen together: probes of several traces share the socket.
    send_lock: Mutex<()>,
}

impl RawSocket {
    /// Opens and configures a raw socket, without a runtime (what needs the privilege, done before it is dropped);
    /// fails with [`NetError::NoPrivilege`] when the process may not open raw sockets.
    pub fn create(family: Family, kind: RawKind) -> Result<Socket, NetError> {
        let (protocol, operation) = match (family, kind) {
            (Family::V4, RawKind::Icmp) => (Protocol::ICMPV4, "open a raw ICMP socket"),
            (Family::V6, RawKind::Icmp) => (Protocol::ICMPV6, "open a raw ICMPv6 socket"),
            (Family::V4, RawKind::Tcp) => (Protocol::TCP, "open a raw TCP socket"),
            (Family::V6, RawKind::Tcp) => (Protocol::TCP, "open a raw TCP socket for IPv6"),
            (Family::V4, RawKind::Udp) => (Protocol::UDP, "open a raw UDP socket"),
            (Family::V6, RawKind::Udp) => (Protocol::UDP, "open a raw UDP socket for IPv6"),
        };
        let socket = Socket::new(family.domain(), Type::RAW, Some(protocol)).map_err(|error| {
            if matches!(error.kind(), io::ErrorKind::PermissionDenied) || error.raw_os_error() == Some(libc::EPERM) {
                NetError::NoPrivilege { operation }
            } else {
                NetError::Io { operation, error }
            }
        })?;
        socket
            .set_nonblocking(true)
            .map_err(|error| NetError::Io { operation: "make a raw socket non-blocking", error })?;
        // Only filters: without them the prober would still drop other types, after waking for them.
        let filtered = match (family, kind) {
            (Family::V4, RawKind::Icmp) => set_icmp_filter(&socket, !WANTED_ICMPV4_TYPES),
            (Family::V6, RawKind::Icmp) => set_icmpv6_filter(&socket, &WANTED_ICMPV6_TYPES),
            (Family::V6, RawKind::Tcp) => {
                set_ipv6_checksum_offset(&socket, 16).and_then(|()| attach_filter(&socket, &TCP_ANSWERS_V6))
            }
            (Family::V4, RawKind::Tcp) => attach_filter(&socket, &TCP_ANSWERS_V4),
            // Nothing is read from it: without this filter it would queue a copy of every UDP datagram received.
            (_, RawKind::Udp) => drop_all_input(&socket),
        };
        if let Err(error) = filtered {
            tracing::debug!(%error, ?family, ?kind, "socket filter not available; unwanted datagrams are dropped after parsing");
        }
        if let Err(error) = enable_timestamps(&socket) {
            tracing::debug!(%error, "SO_TIMESTAMPNS not available; RTTs are taken when the datagram is read");
        }
        Ok(socket)
    }

    /// Registers a socket from [`RawSocket::create`] with the current tokio runtime.
    pub fn register(socket: Socket, family: Family) -> Result<RawSocket, NetError> {
        // SAFETY: the `Socket` owns its descriptor, which stays open and unchanged for as long as the `AsyncFd` owns
        // the `Socket`; nothing here swaps or closes it. Sends never wait, so only readability is watched.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|error| NetError::Io { operation: "register a raw socket", error: error.into() })?;
        Ok(RawSocket { fd, family, send_lock: Mutex::new(()) })
    }

    /// Sends one message (the kernel adds the IP header) to `destination` with `ttl`. Returns the time taken right
    /// before the datagram was handed to the kernel, the probe's send time.
    pub fn send(&self, message: &[u8], destination: IpAddr, ttl: u8) -> io::Result<Instant> {
        let socket = self.fd.get_ref();
        // A poisoned lock only means another sender panicked between two system calls; the socket is fine.
        let _turn = self.send_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        set_ttl(socket, self.family, ttl)?;
        let address = SockAddr::from(SocketAddr::new(destination, 0));
        let sent = Instant::now();
        // A raw socket never sends part of a datagram: the only outcomes are all of it or an error. A full send
        // buffer (EAGAIN, ENOBUFS) is reported like any other error: the trace retries once, then reports the probe
        // as not sent.
        socket.send_to(message, &address)?;
        Ok(sent)
    }

    /// Waits for the next datagram and copies it into `buf`: its length, when it arrived (the kernel's receive
    /// timestamp when there is one, so time spent sending other probes or waiting for the task to be scheduled does
    /// not inflate round-trip times) and who sent it.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_timestamped(fd.get_ref(), buf, 0)) {
                Ok(result) => return result,
                // Woken without data (another reader, or a spurious wake-up): wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

impl RawSocket {
    /// Takes the next datagram already queued, without waiting: `None` when there is none.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        match recv_timestamped(self.fd.get_ref(), buf, libc::MSG_DONTWAIT) {
            Ok(received) => Ok(Some(received)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Sets the TTL (hop limit) of the next datagrams `socket` sends.
pub fn set_ttl(socket: &Socket, family: Family, ttl: u8) -> io::Result<()> {
    match family {
        Family::V4 => socket.set_ttl_v4(u32::from(ttl)),
        Family::V6 => socket.set_unicast_hops_v6(u32::from(ttl)),
    }
}

/// The address this host sends from towards `destination`: a route lookup, without sending anything (connecting a
/// UDP socket only picks the route). TCP and Paris probes need it for their checksums.
pub fn source_for(destination: IpAddr) -> io::Result<IpAddr> {
    let socket = Socket::new(Family::of(destination).domain(), Type::DGRAM, Some(Protocol::UDP))?;
    socket.connect(&SockAddr::from(SocketAddr::new(destination, 9)))?;
    socket
        .local_addr()?
        .as_socket()
        .map(|address| address.ip())
        .ok_or_else(|| io::Error::other("the local address is not an IP socket address"))
}

/// Reads one datagram with `recvmsg`, along with its `SO_TIMESTAMPNS` receive time when the kernel attached one.
pub(crate) fn recv_timestamped(socket: &Socket, buf: &mut [u8], flags: libc::c_int) -> io::Result<Received> {
    let message = recv_message(socket, buf, flags)?;
    Ok(Received { len: message.len, at: message.at(), from: message.from.map(|(ip, _)| ip) })
}

/// What one `recvmsg` returned besides the bytes: the socket address and the control messages tracemap reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The socket address: the sender of a datagram, or for the error queue where the failed datagram was going.
    pub from: Option<(IpAddr, u16)>,
    /// The kernel's receive time (`SCM_TIMESTAMPNS`).
    pub stamp: Option<SystemTime>,
    /// The data of an `IP_RECVERR`/`IPV6_RECVERR` control message (error queue only), at most its first bytes.
    pub extended_err: Option<([u8; EXTENDED_ERR_MAX], usize)>,
}

/// Room for a `sock_extended_err` (16 bytes) and the offender's `sockaddr_in6` (28) after it.
pub(crate) const EXTENDED_ERR_MAX: usize = 48;

impl Message {
    /// When the datagram arrived: the kernel's stamp, else now.
    pub fn at(&self) -> Instant {
        self.stamp.map_or_else(Instant::now, to_instant)
    }
}

/// One `recvmsg` call on `socket` into `buf` with `flags` (`MSG_ERRQUEUE`, `MSG_DONTWAIT`...), with the socket
/// address and the control messages decoded. The only place that speaks `msghdr`.
pub(crate) fn recv_message(socket: &Socket, buf: &mut [u8], flags: libc::c_int) -> io::Result<Message> {
    // u64 elements keep the control buffer aligned for `cmsghdr`; 256 bytes hold a timestamp and an extended error.
    let mut control = [0u64; 32];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data (integers and pointers), for which all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    let mut name = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // The field's type differs between C libraries (size_t or socklen_t); 256 fits either.
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` refers to a live buffer of the length given, for the duration of the call.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &raw mut msg, flags) };
    let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
    let mut message = Message { len: len.min(buf.len()), from: None, stamp: None, extended_err: None };
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
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) if data.len() >= size_of::<libc::timespec>() => {
                // SAFETY: the data holds a whole timespec (checked); it may be unaligned, so read it so.
                let ts: libc::timespec = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
                if let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
                    message.stamp = UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
                }
            }
            (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
                let mut copy = [0u8; EXTENDED_ERR_MAX];
                let kept = data.len().min(EXTENDED_ERR_MAX);
                copy[..kept].copy_from_slice(&data[..kept]);
                message.extended_err = Some((copy, kept));
            }
            _ => {}
        }
        // SAFETY: as above; `cmsg` came from this `msg`.
        cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
    }
    // SAFETY: recvmsg wrote at most `msg_namelen` bytes of a socket address into `name`, which was zeroed before,
    // so reading it as a sockaddr_storage is sound; `sockaddr_to_ip` only reads the family's own fields.
    message.from = unsafe { sockaddr_to_ip(name.assume_init_ref(), msg.msg_namelen) };
    Ok(message)
}

/// The IP address and port inside a socket address the kernel filled in, if it is an IPv4 or IPv6 one of full
/// length.
///
/// # Safety
/// `storage` must hold `len` initialised bytes of a socket address.
unsafe fn sockaddr_to_ip(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<(IpAddr, u16)> {
    let len = usize::try_from(len).ok()?;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says this is a sockaddr_in and the kernel wrote all of it.
            let v4 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some((IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says this is a sockaddr_in6 and the kernel wrote all of it.
            let v6 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some((IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)), u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}

/// The monotonic time of a kernel timestamp, which is wall-clock time: the datagram arrived as long ago as the wall
/// clock says, measured now. Reading both clocks back to back keeps a clock step from entering an RTT, except in the
/// instant between the two reads; an age that makes no sense (negative, or beyond any probe timeout) is ignored.
pub(crate) fn to_instant(stamp: SystemTime) -> Instant {
    let now = Instant::now();
    match SystemTime::now().duration_since(stamp) {
        Ok(age) if age < Duration::from_secs(60) => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

/// Asks the kernel to timestamp every datagram on arrival (`SO_TIMESTAMPNS`).
pub(crate) fn enable_timestamps(socket: &Socket) -> io::Result<()> {
    set_int_option(socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// Sets an integer socket option that socket2 has no method for.
pub(crate) fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the pointer and length describe a live c_int for the duration of the call, and the fd is open.
    let rc = unsafe { libc::setsockopt(socket.as_raw_fd(), level, name, (&raw const value).cast(), len) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Sets `ICMP6_FILTER`: the kernel passes only the listed ICMPv6 types.
fn set_icmpv6_filter(socket: &Socket, wanted: &[u8]) -> io::Result<()> {
    // From netinet/icmp6.h: a 256-bit map where a set bit blocks that type.
    const ICMP6_FILTER: libc::c_int = 1;
    let mut blocked = [u32::MAX; 8];
    for &icmp_type in wanted {
        blocked[usize::from(icmp_type >> 5)] &= !(1 << (icmp_type & 31));
    }
    let len = libc::socklen_t::try_from(size_of_val(&blocked)).unwrap_or(32);
    // SAFETY: the pointer and length describe a live array for the duration of the call, and the fd is open.
    let rc = unsafe {
        libc::setsockopt(socket.as_raw_fd(), libc::IPPROTO_ICMPV6, ICMP6_FILTER, blocked.as_ptr().cast(), len)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Classic BPF opcodes (linux/filter.h), the few the filters below use.
mod bpf {
    /// `ld` (class 0x00) with a size (H 0x08, B 0x10) and a mode (ABS 0x20, IND 0x40); `ldx` (0x01); ALU and
    /// jump operations; return.
    pub const LD_H_ABS: u16 = 0x08 | 0x20;
    pub const LD_B_ABS: u16 = 0x10 | 0x20;
    pub const LD_B_IND: u16 = 0x10 | 0x40;
    /// `ldxb 4*([k]&0xf)`: the IPv4 header length.
    pub const LDX_B_MSH: u16 = 0x01 | 0x10 | 0xa0;
    pub const ALU_AND_K: u16 = 0x04 | 0x50;
    pub const JMP_JEQ_K: u16 = 0x05 | 0x10;
    pub const JMP_JSET_K: u16 = 0x05 | 0x40;
    pub const RET_K: u16 = 0x06;
}

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// TCP flags byte: offset in the header, and the bits a probe's answer carries.
const TCP_FLAGS_AT: u32 = 13;
const TCP_RST: u32 = 0x04;
const TCP_SYN_ACK: u32 = 0x12;
/// Keep the whole datagram.
const ACCEPT: u32 = u32::MAX;

/// The raw IPv4 TCP socket's filter: only SYN-ACK and RST segments (the answers a SYN probe can get) reach user
/// space, not every TCP segment of the host (its HTTP traffic included). A raw IPv4 socket's filter sees the IP
/// header first; non-first fragments carry no TCP header and are dropped.
const TCP_ANSWERS_V4: [libc::sock_filter; 9] = [
    insn(bpf::LD_H_ABS, 0, 0, 6),            // 0: flags and fragment offset
    insn(bpf::JMP_JSET_K, 5, 0, 0x1fff),     // 1: a non-first fragment: drop (7)
    insn(bpf::LDX_B_MSH, 0, 0, 0),           // 2: x = IP header length
    insn(bpf::LD_B_IND, 0, 0, TCP_FLAGS_AT), // 3: a = TCP flags
    insn(bpf::JMP_JSET_K, 3, 0, TCP_RST),    // 4: RST: accept (8)
    insn(bpf::ALU_AND_K, 0, 0, TCP_SYN_ACK), // 5
    insn(bpf::JMP_JEQ_K, 1, 0, TCP_SYN_ACK), // 6: SYN and ACK: accept (8), else drop (7)
    insn(bpf::RET_K, 0, 0, 0),               // 7: drop
    insn(bpf::RET_K, 0, 0, ACCEPT),          // 8: accept
];

/// The raw IPv6 TCP socket's filter, the same test: there the filter sees the TCP header first (the kernel has
/// already consumed the IPv6 header and any extension headers).
const TCP_ANSWERS_V6: [libc::sock_filter; 6] = [
    insn(bpf::LD_B_ABS, 0, 0, TCP_FLAGS_AT), // 0: a = TCP flags
    insn(bpf::JMP_JSET_K, 3, 0, TCP_RST),    // 1: RST: accept (5)
    insn(bpf::ALU_AND_K, 0, 0, TCP_SYN_ACK), // 2
    insn(bpf::JMP_JEQ_K, 1, 0, TCP_SYN_ACK), // 3: SYN and ACK: accept (5), else drop (4)
    insn(bpf::RET_K, 0, 0, 0),               // 4: drop
    insn(bpf::RET_K, 0, 0, ACCEPT),          // 5: accept
];

/// A filter that accepts nothing, so a send-only raw socket queues nothing.
const DROP_ALL: [libc::sock_filter; 1] = [insn(bpf::RET_K, 0, 0, 0)];

/// Attaches a classic BPF filter that accepts nothing.
fn drop_all_input(socket: &Socket) -> io::Result<()> {
    attach_filter(socket, &DROP_ALL)
}

/// Attaches the classic BPF `program` to `socket` (`SO_ATTACH_FILTER`): the kernel runs it on each datagram and
/// queues only those it accepts. socket2 has no safe wrapper for it, hence the one `setsockopt` here.
fn attach_filter(socket: &Socket, program: &[libc::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| io::Error::other("BPF program too long"))?;
    // The kernel only reads the program (it copies it), but the C type has a mutable pointer.
    let filter = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    let size = libc::socklen_t::try_from(size_of::<libc::sock_fprog>()).unwrap_or(16);
    // SAFETY: `filter` points to `len` live instructions for the duration of the call, the kernel copies them and
    // never writes through the pointer, and the fd is open.
    let rc = unsafe {
        libc::setsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, (&raw const filter).cast(), size)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Asks the kernel to compute the checksum at `offset` of what a raw IPv6 socket sends (`IPV6_CHECKSUM`).
fn set_ipv6_checksum_offset(socket: &Socket, offset: libc::c_int) -> io::Result<()> {
    set_int_option(socket, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, offset)
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
