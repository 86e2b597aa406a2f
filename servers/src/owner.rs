//! Proof of life for whoever owns a run directory, a key build or a container.
//!
//! An owner is named by a label `boot-id pid-namespace pid start-time lease-path`. A sweep may
//! remove what an owner left behind only when the owner is *provably* dead:
//! - same boot and same pid namespace: the pid is gone, or now belongs to a process that started
//!   at another time (pid reuse);
//! - same boot, another pid namespace (a CI job or a pod sharing the docker daemon): the owner's
//!   lease file exists and nobody holds its lock (every live sshmatrix process holds its lease
//!   locked until it exits; the kernel drops the lock when the process dies, SIGKILL included).
//!
//! Anything else (another boot id — perhaps another machine sharing the daemon —, a label that
//! does not parse, a lease file that cannot be seen) is [`Liveness::Unknown`] and is left alone.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What a sweep may conclude about an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The owner is running.
    Alive,
    /// The owner is provably gone: its leftovers may be removed.
    Dead,
    /// Cannot be proven either way: leave its leftovers alone.
    Unknown,
}

/// An owner's identity, as written into labels and owner files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// The pid namespace (`/proc/self/ns/pid` link text).
    pub pid_ns: String,
    /// The pid inside that namespace.
    pub pid: u32,
    /// The process start time (field 22 of `/proc/PID/stat`, clock ticks since boot).
    pub start: u64,
    /// The lease file the owner holds locked (empty when it holds none).
    pub lease: String,
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn pid_ns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The start time of process `pid` as seen from this pid namespace.
fn start_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

static LEASE: OnceLock<(PathBuf, File)> = OnceLock::new();

/// Takes this process's lease under `dir` (once per process; later calls keep the first one).
/// The file is created under a temporary name, locked, then renamed, so no sweeper ever sees an
/// unlocked lease of a live process.
pub fn take_lease(dir: &Path) -> std::io::Result<()> {
    // One taker at a time: two threads taking the first lease at once would both open the same
    // temporary file, and the second would wait forever on the lock the first holds (flock
    // locks belong to open files, not processes) — seen as a hung test run in CI.
    static TAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = TAKING.lock().unwrap_or_else(|e| e.into_inner());
    if LEASE.get().is_some() {
        return Ok(());
    }
    sshmatrix_core::fsx::private_dir(dir)?;
    let me = std::process::id();
    let start = start_time("self").unwrap_or(0);
    let name = format!("{me}-{start}");
    let tmp = dir.join(format!(".{name}.new"));
    let file = File::create(&tmp)?;
    file.lock()?;
    let path = std::path::absolute(dir.join(&name))?;
    std::fs::rename(&tmp, &path)?;
    let _ = LEASE.set((path, file));
    sweep_leases(dir);
    Ok(())
}

/// Removes lease files nobody holds (their owners are gone).
fn sweep_leases(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || Some(p.as_path()) == LEASE.get().map(|l| l.0.as_path()) {
            continue;
        }
        if lease_free(&p) == Some(true) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Whether nobody holds the lease at `path` (None: no such file or it cannot be opened).
pub fn lease_free(path: &Path) -> Option<bool> {
    let f = File::open(path).ok()?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            Some(true)
        }
        Err(std::fs::TryLockError::WouldBlock) => Some(false),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        Owner {
            boot_id: boot_id(),
            pid_ns: pid_ns(),
            pid: std::process::id(),
            start: start_time("self").unwrap_or(0),
            lease: LEASE
                .get()
                .map(|l| l.0.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// The label text (space-separated; the lease path comes last and may hold spaces).
    pub fn label(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.boot_id,
            self.pid_ns.replace(' ', "_"),
            self.pid,
            self.start,
            self.lease
        )
    }

    /// Parses a label written by [`Owner::label`].
    pub fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.trim().splitn(5, ' ');
        let boot_id = parts.next()?.to_string();
        let pid_ns = parts.next()?.to_string();
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let lease = parts.next().unwrap_or("").to_string();
        (!boot_id.is_empty()).then_some(Owner {
            boot_id,
            pid_ns,
            pid,
            start,
            lease,
        })
    }

    /// Whether this owner is alive, dead or cannot be told, seen from this process.
    pub fn liveness(&self) -> Liveness {
        if self.boot_id != boot_id() {
            return Liveness::Unknown;
        }
        if self.pid_ns == pid_ns() {
            return match start_time(&self.pid.to_string()) {
                Some(s) if s == self.start => Liveness::Alive,
                _ => Liveness::Dead,
            };
        }
        if self.lease.is_empty() {
            return Liveness::Unknown;
        }
        match lease_free(Path::new(&self.lease)) {
            Some(true) => Liveness::Dead,
            Some(false) => Liveness::Alive,
            None => Liveness::Unknown,
        }
    }
}

