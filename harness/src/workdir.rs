//! The work directory: where it is by default, and the checks every command makes before it
//! keeps anything there. It holds private keys and the run directories sshd reads as the user
//! running sshmatrix, so it must be the user's own: never `/` or a shared directory, never
//! below a directory another user can write (sshd's StrictModes would refuse it, and another
//! user could swap files), created 0700, marked as sshmatrix's, and only ever chmod'ed when it
//! is sshmatrix's.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::RunError;

/// The file that marks a directory as an sshmatrix work directory.
pub const MARKER: &str = ".sshmatrix-work-dir";

/// What a work directory of an earlier sshmatrix (before [`MARKER`]) may hold: such a
/// directory is adopted; any other non-empty directory is refused.
const KNOWN: &[&str] = &[
    "keys",
    "hostkeys",
    "runs",
    "leases",
    "images",
    "clients",
    "rescued",
    "auth-budget.json",
    "auth-budget.json.lock",
];

pub use sshmatrix_core::fsx::euid;

/// The work directory given, else the default one, checked and prepared ([`prepare`]).
pub fn resolve(given: Option<PathBuf>) -> Result<PathBuf, RunError> {
    let dir = match given {
        Some(d) => d,
        None => default_work_dir_checked()?,
    };
    prepare(&dir)?;
    Ok(dir)
}

/// Checks `dir` and makes it a work directory: refuses `/`, a path an sshd_config cannot carry,
/// a directory below a group/world-writable or foreign one, a directory owned by another user,
/// and a non-empty directory that is not sshmatrix's; creates a missing one (and its missing
/// parents) 0700 and marks it.
pub fn prepare(dir: &Path) -> Result<(), RunError> {
    let env = |m: String| RunError::Environment(format!("work directory {}: {m}", dir.display()));
    let shown = dir.display().to_string();
    if shown.chars().any(|c| c.is_control() || c == '"') {
        return Err(env(
            "holds a quote or control character, which an sshd_config cannot carry; give another --work-dir".into(),
        ));
    }
    check_work_dir(dir)?;
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| env(format!("cannot create it: {e}")))?;
            mark(dir).map_err(|e| env(e.to_string()))
        }
        Err(e) => Err(env(e.to_string())),
        Ok(_) => adopt(dir).map_err(env),
    }
}

/// An existing directory (or a link to one): the user's own, `/` never, and sshmatrix's (marked,
/// or holding only what an earlier sshmatrix made, or empty); made 0700 and marked.
fn adopt(dir: &Path) -> Result<(), String> {
    let real = dir.canonicalize().map_err(|e| e.to_string())?;
    if real == Path::new("/") {
        return Err(
            "is the root directory; give a directory of its own (default ~/.cache/sshmatrix)"
                .into(),
        );
    }
    let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("is not a directory".into());
    }
    if meta.uid() != euid() {
        return Err(format!(
            "is owned by uid {}, not by the user running sshmatrix (uid {}); give a directory of your own",
            meta.uid(),
            euid()
        ));
    }
    if !real.join(MARKER).exists() {
        let foreign: Vec<String> = std::fs::read_dir(&real)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !KNOWN.contains(&n.as_str()))
            .take(3)
            .collect();
        if !foreign.is_empty() {
            return Err(format!(
                "is not an sshmatrix work directory (it holds {}); give a new or empty directory",
                foreign.join(", ")
            ));
        }
        mark(&real).map_err(|e| e.to_string())?;
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes the [`MARKER`] file.
fn mark(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join(MARKER),
        "This directory is an sshmatrix work directory (keys, host keys, run directories).\n",
    )
}

/// The default work directory: `$SSHMATRIX_HOME`, else `$XDG_CACHE_HOME/sshmatrix`, else
/// `~/.cache/sshmatrix` (HOME, or the passwd entry when HOME is unset or empty; never the
/// current directory). It must not sit under a world-writable directory such as /tmp: sshd's
/// StrictModes refuses authorized keys below one.
pub fn default_work_dir() -> PathBuf {
    default_work_dir_checked().unwrap_or_else(|_| PathBuf::from("/nonexistent/sshmatrix"))
}

/// [`default_work_dir`], or an environment error when no home directory can be found.
pub fn default_work_dir_checked() -> Result<PathBuf, RunError> {
    let set = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    if let Some(h) = set("SSHMATRIX_HOME") {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = set("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(x).join("sshmatrix"));
    }
    let home = set("HOME")
        .map(PathBuf::from)
        .or_else(passwd_home)
        .ok_or_else(|| {
            RunError::Environment(
                "no home directory: HOME is unset or empty and the passwd database has no entry for this user; give --work-dir DIR (or set SSHMATRIX_HOME)".into(),
            )
        })?;
    Ok(home.join(".cache").join("sshmatrix"))
}

/// The home directory of the current user from /etc/passwd.
fn passwd_home() -> Option<PathBuf> {
    let uid = euid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid) && f[5].starts_with('/'))
            .then(|| PathBuf::from(f[5]))
    })
}

/// Checks that sshd's StrictModes will accept files under `dir`: every existing ancestor must be
/// owned by root or the current user and not group- or world-writable (sshd `safe_path`).
pub fn check_work_dir(dir: &std::path::Path) -> Result<(), RunError> {
    let me = euid();
    // The real path: a symlink must not hide a group/world-writable directory (sshd checks
    // the resolved path). The deepest existing ancestor is resolved; the rest is created later.
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let existing = abs.ancestors().find(|a| a.exists()).unwrap_or(&abs);
    let real = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for anc in real.ancestors() {
        let Ok(m) = std::fs::metadata(anc) else {
            continue;
        };
        if (m.uid() != 0 && m.uid() != me) || m.mode() & 0o022 != 0 {
            return Err(RunError::Environment(format!(
                "work directory {} lies below {}, which is group/world-writable or owned by another user: \
                 sshd's StrictModes would refuse every key there. Use --work-dir (or SSHMATRIX_HOME) \
                 with a path under your home directory",
                dir.display(),
                anc.display()
            )));
        }
    }
    Ok(())
}
