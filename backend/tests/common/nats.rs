//! A real `nats-server` (the Debian package) for one test: its own configuration file (listen address, users or a
//! token) in a scratch folder, started inside a test network namespace, stopped and removed on drop.

use std::io;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nats-server`.
pub struct NatsServer {
    child: Option<Child>,
    dir: PathBuf,
    ns: String,
    /// Where it listens.
    pub listen: SocketAddrV4,
}

/// The `nats-server` binary, or an error that says how to get it.
fn binary() -> io::Result<PathBuf> {
    for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(candidate).exists() {
            return Ok(candidate.into());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "nats-server is not installed: `scripts/setup.sh --test` installs it (Debian package nats-server)",
    ))
}

impl NatsServer {
    /// Starts `nats-server` in namespace `ns` on `listen`, with `auth` (a configuration block such as
    /// `authorization { token: "x" }`) written into its configuration file; returns once it accepts connections.
    pub fn start(ns: &str, listen: SocketAddrV4, auth: &str) -> io::Result<NatsServer> {
        let binary = binary()?;
        let dir = std::env::temp_dir().join(format!("tracemap-nats-{}-{}-{}", std::process::id(), ns, listen.port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut server = NatsServer { child: None, dir, ns: ns.to_owned(), listen };
        std::fs::write(server.dir.join("nats.conf"), format!("listen: \"{listen}\"\n{auth}\n"))?;
        server.spawn(&binary)?;
        Ok(server)
    }

    fn spawn(&mut self, binary: &std::path::Path) -> io::Result<()> {
        let log = std::fs::File::create(self.dir.join("nats.log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(binary)
            .arg("-c")
            .arg(self.dir.join("nats.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let listen = self.listen;
        let up = super::in_namespace(&self.ns, move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect_timeout(&listen.into(), Duration::from_millis(200)).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        });
        if up {
            Ok(())
        } else {
            Err(io::Error::other(format!("nats-server did not listen on {listen}: {}", self.log())))
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }

    /// Stops the server (SIGKILL), as a broker that crashes.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same configuration.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn(&binary()?)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
