//! A raw ICMPv4 socket: sends echo requests with a chosen TTL and hands back every ICMP datagram the host receives.
//!
//! Raw sockets need root or CAP_NET_RAW, and each one sees a copy of every ICMP message, answers to other traces
//! included, so the caller must filter by identifier. The kernel writes the IPv4 header of what we send (we set only
//! the TTL) and keeps it on what we receive, which is what the parser in `wire` expects.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Instant;

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
        // SAFETY: the `Socket` owns its descriptor, which stays open and unchanged for as long as the `AsyncFd` owns
        // the `Socket`; nothing here swaps or closes it. Sends never wait, so only readability is watched.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|error| NetError::Io { operation: "register the ICMP socket", error: error.into() })?;
        Ok(IcmpSocket { fd })
    }

    /// Sends one ICMP message (header and payload; the kernel adds the IPv4 header) to `destination` with `ttl`.
    pub fn send(&self, message: &[u8], destination: Ipv4Addr, ttl: u8) -> io::Result<()> {
        let socket = self.fd.get_ref();
        socket.set_ttl_v4(u32::from(ttl))?;
        let address = SockAddr::from(SocketAddrV4::new(destination, 0));
        // A raw socket never sends part of a datagram: the only outcomes are all of it or an error. A full send
        // buffer (EAGAIN) is reported like any other error; probes are too few to fill it.
        socket.send_to(message, &address)?;
        Ok(())
    }

    /// Waits for the next datagram and copies it into `buf`; returns its length and when it was read.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| (&mut fd.get_ref()).read(buf)) {
                Ok(result) => return result.map(|len| (len, Instant::now())),
                // Woken without data (another reader, or a spurious wake-up): wait again.
                Err(_would_block) => continue,
            }
        }
    }
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
