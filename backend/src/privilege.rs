//! Giving up privileges once the raw sockets are open.
//!
//! The server needs `CAP_NET_RAW` for one moment: opening its raw sockets. Everything after that (HTTP, SQLite,
//! probing through the sockets it holds) works without. [`drop_privileges`] runs while the process still has a
//! single thread, so every thread started later inherits the result: started as root it switches to an ordinary
//! user (and no supplementary groups); in every case it empties the effective, permitted, inheritable and ambient
//! capability sets, empties the bounding set when it may, and sets `no_new_privs` so nothing regains them. It then
//! reads the result back from `/proc/self/status` and fails unless every set it could clear is empty.

use std::ffi::CString;
use std::io;

/// Why privileges could not be dropped. The server refuses to start rather than run with them.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// The drop must happen before any other thread exists.
    #[error("privileges must be dropped before the process starts threads ({0} are running)")]
    Threads(usize),
    /// The user to switch to does not exist.
    #[error("no user named '{0}' to switch to (choose one with --user)")]
    NoSuchUser(String),
    /// Switching to root is not dropping anything.
    #[error("--user {0} is root: choose an unprivileged user")]
    RootUser(String),
    /// A system call failed.
    #[error("cannot {operation}: {error}")]
    Os {
        /// What was attempted.
        operation: &'static str,
        /// The system's reason.
        #[source]
        error: io::Error,
    },
    /// A capability set was still not empty afterwards.
    #[error("capabilities remain after dropping them: {0}")]
    Remaining(String),
}

/// What the process runs as after [`drop_privileges`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The user switched to, when the process started as root.
    pub user: Option<String>,
    /// The real and effective user id now.
    pub uid: u32,
    /// The real and effective group id now.
    pub gid: u32,
}

/// The capability sets of `/proc/<pid>/status`, as hexadecimal masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilitySets {
    /// `CapInh`.
    pub inheritable: u64,
    /// `CapPrm`.
    pub permitted: u64,
    /// `CapEff`.
    pub effective: u64,
    /// `CapBnd`.
    pub bounding: u64,
    /// `CapAmb`.
    pub ambient: u64,
}

impl CapabilitySets {
    /// Reads the sets from the text of a `/proc/<pid>/status` (or `/proc/<pid>/task/<tid>/status`) file.
    pub fn parse(status: &str) -> Option<CapabilitySets> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
        };
        Some(CapabilitySets {
            inheritable: field("CapInh")?,
            permitted: field("CapPrm")?,
            effective: field("CapEff")?,
            bounding: field("CapBnd")?,
            ambient: field("CapAmb")?,
        })
    }

    /// The sets of the calling process, from `/proc/self/status`.
    pub fn current() -> io::Result<CapabilitySets> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        CapabilitySets::parse(&status).ok_or_else(|| io::Error::other("/proc/self/status has no capability sets"))
    }

    /// Whether a process could use any capability now or get one back later (the bounding set is only a limit
    /// on what an `exec` could grant, which `no_new_privs` and an empty permitted set already rule out).
    pub fn holds_any(&self) -> bool {
        self.inheritable | self.permitted | self.effective | self.ambient != 0
    }
}

