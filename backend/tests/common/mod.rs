//! A throw-away Linux test network made of network namespaces: client → routers → server, wired with veth pairs.
//!
//! Every test gets its own network (Linux routers rate-limit ICMP errors per source, so sharing one would make
//! tests steal each other's tokens), named with the process id and a counter so tests run in parallel. Interfaces
//! are created directly inside their namespaces and only 10.x addresses with explicit routes are used: nothing
//! appears in, or is routed through, the host's own namespace. `Drop` deletes every namespace, also on panic.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

pub mod nats;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

static NETWORKS: AtomicUsize = AtomicUsize::new(0);
/// `ip netns add` sets up the shared /run/netns mount on first use; tests in one process take turns creating
/// namespaces so they never race on it.
static CREATING: Mutex<()> = Mutex::new(());
static SWEEP: Once = Once::new();

/// A chain of namespaces: `client`, then each of `routers` in order, then `server` (the destination).
///
/// Link `i` joins node `i` and node `i + 1` (node 0 is the client) on `10.0.i.0/24` and `fd00:0:0:i::/64`: the node
/// nearer the client has `10.0.i.1` and `fd00:0:0:i::1`, the farther one `10.0.i.2` and `fd00:0:0:i::2`. A router
/// answers Time Exceeded from its address facing the client, so router `k` (1-based) appears as `10.0.{k-1}.2`
/// (`fd00:0:0:{k-1}::2`), and the destination is `10.0.{routers}.2` (`fd00:0:0:{routers}::2`).
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
    /// The route over IPv6, like `hops`.
    pub hops6: Vec<Option<Ipv6Addr>>,
    /// The server's IPv6 address.
    pub destination6: Ipv6Addr,
    /// Every namespace created so far, for `Drop`.
    created: Vec<String>,
}

