//! The run's own files in the work directory: its private run directory (marked for sweeps),
//! the lease that proves it alive, the key factory, private files and subdirectories.

use std::path::PathBuf;

use sshmatrix_clients::factory::private_dir;
use sshmatrix_clients::KeyFactory;

use crate::error::RunError;

/// A private run directory under `work_dir/runs` (0700, removed on drop, Ctrl-C included via the
/// caller's drop), marked with this process's owner identity so later runs can sweep it once
/// this process is provably gone (never while it lives, whatever its pid namespace).
pub fn new_run_dir(
    work_dir: &std::path::Path,
    prefix: &str,
) -> Result<tempfile::TempDir, RunError> {
    let runs = work_dir.join("runs");
    let env =
        |e: std::io::Error| RunError::Environment(format!("run directory {}: {e}", runs.display()));
    take_lease(work_dir)?;
    private_dir(&runs).map_err(env)?;
    sshmatrix_servers::owner::sweep_dirs(&runs, "");
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&runs)
        .map_err(env)?;
    sshmatrix_servers::owner::mark(dir.path()).map_err(env)?;
    Ok(dir)
}

/// Takes this process's lease (the lock that proves it alive to sweeps) under `work_dir`.
pub fn take_lease(work_dir: &std::path::Path) -> Result<(), RunError> {
    let leases = work_dir.join("leases");
    sshmatrix_servers::owner::take_lease(&leases)
        .map_err(|e| RunError::Environment(format!("lease file under {}: {e}", leases.display())))
}

/// The key factory of a work directory: builds marked with this process's identity, and the
/// builds left by dead processes (a passphrase file and an encrypted key each) removed.
pub fn key_factory(work_dir: &std::path::Path) -> Result<KeyFactory, RunError> {
    crate::workdir::prepare(work_dir)?;
    take_lease(work_dir)?;
    let root = work_dir.join("keys");
    let factory = KeyFactory::new(&root)
        .map_err(|e| RunError::Environment(format!("key cache {}: {e}", root.display())))?
        .with_build_marker(sshmatrix_servers::owner::mark);
    sshmatrix_servers::owner::sweep_dirs(&root, sshmatrix_clients::factory::BUILD_PREFIX);
    Ok(factory)
}

/// A 0700 directory `name` under `dir`.
pub(super) fn private_subdir(dir: &std::path::Path, name: &str) -> Result<PathBuf, RunError> {
    let p = dir.join(name);
    private_dir(&p).map_err(|e| RunError::Environment(format!("{}: {e}", p.display())))?;
    Ok(p)
}

/// The last component of a path (the run directory's name labels its containers).
pub fn dir_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Writes `name` in the run directory with `mode`; returns its path.
pub(super) fn write_private_file(
    dir: &std::path::Path,
    name: &str,
    text: &str,
    mode: u32,
) -> Result<PathBuf, RunError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text)
        .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| RunError::Environment(format!("{}: {e}", path.display())))?;
    Ok(path)
}