/// Drops every privilege the process holds; see the module documentation. `user` is who to become when running as
/// root (its primary group too); it is not used otherwise.
pub fn drop_privileges(user: &str) -> Result<Dropped, PrivilegeError> {
    let count = || thread_count().map_err(|error| PrivilegeError::Os { operation: "count threads", error });
    // A loader thread that has handed over its result may not have exited yet (the data tables load on their own
    // threads, `enrich::Loading`): give such threads a moment to end rather than refuse to start.
    let mut threads = count()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while threads != 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        threads = count()?;
    }
    if threads != 1 {
        return Err(PrivilegeError::Threads(threads));
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut switched = None;
    if root {
        let (uid, gid) = lookup_user(user)?;
        if uid == 0 {
            return Err(PrivilegeError::RootUser(user.to_owned()));
        }
        // While still root (CAP_SETPCAP): empty the bounding set, so not even an exec could grant anything.
        for capability in 0..=last_capability() {
            // SAFETY: prctl with PR_CAPBSET_DROP takes a capability number; unknown numbers fail with EINVAL.
            let done = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong, 0, 0, 0) };
            if done != 0 {
                let error = io::Error::last_os_error();
                if error.raw_os_error() != Some(libc::EINVAL) {
                    return Err(PrivilegeError::Os { operation: "empty the capability bounding set", error });
                }
            }
        }
        // Groups first: after the user switch there is no right to change them.
        // SAFETY: a zero-length list needs no pointer.
        check(unsafe { libc::setgroups(0, std::ptr::null()) }, "drop the supplementary groups")?;
        // SAFETY: plain system calls on ids; on success real, effective and saved ids all change.
        check(unsafe { libc::setresgid(gid, gid, gid) }, "switch group")?;
        // Leaving uid 0 for good empties the permitted, effective and ambient sets.
        check(unsafe { libc::setresuid(uid, uid, uid) }, "switch user")?;
        switched = Some(user.to_owned());
    }
    // Ambient capabilities (a systemd unit's AmbientCapabilities=) are cleared explicitly for a non-root start;
    // kernels before 4.3 have no ambient set and refuse the request, which then has nothing to clear.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) } != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINVAL) {
            return Err(PrivilegeError::Os { operation: "clear the ambient capabilities", error });
        }
    }
    clear_capabilities()?;
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "set no_new_privs")?;

    let sets = CapabilitySets::current().map_err(|error| PrivilegeError::Os { operation: "read back", error })?;
    if sets.holds_any() || (root && sets.bounding != 0) {
        return Err(PrivilegeError::Remaining(format!("{sets:x?}")));
    }
    // SAFETY: getuid and getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    Ok(Dropped { user: switched, uid, gid })
}

fn check(result: libc::c_int, operation: &'static str) -> Result<(), PrivilegeError> {
    if result == 0 { Ok(()) } else { Err(PrivilegeError::Os { operation, error: io::Error::last_os_error() }) }
}

/// Empties the effective, permitted and inheritable sets of the calling thread (`capset`, version 3: 64 bits).
fn clear_capabilities() -> Result<(), PrivilegeError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: the header and the two data words have the layout capset(2) documents for version 3; pid 0 is the
    // calling thread. Lowering capabilities is always allowed.
    let result = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if result == 0 {
        Ok(())
    } else {
        Err(PrivilegeError::Os { operation: "clear the capability sets", error: io::Error::last_os_error() })
    }
}

/// The highest capability number this kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(63)
}

fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// The uid and primary gid of `name`.
fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t), PrivilegeError> {
    let missing = || PrivilegeError::NoSuchUser(name.to_owned());
    let c_name = CString::new(name).map_err(|_| missing())?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwnam_r to overwrite.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live memory of the stated size for the duration of the call; the strings it
    // writes into `buffer` are not read afterwards, only the ids.
    let result =
        unsafe { libc::getpwnam_r(c_name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if result != 0 {
        return Err(PrivilegeError::Os { operation: "look up the user", error: io::Error::from_raw_os_error(result) });
    }
    if found.is_null() {
        return Err(missing());
    }
    Ok((entry.pw_uid, entry.pw_gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_capability_lines_are_read() {
        let status = "Name:\ttracemap\nCapInh:\t0000000000000000\nCapPrm:\t0000000000002000\n\
                      CapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
        let sets = CapabilitySets::parse(status).expect("parses");
        assert_eq!(sets.permitted, 1 << 13, "CAP_NET_RAW is bit 13");
        assert_eq!(sets.bounding, 0x1ff_ffff_ffff);
        assert!(sets.holds_any());
        let none = status.replace("0000000000002000", "0000000000000000");
        assert!(!CapabilitySets::parse(&none).expect("parses").holds_any());
        assert_eq!(CapabilitySets::parse("CapInh:\t0\n"), None, "a missing set is not guessed");
    }

    #[test]
    fn unknown_users_and_threads_are_refused() {
        assert!(matches!(lookup_user("no such user"), Err(PrivilegeError::NoSuchUser(_))));
        assert!(matches!(lookup_user("nul\0byte"), Err(PrivilegeError::NoSuchUser(_))));
        // The test harness runs tests on threads of its own: the drop refuses to touch only one of them.
        if thread_count().expect("counts") > 1 {
            assert!(matches!(drop_privileges("nobody"), Err(PrivilegeError::Threads(_))));
        }
    }
}