impl TestNet {
    /// Builds a network with `routers` routers; the routers whose indexes (0-based, into `routers`) are in `silent`
    /// forward packets but never send Time Exceeded. Fails, with a message saying so, when not run as root.
    pub fn new(routers: usize, silent: &[usize]) -> io::Result<TestNet> {
        require_root()?;
        SWEEP.call_once(remove_stale_networks);
        if routers > 250 || silent.iter().any(|&s| s >= routers) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "at most 250 routers; silent indexes < routers"));
        }
        let id = format!("tm{}-{}", std::process::id(), NETWORKS.fetch_add(1, Ordering::Relaxed));
        let link = |i: usize, end: u8| Ipv4Addr::new(10, 0, i as u8, end);
        let link6 = |i: usize, end: u8| Ipv6Addr::new(0xfd00, 0, 0, i as u16, 0, 0, 0, u16::from(end));
        let mut net = TestNet {
            client: format!("{id}-c"),
            routers: (1..=routers).map(|k| format!("{id}-r{k}")).collect(),
            server: format!("{id}-s"),
            hops: (0..routers).map(|k| (!silent.contains(&k)).then(|| link(k, 2))).collect(),
            destination: link(routers, 2),
            hops6: (0..routers).map(|k| (!silent.contains(&k)).then(|| link6(k, 2))).collect(),
            destination6: link6(routers, 2),
            created: Vec::new(),
        };
        net.hops.push(Some(net.destination));
        net.hops6.push(Some(net.destination6));
        let nodes: Vec<String> =
            std::iter::once(net.client.clone()).chain(net.routers.clone()).chain([net.server.clone()]).collect();
        for ns in &nodes {
            {
                // A test that panicked while holding the lock left nothing half-done that matters here.
                let _turn = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                run(Command::new("ip").args(["netns", "add", ns]))?;
            }
            net.created.push(ns.clone());
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
            // No duplicate address detection, link-local addresses included: IPv6 works the moment a link is up
            // (a tentative link-local address holds up neighbour discovery for a second or two).
            // Routers forward from the start: switching IPv6 forwarding on later resets every interface's IPv6
            // state, and the first probes are lost while it settles.
            let mut sysctl = net.exec(ns);
            sysctl.args(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]);
            if net.routers.contains(ns) {
                sysctl.args(["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
            }
            run(&mut sysctl)?;
        }
        // Node i reaches node i + 1 through its interface "east", whose peer in node i + 1 is "west".
        for (i, pair) in nodes.windows(2).enumerate() {
            let (near, far) = (&pair[0], &pair[1]);
            run(Command::new("ip")
                .args(["link", "add", "east", "netns", near, "type", "veth", "peer", "name", "west"])
                .args(["netns", far]))?;
            run(Command::new("ip").args(["-n", near, "addr", "add", &format!("{}/24", link(i, 1)), "dev", "east"]))?;
            run(Command::new("ip").args(["-n", far, "addr", "add", &format!("{}/24", link(i, 2)), "dev", "west"]))?;
            // No duplicate address detection: the addresses are usable at once, and nothing else is on the link.
            for (ns, end, dev) in [(near, 1, "east"), (far, 2, "west")] {
                run(Command::new("ip").args([
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{}/64", link6(i, end)),
                    "dev",
                    dev,
                    "nodad",
                ]))?;
            }
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
                let (via6, subnet6) =
                    (if dev == "west" { link6(n - 1, 1) } else { link6(n, 2) }, format!("fd00:0:0:{j}::/64"));
                run(Command::new("ip").args([
                    "-n",
                    ns,
                    "-6",
                    "route",
                    "add",
                    &subnet6,
                    "via",
                    &via6.to_string(),
                    "dev",
                    dev,
                ]))?;
            }
        }
        net.wait_until_links_are_up(&nodes)?;
        for (k, router) in net.routers.iter().enumerate() {
            if silent.contains(&k) {
                net.firewall(
                    router,
                    &["ip6tables", "-A", "OUTPUT", "-p", "icmpv6", "--icmpv6-type", "time-exceeded", "-j", "DROP"],
                )?;
                net.firewall(
                    router,
                    &["iptables", "-A", "OUTPUT", "-p", "icmp", "--icmp-type", "time-exceeded", "-j", "DROP"],
                )?;
            }
        }
        Ok(net)
    }

    /// Waits until every veth reports its carrier (operstate UP). The kernel announces carrier changes up to a
    /// second late (linkwatch), and until then IPv6 treats the link as down and drops what it should forward.
    fn wait_until_links_are_up(&self, nodes: &[String]) -> io::Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for ns in nodes {
            loop {
                let output = Command::new("ip").args(["-n", ns, "-o", "link", "show"]).output()?;
                let links = String::from_utf8_lossy(&output.stdout);
                let veths: Vec<&str> =
                    links.lines().filter(|line| line.contains(" east@") || line.contains(" west@")).collect();
                if !veths.is_empty() && veths.iter().all(|line| line.contains("state UP")) {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!("links of {ns} not up after 5 s:\n{links}")));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Adds a router beside router `k` (0-based), making a diamond: the node before router `k` (the client or the
    /// previous router) splits the flows to everything beyond router `k` between router `k` and the new router,
    /// by a multipath route hashed on the flow's ports (`fib_multipath_hash_policy=1`), as a per-flow load balancer
    /// does. The new router is wired to the node before on `10.200.{k}.0/24` and to the node after on
    /// `10.201.{k}.0/24` (the nearer node `.1`, the farther `.2`); it answers from `10.200.{k}.2`, which this
    /// returns. IPv4 only. Replies and answers from beyond come back through router `k` alone.
    pub fn add_parallel_router(&mut self, k: usize) -> io::Result<Ipv4Addr> {
        if k >= self.routers.len() || k > 55 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such router to put another beside"));
        }
        let nodes: Vec<String> =
            std::iter::once(self.client.clone()).chain(self.routers.clone()).chain([self.server.clone()]).collect();
        let (before, after) = (nodes[k].clone(), nodes[k + 2].clone());
        let twin = format!("{}b", self.routers[k]);
        {
            let _turn = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            run(Command::new("ip").args(["netns", "add", &twin]))?;
        }
        self.created.push(twin.clone());
        run(Command::new("ip").args(["-n", &twin, "link", "set", "lo", "up"]))?;
        run(self.exec(&twin).args(["sysctl", "-qw", "net.ipv4.ip_forward=1"]))?;
        let (west_net, east_net) = (200u8, 201u8);
        let addr = |net: u8, end: u8| Ipv4Addr::new(10, net, k as u8, end);
        // before:east2 <-> twin:west, twin:east <-> after:west2
        for (near, near_dev, far, far_dev, net) in
            [(&before, "east2", &twin, "west", west_net), (&twin, "east", &after, "west2", east_net)]
        {
            run(Command::new("ip")
                .args(["link", "add", near_dev, "netns", near, "type", "veth", "peer", "name", far_dev])
                .args(["netns", far]))?;
            run(Command::new("ip").args([
                "-n",
                near,
                "addr",
                "add",
                &format!("{}/24", addr(net, 1)),
                "dev",
                near_dev,
            ]))?;
            run(Command::new("ip").args(["-n", far, "addr", "add", &format!("{}/24", addr(net, 2)), "dev", far_dev]))?;
            run(Command::new("ip").args(["-n", near, "link", "set", near_dev, "up"]))?;
            run(Command::new("ip").args(["-n", far, "link", "set", far_dev, "up"]))?;
        }
        // The node after receives the client's packets on its new link while its route back is the old one.
        run(self.exec(&after).args([
            "sysctl",
            "-qw",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.west2.rp_filter=0",
        ]))?;
        // Router k is node k + 1: its west link is link k, so links k + 1 and beyond lie past it.
        let links = nodes.len() - 1;
        run(self.exec(&before).args(["sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"]))?;
        for j in 0..links {
            let subnet = format!("10.0.{j}.0/24");
            if j > k {
                run(Command::new("ip").args(["-n", &before, "route", "replace", &subnet]).args([
                    "nexthop",
                    "via",
                    &Ipv4Addr::new(10, 0, k as u8, 2).to_string(),
                    "dev",
                    "east",
                    "nexthop",
                    "via",
                    &addr(west_net, 2).to_string(),
                    "dev",
                    "east2",
                ]))?;
                // Everything beyond, the node after's own west link included, through the node after.
                run(Command::new("ip").args(["-n", &twin, "route", "add", &subnet, "via"]).args([
                    &addr(east_net, 2).to_string(),
                    "dev",
                    "east",
                ]))?;
            } else {
                run(Command::new("ip").args(["-n", &twin, "route", "add", &subnet, "via"]).args([
                    &addr(west_net, 1).to_string(),
                    "dev",
                    "west",
                ]))?;
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for (ns, dev) in [(&before, "east2"), (&twin, "west"), (&twin, "east"), (&after, "west2")] {
            loop {
                let output = Command::new("ip").args(["-n", ns, "-o", "link", "show", dev]).output()?;
                if String::from_utf8_lossy(&output.stdout).contains("state UP") {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!("{dev} of {ns} not up after 5 s")));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(addr(west_net, 2))
    }

    /// Hangs a new host off router `k` (0-based): a namespace wired to it on `10.210.{k}.0/24` (the router `.1`, the
    /// host `.2`), whose default route is the router, and which every other node reaches through the chain. A
    /// trace from it to the destination meets router `k` first (answering from `10.210.{k}.1`), then the routers
    /// after `k`. Returns the namespace and the host's address. IPv4 only.
    pub fn add_host(&mut self, k: usize) -> io::Result<(String, Ipv4Addr)> {
        if k >= self.routers.len() || k > 45 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such router to hang a host off"));
        }
        let nodes: Vec<String> =
            std::iter::once(self.client.clone()).chain(self.routers.clone()).chain([self.server.clone()]).collect();
        let router = &self.routers[k];
        let host = format!("{router}h");
        {
            let _turn = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            run(Command::new("ip").args(["netns", "add", &host]))?;
        }
        self.created.push(host.clone());
        run(Command::new("ip").args(["-n", &host, "link", "set", "lo", "up"]))?;
        let (gateway, address) = (Ipv4Addr::new(10, 210, k as u8, 1), Ipv4Addr::new(10, 210, k as u8, 2));
        run(Command::new("ip")
            .args(["link", "add", "side", "netns", router, "type", "veth", "peer", "name", "uplink"])
            .args(["netns", &host]))?;
        run(Command::new("ip").args(["-n", router, "addr", "add", &format!("{gateway}/24"), "dev", "side"]))?;
        run(Command::new("ip").args(["-n", &host, "addr", "add", &format!("{address}/24"), "dev", "uplink"]))?;
        run(Command::new("ip").args(["-n", router, "link", "set", "side", "up"]))?;
        run(Command::new("ip").args(["-n", &host, "link", "set", "uplink", "up"]))?;
        run(Command::new("ip").args(["-n", &host, "route", "add", "default", "via", &gateway.to_string()]))?;
        // Router k is node k + 1: nodes before it reach the new subnet eastwards, nodes after it westwards.
        let subnet = format!("10.210.{k}.0/24");
        for (n, ns) in nodes.iter().enumerate() {
            let (via, dev) = match n.cmp(&(k + 1)) {
                std::cmp::Ordering::Less => (Ipv4Addr::new(10, 0, n as u8, 2), "east"),
                std::cmp::Ordering::Greater => (Ipv4Addr::new(10, 0, (n - 1) as u8, 1), "west"),
                std::cmp::Ordering::Equal => continue,
            };
            run(Command::new("ip").args(["-n", ns, "route", "add", &subnet, "via", &via.to_string(), "dev", dev]))?;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for (ns, dev) in [(router.as_str(), "side"), (host.as_str(), "uplink")] {
            loop {
                let output = Command::new("ip").args(["-n", ns, "-o", "link", "show", dev]).output()?;
                if String::from_utf8_lossy(&output.stdout).contains("state UP") {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!("{dev} of {ns} not up after 5 s")));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok((host, address))
    }

    /// Adds a packet filter rule in namespace `ns`: `command` is an `iptables` or `ip6tables` command line. On a
    /// fresh machine the first rules load the nf_tables modules, and a rule added meanwhile by a parallel test can
    /// fail; a few tries a moment apart ride that out, and a real error is still reported with its message.
    pub fn firewall(&self, ns: &str, command: &[&str]) -> io::Result<()> {
        let mut tries = 0;
        loop {
            match run(self.exec(ns).args(command)) {
                Ok(()) => return Ok(()),
                Err(error) if tries >= 4 => return Err(error),
                Err(_) => tries += 1,
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Adds a second address to the destination host that silently drops every ICMP packet sent to it: a trace to
    /// it is a silent tail that keeps running until its last TTL's wait ends.
    pub fn add_silent_address(&self) -> std::net::Ipv4Addr {
        let d = self.destination.octets();
        let silent = std::net::Ipv4Addr::new(d[0], d[1], d[2], 3);
        let status = self
            .exec(&self.server)
            .args(["ip", "addr", "add", &format!("{silent}/24"), "dev", "west"])
            .status()
            .expect("run in the server namespace");
        assert!(status.success(), "adding {silent} to the destination");
        self.firewall(
            &self.server,
            &["iptables", "-A", "INPUT", "-d", &silent.to_string(), "-p", "icmp", "-j", "DROP"],
        )
        .expect("drop ICMP to the silent address");
        silent
    }

    /// A command that runs in namespace `ns` (`ip netns exec ns ...`); add the program and its arguments.
    pub fn exec(&self, ns: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]);
        command
    }

    /// Runs `tracemap trace ARGS... DESTINATION` in the client namespace from `dir`, and returns what it printed;
    /// panics with its standard error when it fails.
    pub fn trace_from_client<S: AsRef<std::ffi::OsStr>>(
        &self,
        dir: &std::path::Path,
        args: impl IntoIterator<Item = S>,
    ) -> String {
        let output = self
            .exec(&self.client)
            .arg(env!("CARGO_BIN_EXE_tracemap"))
            .current_dir(dir)
            .arg("trace")
            .args(args)
            .arg(self.destination.to_string())
            .output()
            .expect("run tracemap");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
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

/// Deletes namespaces left by test processes that were killed before `Drop` could run (a CI timeout, SIGKILL):
/// names are `tm{pid}-...`, and a pid with no live process cannot be using them any more.
fn remove_stale_networks() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let pid = name.strip_prefix("tm").and_then(|rest| rest.split_once('-')).map(|(pid, _)| pid);
        let Some(pid) = pid.filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())) else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run(Command::new("ip").args(["netns", "del", name]));
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

/// Runs `f` on a new thread that has entered network namespace `ns`, so the sockets it opens live there, and
/// returns its result; a panic inside propagates to the caller (so the caller's networks are still dropped).
pub fn in_namespace<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("open the namespace");
    std::thread::spawn(move || {
        // SAFETY: setns only changes this thread's network namespace; the fd is a live namespace file.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
