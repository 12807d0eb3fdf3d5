//! A throw-away Linux test network made of network namespaces: client → routers → server, wired with veth pairs.
//!
//! Every test gets its own network (Linux routers rate-limit ICMP errors per source, so sharing one would make
//! tests steal each other's tokens), named with the process id and a counter so tests run in parallel. Interfaces
//! are created directly inside their namespaces and only 10.x addresses with explicit routes are used: nothing
//! appears in, or is routed through, the host's own namespace. `Drop` deletes every namespace, also on panic.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NETWORKS: AtomicUsize = AtomicUsize::new(0);

/// A chain of namespaces: `client`, then each of `routers` in order, then `server` (the destination).
///
/// Link `i` joins node `i` and node `i + 1` (node 0 is the client) on `10.0.i.0/24`: the node nearer the client has
/// `10.0.i.1`, the farther one `10.0.i.2`. A router answers Time Exceeded from its address facing the client, so
/// router `k` (1-based) appears as `10.0.{k-1}.2`, and the destination is `10.0.{routers}.2`.
#[derive(Debug)]
pub struct TestNet {
    /// Namespace of the tracing host.
    pub client: String,
    /// Router namespaces, nearest to the client first.
    pub routers: Vec<String>,
    /// Namespace of the destination.
    pub server: String,
    /// The route a trace from the client must find: the address each router answers from (`None` for a silent
    /// router), then the destination.
    pub hops: Vec<Option<Ipv4Addr>>,
    /// The server's address.
    pub destination: Ipv4Addr,
    /// Every namespace created so far, for `Drop`.
    created: Vec<String>,
}

impl TestNet {
    /// Builds a network with `routers` routers; the routers whose indexes (0-based, into `routers`) are in `silent`
    /// forward packets but never send Time Exceeded. Fails, with a message saying so, when not run as root.
    pub fn new(routers: usize, silent: &[usize]) -> io::Result<TestNet> {
        require_root()?;
        if routers > 250 || silent.iter().any(|&s| s >= routers) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "at most 250 routers; silent indexes < routers"));
        }
        let id = format!("tm{}-{}", std::process::id(), NETWORKS.fetch_add(1, Ordering::Relaxed));
        let link = |i: usize, end: u8| Ipv4Addr::new(10, 0, i as u8, end);
        let mut net = TestNet {
            client: format!("{id}-c"),
            routers: (1..=routers).map(|k| format!("{id}-r{k}")).collect(),
            server: format!("{id}-s"),
            hops: (0..routers).map(|k| (!silent.contains(&k)).then(|| link(k, 2))).collect(),
            destination: link(routers, 2),
            created: Vec::new(),
        };
        net.hops.push(Some(net.destination));
        let nodes: Vec<String> =
            std::iter::once(net.client.clone()).chain(net.routers.clone()).chain([net.server.clone()]).collect();
        for ns in &nodes {
            run(Command::new("ip").args(["netns", "add", ns]))?;
            net.created.push(ns.clone());
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
        }
        // Node i reaches node i + 1 through its interface "east", whose peer in node i + 1 is "west".
        for (i, pair) in nodes.windows(2).enumerate() {
            let (near, far) = (&pair[0], &pair[1]);
            run(Command::new("ip")
                .args(["link", "add", "east", "netns", near, "type", "veth", "peer", "name", "west"])
                .args(["netns", far]))?;
            run(Command::new("ip").args(["-n", near, "addr", "add", &format!("{}/24", link(i, 1)), "dev", "east"]))?;
            run(Command::new("ip").args(["-n", far, "addr", "add", &format!("{}/24", link(i, 2)), "dev", "west"]))?;
            run(Command::new("ip").args(["-n", near, "link", "set", "east", "up"]))?;
            run(Command::new("ip").args(["-n", far, "link", "set", "west", "up"]))?;
        }
        // Explicit routes to every other link's subnet: towards the client through "west", the rest through "east".
        let links = nodes.len() - 1;
        for (n, ns) in nodes.iter().enumerate() {
            for j in 0..links {
                let subnet = format!("10.0.{j}.0/24");
                let (via, dev) = if j + 1 < n {
                    (link(n - 1, 1), "west")
                } else if j > n {
                    (link(n, 2), "east")
                } else {
                    continue; // directly connected
                };
                run(Command::new("ip").args(["-n", ns, "route", "add", &subnet, "via", &via.to_string(), "dev", dev]))?;
            }
        }
        for (k, router) in net.routers.iter().enumerate() {
            run(net.exec(router).args(["sysctl", "-qw", "net.ipv4.ip_forward=1"]))?;
            if silent.contains(&k) {
                run(net.exec(router).args([
                    "iptables",
                    "-A",
                    "OUTPUT",
                    "-p",
                    "icmp",
                    "--icmp-type",
                    "time-exceeded",
                    "-j",
                    "DROP",
                ]))?;
            }
        }
        Ok(net)
    }

    /// A command that runs in namespace `ns` (`ip netns exec ns ...`); add the program and its arguments.
    pub fn exec(&self, ns: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]);
        command
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            // Deleting a namespace also deletes its veth ends and iptables rules.
            if let Err(error) = run(Command::new("ip").args(["netns", "del", ns])) {
                eprintln!("could not delete test namespace {ns}: {error}");
            }
        }
    }
}

/// Fails with a clear message unless the process runs as root (namespaces and raw sockets need it).
pub fn require_root() -> io::Result<()> {
    // /proc/self belongs to the effective user of the process reading it.
    if std::fs::metadata("/proc/self")?.uid() == 0 {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "network namespace tests need root: run them with the README's test command as root",
        ))
    }
}

/// Runs a set-up command, turning a failure into an error that shows the command and what it printed.
fn run(command: &mut Command) -> io::Result<()> {
    let output = command.output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