/// The name of the owner file inside a run directory or key build.
pub const OWNER_FILE: &str = "owner";

/// Writes this process's owner file into `dir`.
pub fn mark(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(OWNER_FILE), Owner::current().label())
}

/// The liveness of the owner of `dir` (by its owner file; none or unreadable: unknown).
pub fn dir_liveness(dir: &Path) -> Liveness {
    std::fs::read_to_string(dir.join(OWNER_FILE))
        .ok()
        .and_then(|t| Owner::parse(&t))
        .map(|o| o.liveness())
        .unwrap_or(Liveness::Unknown)
}

/// Removes the directories under `parent` whose names start with `prefix` and whose owners are
/// provably dead; returns how many.
pub fn sweep_dirs(parent: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let dir = e.path();
        let ours = e.file_name().to_string_lossy().starts_with(prefix);
        if ours && dir.is_dir() && dir_liveness(&dir) == Liveness::Dead {
            n += usize::from(std::fs::remove_dir_all(&dir).is_ok());
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Owner {
        Owner::current()
    }

    #[test]
    fn threads_taking_the_first_lease_at_once_all_return() {
        // Before takers were serialised, this hung every time (30 s timeouts).
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let start = std::sync::Arc::new(std::sync::Barrier::new(32));
        for _ in 0..32 {
            let (dir, tx, start) = (dir.path().to_path_buf(), tx.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                tx.send(take_lease(&dir).is_ok()).unwrap()
            });
        }
        for _ in 0..32 {
            let taken = rx.recv_timeout(std::time::Duration::from_secs(30));
            assert_eq!(taken, Ok(true), "a thread is stuck taking the lease");
        }
        let leases = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leases, 1, "one lease per process");
    }

    #[test]
    fn a_label_round_trips() {
        let o = Owner {
            lease: "/a b/c".into(),
            ..me()
        };
        assert_eq!(Owner::parse(&o.label()), Some(o));
        assert_eq!(
            Owner::parse("1234"),
            None,
            "old pid-only labels are not owners"
        );
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_dead() {
        assert_eq!(me().liveness(), Liveness::Alive);
        let reused = Owner {
            start: me().start + 1,
            ..me()
        };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me()
        };
        assert_eq!(gone.liveness(), Liveness::Dead);
    }

    #[test]
    fn another_pid_namespace_is_judged_by_its_lease_only() {
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join("held");
        let f = File::create(&held).unwrap();
        f.lock().unwrap();
        let free = dir.path().join("free");
        File::create(&free).unwrap();
        // The pid means nothing in another namespace: pid 1 exists here, u32::MAX - 1 does not.
        let other = |pid, lease: &Path| Owner {
            pid_ns: "pid:[1]".into(),
            pid,
            lease: lease.display().to_string(),
            ..me()
        };
        assert_eq!(other(u32::MAX - 1, &held).liveness(), Liveness::Alive);
        assert_eq!(other(1, &free).liveness(), Liveness::Dead);
        assert_eq!(
            other(1, &dir.path().join("missing")).liveness(),
            Liveness::Unknown
        );
        let elsewhere = Owner {
            boot_id: "another-machine".into(),
            ..other(1, &free)
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
        drop(f);
    }

    #[test]
    fn only_dirs_of_dead_owners_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("run-live");
        let dead = dir.path().join("run-dead");
        let unknown = dir.path().join("run-unknown");
        for d in [&live, &dead, &unknown] {
            std::fs::create_dir(d).unwrap();
        }
        mark(&live).unwrap();
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me()
        };
        std::fs::write(dead.join(OWNER_FILE), gone.label()).unwrap();
        std::fs::write(unknown.join("pid"), "1").unwrap();
        assert_eq!(sweep_dirs(dir.path(), "run-"), 1);
        assert!(live.exists() && unknown.exists() && !dead.exists());
    }
}
